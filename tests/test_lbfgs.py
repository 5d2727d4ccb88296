"""hnn_np.lbfgs: the two-loop recursion against the dense BFGS update, and minima against closed forms and scipy."""

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings, strategies as st

from hnn_np.lbfgs import flatten, minimize, two_loop, unflatten


def dense_bfgs_inverse(pairs, n):
    """H from H_0 = gamma I by H <- (I - rho s y^T) H (I - rho y s^T) + rho s s^T, oldest pair first."""
    s, y = pairs[-1]
    H = (s @ y) / (y @ y) * np.eye(n)
    for s, y in pairs:
        rho = 1.0 / (y @ s)
        V = np.eye(n) - rho * np.outer(y, s)
        H = V.T @ H @ V + rho * np.outer(s, s)
    return H


@settings(max_examples=30)
@given(n=st.integers(2, 6), m=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_the_two_loop_recursion_applies_the_dense_bfgs_inverse(n, m, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))
    A = A @ A.T + n * np.eye(n)  # positive definite: y = A s gives s . y > 0
    pairs = [(s, A @ s) for s in rng.standard_normal((m, n))]
    g = rng.standard_normal(n)
    np.testing.assert_allclose(two_loop(g, pairs), dense_bfgs_inverse(pairs, n) @ g, rtol=1e-9, atol=1e-12)
    s, y = pairs[-1]
    np.testing.assert_allclose(two_loop(y, pairs), s, rtol=1e-9, atol=1e-12)  # the secant equation H y = s


def test_a_convex_quadratic_is_solved_exactly():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((8, 8))
    A = A @ A.T + np.eye(8)
    b = rng.standard_normal(8)
    x, losses = minimize(lambda x: (0.5 * x @ A @ x - b @ x, A @ x - b), np.zeros(8), 60)
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-8, atol=1e-10)
    done = losses[np.isfinite(losses)]
    assert np.all(np.diff(done) <= 0)  # Armijo: the loss never rises


def rosenbrock(x):
    f = np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return f, g


@pytest.mark.parametrize("n", [2, 10])
def test_rosenbrock_reaches_the_minimum_scipy_reaches(n):
    x0 = np.full(n, -1.2)
    x0[1::2] = 1.0
    x, losses = minimize(rosenbrock, x0, 500, memory=10)
    ref = scipy.optimize.minimize(rosenbrock, x0, jac=True, method="L-BFGS-B", options=dict(maxcor=10, gtol=1e-12))
    np.testing.assert_allclose(x, np.ones(n), atol=1e-6)  # the closed-form minimum
    np.testing.assert_allclose(x, ref.x, atol=1e-5)
    assert np.nanmin(losses) < 1e-12


def test_a_mutant_without_the_curvature_pairs_is_far_slower():
    """Memory is what makes it quasi-Newton: steepest descent (pairs never kept) stalls on Rosenbrock."""
    x0 = np.array([-1.2, 1.0])
    _, with_memory = minimize(rosenbrock, x0, 100)
    _, without = minimize(rosenbrock, x0, 100, eps_curv=np.inf)
    assert np.nanmin(with_memory) < 1e-8 < 1e-3 < np.nanmin(without)


def test_flatten_and_unflatten_are_inverse_and_keep_dtypes():
    arrays = [np.arange(6.0).reshape(2, 3), np.arange(3, dtype=np.float32)]
    z = flatten(arrays)
    assert z.dtype == np.float64 and z.shape == (9,)
    back = unflatten(z, arrays)
    for a, b in zip(arrays, back):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="the vector has 8 numbers; the arrays hold 9"):
        unflatten(z[:8], arrays)


def test_bad_settings_and_a_non_finite_start_are_refused_by_name():
    with pytest.raises(ValueError, match="steps must be >= 0"):
        minimize(rosenbrock, np.zeros(2), -1)
    with pytest.raises(ValueError, match="memory must be >= 1"):
        minimize(rosenbrock, np.zeros(2), 5, memory=0)
    with pytest.raises(ValueError, match="not finite at x0"):
        minimize(lambda x: (np.nan, x), np.zeros(2), 5)
