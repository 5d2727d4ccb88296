"""Stormer-Verlet (leapfrog): a symplectic fixed-step reference for separable Hamiltonians.

For H(q, p) = T(p) + V(q) one step of size h is (kick, drift, kick)

    p_half  = p_n    - (h/2) dH/dq(q_n)
    q_{n+1} = q_n    +  h    dH/dp(p_half)
    p_{n+1} = p_half - (h/2) dH/dq(q_{n+1})

It is of order 2, symplectic and time-reversible, so its energy error stays
bounded, O(h^2), over exponentially long times instead of drifting like that of
a non-symplectic method such as RK45 (E. Hairer, C. Lubich and G. Wanner,
*Geometric Numerical Integration*, 2nd ed., Springer 2006, Sections I.3 and
IX.8). dH/dq(q_{n+1}) is reused in the next step: one evaluation of each
gradient per step.
"""

from __future__ import annotations

import numbers

from typing import NamedTuple

import numpy as np
from .calling import is_compiled
from .jitable import jitable

from .checks import check_args, check_t_span, check_y0
from .rk import set_row

__all__ = ["LeapfrogResult", "leapfrog"]


class LeapfrogResult(NamedTuple):
    """t (N+1,), q (N+1, d), p (N+1, d) at the N+1 grid times."""

    t: np.ndarray
    q: np.ndarray
    p: np.ndarray


@jitable
def leapfrog_steps(dH_dq, dH_dp, q0, p0, h, n_steps, args):
    """``n_steps`` Stormer-Verlet steps of size h from (q0, p0).

    Parameters
    ----------
    dH_dq, dH_dp : callable
        ``dH_dq(q, *args)`` and ``dH_dp(p, *args)``, shape (d,) -> (d,).
    q0, p0 : ndarray, shape (d,)
    h : float
    n_steps : int
    args : tuple

    Returns
    -------
    q, p : ndarray, shape (n_steps + 1, d)
    """
    q_out = np.empty((n_steps + 1, q0.shape[0]))
    p_out = np.empty((n_steps + 1, p0.shape[0]))
    q = q0.copy()
    p = p0.copy()
    set_row(q_out, 0, q)
    set_row(p_out, 0, p)
    dH_dq_n = dH_dq(q, *args)
    for step in range(n_steps):
        p_half = p - 0.5 * h * dH_dq_n
        q = q + h * dH_dp(p_half, *args)
        dH_dq_n = dH_dq(q, *args)
        p = p_half - 0.5 * h * dH_dq_n
        set_row(q_out, step + 1, q)
        set_row(p_out, step + 1, p)
    return q_out, p_out


_COMPILED: list = []  # [leapfrog_steps compiled by Numba], made on first use


def _compiled_steps():
    """:func:`leapfrog_steps` compiled by Numba (imported and compiled on first use)."""
    if not _COMPILED:
        from numba import njit

        from ._compiled.jit import load

        load()
        _COMPILED.append(njit(leapfrog_steps))
    return _COMPILED[0]


def leapfrog(dH_dq, dH_dp, t_span, q0, p0, n_steps=None, dt=None, args=()) -> LeapfrogResult:
    """Integrate Hamilton's equations of H = T(p) + V(q) with fixed-step Stormer-Verlet.

    Parameters
    ----------
    dH_dq : callable
        ``dH_dq(q, *args) = V'(q)``, shape (d,) -> (d,).
    dH_dp : callable
        ``dH_dp(p, *args) = T'(p)``, shape (d,) -> (d,).
    t_span : (float, float)
    q0, p0 : array_like, shape (d,)
    n_steps : int, optional
        Number of equal steps over t_span. Give exactly one of n_steps and dt.
    dt : float, optional
        Step size; must divide the length of t_span.
    args : tuple
        Extra arguments of both gradients.

    Returns
    -------
    LeapfrogResult
        ``t`` (N+1,), ``q`` (N+1, d), ``p`` (N+1, d).

    Notes
    -----
    If both gradients are Numba-jitted the loop runs compiled.
    """
    t0, t_end = check_t_span(t_span)
    q0 = check_y0(q0, "q0")
    p0 = check_y0(p0, "p0")
    if q0.shape != p0.shape:
        raise ValueError(f"q0 and p0 must have the same shape; got {q0.shape} and {p0.shape}")
    length = abs(t_end - t0)
    if (n_steps is None) == (dt is None):
        raise ValueError("give exactly one of n_steps and dt")
    if dt is not None:
        if isinstance(dt, (bool, np.bool_)) or not isinstance(dt, numbers.Real) or not (np.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a positive number; got {dt!r}")
        n_steps = int(round(length / dt))
        if n_steps < 1 or abs(n_steps * dt - length) > 1e-9 * length:
            raise ValueError(f"dt = {dt} must divide the length of t_span {length}")
    if isinstance(n_steps, (bool, np.bool_)) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer; got {n_steps!r}")
    args = check_args(args)
    for name, grad, x in (("dH_dq", dH_dq, q0), ("dH_dp", dH_dp, p0)):
        out = np.asarray(grad(x, *args))
        if out.shape != x.shape:
            raise ValueError(f"{name} must return an array of shape {x.shape}; got {out.shape}")
        if out.dtype.kind not in "fiu":
            raise ValueError(f"{name} must return real values; got dtype {out.dtype}")

    h = (t_end - t0) / n_steps
    if is_compiled(dH_dq) and is_compiled(dH_dp):
        q, p = _compiled_steps()(dH_dq, dH_dp, q0, p0, h, int(n_steps), args)
    else:

        def as_float64(grad):
            return lambda x, *grad_args: np.asarray(grad(x, *grad_args), dtype=np.float64)

        q, p = leapfrog_steps(as_float64(dH_dq), as_float64(dH_dp), q0, p0, h, int(n_steps), args)
    t = t0 + h * np.arange(n_steps + 1)
    t[-1] = t_end
    return LeapfrogResult(t=t, q=q, p=p)
