"""From a user's jitted ``fun`` and ``args`` to what the compiled driver is called with.

:func:`compiled_rhs` returns ``(c_addr, jit_addr, driver_args)``: the
addresses of the in-place function the driver calls (``fun`` itself, or an
adapter of :mod:`.adapters`) and the ``args`` to pass it. The look-ups that
compile or ask Numba for addresses are made once per ``fun``, convention and
kind of ``args`` and kept; a later call only builds the parameter vector (a
microsecond). Three cases, fastest first:

1. ``args == (p,)``, ``p`` a float64 vector: an in-place ``fun`` is called
   directly; a returning one through :func:`.adapters.returning_params`;
2. ``args`` up to :data:`.adapters.MAX_SCALARS` floats: through
   :func:`.adapters.inplace_scalars` / :func:`.adapters.returning_scalars`,
   with ``q = [addresses of fun, *args]``;
3. anything else: ``fun`` (or, returning, :func:`.adapters.inplace_of`) with
   ``args`` as they are; the driver is compiled for their kind (once, cached).
"""

from __future__ import annotations

import numpy as np
from numba import typeof

from . import adapters
from .functions import VECTOR, addresses, inplace_signature, returning_signature

__all__ = ["compiled_rhs", "layout"]

_FOUND: dict = {}  # (fun, inplace, layout of args) -> (c_addr, jit_addr, header or None)


def layout(value):
    """What the compiled code of a function depends on in ``value``: types, dtypes, dimensions, contiguity."""
    if type(value) is tuple:
        return tuple(layout(v) for v in value)
    if type(value) is np.ndarray:
        return (value.dtype.str, value.ndim, value.flags.c_contiguous, value.flags.f_contiguous,
                value.flags.writeable)  # fmt: skip
    return type(value)


def _is_vector(value) -> bool:
    return type(value) is np.ndarray and value.dtype == np.float64 and value.ndim == 1 and value.flags.c_contiguous


def _header(fun, signature):
    """fun's two addresses as the float64 words that carry them in an adapter's vector q."""
    return np.array(addresses(fun, signature), dtype=np.int64).view(np.float64)


def _find(fun, inplace: bool, kind, args):
    if kind == "params":
        if inplace:
            return (*addresses(fun, inplace_signature((VECTOR,))), None)
        try:
            header = _header(fun, returning_signature((VECTOR,)))
        except TypeError:
            return _find(fun, inplace, layout(args), args)
        return (*addresses(adapters.returning_params, inplace_signature((VECTOR,))), header)
    if isinstance(kind, int):  # k floats
        make, adapter = ((inplace_signature, adapters.inplace_scalars[kind]) if inplace
                         else (returning_signature, adapters.returning_scalars[kind]))  # fmt: skip
        try:
            header = _header(fun, make((typeof(0.0),) * kind))
        except TypeError:
            return _find(fun, inplace, layout(args), args)
        return (*addresses(adapter, inplace_signature((VECTOR,))), header)
    arg_types = typeof(args).types
    target = fun if inplace else adapters.inplace_of(fun, len(args))
    try:
        return (*addresses(target, inplace_signature(arg_types)), None)
    except TypeError as error:
        raise ValueError(f"an in-place fun(t, y, dy_dt, *args) must return nothing: {error}") from None


def compiled_rhs(fun, inplace: bool, args: tuple):
    """``(c_addr, jit_addr, driver_args)`` for the driver (see the module docstring)."""
    if len(args) == 1 and _is_vector(args[0]):
        kind = "params"
    elif len(args) <= adapters.MAX_SCALARS and all(isinstance(a, float) for a in args):
        kind = len(args)
    else:
        kind = layout(args)
    found = _FOUND.get((fun, inplace, kind))
    if found is None:
        found = _FOUND[(fun, inplace, kind)] = _find(fun, inplace, kind, args)
    c_addr, jit_addr, header = found
    if header is None:
        return c_addr, jit_addr, args
    if kind == "params":
        return c_addr, jit_addr, (np.concatenate((header, args[0])),)
    q = np.empty(2 + len(args))
    q[:2] = header
    q[2:] = args
    return c_addr, jit_addr, (q,)
