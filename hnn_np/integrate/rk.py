"""One embedded explicit Runge-Kutta step, its error norm, the initial step and dense output.

Every function here is plain Python using only NumPy that Numba supports, and
is registered with :func:`numba.extending.register_jitable`: called from Python
it runs as written (the interpreted twin), called from a Numba-compiled caller
(:mod:`.driver`) it is compiled into it. The helpers that do not call ``fun``
are compiled once and cached on disk (``cache=True``); those that call ``fun``
are compiled for each ``fun``, since Numba cannot cache a function whose
argument is another jitted function. Sums over stages run j = 0, 1, ... and
sums over components i = 0 .. n-1, in the order of Hairer's Fortran loops, so
the compiled and the interpreted versions round identically. Array copies
go through :func:`assign`, a plain loop: Numba compiles an array assignment
``a[i] = b`` together with its broadcasting error message, which takes seconds.

Notation (0-based, see :mod:`.tableau`): y has shape (n,), the stage
derivatives K have shape (S, n) with K[j] = k_j, s = ``tab.n_stages``.
"""

from __future__ import annotations

import math

import numpy as np
from numba.extending import register_jitable

__all__ = [
    "UROUND", "assign", "rk_step", "error_norm", "initial_step", "dense_coefficients",
    "dense_eval", "all_finite", "fixed_step_solve",
]  # fmt: skip

UROUND = 2.3e-16  # dop853.f / dopri5.f default WORK(1): rounding unit of float64


@register_jitable(cache=True)
def assign(dst, src):
    """dst[...] = src, element by element; both C-contiguous with equal sizes."""
    dst_flat = dst.reshape(-1)
    src_flat = src.reshape(-1)
    for i in range(dst_flat.shape[0]):
        dst_flat[i] = src_flat[i]


@register_jitable(cache=True)
def all_finite(x):
    """True when no entry of the array x is inf or NaN."""
    return bool(np.all(np.isfinite(x)))


@register_jitable(cache=True)
def stage_sum(weights, K, n_terms):
    """sum_{j < n_terms} weights[j] K[j], shape (n,), accumulated in the order j = 0, 1, ...

    Zero weights are skipped, as Hairer's Fortran writes out only the nonzero
    terms.
    """
    acc = np.zeros(K.shape[1])
    for j in range(n_terms):
        if weights[j] != 0.0:
            acc += weights[j] * K[j]
    return acc


@register_jitable(cache=True)
def sum_of_squares(x):
    """sum_i x_i^2 for a 1-D array, summed in the order i = 0, 1, ..."""
    total = 0.0
    for i in range(x.shape[0]):
        total += x[i] * x[i]
    return total


@register_jitable
def rk_step(fun, t, y, h, K, tab, args):
    """The stages of one explicit Runge-Kutta step from (t, y) with step h.

        k_i   = f(t + C_i h, y + h sum_{j<i} A_ij k_j),   i = 1 .. s-1
        y_new = y + h sum_{j<s} B_j k_j

    and, when ``tab.fsal_in_error`` (RK45), also the FSAL stage
    ``k_s = f(t + h, y_new)`` that its error estimate needs.

    Parameters
    ----------
    fun : callable
        ``fun(t, y, *args) -> dy_dt``, shape (n,) -> (n,).
    t, h : float
        Start of the step and its (signed) size.
    y : ndarray, shape (n,)
    K : ndarray, shape (S, n)
        On entry K[0] = f(t, y). Rows 1 .. s-1 (and s) are overwritten.
    tab : Tableau
    args : tuple
        Extra arguments of ``fun``.

    Returns
    -------
    y_new : ndarray, shape (n,)
    n_evals : int
        Calls of ``fun`` made: s - 1, or s with the FSAL stage.
    """
    s = tab.n_stages
    for i in range(1, s):
        assign(K[i], fun(t + tab.C[i] * h, y + h * stage_sum(tab.A[i], K, i), *args))
    y_new = y + h * stage_sum(tab.B, K, s)
    if tab.fsal_in_error:
        assign(K[s], fun(t + h, y_new, *args))
        return y_new, s
    return y_new, s - 1


