"""Hairer's adaptive driver: the step-size controller of dop853.f / dopri5.f.

:func:`integrate` follows the core integrators DP86CO (dop853.f) and DOPCOR
(dopri5.f) statement by statement, so that on any problem it takes the same
accepted and rejected steps as the Fortran. One pass of the loop, with
``posneg = +-1`` the direction of integration:

1. fail if more than ``max_steps`` steps were taken (NSTEP > NMAX) or if
   ``0.1 |h| <= |t| uround`` (step size underflow);
2. if ``(t + 1.01 h - t_end) posneg > 0``: ``h = t_end - t``, last step;
3. one step (:func:`.rk.rk_step`) and its scaled error err
   (:func:`.rk.error_norm`), both as written out by :mod:`.unrolled`;
4. ``fac11 = err^expo1``, ``fac = fac11 / facold^beta`` (Lund stabilisation),
   ``fac = max(1/fac2, min(1/fac1, fac / safe))``, ``h_new = h / fac``;
5. err <= 1, accepted: ``facold = max(err, 1e-4)``; k_s = f(t + h, y_new)
   (DOP853 only; RK45 has it already); dense output if wanted
   (:func:`.dense.dense_coefficients`, written out too); advance. Then
   ``|h_new| <= hmax`` and, right after a rejection, ``|h_new| <= |h|``;
6. err > 1, rejected: ``h_new = h / min(1/fac1, fac11 / safe)``; rejections
   before the first accepted step are not counted (NREJCT).

Not reproduced: the Fortran's stiffness test. With its default printing it
only writes a warning and never changes the steps (it stops the run only when
messages are switched off), so the step sequence is the same without it.

Function evaluations (nfev): 2 before the first step (f(t0, y0) and HINIT's
Euler step; 1 when ``first_step`` is given), then DOP853 11 per step + 1 per
accepted step (+ 3 per accepted step with dense output), RK45 6 per step.

Both functions here are plain Python using only what Numba supports (they run
as written for a plain Python ``fun``):

* :func:`integrate`, the controller above, for one trajectory; it writes into
  work arrays (:class:`Work`) and output buffers (:class:`.record.Record`)
  it is given, so that a batch allocates them once;
* :func:`integrate_batch` (for :func:`.solve_ivp_batch`), which runs it for
  each initial state and hands it every array as a *borrowed* view, one that
  Numba does not reference-count (:mod:`.borrow`; this takes a third off the
  compiled run time).

``integrate_compiled[tab.key]`` (one per method, see the end of this module)
and ``integrate_batch_compiled`` are their Numba versions, used when ``fun``
is jitted. Python reaches them through :func:`compiled_runners`: two small
compiled entry points per ``fun`` and method, with ``fun``, the driver and
the tableau built in as constants, since typing those as arguments of every
call cost more than integrating a few trajectories. :func:`.solve_ivp` runs
the driver with arrays it owns, the batch with borrowed views; these have the
same Numba types, so the driver is compiled once for both. Everything is
compiled for each ``fun`` (and type of ``args``) on first use, a few
seconds, and not cached on disk: Numba cannot cache a function that takes
another jitted function as an argument (it would store a new copy in every
process). What does not depend on ``fun`` is cached or small.
"""

from __future__ import annotations

import math
import types
from typing import NamedTuple

import numpy as np
from numba import njit
from numba.extending import register_jitable

from .borrow import borrowed, borrowed_tableau
from .record import Record, new_record, record_step
from .rk import UROUND, all_finite, initial_step, matrix_finite, row_finite
from .unrolled import KERNELS
from .unrolled import dense as dense_coefficients  # the written-out step, error and dense output, either method
from .unrolled import error as error_norm
from .unrolled import step as rk_step

__all__ = [
    "DONE", "MAX_STEPS", "STEP_TOO_SMALL", "NON_FINITE", "Work", "new_work",
    "integrate", "integrate_batch", "integrate_compiled", "integrate_batch_compiled", "Runners", "compiled_runners",
]  # fmt: skip

# Exit codes of integrate: dop853.f's IDID = 1, -2, -3 (its -4 is the stiffness
# exit, not reproduced); NON_FINITE is ours.
DONE = 0
MAX_STEPS = -2
STEP_TOO_SMALL = -3
NON_FINITE = -5


