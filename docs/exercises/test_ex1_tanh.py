"""Exercise 1, tanh' and tanh'': against central differences, the complex step and cosh."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ex1_tanh import tanh_prime, tanh_second
from hnn_np.testing import check_grads

points = hnp.arrays(np.float64, st.integers(1, 8), elements=st.floats(-8, 8))


def complex_step(f, z, h=1e-30):
    """f'(z) = Im f(z + i h) / h to round-off: no difference of nearby numbers is taken."""
    return np.imag(f(z + 1j * h)) / h


@given(points)
def test_tanh_prime_is_the_derivative_of_tanh(z):
    check_grads(lambda u: np.tanh(u).sum(), tanh_prime, z)


@given(points)
def test_tanh_second_is_the_derivative_of_one_over_cosh_squared(z):
    check_grads(lambda u: (1 / np.cosh(u) ** 2).sum(), tanh_second, z)


@given(points)
def test_both_match_the_complex_step(z):
    np.testing.assert_allclose(tanh_prime(z), complex_step(np.tanh, z), rtol=1e-12, atol=1e-15)
    sech2 = lambda u: 1 / np.cosh(u) ** 2  # noqa: E731
    np.testing.assert_allclose(tanh_second(z), complex_step(sech2, z), rtol=1e-12, atol=1e-15)


def test_closed_forms_at_known_points():
    z = np.array([0.0, np.log(2.0), -np.log(3.0)])  # tanh = 0, 3/5, -4/5
    np.testing.assert_allclose(tanh_prime(z), [1.0, 16 / 25, 9 / 25], rtol=1e-14)
    np.testing.assert_allclose(tanh_second(z), [0.0, -2 * 3 / 5 * 16 / 25, 2 * 4 / 5 * 9 / 25], rtol=1e-14, atol=1e-16)


def test_saturated_units_give_zero_without_overflow():
    z = np.array([[-1e3, -40.0], [40.0, 1e3]])
    with np.errstate(all="raise"):
        s1, s2 = tanh_prime(z), tanh_second(z)
    assert s1.shape == s2.shape == z.shape
    np.testing.assert_array_equal(s1, 0.0)
    np.testing.assert_array_equal(s2, 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shape_and_dtype_are_kept(dtype):
    z = np.linspace(-3, 3, 12, dtype=dtype).reshape(3, 4)
    s1, s2 = tanh_prime(z), tanh_second(z)
    assert s1.shape == s2.shape == (3, 4)
    assert s1.dtype == s2.dtype == dtype
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-14, atol=0)
    np.testing.assert_allclose(s1, 1 / np.cosh(z.astype(np.float64)) ** 2, **tol)
