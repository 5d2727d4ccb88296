"""One embedded explicit Runge-Kutta step, its error norm and Hairer's initial step.

Every function here is plain Python using only NumPy that Numba supports,
marked :func:`.jitable.jitable`: called from Python it runs as written (the
interpreted twin), called from the compiled driver (:mod:`._compiled.driver`)
it is compiled into the driver, so the compiler may inline it.

The loops are written out per component, as in Hairer's Fortran: for each
component i, the sum over stages j = 0, 1, ... in that order. So the compiled
and the interpreted versions round identically, and the compiled one makes no
temporary arrays (the results go into work arrays the caller owns). Rows are
copied by :func:`set_row`, a plain loop: Numba compiles an array assignment
``a[i] = b`` together with its broadcasting error message, which takes
seconds, and a view ``a[i]`` costs reference counting at run time.

Notation (0-based, see :mod:`.tableau`): y has shape (n,), the stage
derivatives K have shape (S, n) with K[j] = k_j, s = ``tab.n_stages``.

Scaled norms for any |y|: the sums of squares (x_i / sk_i)^2 of Hairer's
code overflow once some |x_i / sk_i| > 1e154 (|f| = 1e160 on a component
whose scale is atol = 1e-6, say). Where a sum does, the same formula is
evaluated in logarithms (:func:`log_scaled_norm`), which nothing in the
float range overflows; the plain sums are kept everywhere else, so the
steps of every ordinary problem stay Hairer's to the bit.
"""

from __future__ import annotations

import math

import numpy as np

from .jitable import jitable

__all__ = [
    "UROUND", "LOG_MAX", "set_row", "all_finite", "row_finite", "matrix_finite", "scaled_sum_of_squares",
    "stage_sum", "stage_state", "rk_step", "error_norm", "error_from_sums", "log_scaled_norm", "log_add",
    "error_norm_in_logs", "initial_step",
]  # fmt: skip

UROUND = 2.3e-16  # dop853.f / dopri5.f default WORK(1): rounding unit of float64
LOG_MAX = 709.78  # just below log of the largest float64 (1.8e308): exp of more overflows


@jitable
def set_row(M, row, values):
    """M[row, :] = values, element by element (no temporary view); M (m, n), values (n,)."""
    for i in range(M.shape[1]):
        M[row, i] = values[i]


@jitable
def all_finite(x):
    """True when no entry of the 1-D array x is inf or NaN."""
    for i in range(x.shape[0]):
        if not math.isfinite(x[i]):
            return False
    return True


@jitable
def row_finite(M, row):
    """True when no entry of the row M[row, :] is inf or NaN (without a view of the row)."""
    for i in range(M.shape[1]):
        if not math.isfinite(M[row, i]):
            return False
    return True


@jitable
def matrix_finite(M):
    """True when no entry of the 2-D array M is inf or NaN."""
    for row in range(M.shape[0]):
        if not row_finite(M, row):
            return False
    return True


@jitable
def scaled_sum_of_squares(x, y0, atol, rtol):
    """sum_i (x_i / sk_i)^2 with sk_i = atol_i + rtol_i |y0_i|, summed in the order i = 0, 1, ..."""
    total = 0.0
    for i in range(x.shape[0]):
        scaled = x[i] / (atol[i] + rtol[i] * abs(y0[i]))
        total += scaled * scaled
    return total


