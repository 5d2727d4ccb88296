"""hnn_np.baseline: an MLP that predicts dx/dt directly, trained by ordinary backprop.

The same finite-difference references as for the HNN, with the loss written
here from ``mlp.forward`` alone.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hnn_np import baseline, mlp
from hnn_np.testing.strategies import (
    assert_fd_agrees, baseline_sizes, one_blas_thread, param_direction_fd, problems, rel_err,
    seeds, tensor_names, unit_direction,
)

RTOL = 1e-6
SMALL_SIZES = [(2, 2), (2, 8, 2), (2, 16, 16, 2), (4, 10, 10, 10, 4)]
PAPER_SIZES = (2, 400, 400, 400, 400, 400, 2)  # the paper's hidden layers, 2 outputs


def baseline_loss(params, x, dxdt, weights=None):
    """mean over N * 2n entries of w (forward(x) - dxdt)**2, from the definition."""
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    return float(np.mean(w[:, None] * (mlp.forward(params, x) - dxdt) ** 2))


def random_batch(n_in, n_rows=8, seed=0):
    """States x and target derivatives dxdt, both standard normal."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_rows, n_in)), rng.standard_normal((n_rows, n_in))


def assert_grads_match_entrywise_fd(params, grads, loss, eps=1e-3):
    """Every entry against a 4-point central difference; error relative to the tensor's largest entry."""
    for l, k, name in tensor_names(params):
        grad = grads[l][k]
        assert grad.shape == params[l][k].shape, name
        fd = np.empty_like(grad)
        for idx in np.ndindex(grad.shape):
            E = np.zeros_like(grad)
            E[idx] = 1.0
            fd[idx] = param_direction_fd(loss, params, l, k, E, eps)
        err = np.abs(grad - fd).max() / max(np.abs(grad).max(), np.abs(fd).max(), 1e-12)
        assert err <= RTOL, f"{name}: relative error {err:.2e}"


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


@pytest.mark.parametrize("sizes", SMALL_SIZES, ids=str)
def test_loss_and_grad_every_entry_matches_finite_differences(sizes):
    """Each dL/dW[l] and dL/db[l] entry equals a central difference of the loss (rel. err <= 1e-6)."""
    params = mlp.init_params(sizes, seed=1)
    x, dxdt = random_batch(sizes[0])
    _, grads = baseline.loss_and_grad(params, x, dxdt)
    assert_grads_match_entrywise_fd(params, grads, lambda p: baseline_loss(p, x, dxdt))


@pytest.mark.parametrize("sizes", SMALL_SIZES, ids=str)
def test_weighted_loss_and_grad_match_finite_differences(sizes):
    """With per-row weights (one of them 0) the gradient is again checked entry by entry."""
    params = mlp.init_params(sizes, seed=2)
    x, dxdt = random_batch(sizes[0], seed=1)
    weights = np.random.default_rng(2).uniform(0, 3, len(x))
    weights[0] = 0.0
    loss, grads = baseline.loss_and_grad(params, x, dxdt, weights=weights)
    assert loss == pytest.approx(baseline_loss(params, x, dxdt, weights), rel=1e-13)
    assert_grads_match_entrywise_fd(params, grads, lambda p: baseline_loss(p, x, dxdt, weights))


@given(problems(baseline_sizes()), seeds, st.booleans())
def test_random_direction_derivative_matches_finite_differences(problem, seed, weighted):
    """For any small net, <dL/dT, V> = d/ds L(T + s V) for a random unit V, one number per tensor T."""
    _, params, x, dxdt = problem
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0, 2, len(x)) if weighted else None
    loss_value, grads = baseline.loss_and_grad(params, x, dxdt, weights=weights)
    loss = lambda p: baseline_loss(p, x, dxdt, weights)  # noqa: E731
    for l, k, name in tensor_names(params):
        V = unit_direction(rng, grads[l][k].shape)
        fd = param_direction_fd(loss, params, l, k, V)
        floor = 1e-3 * np.linalg.norm(grads[l][k])  # V nearly orthogonal to the gradient
        assert_fd_agrees(np.sum(grads[l][k] * V), fd, loss_value, RTOL, floor, name)


@pytest.fixture
def single_threaded_blas():
    """Small products of a big network: one BLAS thread is fastest on a shared machine."""
    with one_blas_thread():
        yield


def test_paper_network_gradient_matches_finite_differences(single_threaded_blas):
    """The (2, 400 x 5, 2) network: a random direction per tensor plus its largest entry."""
    params = mlp.init_params(PAPER_SIZES, seed=1)
    x, dxdt = random_batch(2, n_rows=16, seed=3)
    loss_value, grads = baseline.loss_and_grad(params, x, dxdt)
    loss = lambda p: baseline_loss(p, x, dxdt)  # noqa: E731
    assert loss_value == pytest.approx(loss(params), rel=1e-13)
    rng = np.random.default_rng(4)
    for l, k, name in tensor_names(params):
        grad = grads[l][k]
        V = unit_direction(rng, grad.shape)
        fd = param_direction_fd(loss, params, l, k, V)
        assert rel_err(np.sum(grad * V), fd) <= RTOL, f"{name} along a random direction"
        E = np.zeros_like(grad)
        idx = np.unravel_index(np.argmax(np.abs(grad)), grad.shape)
        E[idx] = 1.0
        assert rel_err(grad[idx], param_direction_fd(loss, params, l, k, E)) <= RTOL, f"{name}{list(idx)}"


def test_output_bias_gradient_is_the_mean_residual():
    """dL/db[L-1] = 2 sum_rows(r) / (N 2n): unlike the HNN, the baseline's output bias matters."""
    params = mlp.init_params((2, 8, 2), seed=0)
    x, dxdt = random_batch(2)
    _, grads = baseline.loss_and_grad(params, x, dxdt)
    r = mlp.forward(params, x) - dxdt
    np.testing.assert_allclose(grads[-1][1], 2 * r.sum(axis=0) / r.size, rtol=1e-13)


# --- float32, reproducibility, input checks -------------------------------------------------

@given(seeds)
def test_float32_loss_and_grad(seed):
    """float32 in gives float32 predictions and gradients, close to the float64 ones."""
    sizes = (2, 16, 16, 2)
    p64 = mlp.init_params(sizes, seed=seed)
    p32 = mlp.init_params(sizes, seed=seed, dtype=np.float32)
    x, dxdt = random_batch(2, seed=seed % 1000)
    loss64, g64 = baseline.loss_and_grad(p64, x, dxdt)
    loss32, g32 = baseline.loss_and_grad(p32, x.astype(np.float32), dxdt.astype(np.float32))
    assert loss32 == pytest.approx(loss64, rel=1e-4)
    assert baseline.predict(p32, x.astype(np.float32)).dtype == np.float32
    for l, k, name in tensor_names(p64):
        assert g32[l][k].dtype == np.float32, name
        assert np.abs(g32[l][k] - g64[l][k]).max() <= 1e-3 * (np.abs(g64[l][k]).max() + 1e-12), name


def test_repeated_calls_are_bit_identical():
    """The same inputs give the same loss and gradient bits every time."""
    params = mlp.init_params((2, 64, 64, 2), seed=0)
    x, dxdt = random_batch(2, n_rows=50)
    loss_a, grads_a = baseline.loss_and_grad(params, x, dxdt)
    loss_b, grads_b = baseline.loss_and_grad(params, x, dxdt)
    assert loss_a == loss_b
    for (a, b), (c, d) in zip(grads_a, grads_b):
        assert a.tobytes() == c.tobytes() and b.tobytes() == d.tobytes()


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
