"""Hairer's adaptive step-size controller: the loop of dop853.f / dopri5.f.

:func:`integrate` follows the core integrators DP86CO (dop853.f) and DOPCOR
(dopri5.f) statement by statement, so that on any problem it takes the same
accepted and rejected steps as the Fortran (E. Hairer, S. P. Norsett and
G. Wanner, *Solving Ordinary Differential Equations I*, 2nd ed., Springer
1993, Section II.4). One pass of the loop, with ``posneg = +-1`` the
direction of integration:

1. fail if more than ``max_steps`` steps were taken (NSTEP > NMAX) or if
   ``0.1 |h| <= |t| uround`` (the step is below the resolution of t);
2. if ``(t + 1.01 h - t_end) posneg > 0``: ``h = t_end - t``, last step;
3. one step (:func:`.rk.rk_step`) and its scaled error err
   (:func:`.rk.error_norm`); if err <= 1, k_s = f(t + h, y_new) (DOP853
   only; RK45 has it already) and the dense output if wanted
   (:func:`.dense.dense_coefficients`);
4. a step whose values are not all finite (err, y_new, k_s, the dense
   output) gets ``err = inf``: rejected, and the next one tried is h fac1;
5. ``fac11 = err^expo1``, ``fac = fac11 / facold^beta`` (Lund stabilisation),
   ``fac = max(1/fac2, min(1/fac1, fac / safe))``, ``h_new = h / fac``;
6. err <= 1, accepted: ``facold = max(err, 1e-4)``; advance. Then
   ``|h_new| <= hmax`` and, right after a rejection, ``|h_new| <= |h|``;
7. err > 1, rejected: ``h_new = h / min(1/fac1, fac11 / safe)``; rejections
   before the first accepted step are not counted (NREJCT).

So an overflowing trial step (a stiff problem tried with too large an h, a
solution that blows up) is retried smaller, and only a step size below the
resolution of t ends the run (or f(t0, y0) itself not finite).

Not reproduced: the Fortran's stiffness test. With its default printing it
only writes a warning and never changes the steps (it stops the run only when
messages are switched off), so the step sequence is the same without it.

Function evaluations (nfev): 2 before the first step (f(t0, y0) and HINIT's
Euler step; 1 when ``first_step`` is given), then DOP853 11 per step + 1 per
accepted step (+ 3 per accepted step with dense output), RK45 6 per step
(and DOP853's 1 or 4 also for a step with err <= 1 rejected for a non-finite
k_s or dense output).

Everything here is plain Python using only what Numba supports, and calls
``fun`` in the in-place convention ``fun(t, y, dy_dt, *args)``
(:mod:`.calling`). :func:`integrate` writes into work arrays (:class:`Work`)
and output buffers (:class:`.record.Record`) it is given, so that a batch
(:func:`integrate_batch`, the one loop over trajectories) allocates them once.

The step, its error and the dense output are the ``kernels`` argument
(:class:`Kernels`): inside ``with hnn_np.readable():`` the loops of :mod:`.rk`
and :mod:`.dense` (:func:`loops`); outside, the same arithmetic written out
term by term from the tableau (``_compiled/dop853_kernels.py``,
``_compiled/rk45_kernels.py``), run as plain Python for a Python ``fun`` and
compiled by Numba for a jitted one (:mod:`._compiled.driver`): the same numbers.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

from . import dense as _dense
from . import rk as _rk
from .dense import dense_eval
from .events import any_active, first_values, step_events
from .jitable import jitable
from .record import Record, record_step
from .rk import UROUND, all_finite, initial_step, matrix_finite, row_finite

__all__ = [
    "DONE", "TERMINATED", "MAX_STEPS", "STEP_TOO_SMALL", "NON_FINITE", "NON_FINITE_START", "Kernels", "loops", "Work",
    "new_work", "integrate", "integrate_batch",
]  # fmt: skip

# Exit codes of integrate: dop853.f's IDID = 1, -2, -3 (its -4 is the stiffness
# exit, not reproduced); NON_FINITE (the step size fell below the resolution
# of t while the steps tried gave non-finite values) and NON_FINITE_START
# (f(t0, y0) is not finite) are ours; TERMINATED is scipy's status 1 (a
# terminal event).
DONE = 0
TERMINATED = 1
MAX_STEPS = -2
STEP_TOO_SMALL = -3
NON_FINITE = -5
NON_FINITE_START = -6


class Kernels(NamedTuple):
    """The four functions of a method that :func:`integrate` calls, with the signatures of the loops.

    Attributes
    ----------
    rk_step : callable
        As :func:`.rk.rk_step`: the stages and y_new; returns the calls of fun.
    error_norm : callable
        As :func:`.rk.error_norm`: the scaled error err.
    dense_coefficients : callable
        As :func:`.dense.dense_coefficients`: the interpolant Q of the step.
    interpolate : callable
        As :func:`.dense.interpolate`: Q at the output times inside the step.
    """

    rk_step: Callable
    error_norm: Callable
    dense_coefficients: Callable
    interpolate: Callable


def loops() -> Kernels:
    """The loops of :mod:`.rk` and :mod:`.dense`, looked up now (so that an edit of those files takes effect)."""
    return Kernels(_rk.rk_step, _rk.error_norm, _dense.dense_coefficients, _dense.interpolate)


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
    g, g_new, roots : ndarray, shape (k,)
        Values and zeros of the k event functions (:mod:`.events`).
    count : ndarray of int, shape (k,)
        Zeros of each event so far.
    y_event : ndarray, shape (1, n)
        The interpolant at a time inside the step.
    """

    K: np.ndarray
    y: np.ndarray
    y_new: np.ndarray
    y_stage: np.ndarray
    Q: np.ndarray
    g: np.ndarray
    g_new: np.ndarray
    roots: np.ndarray
    count: np.ndarray
    y_event: np.ndarray


