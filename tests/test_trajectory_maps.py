"""The forward maps of hnn_np.trajectory against independent references, and the leapfrog tangent.

* RK4 on a linear field x S = x A is x (I + hA + (hA)^2/2 + (hA)^3/6 + (hA)^4/24) exactly;
* RK4 on an HNN's field converges with order 4 to scipy's DOP853 at rtol 1e-12;
* the leapfrog step is :func:`hnn_np.integrate.leapfrog` (the project's
  Stormer-Verlet, written separately) on the same two potentials, and of order 2;
* the leapfrog map's tangent M, read row by row from the adjoint code, is
  the finite-difference Jacobian, and M^T J M = J to round-off; RK4's is not;
* :func:`merge_separable` is an HNN with H = V(q) + T(p).

Mutants of the forward steps (one RK4 stage weight, one leapfrog half-kick)
must fail these references.
"""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from hnn_np import hnn, mlp, trajectory, vjp
from hnn_np.integrate import leapfrog
from hnn_np.symplectic import J_matrix
from hnn_np.testing.mutants import mutate

RK4_WEIGHT = ("x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)", "x + h / 6 * (k1 + 2 * k2 + k3 + 2 * k4)")
HALF_KICK = ("p_half - h / 2 * dV_dq_next[0]", "p_half - h * dV_dq_next[0]")


def separable_params(n=1, seed=0, scale=1.0):
    """Two random potentials V(q), T(p); ``scale`` multiplies every weight (3: a strongly curved field)."""
    return tuple([(scale * W, scale * b) for W, b in mlp.init_params((n, width, 6, 1), seed=seed + k)]
                 for k, width in enumerate((8, 7)))


# --- RK4 -------------------------------------------------------------------------------------

def check_rk4_on_a_linear_field(step):
    """A baseline without hidden layer and zero bias: S(x) = x A, RK4's step is the degree-4 Taylor polynomial."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    x, h = rng.standard_normal((3, 4)), 0.3
    hA = h * A
    P = np.eye(4) + hA + hA @ hA / 2 + hA @ hA @ hA / 6 + hA @ hA @ hA @ hA / 24
    x_next, _ = step("baseline", [(A, np.zeros(4))], x, h)
    np.testing.assert_allclose(x_next, x @ P, rtol=1e-13, atol=1e-13)


def test_rk4_step_on_a_linear_field_is_its_taylor_polynomial():
    check_rk4_on_a_linear_field(trajectory.rk4_step)


def test_a_wrong_rk4_stage_weight_fails_the_linear_field():
    with pytest.raises(AssertionError):
        check_rk4_on_a_linear_field(mutate(trajectory.rk4_step, *RK4_WEIGHT))


def reference_flow(field, x0, t):
    """scipy's DOP853 at rtol = atol = 1e-12: the exact flow of ``field`` for one state (d,), to its accuracy."""
    sol = solve_ivp(lambda _, y: field(y[None])[0], (0, t), x0, method="DOP853", rtol=1e-12, atol=1e-12)
    return sol.y[:, -1]


def observed_order(X_hat_coarse, X_hat_fine, exact):
    return np.log2(np.abs(X_hat_coarse - exact).max() / np.abs(X_hat_fine - exact).max())


def test_rk4_rollout_converges_with_order_4_to_scipy():
    """K = 2 intervals of dt = 0.4 on an HNN's field; substeps 2 -> 4 divides the error by 2**4."""
    params = mlp.init_params((2, 16, 16, 1), seed=2)
    x0 = np.array([[0.6, -0.4]])
    exact = reference_flow(lambda x: hnn.vector_field(params, x), x0[0], 0.8)
    coarse, fine = (trajectory.rollout(params, x0, 0.4, 2, "rk4", s)[-1, 0] for s in (2, 4))
    assert 3.7 < observed_order(coarse, fine, exact) < 4.3


# --- leapfrog --------------------------------------------------------------------------------

def check_leapfrog_against_the_integrator(step_fn):
    """3 steps of h = 0.25 from two states, against hnn_np.integrate.leapfrog with dV/dq, dT/dp from mlp."""
    params_V, params_T = separable_params()
    x0 = np.array([[0.7, -0.3], [-1.1, 0.5]])
    x = x0
    for _ in range(3):
        x, _ = step_fn((params_V, params_T), x, 0.25)
    for i in range(2):
        ref = leapfrog(lambda q: mlp.input_gradient(params_V, q[None])[0],
                       lambda p: mlp.input_gradient(params_T, p[None])[0], (0.0, 0.75), x0[i, :1], x0[i, 1:],
                       n_steps=3)
        np.testing.assert_allclose(x[i], [ref.q[-1, 0], ref.p[-1, 0]], rtol=1e-13, atol=1e-14)


