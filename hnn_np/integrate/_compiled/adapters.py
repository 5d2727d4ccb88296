"""One small adapter per user ``fun``: the narrow pointer of :mod:`.rhs` on one side, ``fun`` on the other.

For a jitted ``fun``, the kind of its ``args`` (a Numba type) and its
convention, :func:`compiled_rhs` returns the address of the adapter (its
native code, which :func:`.rhs.call_rhs` calls) and the vector p that
carries ``args``. The
adapter, written once below (:func:`_adapter`), is::

    def adapter(t, n, y, dy_dt, p, n_p):
        call_user(key, t, carray(y, n), carray(dy_dt, n), carray(p, n_p))

with ``call_user`` rebuilding ``args`` from p (:func:`.rhs.unpack`) and
calling ``fun(t, y, dy_dt, *args)`` in place, or copying the array that
``fun(t, y, *args)`` returns into dy_dt (``call_returning`` in
:func:`_call_user`, the one returning -> in-place copy of the compiled path; a
result of another length raises a ValueError at every call). ``fun`` is called
directly, not through a pointer, so the compiler may inline it into the
adapter. ``call_user`` is inlined by Numba (at the level of its own IR: left
to LLVM, the array that a returning ``fun`` allocates is counted across a
call, about 35 ns more per call); the copy is written into it rather than
called as a function of its own, which Numba would type and compile twice
(for the IR to inline, and again inside the adapter): the returning adapter
compiles in half the time.

Compiled with ``cache=True``: Numba keys its disk cache by the adapter's code
and the value of its closure cell ``key``, which names ``fun``'s code
(:func:`code_key`: its module and name, the file it is defined in with that
file's size and time of change, as Numba keys its own cache, a hash of its
code object and closure), the convention, the Numba type of ``args`` and this
integrator's sources: a changed ``fun`` compiles a new adapter, and a later
process loads the one it made before. ``call_user`` finds ``fun`` and the type
of ``args`` from ``key`` while the adapter is compiled (an ``@overload`` whose
implementation closes over them); a cached adapter holds ``fun``'s machine
code and needs no look-up. A ``fun`` with no file (typed in at the prompt)
gets an adapter compiled in each process.
"""

from __future__ import annotations

import hashlib
import marshal
import os

import numpy as np
from numba import carray, njit, typeof, types
from numba.core.serialize import dumps
from numba.extending import overload

from ..checks import fingerprint
from .jit import source_hash
from .rhs import EVENT, NARROW, PARAMS, pack, unpack

VECTOR = types.Array(types.float64, 1, "C")

__all__ = ["WRONG_LENGTH", "code_key", "compiled_rhs", "compiled_event", "adapters"]

WRONG_LENGTH = "fun(t, y, *args) must return an array of the shape of y0; it returned another length"
_USERS: dict = {}  # key -> (fun, convention, args_type): what call_user calls, while an adapter is compiled
_FOUND: dict = {}  # (fun, convention, fingerprint of args) -> (address, is_params, adapter)


def call_user(key, t, y, dy_dt, p):
    """``fun(t, y, dy_dt, *args)``, or ``fun(t, y, *args)`` copied into dy_dt: the fun and args of ``key``."""
    raise NotImplementedError("compiled only, as part of an adapter")


@overload(call_user, inline="always")
def _call_user(key, t, y, dy_dt, p):
    if not isinstance(key, types.StringLiteral):
        return None  # Numba tries again with the literal key
    fun, convention, args_type = _USERS[key.literal_value]
    if convention == "inplace":

        def call_inplace(key, t, y, dy_dt, p):
            fun(t, y, dy_dt, *unpack(p, args_type))

        return call_inplace

    def call_returning(key, t, y, dy_dt, p):
        value = fun(t, y, *unpack(p, args_type))
        if value.shape[0] != dy_dt.shape[0]:
            raise ValueError(WRONG_LENGTH)
        for i in range(dy_dt.shape[0]):
            dy_dt[i] = value[i]

    return call_returning


def call_event_user(key, t, y, p):
    """``float(g(t, y, *args))``: the event function and args of ``key``."""
    raise NotImplementedError("compiled only, as part of an adapter")


@overload(call_event_user, inline="always")
def _call_event_user(key, t, y, p):
    if not isinstance(key, types.StringLiteral):
        return None
    g, _, args_type = _USERS[key.literal_value]

    def call_event(key, t, y, p):
        return float(g(t, y, *unpack(p, args_type)))

    return call_event


