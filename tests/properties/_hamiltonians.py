"""Separable Hamiltonians with known first and second derivatives, and symplecticity checks.

A separable H(q, p) = T(p) + V(q) is what leapfrog integrates; each stage of
a leapfrog step is then a shear whose Jacobian is known in closed form from
V'' and T'' (see :func:`leapfrog_with_tangent`). The classes here give
V', T' (what leapfrog needs) and V'', T'' (what its tangent map needs):

* :class:`Pendulum` -- :class:`hnn_np.systems.IdealPendulum`'s H, its
  derivatives in closed form;
* :class:`RandomSeparable` -- V(q) = |q|^2/2 + NN_V(q), T(p) = |p|^2/2 + NN_T(p)
  with NN_V, NN_T small random tanh MLPs of d variables; derivatives from
  :func:`hnn_np.mlp.input_gradient` and :func:`hnn_np.mlp.input_hessian`
  (which tests/test_mlp.py holds against finite differences). The quadratic
  terms keep the motion bounded;
* :class:`RandomPolynomial` -- random quartic V and T, a few NumPy
  operations per evaluation, for tests that integrate many times.

And the tangent-map integrators and the symplecticity check built on them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hnn_np import mlp
from hnn_np.symplectic import J_matrix

EPS = np.finfo(np.float64).eps


class Pendulum:
    """H = 2 m g l (1 - cos q) + l^2 p^2 / (2 m) of :class:`IdealPendulum`, in closed form.

    V' = c_V sin q, V'' = c_V cos q, T' = c_T p, T'' = c_T with c_V = 2 m g l,
    c_T = l^2 / m (the system's own gradient is held equal to these in
    test_leapfrog.py); closed forms keep a step cheap for long runs.
    """

    d = 1

    def __init__(self, system):
        self.system = system
        self.c_V = 2.0 * system.m * system.g * system.l
        self.c_T = system.l**2 / system.m

    def dV(self, q):
        return self.c_V * np.sin(q)

    def dT(self, p):
        return self.c_T * p

    def d2V(self, q):
        return np.array([[self.c_V * np.cos(q[0])]])

    def d2T(self, p):
        return np.array([[self.c_T]])

    def energy(self, q, p):
        """H along a trajectory: q, p (N, 1) -> (N,), by the system itself."""
        return self.system.energy(np.hstack([q, p]))

    def rhs(self, t, y):
        return self.system.rhs(t, y)


class RandomSeparable:
    """V(q) = |q|^2/2 + NN_V(q), T(p) = |p|^2/2 + NN_T(p), NN_* random tanh MLPs (d -> width -> 1)."""

    def __init__(self, d, seed, width=4, scale=1.0):
        self.d = d
        self.V_net = [(W * scale, b * scale) for W, b in mlp.init_params((d, width, 1), seed=seed)]
        self.T_net = [(W * scale, b * scale) for W, b in mlp.init_params((d, width, 1), seed=seed + 1)]

    def dV(self, q):
        return q + mlp.input_gradient(self.V_net, q[None])[0]

    def dT(self, p):
        return p + mlp.input_gradient(self.T_net, p[None])[0]

    def d2V(self, q):
        return _symmetrized(np.eye(self.d) + mlp.input_hessian(self.V_net, q[None])[0])

    def d2T(self, p):
        return _symmetrized(np.eye(self.d) + mlp.input_hessian(self.T_net, p[None])[0])

    def energy(self, q, p):
        """H along a trajectory: q, p (N, d) -> (N,)."""
        V = 0.5 * np.sum(q**2, axis=1) + mlp.forward(self.V_net, q)[:, 0]
        T = 0.5 * np.sum(p**2, axis=1) + mlp.forward(self.T_net, p)[:, 0]
        return T + V

    def rhs(self, t, y):
        """Hamilton's equations (dH/dp, -dH/dq) for one state y = (q, p)."""
        q, p = y[: self.d], y[self.d:]
        return np.concatenate([self.dT(p), -self.dV(q)])

    def jacobian(self, y):
        """The Jacobian of :meth:`rhs`: [[0, T''], [-V'', 0]]."""
        q, p = y[: self.d], y[self.d:]
        Z = np.zeros((self.d, self.d))
        return np.block([[Z, self.d2T(p)], [-self.d2V(q), Z]])