@register_jitable(cache=True)
def error_norm(K, y, y_new, h, tab, atol, rtol):
    """Hairer's scaled local error of a step; the step is accepted when it is <= 1.

    With the scale ``sk_i = atol_i + rtol_i max(|y_i|, |y_new_i|)`` and
    ``e = sum_j E_j k_j`` over stages 0..s:

    * one estimator (dopri5.f, label 41):
      ``err = sqrt((1/n) sum_i (h e_i / sk_i)^2)``
    * DOP853 (dop853.f, label 41), with ``e3 = sum_j E3_j k_j``:
      ``err = |h| S5 / sqrt(n (S5 + 0.01 S3))``, ``S5 = sum_i (e_i/sk_i)^2``,
      ``S3 = sum_i (e3_i/sk_i)^2`` (and the denominator 1 if S5 + 0.01 S3 = 0).

    Parameters
    ----------
    K : ndarray, shape (S, n)
    y, y_new : ndarray, shape (n,)
    h : float
    tab : Tableau
    atol, rtol : ndarray, shape (n,)

    Returns
    -------
    err : float
    """
    n = y.shape[0]
    n_terms = tab.n_stages + 1
    sk = atol + rtol * np.maximum(np.abs(y), np.abs(y_new))
    e = stage_sum(tab.E, K, n_terms)
    if tab.E3.shape[0] == 0:
        return math.sqrt(sum_of_squares(h * e / sk) / n)
    e3 = stage_sum(tab.E3, K, n_terms)
    s5 = sum_of_squares(e / sk)
    s3 = sum_of_squares(e3 / sk)
    denominator = s5 + 0.01 * s3
    if denominator <= 0.0:
        denominator = 1.0
    return abs(h) * s5 * math.sqrt(1.0 / (n * denominator))


@register_jitable
def initial_step(fun, t0, y0, f0, direction, hmax, tab, atol, rtol, args):
    """Hairer's initial step guess (function HINIT of dop853.f and dopri5.f).

    With ``sk_i = atol_i + rtol_i |y0_i|``, ``d0 = sum_i (y0_i/sk_i)^2`` and
    ``d1 = sum_i (f0_i/sk_i)^2``:

    1. an explicit Euler step of size ``h0 = 0.01 sqrt(d0/d1)`` (1e-6 if d0 or
       d1 <= 1e-10), at most hmax;
    2. ``d2 = ||(f(t0 + h0, y0 + h0 f0) - f0) / sk|| / h0`` estimates y'';
    3. ``h1 = (0.01 / max(d2, sqrt(d1)))^(1/q)`` with q = ``tab.order``
       (``max(1e-6, 1e-3 h0)`` if that maximum is <= 1e-15);
    4. ``h = min(100 h0, h1, hmax)``, signed by ``direction``.

    Costs one call of ``fun``. Returns NaN if that call gives a non-finite value.

    Parameters
    ----------
    fun : callable
    t0 : float
    y0, f0 : ndarray, shape (n,)
        Initial state and f(t0, y0).
    direction : float
        +1.0 forward, -1.0 backward in time.
    hmax : float
    tab : Tableau
    atol, rtol : ndarray, shape (n,)
    args : tuple

    Returns
    -------
    h : float
    """
    sk = atol + rtol * np.abs(y0)
    d1 = sum_of_squares(f0 / sk)
    d0 = sum_of_squares(y0 / sk)
    if d1 <= 1e-10 or d0 <= 1e-10:
        h = 1.0e-6
    else:
        h = math.sqrt(d0 / d1) * 0.01
    h = direction * min(h, hmax)
    f1 = fun(t0 + h, y0 + h * f0, *args)
    d2 = math.sqrt(sum_of_squares((f1 - f0) / sk)) / h
    if not math.isfinite(d2):
        return math.nan
    d12 = max(abs(d2), math.sqrt(d1))
    if d12 <= 1e-15:
        h1 = max(1.0e-6, abs(h) * 1.0e-3)
    else:
        h1 = (0.01 / d12) ** (1.0 / tab.order)
    return direction * min(100 * abs(h), h1, hmax)


