"""Exercise 3, S = J dH/dx: Hamilton's equations by the complex step, central differences, and the properties of J."""

import numpy as np
from hypothesis import given

from ex3_hnn_field import hnn_field
from hnn_np import mlp
from hnn_np.testing import check_grads
from hnn_np.testing.strategies import hnn_and_states


def energy(params, x):
    """Output 0 of the network, written out here (it also takes complex x)."""
    a = x
    for W, b in params[:-1]:
        a = np.tanh(a @ W + b)
    W, b = params[-1]
    return (a @ W + b)[:, 0]


def complex_step_gradient(params, x, h=1e-30):
    """dH/dx column by column, Im H(x + i h e_k) / h: exact to round-off."""
    eye = np.eye(x.shape[1])
    return np.stack([np.imag(energy(params, x + 1j * h * eye[k])) / h for k in range(x.shape[1])], axis=1)


@given(hnn_and_states(max_layers=3))
def test_field_is_hamiltons_equations(case):
    params, x = case
    n = x.shape[1] // 2
    dH_dx = complex_step_gradient(params, x)
    S = hnn_field(params, x)
    assert S.shape == x.shape
    np.testing.assert_allclose(S[:, :n], dH_dx[:, n:], rtol=1e-10, atol=1e-13, err_msg="dq/dt = dH/dp")
    np.testing.assert_allclose(S[:, n:], -dH_dx[:, :n], rtol=1e-10, atol=1e-13, err_msg="dp/dt = -dH/dq")


@given(hnn_and_states(max_layers=2))
def test_J_transpose_of_the_field_is_the_gradient_by_central_differences(case):
    params, x = case
    n = x.shape[1] // 2

    def dH_dx(x):  # J^T S = (-S_p, S_q) = dH/dx, because J^T J = I
        S = hnn_field(params, x)
        return np.concatenate([-S[:, n:], S[:, :n]], axis=1)

    check_grads(lambda x: energy(params, x).sum(), dH_dx, x)


@given(hnn_and_states(max_layers=3))
def test_energy_is_constant_along_the_field(case):
    params, x = case
    dH_dx = complex_step_gradient(params, x)
    rate = np.sum(dH_dx * hnn_field(params, x), axis=1)  # dH/dt = dH/dx . S
    np.testing.assert_allclose(rate, 0.0, atol=1e-12 * (1 + np.abs(dH_dx).max() ** 2))


@given(hnn_and_states(max_layers=2))
def test_field_is_divergence_free(case):
    params, x = case
    e, eye = 1e-4, np.eye(x.shape[1])
    divergence = sum((hnn_field(params, x + e * eye[k])[:, k] - hnn_field(params, x - e * eye[k])[:, k]) / (2 * e)
                     for k in range(x.shape[1]))
    np.testing.assert_allclose(divergence, 0.0, atol=1e-7)


def test_linear_energy_closed_form():
    params = mlp.init_params((4, 1), seed=5)  # H = x . w + b, two degrees of freedom
    w = params[0][0][:, 0]
    x = np.random.default_rng(2).normal(size=(3, 4))
    np.testing.assert_allclose(hnn_field(params, x), np.tile([w[2], w[3], -w[0], -w[1]], (3, 1)), rtol=1e-15)
