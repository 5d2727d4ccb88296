"""Events: the zeros of functions g_e(t, y) along the solution, with scipy's interface and semantics.

An event function ``g(t, y, *args) -> float`` (scipy's ``events=``) may carry
two attributes: ``terminal`` (False or 0: never stop; True or k > 0: stop at
its k-th zero) and ``direction`` (> 0: only zeros where g goes from negative
to positive, < 0: the reverse, 0: both). After every accepted step
[t_old, t] the controller (:func:`.controller.integrate`) calls
:func:`step_events`, which follows scipy's ``find_active_events`` and
``handle_events``:

1. g_e is evaluated at the step's end, g_new_e = g_e(t, y(t));
2. event e is active when it changed sign in the allowed direction:
   ``up = g_e <= 0 <= g_new_e``, ``down = g_e >= 0 >= g_new_e``, active if
   ``up`` and direction > 0, ``down`` and direction < 0, either and
   direction == 0 (so a g_e that is 0 at t_old counts);
3. for each active event its zero t* in [t_old, t] is found on the step's
   dense output, ``g_e(t*, Q(theta(t*))) = 0`` (:func:`locate`: Brent's
   method to |Δt| <= 4 eps (1 + |t*|), scipy's tolerances), and it is
   counted;
4. if some active event reached its count ``max_count_e`` (terminal), the
   zeros are taken in the order of integration up to the first such one,
   the run ends there (scipy's status 1) and the step is cut at t*:
   y(t*) becomes the last state.

Each zero is written to the log as a row ``(b, e, t*, y(t*))`` (:class:`Log`;
b is the trajectory of a batch). The dense output of an event step is
computed when the step did not already need it (DOP853: 3 more calls of
``fun``); a run whose events never change sign takes Hairer's steps exactly.

Everything here is plain Python that Numba compiles (``jitable``); the
event functions are reached through ``events.g(e, t, y, *events.args)``
(:class:`Events`), a Python closure over the user's functions, or in the
compiled driver a call through the address of each one's adapter.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

from .dense import dense_eval
from .jitable import jitable
from .record import grow

__all__ = ["Events", "Log", "NO_EVENTS", "new_log", "log_rows", "first_values", "is_active", "any_active", "locate",
           "step_events"]  # fmt: skip

EPS = 2.220446049250313e-16  # np.finfo(float).eps: scipy's brentq tolerances are 4 EPS


class Events(NamedTuple):
    """The event functions of a run.

    Attributes
    ----------
    g : callable
        ``g(e, t, y, *args) -> float``, event function e at (t, y).
    args : tuple
    direction : ndarray, shape (k,)
    max_count : ndarray, shape (k,)
        The run ends at the max_count-th zero of event e (inf: never).
    """

    g: Callable
    args: tuple
    direction: np.ndarray
    max_count: np.ndarray


class Log(NamedTuple):
    """The zeros found, one row each: ``rows[i] = (b, e, t*, y_0(t*), ..., y_{n-1}(t*))``; ``n`` rows are filled."""

    rows: np.ndarray
    n: int


def _no_event(e, t, y, *args):
    return 0.0


NO_EVENTS = Events(_no_event, (), np.zeros(0), np.zeros(0))


@jitable
def new_log(n, capacity):
    """An empty log for a system of size n."""
    return Log(np.empty((capacity, 3 + n)), 0)


def log_rows(rows: np.ndarray, n_events: int, n_batch: int):
    """(t_events, y_events): for each trajectory b, for each event e, the times (m,) and states (m, n) of its zeros.

    No zero: shapes (0,) and (0,), as scipy's.
    """
    t_events, y_events = [], []
    for b in range(n_batch):
        mine = rows[rows[:, 0] == b]
        t_events.append([mine[mine[:, 1] == e, 2].copy() for e in range(n_events)])
        y_events.append([mine[mine[:, 1] == e, 3:].copy() if (mine[:, 1] == e).any() else np.zeros(0)
                         for e in range(n_events)])  # fmt: skip
    return t_events, y_events


@jitable
def first_values(events, t, y, g):
    """g[e] = g_e(t, y) for every event."""
    for e in range(g.shape[0]):
        g[e] = events.g(e, t, y, *events.args)


@jitable
def _value(events, e, t, t_old, h, Q, y_event):
    """g_e at time t on the step's interpolant: y(t) into y_event[0], then the event function."""
    dense_eval(y_event, 0, Q, (t - t_old) / h)
    return events.g(e, t, y_event[0], *events.args)


