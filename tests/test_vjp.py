"""hnn_np.vjp: the field's vector-Jacobian products, against the derivative losses and the input Hessian.

With S_bar = 2 r / M (the adjoint of the mean squared error), the parameter
part of :func:`field_vjp` is the gradient of the derivative loss, which
:func:`hnn_np.hnn.loss_and_grad` (and the D-HNN's and the baseline's)
compute, each tested against finite differences in its own module. The
state part S_bar^T dS/dx is held to the input Hessian of :mod:`hnn_np.mlp`
(itself tested against finite differences) and, for the baseline, to
central differences of the field.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hnn_np import baseline, dhnn, hnn, mlp, vjp
from hnn_np.symplectic import apply_J_T
from hnn_np.testing.gradients import check_grads
from hnn_np.testing.strategies import hidden_sizes, params_for, seeds

CORES = {"hnn": hnn, "dhnn": dhnn, "baseline": baseline}


@st.composite
def kind_params_states(draw, kinds=("hnn", "dhnn", "baseline")):
    """(kind, params, x, S_bar): a small network of ``kind`` (at least one hidden layer), states and an adjoint."""
    kind = draw(st.sampled_from(kinds))
    n = draw(st.sampled_from([1, 2]))
    out = {"hnn": 1, "dhnn": 2, "baseline": 2 * n}[kind]
    sizes = (2 * n, *draw(hidden_sizes(1, 3, 9)), out)
    params = draw(params_for(sizes))
    rng = np.random.default_rng(draw(seeds))
    N = draw(st.integers(1, 4))
    return kind, params, rng.uniform(-2, 2, (N, 2 * n)), rng.standard_normal((N, 2 * n))


@given(kind_params_states())
def test_parameter_part_with_the_mse_adjoint_is_the_derivative_loss_gradient(case):
    """theta_bar at S_bar = 2 (S - y) / M equals core.loss_and_grad's gradient, to rounding."""
    kind, params, x, y = case
    S, cache = vjp.field(kind, params, x)
    _, expected = CORES[kind].loss_and_grad(params, x, y)
    _, grads = vjp.field_vjp(kind, params, cache, 2 * (S - y) / S.size)
    for l, ((dW, db), (eW, eb)) in enumerate(zip(grads, expected)):
        scale = max(np.abs(eW).max(), np.abs(eb).max(), 1e-300)
        assert np.abs(dW - eW).max() <= 1e-12 * scale, f"W[{l}]"
        assert np.abs(db - eb).max() <= 1e-12 * scale, f"b[{l}]"


@given(kind_params_states(kinds=("hnn", "dhnn")))
def test_state_part_is_the_hessian_vector_product(case):
    """x_bar = d2H/dx2 J^T S_bar (+ d2D/dx2 S_bar for a D-HNN), from mlp.input_hessian of each output."""
    kind, params, x, S_bar = case
    _, cache = vjp.field(kind, params, x)
    x_bar, _ = vjp.field_vjp(kind, params, cache, S_bar)
    seeds_bar = [apply_J_T(S_bar), S_bar]
    expected = np.zeros_like(x)
    for k in range(params[-1][0].shape[1]):  # the Hessian of output k alone
        one_output = params[:-1] + [(params[-1][0][:, k:k + 1], params[-1][1][k:k + 1])]
        expected += np.einsum("nij,nj->ni", mlp.input_hessian(one_output, x), seeds_bar[k])
    np.testing.assert_allclose(x_bar, expected, rtol=1e-10, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize("kind", ["hnn", "dhnn", "baseline"])
def test_state_part_matches_central_differences_of_the_field(kind):
    """<x_bar, v> = d/ds <S_bar, S(x + s v)> for random v, row by row."""
    out = {"hnn": 1, "dhnn": 2, "baseline": 2}[kind]
    params = mlp.init_params((2, 7, 5, out), seed=3)
    rng = np.random.default_rng(4)
    x, S_bar, v = rng.standard_normal((3, 5, 2))
    _, cache = vjp.field(kind, params, x)
    x_bar, _ = vjp.field_vjp(kind, params, cache, S_bar)
    e = 1e-4

    def f(s):
        return np.sum(S_bar * vjp.field(kind, params, x + s * v)[0], axis=1)

    fd = (8 * (f(e) - f(-e)) - (f(2 * e) - f(-2 * e))) / (12 * e)
    np.testing.assert_allclose(np.sum(x_bar * v, axis=1), fd, rtol=1e-8, atol=1e-10)


def test_a_linear_potential_has_a_constant_gradient_and_no_state_part():
    """No hidden layer: dH/dx = W[0][:, 0] whatever x, so x_bar = 0; theta_bar is still the loss gradient."""
    params = mlp.init_params((2, 1), seed=0)
    x, y = np.random.default_rng(0).standard_normal((2, 4, 2))
    S, cache = vjp.field("hnn", params, x)
    x_bar, grads = vjp.field_vjp("hnn", params, cache, 2 * (S - y) / S.size)
    assert np.all(x_bar == 0)
    np.testing.assert_allclose(grads[0][0], hnn.loss_and_grad(params, x, y)[1][0][0], rtol=1e-13)


def test_separable_field_and_its_vjp_are_those_of_its_two_potentials():
    """S = (dT/dp, -dV/dq); theta_bar = (V's, T's), each the gradient of the pairing through one potential."""
    params_V, params_T = mlp.init_params((1, 6, 1), seed=1), mlp.init_params((1, 5, 4, 1), seed=2)
    rng = np.random.default_rng(5)
    x, S_bar = rng.standard_normal((2, 6, 2))
    S, cache = vjp.field("separable", (params_V, params_T), x)
    np.testing.assert_allclose(S[:, 0], mlp.input_gradient(params_T, x[:, 1:])[:, 0], rtol=1e-14)
    np.testing.assert_allclose(S[:, 1], -mlp.input_gradient(params_V, x[:, :1])[:, 0], rtol=1e-14)
    x_bar, (grads_V, grads_T) = vjp.field_vjp("separable", (params_V, params_T), cache, S_bar)
    np.testing.assert_allclose(x_bar[:, 0], -mlp.input_hessian(params_V, x[:, :1])[:, 0, 0] * S_bar[:, 1],
                               rtol=1e-10)
    np.testing.assert_allclose(x_bar[:, 1], mlp.input_hessian(params_T, x[:, 1:])[:, 0, 0] * S_bar[:, 0],
                               rtol=1e-10)
    # theta_bar: the gradients of the pairings <S_bar_q, dT/dp(p)> and <S_bar_p, -dV/dq(q)>
    check_grads(lambda p: np.sum(S_bar[:, :1] * mlp.input_gradient(p, x[:, 1:])), lambda p: grads_T, params_T)
    check_grads(lambda p: -np.sum(S_bar[:, 1:] * mlp.input_gradient(p, x[:, :1])), lambda p: grads_V, params_V)
