"""Exercise 6, one DOP853 step: against exp(h lambda), exact quadrature, and scipy's DOP853 (an oracle here only)."""

import math

import numpy as np
import pytest
import scipy.integrate
from hypothesis import given
from hypothesis import strategies as st

from ex6_dop853_step import dop853_step


def rotation(a, b):
    """y' = lambda y for lambda = a + i b, as the real system of (Re y, Im y)."""
    return lambda t, y: np.array([a * y[0] - b * y[1], b * y[0] + a * y[1]])


def pendulum(t, y):
    """A driven pendulum: nonlinear and non-autonomous."""
    return np.array([y[1], -np.sin(y[0]) + 0.3 * np.cos(2 * t)])


def test_one_step_on_y_prime_equals_lambda_y_is_exp_to_order_8():
    # an RK step on y' = lambda y is R(z) y with a polynomial R, z = h lambda; order 8 means
    # R(z) = sum_k z**k / k! through k = 8. R's coefficients, from 16 points on |z| = 1 (R has degree 12):
    z = np.exp(2j * np.pi * np.arange(16) / 16)
    R = [complex(*dop853_step(rotation(zk.real, zk.imag), 0.0, np.array([1.0, 0.0]), 1.0, 1e-6, 1e-6)[0])
         for zk in z]
    taylor = np.fft.fft(R).real / 16 * [math.factorial(k) for k in range(16)]  # k! * (coefficient of z**k)
    np.testing.assert_allclose(taylor[:9], 1.0, rtol=1e-9, err_msg="R(z) = exp(z) + O(z**9)")
    assert abs(taylor[9] - 1.0) > 1e-3, "of order 8 exactly, not 9"


@pytest.mark.parametrize("lam", [-1.0, 1.0, -0.5 + 2j])
def test_local_error_against_exp_h_lambda_falls_as_h_to_the_9(lam):
    lam = complex(lam)
    errors = []
    for h in (0.5, 0.25):
        y_new, _ = dop853_step(rotation(lam.real, lam.imag), 0.0, np.array([1.0, 0.0]), h, 1e-6, 1e-6)
        errors.append(abs(complex(*y_new) - np.exp(lam * h)))
    assert math.log2(errors[0] / errors[1]) > 8.5, errors  # a local error O(h**9): order 8


@pytest.mark.parametrize("k", range(8))
def test_polynomials_up_to_degree_7_are_integrated_exactly(k):
    # y' = (k + 1) t**k from t = 0.3 over h = 0.7: y(1) - y(0.3) = 1 - 0.3**(k + 1); this needs the nodes C right
    y_new, _ = dop853_step(lambda t, y: np.array([(k + 1) * t**k]), 0.3, np.array([0.0]), 0.7, 1e-6, 1e-6)
    np.testing.assert_allclose(y_new, [1.0 - 0.3 ** (k + 1)], rtol=1e-14)


@given(st.floats(-2, 2), st.floats(-2, 2), st.floats(0.05, 0.6), st.floats(-1, 1))
def test_step_and_error_equal_scipys_dop853(q0, p0, h, t0):
    atol, rtol = 1e-9, 1e-7
    y0 = np.array([q0, p0])
    y_new, err = dop853_step(pendulum, t0, y0, h, atol, rtol)
    solver = scipy.integrate.DOP853(pendulum, t0, y0, t0 + 100, rtol=rtol, atol=atol, first_step=h)
    solver.step()
    if solver.t != t0 + h:  # scipy rejected the step: its err was > 1
        assert err > 1
        return
    np.testing.assert_allclose(y_new, solver.y, rtol=1e-13, atol=1e-15)
    # scipy's next step is h * min(10, 0.9 err**(-1/8)), hence its err (where the factor is below 10)
    scipy_err = (0.9 * h / solver.h_abs) ** 8
    capped = 1.1 * (0.9 / 10) ** 8
    if scipy_err > capped:
        np.testing.assert_allclose(err, scipy_err, rtol=1e-6, atol=1e-9)
    else:
        assert err <= capped


def test_error_estimate_falls_as_h_to_the_8():
    f = lambda t, y: -y  # noqa: E731
    errs = [dop853_step(f, 0.0, np.array([1.0]), h, 1e-12, 1e-12)[1] for h in (0.25, 0.125)]
    assert 7.8 < math.log2(errs[0] / errs[1]) < 8.4, errs


@given(st.floats(0.1, 1.0), st.floats(1e-3, 1e3))
def test_error_is_inversely_proportional_to_the_tolerance(h, scale):
    y0 = np.array([0.8, -0.4])
    _, err = dop853_step(pendulum, 0.1, y0, h, 1e-9, 1e-7)
    _, err_scaled = dop853_step(pendulum, 0.1, y0, h, 1e-9 * scale, 1e-7 * scale)
    np.testing.assert_allclose(err_scaled, err / scale, rtol=1e-12)


def test_a_constant_field_gives_the_euler_step_and_no_error():
    y_new, err = dop853_step(lambda t, y: np.array([2.0, -1.0, 0.5]), 0.0, np.array([1.0, 1.0, 1.0]), 0.3, 1e-8, 1e-8)
    np.testing.assert_allclose(y_new, [1.6, 0.7, 1.15], rtol=1e-14)
    assert 0.0 <= err < 1e-6
