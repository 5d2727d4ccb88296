"""Two ways to give the right-hand side f(t, y), and the one the controller calls.

scipy's convention returns a new array on every call::

    fun(t, y, *args) -> dy_dt                         (n,) -> (n,)

The controller (:mod:`.controller`) instead calls the *in-place* convention,
which writes into an array it is handed::

    fun(t, y, dy_dt, *args)                           writes dy_dt (n,), returns nothing

so that the stages go straight into the rows of the stage matrix K and a
compiled integration allocates nothing per call. (With a returning ``fun``,
each call makes an array for a handful of numbers and frees it again: for a
small system that allocation costs more than the step's arithmetic.)

The public functions (:func:`.ivp.solve_ivp`, :func:`.ivp.solve_ivp_batch`)
take either (``inplace=True`` for the second). A plain Python ``fun`` in the
returning convention is wrapped by :func:`as_inplace`; a Numba-jitted one is
handed to the compiled driver as it is, which adapts it
(:mod:`._compiled.rhs`).
"""

from __future__ import annotations

import sys

import numpy as np

__all__ = ["is_compiled", "as_inplace", "checked_output"]


_DISPATCHER: list = []  # [numba's CPUDispatcher class], once Numba is imported


def is_compiled(fun) -> bool:
    """True for a Numba-jitted function (a ``CPUDispatcher``); never imports Numba itself."""
    if not _DISPATCHER:
        if "numba" not in sys.modules:  # no jitted function can exist yet
            return False
        from numba.core.registry import CPUDispatcher

        _DISPATCHER.append(CPUDispatcher)
    return isinstance(fun, _DISPATCHER[0])


def as_inplace(fun):
    """The in-place version ``fun_inplace(t, y, dy_dt, *args)`` of a Python ``fun(t, y, *args) -> dy_dt``.

    Its result may be any real array_like of shape (n,) (float or integer
    dtype) and is stored as float64. Checked at every call: any other shape
    or dtype raises a ValueError (NumPy would broadcast a shape (1,) result
    into dy_dt, or drop an imaginary part).
    """

    def fun_inplace(t, y, dy_dt, *args):
        value = fun(t, y, *args)
        if not (type(value) is np.ndarray and value.shape == dy_dt.shape and value.dtype.kind in "fiu"):
            value = checked_output(value, dy_dt.shape, t)
        dy_dt[:] = value

    return fun_inplace


def checked_output(value, shape: tuple, t) -> np.ndarray:
    """``value`` as an array of ``shape`` with real (float or integer) entries, or a ValueError."""
    array = np.asarray(value)
    if array.shape != shape:
        raise ValueError(f"fun(t, y, *args) must return an array of the shape of y0 {shape}; "
                         f"got shape {array.shape} at t = {t!r}")  # fmt: skip
    if array.dtype.kind not in "fiu":
        raise ValueError(f"fun(t, y, *args) must return real numbers (float or integer); "
                         f"got dtype {array.dtype} at t = {t!r}")  # fmt: skip
    return array
