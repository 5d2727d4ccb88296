"""hnn_np.baseline: an MLP that predicts dx/dt directly, trained by ordinary backprop.

The finite-difference tests are those of the HNN (the factory in
``_gradient_cases``), with the loss written here from ``mlp.forward`` alone.
"""

import numpy as np
import pytest
from hypothesis import given

from hnn_np import baseline, mlp
from hnn_np.testing.strategies import baseline_sizes, problems

from _gradient_cases import gradient_tests, random_batch

SMALL_SIZES = [(2, 2), (2, 8, 2), (2, 16, 16, 2), (4, 10, 10, 10, 4)]
PAPER_SIZES = (2, 400, 400, 400, 400, 400, 2)  # the paper's hidden layers, 2 outputs


def baseline_loss(params, x, dxdt, weights=None):
    """mean over N * 2n entries of w (forward(x) - dxdt)**2, from the definition."""
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    return float(np.mean(w[:, None] * (mlp.forward(params, x) - dxdt) ** 2))


globals().update(gradient_tests(
    baseline.loss_and_grad, baseline_loss, baseline.predict, small_sizes=SMALL_SIZES,
    paper_sizes=PAPER_SIZES, sizes_strategy=baseline_sizes(), float32_sizes=[(2, 16, 16, 2)],
    output_bias_reaches_loss=True,
))


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