def _symmetrized(A):
    """(A + A.T) / 2: exactly symmetric in floating point, so a shear built from it is exactly symplectic."""
    return 0.5 * (A + A.T)


def kick_matrix(A, tau):
    """Jacobian of p <- p - tau V'(q):  [[I, 0], [-tau V''(q), I]] with A = V''(q)."""
    d = A.shape[0]
    I, Z = np.eye(d), np.zeros((d, d))
    return np.block([[I, Z], [-tau * A, I]])


def drift_matrix(B, tau):
    """Jacobian of q <- q + tau T'(p):  [[I, tau T''(p)], [0, I]] with B = T''(p)."""
    d = B.shape[0]
    I, Z = np.eye(d), np.zeros((d, d))
    return np.block([[I, tau * B], [Z, I]])


def _propagate(S, M, bound):
    """M <- S M, and the round-off bound on the symplectic defect grown by this product.

    fl(S M) = S M + E with |E| <= gamma_k |S| |M| elementwise, gamma_k ~ k eps
    for k-term dot products (k = 2d; we take 2d + 1). A later *exact*
    symplectic factor S' leaves the defect M^T J M - J unchanged (S'^T J S' = J),
    and the shears here are exactly symplectic (V'', T'' symmetrized), so the
    final defect is the sum over products of the defect each rounding adds,
    |E^T J M + M^T J E| <= 2 ||M|| ||E||  (Frobenius norms).
    """
    k = S.shape[0] + 1
    E_norm = k * EPS * np.linalg.norm(np.abs(S) @ np.abs(M))
    return S @ M, bound + 2.0 * np.linalg.norm(M) * E_norm + E_norm**2


def leapfrog_with_tangent(ham, q0, p0, h, n_steps):
    """Kick-drift-kick Stormer-Verlet from (q0, p0) with its Jacobian M propagated alongside.

    The same three stages as :func:`hnn_np.integrate.leapfrog`; each is a shear,
    so M is the exact derivative of the computed map (the product of the
    stage Jacobians, chain rule). Returns (q (n+1, d), p (n+1, d), M,
    roundoff) with ``roundoff`` a bound on the defect |M^T J M - J| that
    floating-point products alone can produce (see :func:`_propagate`).
    """
    return _run(ham, q0, p0, h, n_steps, _leapfrog_step)


def explicit_euler_with_tangent(ham, q0, p0, h, n_steps):
    """Explicit Euler, q <- q + h T'(p), p <- p - h V'(q) (both at the old state), with its Jacobian.

    A non-symplectic step: its Jacobian [[I, h T''], [-h V'', I]] has
    determinant 1 + h^2 T'' V'' (d = 1), not 1. The mutant of the leapfrog tests.
    """
    return _run(ham, q0, p0, h, n_steps, _euler_step)


def _leapfrog_step(ham, q, p, M, bound, h):
    p = p - 0.5 * h * ham.dV(q)
    M, bound = _propagate(kick_matrix(ham.d2V(q), 0.5 * h), M, bound)
    q = q + h * ham.dT(p)
    M, bound = _propagate(drift_matrix(ham.d2T(p), h), M, bound)
    p = p - 0.5 * h * ham.dV(q)
    M, bound = _propagate(kick_matrix(ham.d2V(q), 0.5 * h), M, bound)
    return q, p, M, bound


def _euler_step(ham, q, p, M, bound, h):
    d = q.shape[0]
    S = np.block([[np.eye(d), h * ham.d2T(p)], [-h * ham.d2V(q), np.eye(d)]])
    q, p = q + h * ham.dT(p), p - h * ham.dV(q)
    M, bound = _propagate(S, M, bound)
    return q, p, M, bound