def _adapter(key: str, cache: bool):
    """The adapter of the fun registered as ``key``: ``adapter(t, n, y, dy_dt, p, n_p)``."""

    def adapter(t, n, y, dy_dt, p, n_p):
        call_user(key, t, carray(y, n), carray(dy_dt, n), carray(p, n_p))

    return njit(cache=cache, nogil=True)(adapter)


def _event_adapter(key: str, cache: bool):
    """The adapter of the event function registered as ``key``: ``adapter(t, n, y, p, n_p) -> g``."""

    def adapter(t, n, y, p, n_p):
        return call_event_user(key, t, carray(y, n), carray(p, n_p))

    return njit(cache=cache, nogil=True)(adapter)


def code_key(fun) -> str | None:
    """What fun's compiled code depends on, as text; None when fun has no source file (no disk cache then)."""
    function = fun.py_func
    path = function.__code__.co_filename
    if not os.path.isfile(path):
        return None
    digest = hashlib.sha256(marshal.dumps(function.__code__))
    if function.__closure__:
        try:
            digest.update(dumps(tuple(cell.cell_contents for cell in function.__closure__)))
        except Exception:  # noqa: BLE001  (a closure that cannot be pickled: no disk cache)
            return None
    stat = os.stat(path)
    return f"{function.__module__}.{function.__qualname__} {path} {stat.st_size} {stat.st_mtime_ns} {digest.hexdigest()}"


def _checked_type(value_type, args) -> None:
    """A ValueError unless every item of ``args`` is a number, an array or a tuple of them."""
    for ty, value in zip(value_type, args):
        if isinstance(ty, types.BaseTuple):
            _checked_type(ty, value)
        elif not isinstance(ty, (types.Array, types.Float, types.Integer, types.Boolean)) or (
                isinstance(ty, types.Array) and not isinstance(ty.dtype, (types.Float, types.Integer, types.Boolean))):
            raise ValueError(f"the args of a jitted fun must be real numbers, real arrays or tuples of them; "
                             f"got {value!r} ({ty})")  # fmt: skip


def _find(fun, convention: str, args: tuple):
    """(address, is_params, adapter): the adapter of fun for this kind of args, compiled or loaded now.

    ``convention``: "inplace", "returning" or "event".
    """
    args_type = typeof(args)
    _checked_type(args_type, args)
    code = code_key(fun)
    key = f"{code if code else id(fun)} {convention} args={args_type} integrator={source_hash()}"
    _USERS[key] = (fun, convention, args_type)
    if convention == "event":
        adapter = _event_adapter(key, cache=code is not None)
        adapter.compile(EVENT.args)
        compiled = adapter.overloads[EVENT.args]
        return compiled.library.get_pointer_to_function(compiled.fndesc.llvm_func_name), args_type == PARAMS, adapter
    if convention == "inplace":  # fun as the adapter will call it
        signature = (types.float64, VECTOR, VECTOR, *args_type)
        fun.compile(signature)
        returned = fun.overloads[signature].signature.return_type
        if returned != types.none:
            raise ValueError(f"an in-place fun(t, y, dy_dt, *args) must return nothing; it returns {returned}")
    adapter = _adapter(key, cache=code is not None)
    adapter.compile(NARROW.args)
    compiled = adapter.overloads[NARROW.args]
    return compiled.library.get_pointer_to_function(compiled.fndesc.llvm_func_name), args_type == PARAMS, adapter


def compiled_rhs(fun, inplace: bool, args: tuple):
    """``(address, p)``: the adapter of the jitted ``fun`` and the vector that carries ``args``."""
    address, is_params = _found(fun, "inplace" if inplace else "returning", args)
    return address, args_vector(args, is_params)


def compiled_event(g, args: tuple) -> int:
    """The address of the adapter of the jitted event function ``g`` (args as for :func:`compiled_rhs`)."""
    return _found(g, "event", args)[0]


def _found(fun, convention: str, args: tuple):
    found_key = (fun, convention, fingerprint(args))
    found = _FOUND.get(found_key)
    if found is None:
        found = _FOUND[found_key] = _find(fun, convention, args)
    return found[0], found[1]


def args_vector(args: tuple, is_params: bool) -> np.ndarray:
    """The vector p that carries ``args`` (:func:`.rhs.pack`; ``args[0]`` itself for ``(params,)``)."""
    if is_params:
        return args[0]
    if all(type(a) is float for a in args):
        return np.array(args, dtype=np.float64)
    return pack(args)


def adapters(fun) -> list:
    """The adapters made in this process for ``fun`` (Numba dispatchers, one per convention and kind of args)."""
    return [found[2] for key, found in _FOUND.items() if key[0] is fun]
