"""Adapters: ``args`` and the returning convention turned into the one the driver calls.

The compiled driver calls ``fun(t, y, dy_dt, *args)`` through a function
pointer whose type fixes the types of ``args`` (:mod:`.functions`). One kind
of ``args`` is the driver's own, compiled once per method and cached:
``args = (p,)`` with ``p`` a float64 vector (the parameters as one array).
An in-place ``fun`` with such ``args`` is passed as it is. Everything else
reaches that same driver through an adapter ``adapter(t, y, dy_dt, q)``
where ``q = [two words: the addresses of fun, then fun's parameters]``:

* :func:`inplace_scalars` (k) -- in place, ``args`` = k float numbers:
  ``fun(t, y, dy_dt, q[2], ..., q[k + 1])``;
* :func:`returning_scalars` (k) -- the same for ``fun(t, y, *args) -> dy_dt``,
  whose result is copied into dy_dt (a result of another length raises a
  ValueError, at every call);
* :func:`returning_params` -- ``fun(t, y, p) -> dy_dt`` with ``p = q[2:]``.

These do not depend on ``fun`` (its addresses are data), so each is compiled
once and cached on disk like the driver. For other ``args`` (arrays, tuples,
integers) the driver is compiled for their kind (once, and cached), and a
returning ``fun`` gets an adapter of its own, :func:`inplace_of`, compiled
in each process (small and quick to compile).
"""

from __future__ import annotations

from numba import njit, types

from .functions import VECTOR, header_function, scalars_function, tail
from .unrolled import with_globals

__all__ = ["MAX_SCALARS", "inplace_scalars", "returning_scalars", "returning_params", "inplace_of"]

MAX_SCALARS = 8  # adapters for 0 .. MAX_SCALARS float arguments
WRONG_SHAPE = "fun(t, y, *args) must return an array of the shape of y0; it returned another length"


def _scalar_adapters(k):
    """The in-place and the returning adapter for k floats; ``k`` is a closure cell (it keys the cache)."""

    def inplace_scalars(t, y, dy_dt, q):
        k  # noqa: B018  (read, so that it is a closure cell)
        fun = HEADER(q)
        fun(t, y, dy_dt, *SCALARS(q))

    def returning_scalars(t, y, dy_dt, q):
        k  # noqa: B018
        fun = HEADER(q)
        value = fun(t, y, *SCALARS(q))
        if value.shape[0] != dy_dt.shape[0]:
            raise ValueError(WRONG_SHAPE)
        for i in range(dy_dt.shape[0]):
            dy_dt[i] = value[i]

    extra = (types.float64,) * k
    return tuple(
        njit(cache=True, nogil=True)(with_globals(f, HEADER=header_function(extra, returning),
                                                  SCALARS=scalars_function(k)))
        for f, returning in ((inplace_scalars, False), (returning_scalars, True))
    )  # fmt: skip


def _returning_params(t, y, dy_dt, q):
    """``dy_dt[:] = fun(t, y, q[2:])``, fun at the addresses q[0], q[1]."""
    fun = HEADER(q)
    value = fun(t, y, tail(q, 2))
    if value.shape[0] != dy_dt.shape[0]:
        raise ValueError(WRONG_SHAPE)
    for i in range(dy_dt.shape[0]):
        dy_dt[i] = value[i]


returning_params = njit(cache=True, nogil=True)(with_globals(_returning_params, HEADER=header_function((VECTOR,), True)))
inplace_scalars, returning_scalars = (list(adapters) for adapters in zip(*(_scalar_adapters(k) for k in range(MAX_SCALARS + 1))))

_OWN: dict = {}  # (returning jitted fun, number of args) -> its in-place adapter


def inplace_of(fun, n_args: int):
    """A jitted ``adapter(t, y, dy_dt, a_0, ..., a_{n_args-1})`` writing ``fun(t, y, a_0, ...)`` into dy_dt.

    Made once per ``fun`` and number of extra arguments (written with that
    many parameters: the driver calls it with the arguments spread out).
    """
    adapter = _OWN.get((fun, n_args))
    if adapter is None:
        names = "".join(f", a_{j}" for j in range(n_args))
        source = (f"def adapter(t, y, dy_dt{names}):\n"
                  f"    value = fun(t, y{names})\n"
                  "    if value.shape[0] != dy_dt.shape[0]:\n"
                  "        raise ValueError(WRONG_SHAPE)\n"
                  "    for i in range(dy_dt.shape[0]):\n"
                  "        dy_dt[i] = value[i]\n")  # fmt: skip
        namespace = {"fun": fun, "WRONG_SHAPE": WRONG_SHAPE}
        exec(compile(source, "<hnn_np.integrate._compiled.adapters: inplace_of>", "exec"), namespace)  # noqa: S102
        adapter = _OWN[(fun, n_args)] = njit(nogil=True)(namespace["adapter"])
    return adapter
