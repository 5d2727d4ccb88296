"""solve_ivp: agreement with scipy and exact solutions, dense output, t_eval, direction, exits."""

import numpy as np
import pytest
import scipy.integrate
from _ivp_problems import ARENSTORF_T, ARENSTORF_Y0, arenstorf, spring, tangent
from hypothesis import given
from hypothesis import strategies as st

from hnn_np.integrate import solve_ivp
from hnn_np.integrate.checks import METHODS
from hnn_np.integrate.fixed_step import fixed_step_solve
from hnn_np.systems import MassSpring

METHOD_NAMES = sorted(METHODS)
SPRING = MassSpring(k=2.0, m=2.0)


def exact_spring(y0, t):
    """(n, m): the closed-form mass-spring states at times t."""
    return SPRING.exact_solution(np.asarray(y0)[None, :], t)[0].T


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_agrees_with_scipy_and_the_exact_solution_on_the_oscillator(method):
    y0, t_eval, tol = [1.0, 0.5], np.linspace(0.0, 20.0, 101), 1e-10
    ours = solve_ivp(spring.py_func, (0.0, 20.0), y0, method=method, rtol=tol, atol=tol, t_eval=t_eval)
    theirs = scipy.integrate.solve_ivp(spring.py_func, (0.0, 20.0), y0, method=method, rtol=tol, atol=tol, t_eval=t_eval)
    exact = exact_spring(y0, t_eval)
    assert ours.success and ours.y.shape == (2, 101)
    np.testing.assert_array_equal(ours.t, t_eval)
    assert np.abs(ours.y - exact).max() < 3e-9
    assert np.abs(ours.y - theirs.y).max() < 3e-9
    # The controllers differ (scipy's is not Hairer's), so the counts differ, but not by much.
    assert abs(ours.nfev - theirs.nfev) <= 0.15 * theirs.nfev


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_agrees_with_scipy_on_arenstorfs_orbit(method):
    tol = 1e-10
    ours = solve_ivp(arenstorf.py_func, (0.0, ARENSTORF_T), ARENSTORF_Y0, method=method, rtol=tol, atol=tol)
    theirs = scipy.integrate.solve_ivp(arenstorf.py_func, (0.0, ARENSTORF_T), ARENSTORF_Y0, method=method, rtol=tol, atol=tol)
    np.testing.assert_allclose(ours.y[:, -1], theirs.y[:, -1], atol=2e-6)
    np.testing.assert_allclose(ours.y[:, -1], ARENSTORF_Y0, atol=1e-5)  # the orbit is periodic
    assert abs(ours.nfev - theirs.nfev) <= 0.15 * theirs.nfev


@pytest.mark.parametrize("method, order, n_steps, problem", [
    ("DOP853", 8, (16, 32), "spring"),
    ("RK45", 5, (32, 64), "spring"),
    ("DOP853", 8, (16, 32), "tangent"),
])  # fmt: skip
def test_fixed_step_convergence_order(method, order, n_steps, problem):
    """Error at t_end ~ h^order with equal steps: the oscillator on [0, 10], and the
    nonlinear y' = 1 + y^2, y(0) = 0 (y = tan t) on [0, 1.2]."""
    fun, t_end, y0, exact = {
        "spring": (spring.py_func, 10.0, [1.0, 0.0], [np.cos(10.0), -2.0 * np.sin(10.0)]),
        "tangent": (tangent.py_func, 1.2, [0.0], [np.tan(1.2)]),
    }[problem]
    errors = [np.abs(fixed_step_solve(fun, (0.0, t_end), y0, n, METHODS[method]) - exact).max() for n in n_steps]
    measured = np.log2(errors[0] / errors[1])
    assert abs(measured - order) < 0.3, (errors, measured)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_dense_output_matches_the_exact_oscillator(method):
    y0, tol = [0.3, -1.2], 1e-11
    result = solve_ivp(spring.py_func, (0.0, 15.0), y0, method=method, rtol=tol, atol=tol, dense_output=True)
    t = np.linspace(0.0, 15.0, 997)
    assert result.sol(t).shape == (2, 997)
    assert np.abs(result.sol(t) - exact_spring(y0, t)).max() < 1e-9
    assert result.sol(7.5).shape == (2,)
    # At the step ends the interpolant returns the computed steps.
    np.testing.assert_allclose(result.sol(result.t), result.y, rtol=0, atol=1e-14)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_t_eval_comes_from_the_dense_output_and_does_not_change_the_steps(method):
    y0, t_eval = [1.0, 0.0], np.array([0.0, 0.1, 2.5, 2.50001, 9.0, 10.0])
    steps = solve_ivp(spring.py_func, (0.0, 10.0), y0, method=method, rtol=1e-6, atol=1e-6)
    dense = solve_ivp(spring.py_func, (0.0, 10.0), y0, method=method, rtol=1e-6, atol=1e-6, dense_output=True)
    at = solve_ivp(spring.py_func, (0.0, 10.0), y0, method=method, rtol=1e-6, atol=1e-6, t_eval=t_eval)
    assert at.naccepted == steps.naccepted and at.nrejected == steps.nrejected
    assert at.nfev == steps.nfev + (3 * steps.naccepted if method == "DOP853" else 0)
    np.testing.assert_array_equal(at.y[:, 0], y0)
    np.testing.assert_allclose(at.y, dense.sol(t_eval), rtol=0, atol=1e-15)
    np.testing.assert_allclose(at.y[:, -1], steps.y[:, -1], rtol=0, atol=1e-14)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_backward_integration(method):
    y_end = exact_spring([1.0, 0.0], np.array([10.0]))[:, 0]
    t_eval = np.linspace(10.0, 0.0, 21)
    result = solve_ivp(spring.py_func, (10.0, 0.0), y_end, method=method, rtol=1e-10, atol=1e-10, t_eval=t_eval, dense_output=True)
    assert result.success
    np.testing.assert_allclose(result.y[:, -1], [1.0, 0.0], atol=5e-9)
    np.testing.assert_allclose(result.y, exact_spring([1.0, 0.0], t_eval), atol=5e-9)
    np.testing.assert_allclose(result.sol(np.array([3.3, 0.0])), exact_spring([1.0, 0.0], np.array([3.3, 0.0])), atol=5e-9)