@register_jitable
def dense_coefficients(fun, t, y, y_new, h, K, tab, args):
    """Coefficients Q of the continuous extension on an accepted step [t, t + h].

        Q_0 = y,    Q_1 = y_new - y,    Q_2 = h k_0 - Q_1,
        Q_3 = Q_1 - h k_s - Q_2,        Q_{4+r} = h sum_j D_rj k_j,

    (dop853.f, labels 62 and 63; dopri5.f, labels 40 and 43), evaluated by
    :func:`dense_eval`. First computes the extra stages s+1 .. S-1 (DOP853's
    14, 15, 16) from the same A and C.

    Parameters
    ----------
    fun : callable
    t, h : float
    y, y_new : ndarray, shape (n,)
    K : ndarray, shape (S, n)
        Stages 0..s of the step (k_0 = f(t, y), k_s = f(t + h, y_new)); the
        dense stages are written into rows s+1 .. S-1.
    tab : Tableau
    args : tuple

    Returns
    -------
    Q : ndarray, shape (4 + R, n)
    n_evals : int
        Calls of ``fun`` made (S - s - 1).
    """
    n_ext = tab.A.shape[0]
    s = tab.n_stages
    for i in range(s + 1, n_ext):
        assign(K[i], fun(t + tab.C[i] * h, y + h * stage_sum(tab.A[i], K, i), *args))
    Q = np.empty((4 + tab.D.shape[0], y.shape[0]))
    y_diff = y_new - y
    bspl = h * K[0] - y_diff
    assign(Q[0], y)
    assign(Q[1], y_diff)
    assign(Q[2], bspl)
    assign(Q[3], y_diff - h * K[s] - bspl)
    for r in range(tab.D.shape[0]):
        assign(Q[4 + r], h * stage_sum(tab.D[r], K, n_ext))
    return Q, n_ext - s - 1


@register_jitable(cache=True)
def dense_eval(Q, theta):
    """The interpolant at t + theta h, in Hairer's nested form (CONTD8, CONTD5).

        y(theta) = Q_0 + theta (Q_1 + (1 - theta) (Q_2 + theta (Q_3
                   + (1 - theta) (Q_4 + theta (Q_5 + ...)))))

    (the factors alternate theta, 1 - theta). DOP853 has 8 coefficients (order
    7), RK45 has 5 (order 4).

    Parameters
    ----------
    Q : ndarray, shape (4 + R, n) or (4 + R, n, m)
    theta : float or ndarray of shape (m,)
        (t - t_step) / h, in [0, 1] inside the step.

    Returns
    -------
    y : ndarray, shape (n,) or (n, m)
    """
    theta1 = 1.0 - theta
    last = Q.shape[0] - 1
    y = Q[last].copy()
    for r in range(last - 1, -1, -1):
        if r % 2 == 0:
            y = Q[r] + theta * y
        else:
            y = Q[r] + theta1 * y
    return y


def fixed_step_solve(fun, t_span, y0, n_steps, tab, args=()):
    """Integrate with ``n_steps`` equal steps of the method's B (no error control).

    Used to measure the convergence order: the error at t_end behaves like
    ``C h^order``.

    Parameters
    ----------
    fun : callable
        ``fun(t, y, *args)``, shape (n,) -> (n,).
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
    t0, t_end = float(t_span[0]), float(t_span[1])
    h = (t_end - t0) / n_steps
    y = np.array(y0, dtype=np.float64)
    s = tab.n_stages
    K = np.empty((tab.A.shape[0], y.shape[0]))
    K[0] = fun(t0, y, *args)
    for step in range(n_steps):
        t = t0 + step * h
        y, _ = rk_step(fun, t, y, h, K, tab, args)
        if not tab.fsal_in_error:
            K[s] = fun(t + h, y, *args)
        K[0] = K[s]
    return y
