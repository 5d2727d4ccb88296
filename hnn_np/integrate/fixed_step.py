"""Fixed-step integration with a tableau's B: no error control, for convergence tests.

With n equal steps of size h the global error of a method of order q behaves
like C h^q; the tests measure q from two step sizes.
"""

from __future__ import annotations

import numpy as np

from .calling import as_inplace
from .rk import rk_step

__all__ = ["fixed_step_solve"]


def fixed_step_solve(fun, t_span, y0, n_steps, tab, args=()):
    """Integrate with ``n_steps`` equal steps of the method's B (no error control).

    Used to measure the convergence order: the error at t_end behaves like
    ``C h^order``.

    Parameters
    ----------
    fun : callable
        ``fun(t, y, *args) -> dy_dt``, shape (n,) -> (n,).
    t_span : (float, float)
    y0 : array_like, shape (n,)
    n_steps : int
    tab : Tableau
    args : tuple

    Returns
    -------
    y : ndarray, shape (n,)
        The solution at ``t_span[1]``.
    """
    fun = as_inplace(fun)  # fun(t, y, dy_dt, *args), as rk_step calls it
    t0, t_end = float(t_span[0]), float(t_span[1])
    h = (t_end - t0) / n_steps
    y = np.array(y0, dtype=np.float64)
    y_new = np.empty_like(y)
    y_stage = np.empty_like(y)
    s = tab.n_stages
    K = np.empty((tab.A.shape[0], y.shape[0]))
    fun(t0, y, K[0], *args)
    for step in range(n_steps):
        t = t0 + step * h
        rk_step(fun, t, y, h, K, y_stage, y_new, tab, args)
        y, y_new = y_new, y
        if not tab.fsal_in_error:
            fun(t + h, y, K[s], *args)
        K[0] = K[s]
    return y
