"""Two ways to give the right-hand side f(t, y), and the one the driver calls.

scipy's convention returns a new array on every call::

    fun(t, y, *args) -> dy_dt                         (n,) -> (n,)

The driver (:mod:`.driver`) instead calls the *in-place* convention, which
writes into an array it is handed::

    fun(t, y, dy_dt, *args)                           writes dy_dt (n,), returns nothing

so that the stages go straight into the rows of the stage matrix K and a
compiled integration allocates nothing per call. (With a returning ``fun``,
each call makes an array for a handful of numbers and frees it again: for a
small system that allocation costs more than the step's arithmetic.)

:func:`as_inplace` turns a returning ``fun`` into an in-place one; the public
functions (:func:`.ivp.solve_ivp`, :func:`.ivp.solve_ivp_batch`) call it
unless they are told ``inplace=True``. For a Numba-jitted ``fun`` the adapter
is itself jitted (and reused for the same ``fun``, so that the driver,
compiled once per right-hand side, is not compiled again); for a plain Python
``fun`` it is a Python closure that also converts the result to float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.core.registry import CPUDispatcher

__all__ = ["is_compiled", "as_inplace"]

_ADAPTERS: dict = {}  # returning jitted fun -> its jitted in-place adapter


def is_compiled(fun) -> bool:
    """True for a Numba-jitted function (a ``CPUDispatcher``)."""
    return isinstance(fun, CPUDispatcher)


def as_inplace(fun):
    """The in-place version ``fun_inplace(t, y, dy_dt, *args)`` of ``fun(t, y, *args) -> dy_dt``.

    Jitted ``fun``: a jitted adapter, made once per ``fun`` and reused.
    Python ``fun``: a closure; its result may be any real array_like of
    shape (n,) and is stored as float64.
    """
    if is_compiled(fun):
        adapter = _ADAPTERS.get(fun)
        if adapter is None:

            @njit
            def adapter(t, y, dy_dt, *args):
                value = fun(t, y, *args)
                for i in range(dy_dt.shape[0]):
                    dy_dt[i] = value[i]

            _ADAPTERS[fun] = adapter
        return adapter

    def fun_inplace(t, y, dy_dt, *args):
        dy_dt[:] = np.asarray(fun(t, y, *args), dtype=np.float64)

    return fun_inplace
