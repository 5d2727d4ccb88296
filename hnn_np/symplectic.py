r"""The symplectic matrix J and its transpose, applied to a batch of rows.

For a state x = (q, p) with n degrees of freedom (columns ``q_0..q_{n-1},
p_0..p_{n-1}``)::

    J = [[ 0, I],        J v   = ( v_p, -v_q)
         [-I, 0]]        J.T v = (-v_p,  v_q)  = -J v

Hamilton's equations are dx/dt = J dH/dx; an HNN's field is S = J dH_theta/dx
and its backprop needs J.T (the adjoint of ``S = J dH_dx`` is
``dH_dx_bar = J.T S_bar``). Every part of the package applies J through these
two functions.
"""

from __future__ import annotations

import numpy as np

__all__ = ["apply_J", "apply_J_T", "J_matrix"]


def apply_J(v):
    """J v = (v_p, -v_q); v (N, 2n) -> (N, 2n). For dH_dx it gives S = (dH/dp, -dH/dq)."""
    n = v.shape[-1] // 2
    return np.concatenate([v[..., n:], -v[..., :n]], axis=-1)


def apply_J_T(v):
    """J.T v = (-v_p, v_q); v (N, 2n) -> (N, 2n). For S_bar it gives dH_dx_bar."""
    n = v.shape[-1] // 2
    return np.concatenate([-v[..., n:], v[..., :n]], axis=-1)


def J_matrix(n, dtype=np.float64):
    """The (2n, 2n) matrix J = [[0, I], [-I, 0]]."""
    I = np.eye(n, dtype=dtype)
    Z = np.zeros((n, n), dtype=dtype)
    return np.block([[Z, I], [-I, Z]])