@jitable
def log_scaled_norm(x, y, y_new, atol, rtol):
    """log sqrt(sum_i (x_i / sk_i)^2), sk_i = atol_i + rtol_i max(|y_i|, |y_new_i|), for any x.

    With l_i = log|x_i| - log sk_i (no quotient is formed) and l = max_i l_i,

        log ||x / sk|| = l + 0.5 log sum_i exp(2 (l_i - l)),

    where every exponential is at most 1: nothing overflows for any finite x
    (-inf when x = 0). inf when some x_i is not finite.
    """
    n = x.shape[0]
    largest = -math.inf
    for i in range(n):
        if not math.isfinite(x[i]):
            return math.inf
        if x[i] != 0.0:
            sk = atol[i] + rtol[i] * max(abs(y[i]), abs(y_new[i]))
            largest = max(largest, math.log(abs(x[i])) - math.log(sk))
    if largest == -math.inf:
        return largest
    total = 0.0
    for i in range(n):
        if x[i] != 0.0:
            sk = atol[i] + rtol[i] * max(abs(y[i]), abs(y_new[i]))
            total += math.exp(2.0 * (math.log(abs(x[i])) - math.log(sk) - largest))
    return largest + 0.5 * math.log(total)


@jitable
def log_add(a, b):
    """log(exp(a) + exp(b)), without forming either exponential."""
    high, low = max(a, b), min(a, b)
    if low == -math.inf:
        return high
    return high + math.log1p(math.exp(low - high))


@jitable
def stage_sum(weights, K, n_terms, i):
    """Component i of sum_{j < n_terms} weights_j k_j, summed in the order j = 0, 1, ...

    Zero weights are skipped, as Hairer's Fortran writes out only the nonzero
    terms.
    """
    total = 0.0
    for j in range(n_terms):
        if weights[j] != 0.0:
            total += weights[j] * K[j, i]
    return total


@jitable
def stage_state(out, y, h, A, row, K, n_terms):
    """out = y + h sum_{j < n_terms} A[row, j] k_j, written into ``out`` (n,).

    Summed over j = 0, 1, ... in that order, skipping zero coefficients as
    Hairer's Fortran writes out only the nonzero terms. (A and a row index,
    rather than the row A[row], so that Numba makes no temporary view.)
    """
    for i in range(y.shape[0]):
        total = 0.0
        for j in range(n_terms):
            if A[row, j] != 0.0:
                total += A[row, j] * K[j, i]
        out[i] = y[i] + h * total


@jitable
def rk_step(fun, t, y, h, K, y_stage, y_new, tab, args):
    """The stages of one explicit Runge-Kutta step from (t, y) with step h.

        k_i   = f(t + C_i h, y + h sum_{j<i} A_ij k_j),   i = 1 .. s-1
        y_new = y + h sum_{j<s} B_j k_j

    and, when ``tab.fsal_in_error`` (RK45), also the FSAL stage
    ``k_s = f(t + h, y_new)`` that its error estimate needs.

    Parameters
    ----------
    fun : callable
        ``fun(t, y, dy_dt, *args)`` writes f(t, y) into ``dy_dt`` (n,) (the
        in-place convention of :mod:`.calling`). It must not keep a reference
        to y or dy_dt, work arrays that are overwritten.
    t, h : float
        Start of the step and its (signed) size.
    y : ndarray, shape (n,)
    K : ndarray, shape (S, n)
        On entry K[0] = f(t, y). Rows 1 .. s-1 (and s) are overwritten.
    y_stage : ndarray, shape (n,)
        Work array for the stage states.
    y_new : ndarray, shape (n,)
        Output: the solution at t + h.
    tab : Tableau
    args : tuple
        Extra arguments of ``fun``.

    Returns
    -------
    n_evals : int
        Calls of ``fun`` made: s - 1, or s with the FSAL stage.
    """
    s = tab.n_stages
    for i in range(1, s):
        stage_state(y_stage, y, h, tab.A, i, K, i)
        fun(t + tab.C[i] * h, y_stage, K[i], *args)  # k_i, written into K[i]
    stage_state(y_new, y, h, tab.A, s, K, s)  # row s of A is B
    if tab.fsal_in_error:
        fun(t + h, y_new, K[s], *args)
        return s
    return s - 1