def _run(ham, q0, p0, h, n_steps, step):
    q, p = np.array(q0, dtype=np.float64), np.array(p0, dtype=np.float64)
    M, bound = np.eye(2 * q.shape[0]), 0.0
    qs, ps = [q], [p]
    M_max = np.linalg.norm(M)
    for _ in range(n_steps):
        q, p, M, bound = step(ham, q, p, M, bound, h)
        qs.append(q)
        ps.append(p)
        M_max = max(M_max, np.linalg.norm(M))
    return TangentRun(np.array(qs), np.array(ps), M, bound, M_max)


class TangentRun(NamedTuple):
    """A trajectory (q, p), the Jacobian M of its map, the round-off bound, max |M_k|_F."""

    q: np.ndarray
    p: np.ndarray
    M: np.ndarray
    roundoff: float
    M_max: float


def symplectic_defects(M):
    """(max |M^T J M - J|, |det M - 1|) for a (2d, 2d) matrix M."""
    J = J_matrix(M.shape[0] // 2)
    return float(np.abs(M.T @ J @ M - J).max()), float(abs(np.linalg.det(M) - 1.0))


def assert_symplectic(M, tol, what=""):
    """M^T J M = J to ``tol`` (entrywise), and det M = 1 to what that implies.

    det(M)^2 = det(M^T J M) = det(J + D) = 1 + tr(J^-1 D) + O(D^2), so
    |det M - 1| <= d |D|_max to first order (2d diagonal terms, halved by the
    square root); computing det by LU adds about 2d eps ||M||^(2d).
    """
    d = M.shape[0] // 2
    defect, det_defect = symplectic_defects(M)
    det_tol = d * tol + 2 * d * EPS * np.linalg.norm(M) ** (2 * d)
    assert defect <= tol, f"{what}: |M^T J M - J| = {defect:.3e} > {tol:.3e}"
    assert det_defect <= det_tol, f"{what}: |det M - 1| = {det_defect:.3e} > {det_tol:.3e}"


class RandomPolynomial:
    """V(q) = sum_i (q_i^2/2 + a_i q_i^3/3 + c_i q_i^4/4) + e q_0 q_1 (d = 2), T(p) likewise with b, g, f.

    A random separable H that costs a few NumPy operations per evaluation
    (for tests that integrate it many times); c, g >= 0 keep it bounded below.
    """

    def __init__(self, d, rng):
        self.d = d
        self.a, self.b = rng.uniform(-0.5, 0.5, d), rng.uniform(-0.5, 0.5, d)
        self.c, self.g = rng.uniform(0.0, 1.0, d), rng.uniform(0.0, 1.0, d)
        self.e, self.f = (rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3)) if d == 2 else (0.0, 0.0)

    @staticmethod
    def _grad(x, a, c, e):
        g = x + a * x**2 + c * x**3
        if x.shape[0] == 2:
            g = g + e * x[::-1]
        return g

    @staticmethod
    def _hess(x, a, c, e):
        Hm = np.diag(1 + 2 * a * x + 3 * c * x**2)
        if x.shape[0] == 2:
            Hm = Hm + e * np.array([[0.0, 1.0], [1.0, 0.0]])
        return Hm

    def dV(self, q):
        return self._grad(q, self.a, self.c, self.e)

    def dT(self, p):
        return self._grad(p, self.b, self.g, self.f)

    def d2V(self, q):
        return self._hess(q, self.a, self.c, self.e)

    def d2T(self, p):
        return self._hess(p, self.b, self.g, self.f)

    def rhs(self, t, y):
        return np.concatenate([self.dT(y[self.d:]), -self.dV(y[: self.d])])

    def jacobian(self, y):
        Z = np.zeros((self.d, self.d))
        return np.block([[Z, self.d2T(y[self.d:])], [-self.d2V(y[: self.d]), Z]])