@jitable
def locate(events, e, t_old, t, h, Q, y_event):
    """The zero of g_e(s, y(s)) for s between t_old and t, y(s) the step's interpolant Q (Brent's method).

    Brent's method (R. P. Brent, *Algorithms for Minimization without
    Derivatives*, 1973, ch. 4): keep a bracket [b, c] with g(b), g(c) of
    opposite signs, b the better end; step by inverse quadratic or linear
    interpolation through the last three points when that stays well
    inside the bracket and shrinks fast enough, else bisect. Stops when half
    the bracket is at most ``tol = 2 EPS (1 + |b|)`` (scipy's brentq with
    xtol = rtol = 4 EPS). When the ends do not bracket a zero (g at the ends
    of the interpolant has one sign, from rounding near a zero at an end),
    the end where |g| is smaller.
    """
    a, b = t_old, t
    fa = _value(events, e, a, t_old, h, Q, y_event)
    fb = _value(events, e, b, t_old, h, Q, y_event)
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    if (fa > 0.0) == (fb > 0.0):
        return a if abs(fa) < abs(fb) else b
    c, fc = a, fa
    d = b - a
    step = d
    for _ in range(200):
        if (fb > 0.0) == (fc > 0.0):  # keep c on the other side of the zero from b
            c, fc = a, fa
            d = b - a
            step = d
        if abs(fc) < abs(fb):  # b the end with the smaller |g|
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol = 2.0 * EPS * (1.0 + abs(b))
        half = 0.5 * (c - b)
        if abs(half) <= tol or fb == 0.0:
            return b
        if abs(step) >= tol and abs(fa) > abs(fb):  # try interpolation
            s = fb / fa
            if a == c:  # linear (secant)
                p = 2.0 * half * s
                q = 1.0 - s
            else:  # inverse quadratic through a, b, c
                q = fa / fc
                r = fb / fc
                p = s * (2.0 * half * q * (q - r) - (b - a) * (r - 1.0))
                q = (q - 1.0) * (r - 1.0) * (s - 1.0)
            if p > 0.0:
                q = -q
            else:
                p = -p
            if 2.0 * p < min(3.0 * half * q - abs(tol * q), abs(step * q)):
                step = d
                d = p / q
            else:
                d = half
                step = d
        else:
            d = half
            step = d
        a, fa = b, fb
        b += d if abs(d) > tol else (tol if half > 0.0 else -tol)
        fb = _value(events, e, b, t_old, h, Q, y_event)
    return b


@jitable
def is_active(events, e, g, g_new):
    """Step 2: event e changed sign from g[e] to g_new[e] in its direction (a zero at either end counts)."""
    up = g[e] <= 0.0 <= g_new[e]
    down = g[e] >= 0.0 >= g_new[e]
    d = events.direction[e]
    return (up and d > 0.0) or (down and d < 0.0) or ((up or down) and d == 0.0)


@jitable
def any_active(events, g, g_new):
    """Whether some event is active (:func:`is_active`)."""
    for e in range(g.shape[0]):
        if is_active(events, e, g, g_new):
            return True
    return False


@jitable
def step_events(events, g, g_new, count, roots, t_old, t, h, Q, y_event, log):
    """Steps 3-4 of the module docstring for the accepted step [t_old, t]; then g = g_new.

    Parameters
    ----------
    events : Events
    g, g_new : ndarray, shape (k,)
        The values at t_old and at t (step 1, :func:`first_values`).
    count : ndarray of int, shape (k,)
        Zeros found so far, per event.
    roots : ndarray, shape (k,)
        Work array (the zeros of this step).
    Q : ndarray, shape (4 + R, n)
        The step's interpolant.
    y_event : ndarray, shape (1, n)
        Work array.
    log : Log

    Returns
    -------
    t_stop : float
        The zero at which the run ends, or nan.
    log : Log
    """
    k = g.shape[0]
    direction = 1.0 if t > t_old else -1.0
    t_stop = math.nan
    for e in range(k):
        roots[e] = math.nan
        if is_active(events, e, g, g_new):
            roots[e] = locate(events, e, t_old, t, h, Q, y_event)
            count[e] += 1
            if count[e] >= events.max_count[e] and not (direction * (roots[e] - t_stop) >= 0.0):
                t_stop = roots[e]  # the first terminal zero in the direction of integration
    rows, n_rows = log.rows, log.n
    for e in range(k):
        if roots[e] == roots[e] and not (direction * (roots[e] - t_stop) > 0.0):  # found, not after the stop
            if n_rows == rows.shape[0]:
                rows = grow(rows)
            dense_eval(y_event, 0, Q, (roots[e] - t_old) / h)
            rows[n_rows, 0] = -1.0  # the trajectory, set by the batch loop
            rows[n_rows, 1] = e
            rows[n_rows, 2] = roots[e]
            for i in range(y_event.shape[1]):
                rows[n_rows, 3 + i] = y_event[0, i]
            n_rows += 1
        g[e] = g_new[e]
    return t_stop, Log(rows, n_rows)
