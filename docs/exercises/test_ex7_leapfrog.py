"""Exercise 7, leapfrog: symplectic by central differences, reversible, of order 2, and its modified energy."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ex7_leapfrog import leapfrog_step, spring_step_matrix


SYSTEMS = {  # name: (degrees of freedom d, dV/dq, dT/dp)
    "pendulum": (1, np.sin, lambda p: p),  # H = p**2 / 2 - cos q
    # H = 3 p0**2 / 4 + p1**2 / 4 + q0**4 / 4 + q1**2 / 2 + q0 q1 / 3
    "coupled": (2, lambda q: np.array([q[0] ** 3 + q[1] / 3, q[1] + q[0] / 3]),
                lambda p: np.array([1.5 * p[0], 0.5 * p[1]])),
}


def step_map(system, h):
    """x = (q, p) -> one leapfrog step, as a function of the 2d-vector x."""
    d, dV_dq, dT_dp = SYSTEMS[system]

    def phi(x):
        return np.concatenate(leapfrog_step(dV_dq, dT_dp, x[:d], x[d:], h))
    return phi, d


def jacobian(phi, x, e=1e-3):
    """dphi/dx column by column, by the central stencil of check_grads (error O(e**4))."""
    eye = np.eye(x.size)
    columns = [(8 * (phi(x + e * u) - phi(x - e * u)) - (phi(x + 2 * e * u) - phi(x - 2 * e * u))) / (12 * e)
               for u in eye]
    return np.stack(columns, axis=1)


def J_matrix(d):
    return np.block([[np.zeros((d, d)), np.eye(d)], [-np.eye(d), np.zeros((d, d))]])


state = st.floats(-2, 2)


@given(st.sampled_from(sorted(SYSTEMS)), st.lists(state, min_size=4, max_size=4), st.floats(0.01, 1.0))
def test_step_is_symplectic_for_any_h(system, values, h):
    phi, d = step_map(system, h)
    x = np.array(values[: 2 * d])
    M = jacobian(phi, x)
    J = J_matrix(d)
    np.testing.assert_allclose(M.T @ J @ M, J, atol=1e-8)


@given(st.sampled_from(sorted(SYSTEMS)), st.lists(state, min_size=4, max_size=4), st.floats(0.01, 1.0))
def test_step_is_time_reversible(system, values, h):
    d, dV_dq, dT_dp = SYSTEMS[system]
    q, p = np.array(values[:d]), np.array(values[d : 2 * d])
    q1, p1 = leapfrog_step(dV_dq, dT_dp, q, p, h)
    q0, p0 = leapfrog_step(dV_dq, dT_dp, q1, p1, -h)
    np.testing.assert_allclose(np.concatenate([q0, p0]), np.concatenate([q, p]), atol=1e-13)


@pytest.mark.parametrize("k, m", [(1.0, 1.0), (2.0, 0.5), (0.3, 3.0)])
def test_local_error_on_the_spring_is_of_order_3(k, m):
    omega = np.sqrt(k / m)
    q, p = np.array([1.0]), np.array([0.5])
    errors = []
    for h in (0.1, 0.05):
        q1, p1 = leapfrog_step(lambda q: k * q, lambda p: p / m, q, p, h)
        q_exact = q * np.cos(omega * h) + p / (m * omega) * np.sin(omega * h)
        p_exact = p * np.cos(omega * h) - m * omega * q * np.sin(omega * h)
        errors.append(np.hypot(q1 - q_exact, p1 - p_exact)[0])
    assert 2.8 < np.log2(errors[0] / errors[1]) < 3.2, errors  # O(h**3) per step: a method of order 2


@pytest.mark.parametrize("k, m, h", [(1.0, 1.0, 0.1), (2.0, 0.5, 0.3), (0.3, 3.0, 1.0)])
def test_modified_energy_is_conserved_to_roundoff_on_the_spring(k, m, h):
    # H~ = p**2 / 2m + k q**2 / 2 (1 - h**2 omega**2 / 4), omega**2 = k / m (backward error analysis)
    modified = lambda q, p: p**2 / (2 * m) + k * q**2 / 2 * (1 - h**2 * k / m / 4)  # noqa: E731
    q, p = np.array([1.0]), np.array([-0.5])
    H0 = modified(q, p)[0]
    values = []
    for _ in range(2000):
        q, p = leapfrog_step(lambda q: k * q, lambda p: p / m, q, p, h)
        values.append(modified(q, p)[0])
    np.testing.assert_allclose(values, H0, rtol=1e-12)


@given(st.floats(0.01, 1.5), st.floats(0.1, 4.0), st.floats(0.1, 4.0))
def test_spring_matrix_is_symplectic_with_the_right_trace(h, k, m):
    M = spring_step_matrix(h, k, m)
    assert M.shape == (2, 2)
    J = J_matrix(1)
    np.testing.assert_allclose(M.T @ J @ M, J, atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(M), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.trace(M), 2 - h**2 * k / m, rtol=1e-12, atol=1e-12)


@given(st.floats(0.01, 1.5), st.floats(0.1, 4.0), st.floats(0.1, 4.0))
def test_spring_matrix_conserves_the_modified_energy(h, k, m):
    # H~ = x^T Q~ x with Q~ = diag(k (1 - h**2 k / 4m) / 2, 1 / 2m): M^T Q~ M = Q~
    Q = np.diag([k * (1 - h**2 * k / (4 * m)) / 2, 1 / (2 * m)])
    M = spring_step_matrix(h, k, m)
    np.testing.assert_allclose(M.T @ Q @ M, Q, atol=1e-12 * (k + 1 / m))


def test_spring_matrix_small_steps_approach_the_exact_rotation():
    k, m, h = 2.0, 0.5, 1e-3
    omega = np.sqrt(k / m)
    exact = np.array([[np.cos(omega * h), np.sin(omega * h) / (m * omega)],
                      [-m * omega * np.sin(omega * h), np.cos(omega * h)]])
    np.testing.assert_allclose(spring_step_matrix(h, k, m), exact, atol=1e-8)


@given(st.floats(0.01, 1.5), st.floats(0.1, 4.0), st.floats(0.1, 4.0), state, state)
def test_spring_matrix_is_the_step(h, k, m, q, p):
    q1, p1 = leapfrog_step(lambda q: k * q, lambda p: p / m, np.array([q]), np.array([p]), h)
    np.testing.assert_allclose(spring_step_matrix(h, k, m) @ [q, p], [q1[0], p1[0]], rtol=1e-12, atol=1e-14)
