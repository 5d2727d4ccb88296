"""Poincaré sections of a flow: crossings, the distance of two sections, a chaos indicator.

* :func:`section_points` -- the crossings of x = y[0] = 0 upwards along one orbit;
* :func:`section_distance` -- how far apart two sections' point sets lie;
* :func:`separation_growth` -- how fast two orbits started ``delta`` apart part
  (polynomially on an invariant torus, exponentially in a chaotic sea).

Used by :mod:`hnn_np.studies.henon_heiles`, whose docstring motivates the
distance and the indicator.
"""

from __future__ import annotations

import numpy as np

from ..integrate import solve_ivp, solve_ivp_batch

__all__ = ["section_points", "section_distance", "separation_growth", "CHAOTIC_GROWTH", "DELTA"]

CHAOTIC_GROWTH = 1e4  # separation growth above which an orbit is called chaotic
DELTA = 1e-8  # the initial separation of the two orbits of separation_growth


def section_points(fun, y0, t_end, *, args=(), method="DOP853", rtol=1e-10, atol=1e-10, samples=4,
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
    samples : int
        Points per step at which the sign of x is read (the step's start and
        ``samples - 1`` points inside it).

    Returns
    -------
    t : ndarray, shape (m,)
        The crossing times, increasing, in (0, t_end].
    y : ndarray, shape (m, d)
        The states there (x = 0 to round-off of the interpolant).

    Notes
    -----
    The crossings are found on the dense output of one DOP853 run
    (``solve_ivp(..., dense_output=True)``, ``sol.sol(t)``): x is read at
    the start of every accepted step (``res.t``) and ``samples - 1`` points
    inside it, and at t_end; each pair of neighbouring points with
    x(a) < 0 <= x(b) brackets an upward crossing, which bisection on the
    interpolant narrows until a and b are neighbouring floats. A start on the
    section (x(0) = 0) is not a crossing.

    **When** :func:`hnn_np.integrate.solve_ivp` **has events, this function
    becomes** ``solve_ivp(fun, (0, t_end), y0, events=[g], ...)`` with
    ``g(t, y) = y[0]``, ``g.direction = 1`` (jitted when ``fun`` is), returning
    ``res.t_events[0]`` and ``res.y_events[0]`` -- after dropping an event at
    t = 0: scipy's semantics count a start with g = 0 followed by g > 0 as a
    crossing, this function does not. Nothing else in the study changes.
    """
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise ValueError(f"samples must be an integer >= 1; got {samples!r}")
    if not (isinstance(t_end, (int, float, np.floating, np.integer)) and np.isfinite(t_end) and t_end > 0):
        raise ValueError(f"t_end must be a positive finite time; got {t_end!r}")
    res = solve_ivp(fun, (0.0, float(t_end)), y0, method=method, rtol=rtol, atol=atol, args=args,
                    dense_output=True, max_steps=max_steps)
    if not res.success:
        raise RuntimeError(f"section_points: the orbit from {np.asarray(y0)!r} failed: {res.message}")
    dense = res.sol
    steps = res.t  # (k + 1,): the start and the end of every accepted step
    theta = np.arange(samples) / samples  # (samples,)
    grid = np.append((steps[:-1, None] + np.diff(steps)[:, None] * theta[None, :]).ravel(), steps[-1])
    x = dense(grid)[0]  # (k samples + 1,)
    up = np.flatnonzero((x[:-1] < 0) & (x[1:] >= 0))  # x(a) < 0 <= x(b)
    a, b = grid[up], grid[up + 1]  # (m,), (m,)
    while a.size:
        mid = 0.5 * (a + b)
        open_ = (mid > a) & (mid < b)  # brackets not yet two neighbouring floats
        if not open_.any():
            break
        right = dense(mid)[0] >= 0  # the crossing lies in [a, mid]
        b = np.where(open_ & right, mid, b)
        a = np.where(open_ & ~right, mid, a)
    return b, (dense(b).T if b.size else np.zeros((0, len(res.y))))


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
