"""hnn_np.baseline: an MLP that predicts dx/dt directly, trained by ordinary backprop.

The finite-difference tests are those of the HNN (the checks in
``_gradient_cases``), with the loss written here from ``mlp.forward`` alone.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hnn_np import baseline, mlp
from hnn_np.testing.strategies import baseline_sizes, problems, seeds

from _gradient_cases import (
    check_every_entry, check_float32, check_paper_network, check_random_direction,
    check_repeated_calls_bit_identical, random_batch,
)

SMALL_SIZES = [(2, 2), (2, 8, 2), (2, 16, 16, 2), (4, 10, 10, 10, 4)]
PAPER_SIZES = (2, 400, 400, 400, 400, 400, 2)  # the paper's hidden layers, 2 outputs


def baseline_loss(params, x, dxdt, weights=None):
    """mean over N * 2n entries of w (forward(x) - dxdt)**2, from the definition."""
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    return float(np.mean(w[:, None] * (mlp.forward(params, x) - dxdt) ** 2))


@pytest.mark.parametrize("sizes", SMALL_SIZES, ids=str)
def test_loss_and_grad_every_entry_matches_finite_differences(sizes):
    """Each dL/dW[l] and dL/db[l] entry equals a central difference of the loss (rel. err <= 1e-6)."""
    check_every_entry(baseline.loss_and_grad, baseline_loss, sizes)


@pytest.mark.parametrize("sizes", SMALL_SIZES, ids=str)
def test_weighted_loss_and_grad_match_finite_differences(sizes):
    """With row weights w (one of them 0), loss = sum_ij w_i r_ij**2 / (N 2n), checked entry by entry."""
    check_every_entry(baseline.loss_and_grad, baseline_loss, sizes, weighted=True)


@given(problems(baseline_sizes()), seeds, st.booleans())
def test_random_direction_derivative_matches_finite_differences(problem, seed, weighted):
    """For any small net, <dL/dT, V> = d/ds L(T + s V) for a random unit V, one number per tensor T."""
    check_random_direction(baseline.loss_and_grad, baseline_loss, problem, seed, weighted)


def test_paper_network_gradient_matches_finite_differences():
    """The paper-sized network: one random direction per tensor plus its largest entry."""
    check_paper_network(baseline.loss_and_grad, baseline_loss, PAPER_SIZES, output_bias_reaches_loss=True)


@given(seeds, st.sampled_from([(2, 16, 16, 2)]))
def test_float32_loss_and_grad(seed, sizes):
    """float32 in gives float32 predictions and gradients close to the float64 ones."""
    check_float32(baseline.loss_and_grad, baseline.predict, seed, sizes)


def test_repeated_calls_are_bit_identical():
    """The same inputs give the same loss and gradient bits every time (no hidden state)."""
    check_repeated_calls_bit_identical(baseline.loss_and_grad, 2, 2)


def test_predict_is_the_forward_pass():
    """predict(x) is the network output itself: no physics in between."""
    params = mlp.init_params((2, 8, 2), seed=0)
    x, _ = random_batch(2)
    np.testing.assert_array_equal(baseline.predict(params, x), mlp.forward(params, x))


@given(problems(baseline_sizes()))
def test_loss_value_is_mean_squared_error(problem):
    """The loss is mean((out - dxdt)**2) over all N * 2n entries."""
    _, params, x, dxdt = problem
    loss, _ = baseline.loss_and_grad(params, x, dxdt)
    assert loss == pytest.approx(baseline_loss(params, x, dxdt), rel=1e-13, abs=1e-300)


def test_output_bias_gradient_is_the_mean_residual():
    """dL/db[L-1] = 2 sum_rows(r) / (N 2n): unlike the HNN, the baseline's output bias matters."""
    params = mlp.init_params((2, 8, 2), seed=0)
    x, dxdt = random_batch(2)
    _, grads = baseline.loss_and_grad(params, x, dxdt)
    r = mlp.forward(params, x) - dxdt
    np.testing.assert_allclose(grads[-1][1], 2 * r.sum(axis=0) / r.size, rtol=1e-13)


# --- input checks -------------------------------------------------


@pytest.mark.parametrize("sizes", [(2, 8, 1), (2, 8, 4), (4, 3)], ids=str)
def test_output_size_must_equal_input_size(sizes):
    """A baseline maps a state (2n,) to its derivative (2n,); other output sizes are refused."""
    params = mlp.init_params(sizes, seed=0)
    x = np.zeros((3, sizes[0]))
    with pytest.raises(ValueError, match="output size must equal input size"):
        baseline.predict(params, x)
    with pytest.raises(ValueError, match="output size must equal input size"):
        baseline.loss_and_grad(params, x, x)


@pytest.mark.parametrize("bad, match", [
    (dict(dxdt=np.zeros((5, 2))), "dxdt has 5 rows but x has 4"),
    (dict(dxdt=np.zeros(8)), r"dxdt must have shape \(N, 2\)"),
    (dict(dxdt=np.array([[0, 0], [np.inf, 0], [0, 0], [0, 0]])), "dxdt has non-finite values in row 1"),
    (dict(dxdt=np.zeros((4, 2), np.float32)), "dxdt has dtype float32"),
    (dict(weights=np.ones((4, 1))), r"weights must have shape \(4,\)"),
    (dict(weights=np.array([1, 1, 1, -0.5])), "weights must be finite and >= 0; row 3"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_loss_and_grad_rejects_bad_targets_and_weights(bad, match):
    """dxdt and weights are checked against x, with the argument named in the message."""
    params = mlp.init_params((2, 4, 2), seed=0)
    args = dict(x=np.zeros((4, 2)), dxdt=np.zeros((4, 2)), weights=None) | bad
    with pytest.raises(ValueError, match=match):
        baseline.loss_and_grad(params, **args)