class Work(NamedTuple):
    """Work arrays of :func:`integrate`, allocated once and reused by every trajectory of a batch.

    Attributes
    ----------
    K : ndarray, shape (S, n)
        Stage derivatives, K[j] = k_j.
    y, y_new : ndarray, shape (n,)
        The state at the start and at the end of the current step (swapped
        after each accepted step).
    y_stage : ndarray, shape (n,)
        The state of the stage being computed.
    Q : ndarray, shape (4 + R, n)
        The interpolant of the current step.
    """

    K: np.ndarray
    y: np.ndarray
    y_new: np.ndarray
    y_stage: np.ndarray
    Q: np.ndarray


@register_jitable
def new_work(tab, n):
    """Uninitialised work arrays for a system of size n and tableau ``tab``."""
    return Work(np.empty((tab.A.shape[0], n)), np.empty(n), np.empty(n), np.empty(n), np.empty((4 + tab.D.shape[0], n)))


def integrate(fun, args, t0, t_end, y0, t_eval, tab, rtol, atol, first_step, max_step, max_steps, dense, work, record):
    """Integrate y' = fun(t, y, *args) from t0 to t_end with Hairer's controller.

    Parameters
    ----------
    fun : callable
        ``fun(t, y, dy_dt, *args)`` writes f(t, y) into ``dy_dt`` (n,), float64:
        the in-place convention (:mod:`.calling` turns a ``fun(t, y, *args)
        -> dy_dt`` into one).
    args : tuple
    t0, t_end : float
        t_end may be smaller than t0 (backward in time).
    y0 : ndarray, shape (n,)
    t_eval : ndarray, shape (m,)
        Output times, monotone in the direction of integration and inside the
        interval, filled from the dense output; empty: output every accepted
        step.
    tab : Tableau
    rtol, atol : ndarray, shape (n,)
    first_step : float
        Initial |h|; 0.0 selects Hairer's HINIT.
    max_step : float
        hmax; ``inf`` means |t_end - t0| (dop853.f's default).
    max_steps : int
        NMAX: the run fails when a step would start after more than
        ``max_steps`` steps (so at most max_steps + 1 are attempted).
    dense : bool
        Keep the interpolant of every accepted step.
    work : Work
        Work arrays (:func:`new_work`); their contents on entry do not matter.
    record : Record
        Empty output buffers (:func:`.record.new_record`), filled by
        :func:`.record.record_step`.

    Returns
    -------
    status : int
        DONE, MAX_STEPS, STEP_TOO_SMALL or NON_FINITE.
    record : Record
        Every accepted step (with t0), or the reached part of ``t_eval``, and
        with ``dense`` the start, size and interpolant of every accepted step.
    nfev, n_steps, n_accepted, n_rejected : int
    t_stop, h_stop : float
        Where the run ended and the last step size tried.
    """
    n = y0.shape[0]
    s = tab.n_stages
    direction = 1.0 if t_end > t0 else -1.0  # POSNEG
    hmax = abs(t_end - t0) if max_step == np.inf else max_step  # WORK(6) = 0: XEND - X
    facc1 = 1.0 / tab.fac1
    facc2 = 1.0 / tab.fac2
    need_dense = dense or t_eval.shape[0] > 0

    K, y, y_new, y_stage, Q = work
    t = t0
    for i in range(n):
        y[i] = y0[i]
    fun(t, y, K[0], *args)  # k_0 = f(t0, y0)
    nfev = 1
    status = DONE if row_finite(K, 0) else NON_FINITE
    h = 0.0
    if status == DONE and first_step > 0.0:
        h = direction * first_step
    elif status == DONE:
        h = initial_step(fun, t, y, K[0], direction, hmax, tab, atol, rtol, args, y_stage, K[1])
        nfev += 1
        if not math.isfinite(h):
            status = NON_FINITE
    facold = 1.0e-4
    n_steps = 0
    n_accepted = 0
    n_rejected = 0
    reject = False
    last = False

    while status == DONE:
        if n_steps > max_steps:
            status = MAX_STEPS
            break
        if 0.1 * abs(h) <= abs(t) * UROUND:
            status = STEP_TOO_SMALL
            break
        if (t + 1.01 * h - t_end) * direction > 0.0:
            h = t_end - t
            last = True
        n_steps += 1

        nfev += rk_step(fun, t, y, h, K, y_stage, y_new, tab, args)
        err = error_norm(K, y, y_new, h, tab, atol, rtol)
        if not (math.isfinite(err) and all_finite(y_new)):
            status = NON_FINITE
            break
        fac11 = err**tab.expo1
        fac = fac11 / facold**tab.beta if tab.beta != 0.0 else fac11  # DOP853: beta = 0, facold**0 = 1
        fac = max(facc2, min(facc1, fac / tab.safe))
        h_new = h / fac

        if err <= 1.0:  # accepted
            facold = max(err, 1.0e-4)
            n_accepted += 1
            if not tab.fsal_in_error:
                fun(t + h, y_new, K[s], *args)  # k_s = f(t + h, y_new), FSAL
                nfev += 1
            if not row_finite(K, s):
                status = NON_FINITE
                break
            if need_dense:
                nfev += dense_coefficients(fun, t, y, y_new, h, K, y_stage, Q, tab, args)
                if not matrix_finite(Q):
                    status = NON_FINITE
                    break
            t_old = t
            t = t_end if last else t + h
            y, y_new = y_new, y  # swap the buffers: y is the new state
            for i in range(n):
                K[0, i] = K[s, i]  # FSAL: the last stage is the next step's first
            record = record_step(record, t_eval, t_old, t, h, y, Q, dense)
            if last:
                break
            if abs(h_new) > hmax:
                h_new = direction * hmax
            if reject:
                h_new = direction * min(abs(h_new), abs(h))
            reject = False
        else:  # rejected
            h_new = h / min(facc1, fac11 / tab.safe)
            reject = True
            if n_accepted >= 1:
                n_rejected += 1
            last = False
        h = h_new

    return status, record, nfev, n_steps, n_accepted, n_rejected, t, h


