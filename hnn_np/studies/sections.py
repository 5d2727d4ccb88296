"""Poincaré sections of a flow: crossings, the distance of two sections, a chaos indicator.

* :func:`section_points` -- the crossings of x = y[0] = 0 upwards along one orbit;
* :func:`section_distance` -- how far apart two sections' point sets lie;
* :func:`separation_growth` -- how fast two orbits started ``delta`` apart part
  (polynomially on an invariant torus, exponentially in a chaotic sea).

Used by :mod:`hnn_np.studies.henon_heiles`, whose docstring motivates the
distance and the indicator.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..integrate import solve_ivp, solve_ivp_batch
from ..integrate.calling import is_compiled
from ..systems.base import jitted

__all__ = ["section_points", "section_distance", "separation_growth", "CHAOTIC_GROWTH", "DELTA"]

CHAOTIC_GROWTH = 1e4  # separation growth above which an orbit is called chaotic
DELTA = 1e-8  # the initial separation of the two orbits of separation_growth


def _on_section(t, y, *args):
    """g(t, y) = x = y[0], whose upward zeros are the section's crossings (scipy's event function)."""
    return y[0]


_on_section.direction = 1.0  # x increasing: g from negative to positive


def _section_event(fun):
    """The event function for ``fun``: jitted when ``fun`` is, so that the run stays compiled."""
    if not is_compiled(fun):
        return _on_section
    g = jitted(_on_section)
    g.direction = 1.0
    return g


def section_points(fun, y0, t_end, *, args=(), method="DOP853", rtol=1e-10, atol=1e-10, samples=None,
                   max_steps=10**6):
    """The crossings of x = y[0] = 0 with x increasing along the orbit from y0 over (0, t_end].

    Parameters
    ----------
    fun : callable
        ``fun(t, y, *args) -> dy_dt`` (a jitted one runs compiled), y of shape (d,).
    y0 : array_like, shape (d,)
    t_end : float
        The end of the orbit (> 0).
    args, method, rtol, atol, max_steps
        As for :func:`hnn_np.integrate.solve_ivp`.
    samples : int, optional
        No effect (a DeprecationWarning when given): the crossings are
        located by the integrator's events, not by sampling each step.

    Returns
    -------
    t : ndarray, shape (m,)
        The crossing times, increasing, in (0, t_end].
    y : ndarray, shape (m, d)
        The states there (x = 0 to round-off of the interpolant).

    Notes
    -----
    One run of :func:`hnn_np.integrate.solve_ivp` with the event
    ``g(t, y) = y[0]``, ``g.direction = 1`` (jitted when ``fun`` is): its
    zeros where x goes from negative to positive are located on each step's
    dense output (Brent's method, :mod:`hnn_np.integrate.events`), and
    ``res.t_events[0]``, ``res.y_events[0]`` are the crossings. scipy's
    semantics count a start on the section (g(0) = 0, then g > 0) as a zero
    at t = 0; it is dropped here: a start on the section is not a crossing.
    """
    if samples is not None:
        if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
            raise ValueError(f"samples must be an integer >= 1; got {samples!r}")
        warnings.warn("section_points: samples has no effect, the crossings are located by events",
                      DeprecationWarning, stacklevel=2)
    if not (isinstance(t_end, (int, float, np.floating, np.integer)) and np.isfinite(t_end) and t_end > 0):
        raise ValueError(f"t_end must be a positive finite time; got {t_end!r}")
    res = solve_ivp(fun, (0.0, float(t_end)), y0, method=method, rtol=rtol, atol=atol, args=args,
                    events=[_section_event(fun)], max_steps=max_steps)
    if not res.success:
        raise RuntimeError(f"section_points: the orbit from {np.asarray(y0)!r} failed: {res.message}")
    t, y = res.t_events[0], res.y_events[0]  # (m,), (m, d) or (0,) without zeros
    after = t > 0.0  # not the start
    return t[after], (y[after] if after.any() else np.zeros((0, len(res.y))))


def section_distance(P, Q, extent):
    """The symmetric mean nearest-neighbour (chamfer) distance of two point sets, over ``extent``.

        d(P, Q) = [ mean_i min_j |P_i - Q_j| + mean_j min_i |Q_j - P_i| ] / (2 extent)

    P (m, D), Q (k, D), both non-empty; 0 for equal sets, symmetric, and
    blind to the order of the points (the phase along an orbit).
    """
    P, Q = np.asarray(P, dtype=np.float64), np.asarray(Q, dtype=np.float64)
    if P.ndim != 2 or Q.ndim != 2 or P.shape[1] != Q.shape[1] or not len(P) or not len(Q):
        raise ValueError(f"P and Q must be non-empty point sets of one dimension; got {P.shape}, {Q.shape}")
    dist = np.sqrt(((P[:, None, :] - Q[None, :, :]) ** 2).sum(axis=2))  # (m, k)
    return float((dist.min(axis=1).mean() + dist.min(axis=0).mean()) / (2.0 * extent))


def separation_growth(fun, y0s, t_end, *, args=(), delta=DELTA, n_times=2001, rtol=1e-12, atol=1e-12):
    """G = max_t ||x'(t) - x(t)|| / delta for each y0 and y0 + delta e_1; (K, d) -> (K,).

    Both orbits of each pair are integrated in one :func:`solve_ivp_batch`
    with output at ``n_times`` times over [0, t_end]; e_1 moves y (the second
    coordinate), within the section.
    """
    y0s = np.atleast_2d(np.asarray(y0s, dtype=np.float64))
    moved = y0s.copy()
    moved[:, 1] += delta
    t = np.linspace(0.0, float(t_end), n_times)
    res = solve_ivp_batch(fun, (0.0, float(t_end)), np.concatenate([y0s, moved]), t, rtol=rtol, atol=atol,
                          args=args, max_steps=10**7)
    if np.any(res.status != 0):
        raise RuntimeError(f"separation_growth: orbit {int(np.argmax(res.status != 0))} failed")
    K = len(y0s)
    gap = np.linalg.norm(res.y[K:] - res.y[:K], axis=1)  # (K, T)
    return gap.max(axis=1) / delta
