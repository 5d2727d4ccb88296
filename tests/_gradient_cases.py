"""The finite-difference gradient checks shared by the HNN, the baseline and the D-HNN.

Each network's test module writes its loss from the definition (from
``mlp.forward`` or ``mlp.input_gradient`` alone, nothing that knows about
adjoints) and writes out its tests, each one call of a check here::

    @pytest.mark.parametrize("sizes", SMALL_SIZES, ids=str)
    def test_loss_and_grad_every_entry_matches_finite_differences(sizes):
        check_every_entry(hnn.loss_and_grad, hnn_loss, sizes)

The checks: every entry of every tensor of small nets, with and without row
weights; one random direction per tensor under Hypothesis; the paper-sized
network along a random direction and at its largest entry; float32 against
float64; repeated calls bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from hnn_np import mlp
from hnn_np.testing.strategies import (
    assert_fd_agrees, one_blas_thread, param_direction_fd, rel_err, tensor_names,
    unit_direction,
)

RTOL = 1e-6  # finite differences against backprop, float64


def random_batch(n_in, n_rows=8, seed=0):
    """States x and (unrelated) target derivatives dxdt, both standard normal."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_rows, n_in)), rng.standard_normal((n_rows, n_in))


def assert_grads_match_entrywise_fd(params, grads, loss, eps=1e-3, rtol=RTOL):
    """Every entry of every tensor against a 4-point central difference of ``loss``.

    The error of an entry is measured relative to the largest gradient entry of
    its tensor, so entries that are almost zero do not turn round-off into a
    large relative error. A tensor whose gradient and finite difference are
    both exactly zero (an output bias that does not reach the loss) agrees.
    """
    for l, k, name in tensor_names(params):
        grad = grads[l][k]
        assert grad.shape == params[l][k].shape, name
        fd = np.empty_like(grad)
        for idx in np.ndindex(grad.shape):
            E = np.zeros_like(grad)
            E[idx] = 1.0
            fd[idx] = param_direction_fd(loss, params, l, k, E, eps)
        scale = max(np.abs(grad).max(), np.abs(fd).max())
        if scale == 0:
            continue
        err = np.abs(grad - fd).max() / scale
        assert err <= rtol, f"{name}: relative error {err:.2e}"


def check_every_entry(loss_and_grad, reference_loss, sizes, weighted=False):
    """Each dL/dW[l] and dL/db[l] entry equals a central difference of the loss (rel. err <= 1e-6).

    With ``weighted``, row weights w (one of them 0): loss = sum_ij w_i r_ij**2 / (N 2n).
    """
    params = mlp.init_params(sizes, seed=2 if weighted else 1)
    x, dxdt = random_batch(sizes[0], seed=1 if weighted else 0)
    weights = None
    if weighted:
        weights = np.random.default_rng(2).uniform(0, 3, len(x))
        weights[3] = 0.0  # a dropped row
    loss, grads = loss_and_grad(params, x, dxdt, weights=weights)
    assert isinstance(loss, float)
    assert loss == pytest.approx(reference_loss(params, x, dxdt, weights), rel=1e-13)
    assert_grads_match_entrywise_fd(params, grads, lambda p: reference_loss(p, x, dxdt, weights))


def check_random_direction(loss_and_grad, reference_loss, problem, seed, weighted):
    """<dL/dT, V> = d/ds L(T + s V) for a random unit V, one number per tensor T."""
    _, params, x, dxdt = problem
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0, 2, len(x)) if weighted else None
    loss_value, grads = loss_and_grad(params, x, dxdt, weights=weights)
    loss = lambda p: reference_loss(p, x, dxdt, weights)  # noqa: E731
    for l, k, name in tensor_names(params):
        V = unit_direction(rng, grads[l][k].shape)
        fd = param_direction_fd(loss, params, l, k, V)
        # A random V can be nearly orthogonal to the gradient; the floor keeps
        # the relative error meaningful then (1e-3 of the largest possible value).
        floor = 1e-3 * np.linalg.norm(grads[l][k])
        assert_fd_agrees(np.sum(grads[l][k] * V), fd, loss_value, RTOL, floor, name)


def check_paper_network(loss_and_grad, reference_loss, paper_sizes, output_bias_reaches_loss):
    """The paper-sized network: one random direction per tensor plus its largest entry.

    Checking 650k entries one by one is too slow, but a wrong line of the
    backprop changes almost every entry of some tensor, so a random
    direction sees it; the largest entry of each tensor is checked on its own too.
    ``output_bias_reaches_loss`` is False for the HNN and the D-HNN (their
    outputs are potentials whose constants do not change the field): the
    output bias must then get an exactly zero gradient.
    """
    with one_blas_thread():
        params = mlp.init_params(paper_sizes, seed=1)
        x, dxdt = random_batch(paper_sizes[0], n_rows=16, seed=3)
        loss_value, grads = loss_and_grad(params, x, dxdt)
        loss = lambda p: reference_loss(p, x, dxdt)  # noqa: E731
        assert loss_value == pytest.approx(loss(params), rel=1e-13)
        rng = np.random.default_rng(4)
        n_layers = len(params)
        for l, k, name in tensor_names(params):
            grad = grads[l][k]
            if (l, k) == (n_layers - 1, 1) and not output_bias_reaches_loss:
                assert not grad.any(), "the output bias does not reach the loss"
                continue
            V = unit_direction(rng, grad.shape)
            fd = param_direction_fd(loss, params, l, k, V)
            assert rel_err(np.sum(grad * V), fd) <= RTOL, f"{name} along a random direction"
            E = np.zeros_like(grad)
            idx = np.unravel_index(np.argmax(np.abs(grad)), grad.shape)
            E[idx] = 1.0
            fd = param_direction_fd(loss, params, l, k, E)
            assert rel_err(grad[idx], fd) <= RTOL, f"{name}{list(idx)}"


def check_float32(loss_and_grad, field, seed, sizes):
    """float32 in gives float32 predictions and gradients close to the float64 ones."""
    p64 = mlp.init_params(sizes, seed=seed)
    p32 = mlp.init_params(sizes, seed=seed, dtype=np.float32)
    x, dxdt = random_batch(sizes[0], seed=seed % 1000)
    loss64, g64 = loss_and_grad(p64, x, dxdt)
    loss32, g32 = loss_and_grad(p32, x.astype(np.float32), dxdt.astype(np.float32))
    assert loss32 == pytest.approx(loss64, rel=1e-4)
    assert field(p32, x.astype(np.float32)).dtype == np.float32
    for l, k, name in tensor_names(p64):
        assert g32[l][k].dtype == np.float32, name
        scale = np.abs(g64[l][k]).max() + 1e-12
        assert np.abs(g32[l][k] - g64[l][k]).max() <= 1e-3 * scale, name


def check_repeated_calls_bit_identical(loss_and_grad, n_in, n_out):
    """The same inputs give the same loss and gradient bits every time (no hidden state)."""
    params = mlp.init_params((n_in, 64, 64, n_out), seed=0)
    x, dxdt = random_batch(n_in, n_rows=50)
    loss_a, grads_a = loss_and_grad(params, x, dxdt)
    loss_b, grads_b = loss_and_grad(params, x, dxdt)
    assert loss_a == loss_b
    for (a, b), (c, d) in zip(grads_a, grads_b):
        assert a.tobytes() == c.tobytes() and b.tobytes() == d.tobytes()