@jitable
def new_work(tab, n, k):
    """Uninitialised work arrays for a system of size n, tableau ``tab`` and k event functions."""
    return Work(np.empty((tab.A.shape[0], n)), np.empty(n), np.empty(n), np.empty(n), np.empty((4 + tab.D.shape[0], n)),
                np.empty(k), np.empty(k), np.empty(k), np.zeros(k, dtype=np.int64), np.empty((1, n)))  # fmt: skip


@jitable(inline="always")
def integrate(fun, args, t0, t_end, y0, t_eval, tab, kernels, events, rtol, atol, first_step, max_step, max_steps,
              dense, work, record, log):  # fmt: skip
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
    kernels : Kernels
        The method's step, error, dense output and interpolant (:func:`loops`,
        or the same written out).
    events : Events
        The event functions (:mod:`.events`; none: ``events.NO_EVENTS``).
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
    log : Log
        Where the zeros of the events are written (:func:`.events.new_log`).

    Returns
    -------
    status : int
        DONE, TERMINATED, MAX_STEPS, STEP_TOO_SMALL, NON_FINITE or NON_FINITE_START.
    record : Record
        Every accepted step (with t0), or the reached part of ``t_eval``, and
        with ``dense`` the start, size and interpolant of every accepted step.
    log : Log
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

    K, y, y_new, y_stage, Q, g, g_new, roots, count, y_event = work
    n_events = g.shape[0]
    t = t0
    for i in range(n):
        y[i] = y0[i]
    if n_events > 0:
        first_values(events, t, y, g)
        for e in range(n_events):
            count[e] = 0
    fun(t, y, K[0], *args)  # k_0 = f(t0, y0)
    nfev = 1
    status = DONE if row_finite(K, 0) else NON_FINITE_START
    h = 0.0
    if status == DONE and first_step > 0.0:
        h = direction * first_step
    elif status == DONE:
        h = initial_step(fun, t, y, K[0], direction, hmax, tab, atol, rtol, args, y_stage, K[1])
        nfev += 1
    facold = 1.0e-4
    n_steps = 0
    n_accepted = 0
    n_rejected = 0
    reject = False
    last = False
    non_finite = False  # the last step tried had non-finite values

    while status == DONE:
        if n_steps > max_steps:
            status = MAX_STEPS
            break
        if 0.1 * abs(h) <= abs(t) * UROUND:
            status = NON_FINITE if non_finite else STEP_TOO_SMALL
            break
        if (t + 1.01 * h - t_end) * direction > 0.0:
            h = t_end - t
            last = True
        n_steps += 1

        nfev += kernels.rk_step(fun, t, y, h, K, y_stage, y_new, tab, args)
        err = kernels.error_norm(K, y, y_new, h, tab, atol, rtol)
        if err <= 1.0 and not tab.fsal_in_error:
            fun(t + h, y_new, K[s], *args)  # k_s = f(t + h, y_new), FSAL
            nfev += 1
        if err <= 1.0 and need_dense:
            nfev += kernels.dense_coefficients(fun, t, y, y_new, h, K, y_stage, Q, tab, args)
        non_finite = not (math.isfinite(err) and all_finite(y_new)
                          and (err > 1.0 or (row_finite(K, s) and (not need_dense or matrix_finite(Q)))))
        if non_finite:
            err = math.inf  # rejected, and h_new = h fac1 (the largest decrease)
        fac11 = err**tab.expo1
        fac = fac11 / facold**tab.beta if tab.beta != 0.0 else fac11  # DOP853: beta = 0, facold**0 = 1
        fac = max(facc2, min(facc1, fac / tab.safe))
        h_new = h / fac

        if err <= 1.0:  # accepted
            facold = max(err, 1.0e-4)
            n_accepted += 1
            t_old = t
            t = t_end if last else t + h
            if n_events > 0:  # zeros of the events in the step; a terminal one ends the run there (:mod:`.events`)
                first_values(events, t, y_new, g_new)
                if any_active(events, g, g_new) and not need_dense:
                    nfev += kernels.dense_coefficients(fun, t_old, y, y_new, h, K, y_stage, Q, tab, args)
                t_zero, log = step_events(events, g, g_new, count, roots, t_old, t, h, Q, y_event, log)
                if t_zero == t_zero:  # the run ends at t_zero, at the state y(t_zero)
                    status = TERMINATED
                    t = t_zero
                    dense_eval(y_event, 0, Q, (t - t_old) / h)
                    for i in range(n):
                        y_new[i] = y_event[0, i]
            y, y_new = y_new, y  # swap the buffers: y is the new state
            for i in range(n):
                K[0, i] = K[s, i]  # FSAL: the last stage is the next step's first
            record = record_step(record, t_eval, t_old, t, h, y, Q, dense, kernels.interpolate)
            if last or status == TERMINATED:
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

    return status, record, log, nfev, n_steps, n_accepted, n_rejected, t, h