def integrate_batch(
    integrate_core, fun, args, t0, t_end, y0s, t_eval, tab, rtol, atol, first_step, max_step, max_steps, work, empty, y,
):  # fmt: skip
    """:func:`integrate` for each row of ``y0s``, outputs at ``t_eval`` written into ``y``.

    The work arrays are reused by every trajectory, and the outputs at t_eval
    are written straight into ``y``. Every array is borrowed (:mod:`.borrow`).

    Parameters
    ----------
    integrate_core : callable
        :func:`integrate`, or ``integrate_compiled`` (the compiled driver that
        :func:`.solve_ivp` calls too).
    fun, args, t0, t_end, tab, rtol, atol, first_step, max_step, max_steps
        As for :func:`integrate`.
    y0s : ndarray, shape (B, n)
    t_eval : ndarray, shape (m,)
        Non-empty.
    work : Work
    empty : Record
        An empty record without dense output (:func:`.record.new_record`):
        its dense-output buffers, never written, serve every trajectory.
    y : ndarray, shape (B, m, n)
        Output, NaN on entry: y[b, j] is trajectory b at t_eval[j]; stays NaN
        at the times a failed trajectory did not reach.

    Returns
    -------
    counts : ndarray of int, shape (5, B)
        Rows: status, nfev, n_steps, n_accepted, n_rejected.
    stops : ndarray, shape (2, B)
        Rows: t_stop, h_stop.

    (Two arrays rather than seven: handing an array back to Python costs
    about a microsecond.)
    """
    n_batch = y0s.shape[0]
    counts = np.empty((5, n_batch), dtype=np.int64)  # status, nfev, steps, accepted, rejected
    stops = np.empty((2, n_batch))  # t_stop, h_stop
    K, y_work, y_new, y_stage, Q = work
    work = Work(borrowed(K), borrowed(y_work), borrowed(y_new), borrowed(y_stage), borrowed(Q))
    dense_t, dense_h, dense_Q = borrowed(empty.dense_t), borrowed(empty.dense_h), borrowed(empty.dense_Q)
    tab = borrowed_tableau(tab)
    y0s, t_eval, rtol, atol, y = borrowed(y0s), borrowed(t_eval), borrowed(rtol), borrowed(atol), borrowed(y)
    for b in range(n_batch):
        keep_dense = np.bool_(False)  # a runtime bool, not a literal False: the
        # compiled batch then calls the same compiled integrate as solve_ivp
        record = Record(t_eval, y[b], 0, dense_t, dense_h, dense_Q, 0)  # outputs go straight into y[b]
        result = integrate_core(
            fun, args, t0, t_end, y0s[b], t_eval, tab, rtol, atol, first_step, max_step, max_steps, keep_dense,
            work, record,
        )  # fmt: skip
        counts[0, b] = result[0]
        counts[1, b], counts[2, b], counts[3, b], counts[4, b] = result[2], result[3], result[4], result[5]
        stops[0, b], stops[1, b] = result[6], result[7]
    return counts, stops


def _with_globals(function, names):
    """A copy of ``function`` whose globals ``names`` (a dict) are replaced."""
    names = {**function.__globals__, **names}
    return types.FunctionType(function.__code__, names, function.__name__, function.__defaults__, function.__closure__)


