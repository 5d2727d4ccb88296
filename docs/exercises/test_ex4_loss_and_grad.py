"""Exercise 4, the second-order backprop: every gradient against central differences of the loss.

The loss that the differences are taken of is computed here without any
backward sweep: dH/dx by the complex step, Im H(x + i h e_k) / h, which is
exact to round-off for the analytic tanh network.
"""

import numpy as np
import pytest
from hypothesis import given, settings

from ex4_loss_and_grad import loss_and_grad
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


def field(params, x, h=1e-30):
    """S = J dH/dx = (dH/dp, -dH/dq), with dH/dx by the complex step, Im H(x + i h e_k) / h."""
    eye = np.eye(x.shape[1])
    dH_dx = np.stack([np.imag(energy(params, x + 1j * h * eye[k])) / h for k in range(x.shape[1])], axis=1)
    n = x.shape[1] // 2
    return np.concatenate([dH_dx[:, n:], -dH_dx[:, :n]], axis=1)


def hnn_loss(params, x, dxdt):
    """mean((J dH/dx - dxdt)**2)."""
    return np.mean((field(params, x) - dxdt) ** 2)


def check_all_gradients(params, x, dxdt, **kwargs):
    check_grads(lambda p: hnn_loss(p, x, dxdt), lambda p: loss_and_grad(p, x, dxdt)[1], params, **kwargs)


@given(hnn_and_states(max_layers=3, with_targets=True))
@settings(max_examples=15)
def test_gradient_matches_central_differences_on_any_network(case):
    check_all_gradients(*case)


@pytest.mark.parametrize("sizes", [(2, 1), (2, 6, 1), (4, 5, 1), (2, 6, 5, 1), (2, 7, 6, 5, 1)])
def test_every_layer_matches_central_differences(sizes):
    rng = np.random.default_rng(len(sizes))
    params = [(2 * W, 2 * b) for W, b in mlp.init_params(sizes, seed=4)]  # into tanh's curved part
    x, dxdt = rng.uniform(-2, 2, size=(2, 5, sizes[0]))
    check_all_gradients(params, x, dxdt, n_directions=20)


@given(hnn_and_states(max_layers=3, with_targets=True))
@settings(max_examples=15)
def test_loss_is_the_mean_square_of_J_grad_H_minus_dxdt(case):
    params, x, dxdt = case
    loss, _ = loss_and_grad(params, x, dxdt)
    np.testing.assert_allclose(loss, hnn_loss(params, x, dxdt), rtol=1e-12, atol=1e-15)


def test_gradients_have_the_shapes_of_the_parameters_and_the_output_bias_gets_zero():
    params = mlp.init_params((4, 6, 5, 1), seed=7)
    x, dxdt = np.random.default_rng(3).normal(size=(2, 3, 4))
    _, grads = loss_and_grad(params, x, dxdt)
    assert len(grads) == len(params)
    for (W, b), (dL_dW, dL_db) in zip(params, grads):
        assert dL_dW.shape == W.shape and dL_db.shape == b.shape
    # b[L-1] shifts H by a constant, which no derivative of H sees
    np.testing.assert_array_equal(grads[-1][1], 0.0)


def test_a_perfect_fit_has_zero_loss_and_zero_gradient():
    params = mlp.init_params((2, 5, 1), seed=8)
    x = np.random.default_rng(4).normal(size=(6, 2))
    loss, grads = loss_and_grad(params, x, field(params, x))
    assert loss < 1e-28
    for dL_dW, dL_db in grads:
        np.testing.assert_allclose(dL_dW, 0.0, atol=1e-14)
        np.testing.assert_allclose(dL_db, 0.0, atol=1e-14)