@jitable(inline="always")
def integrate_batch(fun, args, t0, t_end, y0s, t_eval, tab, kernels, events, rtol, atol, first_step, max_step,
                    max_steps, dense, work, record, log, y):  # fmt: skip
    """:func:`integrate` for each row of ``y0s``: the one loop over trajectories, compiled and interpreted.

    The work arrays serve every trajectory, and the outputs at t_eval are
    written straight into ``y``. :func:`.ivp.solve_ivp` calls it with one
    trajectory (B = 1), the only case with outputs at every step (t_eval
    empty) or with ``dense``.

    Parameters
    ----------
    fun, args, t0, t_end, tab, kernels, events, rtol, atol, first_step, max_step, max_steps, dense, work
        As for :func:`integrate`.
    y0s : ndarray, shape (B, n)
    t_eval : ndarray, shape (m,)
        Output times; empty (B = 1): every accepted step.
    record : Record
        The empty record of the first trajectory, ``new_record(t0, y0s[0],
        t_eval, y[0], 4 + R, dense)`` (:func:`.record.new_record`); the
        others use its (unused) dense-output buffers.
    log : Log
        Empty (:func:`.events.new_log`): the zeros of the events of every
        trajectory, column 0 its row b.
    y : ndarray, shape (B, m, n)
        Output, NaN on entry: y[b, j] is trajectory b at t_eval[j]; stays NaN
        at the times a failed or terminated trajectory did not reach.

    Returns
    -------
    counts : ndarray of int, shape (5, B)
        Rows: status, nfev, n_steps, n_accepted, n_rejected.
    stops : ndarray, shape (2, B)
        Rows: t_stop, h_stop.
    record : Record
        The record of the last trajectory (its outputs at every step when
        t_eval is empty, its interpolants with ``dense``).
    log : Log
    """
    n_batch = y0s.shape[0]
    counts = np.empty((5, n_batch), dtype=np.int64)  # status, nfev, steps, accepted, rejected
    stops = np.empty((2, n_batch))  # t_stop, h_stop
    first = record
    for b in range(n_batch):
        if b > 0:  # the same (unused) dense buffers, the outputs into y[b]
            record = Record(t_eval, y[b], 0, first.dense_t, first.dense_h, first.dense_Q, 0)
        logged = log.n
        result = integrate(fun, args, t0, t_end, y0s[b], t_eval, tab, kernels, events, rtol, atol, first_step,
                           max_step, max_steps, dense, work, record, log)  # fmt: skip
        record, log = result[1], result[2]
        rows = log.rows  # (bound first: compiled, ``log.rows[row, 0] = b`` here would not write)
        for row in range(logged, log.n):
            rows[row, 0] = b
        counts[0, b] = result[0]
        counts[1, b], counts[2, b], counts[3, b], counts[4, b] = result[3], result[4], result[5], result[6]
        stops[0, b], stops[1, b] = result[7], result[8]
    return counts, stops, record, log