@jitable
def error_norm(K, y, y_new, h, tab, atol, rtol):
    """Hairer's scaled local error of a step; the step is accepted when it is <= 1.

    With the scale ``sk_i = atol_i + rtol_i max(|y_i|, |y_new_i|)`` and
    ``e = sum_j E_j k_j`` over stages 0..s:

    * one estimator (dopri5.f, label 41):
      ``err = sqrt((1/n) sum_i (h e_i / sk_i)^2)``
    * DOP853 (dop853.f, label 41), with ``e3 = sum_j E3_j k_j``:
      ``err = |h| S5 / sqrt(n (S5 + 0.01 S3))``, ``S5 = sum_i (e_i/sk_i)^2``,
      ``S3 = sum_i (e3_i/sk_i)^2`` (and the denominator 1 if S5 + 0.01 S3 = 0).

    When a sum overflows (or a stage is not finite), the same err in
    logarithms (:func:`error_norm_in_logs`): inf if it is not finite.

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
    two_estimators = tab.E3.shape[0] > 0
    s5 = 0.0
    s3 = 0.0
    for i in range(n):
        sk = atol[i] + rtol[i] * max(abs(y[i]), abs(y_new[i]))
        if two_estimators:
            e3 = stage_sum(tab.E3, K, n_terms, i) / sk
            s3 += e3 * e3
            e5 = stage_sum(tab.E, K, n_terms, i) / sk
        else:
            e5 = h * stage_sum(tab.E, K, n_terms, i) / sk
        s5 += e5 * e5
    if not s5 + s3 < math.inf:  # a square overflowed, or a stage is inf or NaN
        return error_norm_in_logs(K, y, y_new, h, tab, atol, rtol)
    return error_from_sums(s5, s3, h, n, two_estimators)


@jitable
def error_from_sums(s5, s3, h, n, two_estimators):
    """err from the sums of squares S5 (and S3) of :func:`error_norm`."""
    if not two_estimators:
        return math.sqrt(s5 / n)
    denominator = s5 + 0.01 * s3
    if denominator <= 0.0:
        denominator = 1.0
    return abs(h) * s5 * math.sqrt(1.0 / (n * denominator))


@jitable
def error_norm_in_logs(K, y, y_new, h, tab, atol, rtol):
    """:func:`error_norm` from the logarithms of its norms, for errors whose squares overflow.

    With l5 = log sqrt(S5) and l3 = log sqrt(S3) (:func:`log_scaled_norm`):

    * one estimator: ``log err = log|h| + l5 - 0.5 log n``;
    * DOP853: ``log err = log|h| + 2 l5 - 0.5 (log n + log(exp(2 l5) + 0.01 exp(2 l3)))``.

    Returns inf when a stage sum is not finite (the step is then rejected).
    Allocates one array of n errors (this runs only on such rare steps).
    """
    n = y.shape[0]
    n_terms = tab.n_stages + 1
    e = np.empty(n)
    for i in range(n):
        e[i] = stage_sum(tab.E, K, n_terms, i)
    l5 = log_scaled_norm(e, y, y_new, atol, rtol)
    l3 = -math.inf
    if tab.E3.shape[0] > 0:
        for i in range(n):
            e[i] = stage_sum(tab.E3, K, n_terms, i)
        l3 = log_scaled_norm(e, y, y_new, atol, rtol)
    if l5 == math.inf or l3 == math.inf:
        return math.inf
    if l5 == -math.inf or h == 0.0:
        return 0.0
    if tab.E3.shape[0] == 0:
        log_err = math.log(abs(h)) + l5 - 0.5 * math.log(n)
    else:
        log_err = math.log(abs(h)) + 2.0 * l5 - 0.5 * (math.log(n) + log_add(2.0 * l5, math.log(0.01) + 2.0 * l3))
    return math.exp(log_err) if log_err < LOG_MAX else math.inf


@jitable
def initial_step(fun, t0, y0, f0, direction, hmax, tab, atol, rtol, args, work, f1):
    """Hairer's initial step guess (function HINIT of dop853.f and dopri5.f).

    With ``sk_i = atol_i + rtol_i |y0_i|``, ``d0 = sum_i (y0_i/sk_i)^2`` and
    ``d1 = sum_i (f0_i/sk_i)^2``:

    1. an explicit Euler step of size ``h0 = 0.01 sqrt(d0/d1)`` (1e-6 if d0 or
       d1 <= 1e-10), at most hmax;
    2. ``d2 = ||(f(t0 + h0, y0 + h0 f0) - f0) / sk|| / h0`` estimates y'';
    3. ``h1 = (0.01 / max(d2, sqrt(d1)))^(1/q)`` with q = ``tab.order``
       (``max(1e-6, 1e-3 h0)`` if that maximum is <= 1e-15);
    4. ``h = min(100 h0, h1, hmax)``, signed by ``direction``.

    Where d0, d1 or d2 overflow, the same formulas in logarithms
    (:func:`log_scaled_norm`): ``h0 = 0.01 exp(log||y0/sk|| - log||f0/sk||)``,
    ``h1 = exp((log 0.01 - log max(d2, sqrt(d1))) / q)``. No division by a
    quantity that can vanish: when h0 underflows to 0 the guess is 0 (the
    controller then stops: step size too small).

    Costs one call of ``fun``. If that call gives a non-finite value, the
    guess is h0 itself (the controller rejects and shrinks it as needed).

    Parameters
    ----------
    fun : callable
        ``fun(t, y, dy_dt, *args)``, writing into dy_dt (see :func:`rk_step`).
    t0 : float
    y0, f0 : ndarray, shape (n,)
        Initial state and f(t0, y0).
    direction : float
        +1.0 forward, -1.0 backward in time.
    hmax : float
    tab : Tableau
    atol, rtol : ndarray, shape (n,)
    args : tuple
    work : ndarray, shape (n,)
        Work array (the Euler step, then f1 - f0).
    f1 : ndarray, shape (n,)
        Work array for f(t0 + h0, y0 + h0 f0).

    Returns
    -------
    h : float
    """
    d1 = scaled_sum_of_squares(f0, y0, atol, rtol)
    d0 = scaled_sum_of_squares(y0, y0, atol, rtol)
    overflow = not (d0 < math.inf and d1 < math.inf)  # then the norms in logarithms
    if d1 <= 1e-10 or d0 <= 1e-10:
        h = 1.0e-6
    elif overflow:
        log_ratio = log_scaled_norm(y0, y0, y0, atol, rtol) - log_scaled_norm(f0, y0, y0, atol, rtol)
        h = math.exp(min(log_ratio, LOG_MAX - 1.0)) * 0.01  # then at most hmax
    else:
        h = math.sqrt(d0 / d1) * 0.01
    h = direction * min(h, hmax)
    for i in range(y0.shape[0]):
        work[i] = y0[i] + h * f0[i]  # the Euler step
    fun(t0 + h, work, f1, *args)
    if h == 0.0 or not all_finite(f1):
        return h
    for i in range(y0.shape[0]):
        work[i] = f1[i] - f0[i]
    d2 = math.sqrt(scaled_sum_of_squares(work, y0, atol, rtol)) / h
    if overflow or not math.isfinite(d2):  # log max(d2, sqrt(d1)), in logarithms
        log_d2 = log_scaled_norm(work, y0, y0, atol, rtol) - math.log(abs(h))
        log_d12 = max(log_d2, log_scaled_norm(f0, y0, y0, atol, rtol))
        if log_d12 <= math.log(1e-15):
            h1 = max(1.0e-6, abs(h) * 1.0e-3)
        else:
            h1 = math.exp((math.log(0.01) - log_d12) / tab.order)
        return direction * min(100 * abs(h), h1, hmax)
    d12 = max(abs(d2), math.sqrt(d1))
    if d12 <= 1e-15:
        h1 = max(1.0e-6, abs(h) * 1.0e-3)
    else:
        h1 = (0.01 / d12) ** (1.0 / tab.order)
    return direction * min(100 * abs(h), h1, hmax)