def _inlined(function, **names):
    """``function`` (with its globals ``names`` replaced) to be inlined where compiled code calls it."""
    return njit(inline="always")(_with_globals(function, names))


def _driver(kernels):
    """The compiled driver of one method, its written-out kernels inlined.

    Numba compiles each jitted function apart and links them; LLVM does not
    inline a callee as large as a step, so each call passed every field of
    every array argument (the tableau alone: six arrays, some 50 machine
    words) on the stack. Inlined (``inline="always"``, at the level of Numba's
    IR) the step, the error, the dense output, the recording of the outputs
    and the initial step run about 25 % faster on the spring benchmark, with
    the same numbers, and compile no slower.
    """
    record = _inlined(record_step, interpolate=_inlined(kernels["interpolate"]))
    names = dict(
        rk_step=_inlined(kernels["rk_step"]), error_norm=_inlined(kernels["error_norm"]),
        dense_coefficients=_inlined(kernels["dense_coefficients"]), record_step=record,
        initial_step=_inlined(initial_step),
    )  # fmt: skip
    return njit(nogil=True)(_with_globals(integrate, names))


# One compiled driver per method (tab.key -> dispatcher), each with only its own
# written-out step: the dispatch on tab.key that `step` does is gone at compile time.
integrate_compiled = {key: _driver(kernels) for key, kernels in KERNELS.items()}
integrate_batch_compiled = njit(nogil=True)(integrate_batch)  # solve_ivp_batch's threads run it at once


class Runners(NamedTuple):
    """The compiled entry points of one jitted in-place ``fun`` and one method (:func:`compiled_runners`).

    Attributes
    ----------
    one : callable
        ``one(args, t0, t_end, y0, t_eval, rtol, atol, first_step, max_step,
        max_steps, dense)``: :func:`integrate` with new work arrays and
        record; returns what it returns.
    batch : callable
        ``batch(args, t0, t_end, y0s, t_eval, rtol, atol, first_step,
        max_step, max_steps, y)``: :func:`integrate_batch`; returns what it
        returns.
    """

    one: object
    batch: object


_RUNNERS: dict = {}  # (fun, tab.key) -> Runners


def compiled_runners(fun, tab) -> Runners:
    """Compiled entry points with ``fun``, the driver and the tableau built in as constants.

    Why. A call from Python into Numba-compiled code first finds the types of
    its arguments. Arrays, numbers and tuples of numbers are typed in C, in
    well under a microsecond each; a jitted function passed as an argument
    (``fun``, and the driver :func:`integrate_batch` is handed) is typed in
    Python, about 10 us each time, and a NamedTuple of arrays (the tableau, the
    work arrays) costs several more. Called with those, the compiled batch
    spent some 25 us per call before it took a step: as much as integrating
    five spring trajectories. Here ``fun``, the driver and ``tab`` are closure
    variables, which Numba compiles in as constants, and the work arrays are
    allocated inside, so a call passes only arrays and numbers.

    Made once per (``fun``, method) and kept; each is compiled on its first
    call (with the driver, when that is new for ``fun``). The driver itself,
    ``integrate_compiled[tab.key]``, is shared: ``one`` and ``batch`` call it
    with the same argument types, so it is compiled once for both.
    """
    key = (fun, tab.key)
    runners = _RUNNERS.get(key)
    if runners is not None:
        return runners
    core = integrate_compiled[tab.key]
    n_coefficients = 4 + tab.D.shape[0]

    @njit(nogil=True)
    def one(args, t0, t_end, y0, t_eval, rtol, atol, first_step, max_step, max_steps, dense):
        work = new_work(tab, y0.shape[0])
        record = new_record(t0, y0, t_eval, n_coefficients, dense)
        return core(fun, args, t0, t_end, y0, t_eval, tab, rtol, atol, first_step, max_step, max_steps, dense, work,
                    record)  # fmt: skip

    @njit(nogil=True)
    def batch(args, t0, t_end, y0s, t_eval, rtol, atol, first_step, max_step, max_steps, y):
        work = new_work(tab, y0s.shape[1])  # owned here until the batch returns: it may lend borrowed views of them
        empty = new_record(t0, y0s[0], t_eval, n_coefficients, False)
        return integrate_batch_compiled(
            core, fun, args, t0, t_end, y0s, t_eval, tab, rtol, atol, first_step, max_step, max_steps, work, empty, y,
        )  # fmt: skip

    runners = _RUNNERS[key] = Runners(one, batch)
    return runners