def test_leapfrog_step_is_stormer_verlet():
    check_leapfrog_against_the_integrator(trajectory.leapfrog_step)


def test_a_full_kick_for_a_half_kick_fails_stormer_verlet():
    with pytest.raises(AssertionError):
        check_leapfrog_against_the_integrator(mutate(trajectory.leapfrog_step, *HALF_KICK))


def test_leapfrog_rollout_converges_with_order_2_to_scipy():
    params = separable_params(seed=4)
    x0 = np.array([[0.5, 0.8]])
    exact = reference_flow(lambda x: vjp.field("separable", params, x)[0], x0[0], 1.0)
    coarse, fine = (trajectory.rollout(params, x0, 0.5, 2, "leapfrog", s, "separable")[-1, 0] for s in (4, 8))
    assert 1.8 < observed_order(coarse, fine, exact) < 2.2


# --- the tangent map -------------------------------------------------------------------------

def tangent_from_adjoint(step, adjoint, kind, params, x, h):
    """M (N, d, d) row by row: row j is e_j^T M, the adjoint of the step applied to e_j."""
    _, caches = step(x, h)
    N, d = x.shape
    M = np.empty((N, d, d))
    for j in range(d):
        e_j = np.zeros((N, d))
        e_j[:, j] = 1
        M[:, j, :] = adjoint(caches, h, e_j, vjp.zeros_like_params(kind, params))
    return M


def tangent_from_differences(step, x, h, e=1e-4):
    """M[:, :, j] by the 4th-order central stencil along e_j."""
    N, d = x.shape
    M = np.empty((N, d, d))
    for j in range(d):
        dx = np.zeros((N, d))
        dx[:, j] = e
        f = [step(x + s * dx, h)[0] for s in (1, -1, 2, -2)]
        M[:, :, j] = (8 * (f[0] - f[1]) - (f[2] - f[3])) / (12 * e)
    return M


def symplectic_defect(M):
    J = J_matrix(M.shape[1] // 2)
    return np.abs(np.einsum("nki,kl,nlj->nij", M, J, M) - J).max()


@pytest.mark.parametrize("n", [1, 2])
def test_leapfrog_tangent_from_the_adjoint_is_the_jacobian_and_symplectic(n):
    """M^T J M = J to round-off at a large step h = 0.7; M from the adjoint equals central differences."""
    params = separable_params(n, seed=6, scale=3.0)
    x = np.random.default_rng(7).uniform(-1.5, 1.5, (5, 2 * n))
    M = tangent_from_adjoint(lambda x, h: trajectory.leapfrog_step(params, x, h),
                             lambda c, h, xb, g: trajectory.leapfrog_step_adjoint(params, c, h, xb, g),
                             "separable", params, x, 0.7)
    M_fd = tangent_from_differences(lambda x, h: trajectory.leapfrog_step(params, x, h), x, 0.7)
    np.testing.assert_allclose(M, M_fd, atol=1e-8)
    assert symplectic_defect(M) < 1e-13
    assert symplectic_defect(M_fd) < 1e-8


def test_the_rk4_tangent_is_not_symplectic():
    """The check can fail: RK4 on the same separable field is only symplectic to O(h**5)."""
    params = separable_params(1, seed=6, scale=3.0)
    x = np.random.default_rng(7).uniform(-1.5, 1.5, (5, 2))
    M = tangent_from_adjoint(lambda x, h: trajectory.rk4_step("separable", params, x, h),
                             lambda c, h, xb, g: trajectory.rk4_step_adjoint("separable", params, c, h, xb, g),
                             "separable", params, x, 0.7)
    assert symplectic_defect(M) > 1e-6


# --- a separable pair as one HNN -------------------------------------------------------------

def test_merged_separable_pair_is_the_hnn_with_h_equal_v_plus_t():
    params_V, params_T = separable_params(2, seed=8)
    merged = trajectory.merge_separable((params_V, params_T))
    x = np.random.default_rng(9).uniform(-2, 2, (6, 4))
    H = mlp.forward(params_V, x[:, :2])[:, 0] + mlp.forward(params_T, x[:, 2:])[:, 0]
    np.testing.assert_allclose(mlp.forward(merged, x)[:, 0], H, rtol=1e-13)
    np.testing.assert_allclose(hnn.vector_field(merged, x), vjp.field("separable", (params_V, params_T), x)[0],
                               rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="same number of layers"):
        trajectory.merge_separable((params_V, mlp.init_params((2, 5, 1))))