@given(
    y0=st.tuples(st.floats(-2, 2), st.floats(-2, 2)),
    t_end=st.floats(0.5, 20.0) | st.floats(-20.0, -0.5),
    rtol=st.integers(4, 11).map(lambda k: 10.0**-k),
)
def test_error_follows_the_tolerance(y0, t_end, rtol):
    result = solve_ivp(spring.py_func, (0.0, t_end), y0, rtol=rtol, atol=rtol)
    exact = exact_spring(y0, result.t)
    scale = 1.0 + np.abs(exact).max()
    assert result.success and result.t[-1] == t_end
    assert np.abs(result.y - exact).max() < 100 * rtol * scale * max(1.0, abs(t_end))


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_per_component_tolerances(method):
    result = solve_ivp(arenstorf.py_func, (0.0, 2.0), ARENSTORF_Y0, method=method, rtol=[1e-8] * 4, atol=[1e-10, 1e-10, 1e-8, 1e-8])
    loose = solve_ivp(arenstorf.py_func, (0.0, 2.0), ARENSTORF_Y0, method=method, rtol=1e-8, atol=1e-8)
    assert result.success and result.naccepted >= loose.naccepted


def test_max_steps_ends_the_run():
    result = solve_ivp(arenstorf.py_func, (0.0, ARENSTORF_T), ARENSTORF_Y0, rtol=1e-10, atol=1e-10, max_steps=10)
    assert result.status == -1 and not result.success
    assert "max_steps" in result.message
    assert result.nsteps == 11  # dop853.f's test NSTEP > NMAX comes before each step
    assert result.t.shape == (result.naccepted + 1,) and result.y.shape == (4, result.naccepted + 1)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_a_blow_up_ends_with_step_size_too_small(method):
    """y' = y^2, y(0) = 1 explodes at t = 1."""
    result = solve_ivp(lambda t, y: y * y, (0.0, 2.0), [1.0], method=method, rtol=1e-8, atol=1e-8)
    assert result.status == -1
    assert "too small" in result.message
    assert abs(result.t[-1] - 1.0) < 1e-6


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_non_finite_fun_ends_the_run(method):
    def fun(t, y):
        return np.array([np.nan]) if t > 0.5 else -y

    result = solve_ivp(fun, (0.0, 1.0), [1.0], method=method, t_eval=[0.25, 0.75], max_step=0.1)
    assert result.status == -1
    assert "non-finite" in result.message
    assert result.t.tolist() == [0.25] and np.all(np.isfinite(result.y))
    at_start = solve_ivp(lambda t, y: np.full_like(y, np.inf), (0.0, 1.0), [1.0], method=method)
    assert at_start.status == -1 and at_start.naccepted == 0 and at_start.nfev == 1
