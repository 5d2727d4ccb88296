"""Exercise 2, the input gradient: against central differences, the complex step and closed forms."""

import numpy as np
from hypothesis import given

from ex2_input_gradient import input_gradient
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
    columns = []
    for k in range(x.shape[1]):
        e_k = np.zeros(x.shape[1])
        e_k[k] = 1.0
        columns.append(np.imag(energy(params, x + 1j * h * e_k)) / h)
    return np.stack(columns, axis=1)


@given(hnn_and_states(max_layers=3))
def test_gradient_matches_central_differences(case):
    params, x = case
    # the rows are independent, so the gradient of the sum over rows is every row's gradient
    check_grads(lambda x: energy(params, x).sum(), lambda x: input_gradient(params, x), x)


@given(hnn_and_states(max_layers=3))
def test_gradient_matches_the_complex_step_entry_by_entry(case):
    params, x = case
    dH_dx = input_gradient(params, x)
    assert dH_dx.shape == x.shape
    np.testing.assert_allclose(dH_dx, complex_step_gradient(params, x), rtol=1e-10, atol=1e-13)


def test_linear_network_gradient_is_its_weight_column():
    params = mlp.init_params((4, 1), seed=3)
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(input_gradient(params, x), np.tile(params[0][0][:, 0], (3, 1)), rtol=1e-15)


def test_one_hidden_unit_closed_form():
    # H = w tanh(x W0 + b0) + b1, so dH/dx = w tanh'(x W0 + b0) W0^T with tanh' = 1 / cosh^2
    W0, b0, w, b1 = np.array([[0.7], [-1.3]]), np.array([0.2]), -1.5, 0.4
    params = [(W0, b0), (np.array([[w]]), np.array([b1]))]
    x = np.array([[0.5, -0.25], [1.0, 2.0], [-3.0, 0.0]])
    z = x @ W0 + b0
    np.testing.assert_allclose(input_gradient(params, x), w / np.cosh(z) ** 2 * W0.T, rtol=1e-13)


def test_several_outputs_give_the_gradient_of_output_0():
    params = mlp.init_params((3, 6, 5, 4), seed=1)
    x = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_allclose(input_gradient(params, x), complex_step_gradient(params, x), rtol=1e-10, atol=1e-13)


def test_float32_in_float32_out():
    params64 = mlp.init_params((2, 8, 8, 1), seed=2)
    params32 = [(W.astype(np.float32), b.astype(np.float32)) for W, b in params64]
    x = np.random.default_rng(1).uniform(-2, 2, size=(4, 2))
    dH_dx = input_gradient(params32, x.astype(np.float32))
    assert dH_dx.dtype == np.float32
    np.testing.assert_allclose(dH_dx, complex_step_gradient(params64, x), rtol=1e-4, atol=1e-5)
