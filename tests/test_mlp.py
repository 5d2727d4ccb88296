"""hnn_np.mlp: initialization, the forward pass, the input gradient and the input Hessian.

Each quantity is checked against something that does not share its code: the
forward pass against a plain Python loop over units, the input gradient
against central differences of the forward pass, and the Hessian against
central differences of the input gradient.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hnn_np import mlp
from hnn_np.testing.strategies import hidden_sizes, params_for, seeds, states

SIZES = [(2, 1), (2, 8, 1), (2, 16, 16, 1), (4, 10, 10, 10, 1), (3, 5, 2)]


@st.composite
def net_and_x(draw, n_out=st.integers(1, 3), max_rows=4):
    """(params, x) for a tanh MLP of random depth and width, in float64."""
    sizes = (draw(st.integers(1, 4)), *draw(hidden_sizes()), draw(n_out))
    params = draw(params_for(sizes))
    x = draw(states(st.integers(1, max_rows), sizes[0]))
    return params, x


# --- init_params --------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes", SIZES)
def test_init_params_shapes_dtype_layout(sizes, dtype):
    """Layer l holds W (n_l, n_{l+1}) and b (n_{l+1},), C-contiguous, in the requested dtype."""
    params = mlp.init_params(sizes, seed=1, dtype=dtype)
    assert len(params) == len(sizes) - 1
    for (W, b), n_in, n_out in zip(params, sizes[:-1], sizes[1:]):
        assert W.shape == (n_in, n_out) and b.shape == (n_out,)
        assert W.dtype == dtype and b.dtype == dtype
        assert W.flags.c_contiguous and b.flags.c_contiguous
    assert mlp.n_params(params) == sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_init_params_within_fan_in_bounds(dtype):
    """Every entry lies in [-1/sqrt(fan_in), 1/sqrt(fan_in)] and fills that range (not all tiny)."""
    params = mlp.init_params((3, 400, 50, 1), seed=0, dtype=dtype)
    for W, b in params:
        bound = dtype(1 / math.sqrt(W.shape[0]))  # the bound as the dtype rounds it
        for arr in (W, b):
            assert np.abs(arr).max() <= bound
        assert np.abs(W).max() > 0.9 * bound  # a uniform draw reaches near its edge
        assert abs(W.mean()) < 0.1 * bound  # and is centred


def test_init_params_same_seed_is_bit_identical():
    """The same seed gives the same numbers, bit for bit: runs are reproducible."""
    a = mlp.init_params((2, 16, 16, 1), seed=42)
    b = mlp.init_params((2, 16, 16, 1), seed=42)
    for (Wa, ba), (Wb, bb) in zip(a, b):
        assert Wa.tobytes() == Wb.tobytes() and ba.tobytes() == bb.tobytes()


def test_init_params_different_seed_differs():
    """Different seeds give different weights in every tensor."""
    a = mlp.init_params((2, 16, 16, 1), seed=0)
    b = mlp.init_params((2, 16, 16, 1), seed=1)
    for (Wa, ba), (Wb, bb) in zip(a, b):
        assert not np.array_equal(Wa, Wb) and not np.array_equal(ba, bb)


def test_init_params_float32_is_the_float64_draw_rounded():
    """float32 parameters are the float64 ones rounded, so a seed means the same network in both."""
    p64 = mlp.init_params((2, 8, 8, 1), seed=5, dtype=np.float64)
    p32 = mlp.init_params((2, 8, 8, 1), seed=5, dtype=np.float32)
    for (W64, b64), (W32, b32) in zip(p64, p32):
        np.testing.assert_array_equal(W32, W64.astype(np.float32))
        np.testing.assert_array_equal(b32, b64.astype(np.float32))


@pytest.mark.parametrize("sizes, match", [
    ((2,), "sizes"),
    ((), "sizes"),
    ((2, 0, 1), "sizes"),
    ((2, -3, 1), "sizes"),
    (("two", 1), "sizes"),
    (None, "sizes"),
    ((2, 2.5, 1), "sizes"),  # a fractional width is not a width; it must not be truncated to 2
], ids=["one size", "empty", "zero width", "negative width", "not a number", "None",
        "fractional width"])
def test_init_params_rejects_bad_sizes(sizes, match):
    """Sizes must be at least two positive integers; anything else is a ValueError naming sizes."""
    with pytest.raises(ValueError, match=match):
        mlp.init_params(sizes)


@pytest.mark.parametrize("dtype", [np.float16, np.int64, np.complex128])
def test_init_params_rejects_other_dtypes(dtype):
    """Only float32 and float64 networks exist; the message names dtype."""
    with pytest.raises(ValueError, match="dtype"):
        mlp.init_params((2, 3, 1), dtype=dtype)


# --- forward --------------------------------------------------------------------

def forward_by_loops(params, x):
    """The network written as scalar loops: z_j = sum_i a_i W_ij + b_j; a_j = tanh(z_j) but last."""
    out = []
    for row in x:
        a = [float(v) for v in row]
        for l, (W, b) in enumerate(params):
            z = [sum(a[i] * float(W[i, j]) for i in range(len(a))) + float(b[j])
                 for j in range(W.shape[1])]
            a = z if l == len(params) - 1 else [math.tanh(v) for v in z]
        out.append(a)
    return np.array(out)


@given(net_and_x())
def test_forward_equals_plain_loops(net):
    """forward() computes a[l+1] = tanh(a[l] W[l] + b[l]) with a linear last layer."""
    params, x = net
    out = mlp.forward(params, x)
    assert out.shape == (x.shape[0], params[-1][0].shape[1])
    np.testing.assert_allclose(out, forward_by_loops(params, x), rtol=1e-12, atol=1e-12)


def test_forward_of_a_one_layer_net_is_affine():
    """With a single layer there is no tanh at all: out = x W + b."""
    (W, b), = params = mlp.init_params((3, 2), seed=0)
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(mlp.forward(params, x), x @ W + b, rtol=1e-15)


def test_forward_cache_keeps_every_activation():
    """The cache holds a[0] = x and each hidden a[l]; its out is forward()."""
    params = mlp.init_params((2, 4, 3, 1), seed=0)
    x = np.array([[0.5, -1.0]])
    cache = mlp.forward_cache(params, x)
    assert len(cache.a) == 3 and cache.a[0] is x
    np.testing.assert_allclose(cache.a[1], np.tanh(x @ params[0][0] + params[0][1]), rtol=1e-14)
    np.testing.assert_allclose(cache.out, mlp.forward(params, x), rtol=0)


# --- input gradient ---------------------------------------------------------------

def roundoff(f_values, h):
    """What central differences cannot resolve: a few ulps of |f|, divided by 2h."""
    return 100 * np.finfo(np.float64).eps * np.abs(f_values).max() / h


def fd_input_gradient(params, x, h=1e-5):
    """dH/dx by central differences of forward(...)[:, 0], one input column at a time; and its round-off."""
    grad = np.empty_like(x)
    for k in range(x.shape[1]):
        e = np.zeros_like(x)
        e[:, k] = h
        grad[:, k] = (mlp.forward(params, x + e)[:, 0] - mlp.forward(params, x - e)[:, 0]) / (2 * h)
    return grad, roundoff(mlp.forward(params, x)[:, 0], h)


def assert_rel_close(actual, expected, rtol=1e-6, atol=0.0):
    """|actual - expected| <= rtol * (largest entry of the row) + atol."""
    scale = np.abs(expected).max(axis=tuple(range(1, expected.ndim)), keepdims=True)
    err = np.abs(actual - expected) - rtol * scale
    assert err.max() <= atol, f"error exceeds rtol * scale by {err.max():.2e} (atol {atol:.1e})"


@given(net_and_x())
def test_input_gradient_matches_finite_differences(net):
    """The backward sweep g[l] = (g[l+1] * s1[l]) W[l].T is dH/dx, checked by central differences."""
    params, x = net
    dH_dx = mlp.input_gradient(params, x)
    assert dH_dx.shape == x.shape
    fd, atol = fd_input_gradient(params, x)
    assert_rel_close(dH_dx, fd, atol=atol)


def test_input_gradient_of_a_linear_net_is_its_weight_column():
    """For H = x W + b the gradient is W[:, 0] in every row, whatever x."""
    params = mlp.init_params((4, 3), seed=2)
    x = np.random.default_rng(0).standard_normal((5, 4))
    np.testing.assert_array_equal(mlp.input_gradient(params, x),
                                  np.repeat(params[0][0][None, :, 0], 5, axis=0))


# --- input Hessian ------------------------------------------------------------------

def fd_input_hessian(params, x, h=1e-5):
    """d2H/dx2 by central differences of input_gradient (column k from e_k); and its round-off."""
    N, n0 = x.shape
    hess = np.empty((N, n0, n0))
    for k in range(n0):
        e = np.zeros_like(x)
        e[:, k] = h
        hess[:, :, k] = (mlp.input_gradient(params, x + e) - mlp.input_gradient(params, x - e)) / (2 * h)
    return hess, roundoff(mlp.input_gradient(params, x), h)


@given(net_and_x())
def test_input_hessian_matches_finite_differences(net):
    """The forward-mode sweep of input_hessian is the derivative of input_gradient (tanh'' included)."""
    params, x = net
    hess = mlp.input_hessian(params, x)
    assert hess.shape == (x.shape[0], x.shape[1], x.shape[1])
    fd, atol = fd_input_hessian(params, x)
    assert_rel_close(hess, fd, atol=atol)


@given(net_and_x())
def test_input_hessian_is_symmetric(net):
    """d2H/dx_i dx_k = d2H/dx_k dx_i (Schwarz), up to round-off."""
    params, x = net
    hess = mlp.input_hessian(params, x)
    scale = np.abs(hess).max() + 1e-300
    assert np.abs(hess - hess.transpose(0, 2, 1)).max() <= 1e-13 * scale


@given(net_and_x())
def test_input_hessian_loops_equals_the_vectorised_input_hessian(net):
    """The plain loops (one row, one direction e_k at a time) and the batched sweep give the same Hessian."""
    params, x = net
    loops = mlp.input_hessian_loops(params, x)
    assert loops.shape == (x.shape[0], x.shape[1], x.shape[1]) and loops.dtype == x.dtype
    scale = np.abs(loops).max() + 1e-300
    assert np.abs(mlp.input_hessian(params, x) - loops).max() <= 1e-12 * scale


def test_input_hessian_of_a_linear_net_is_zero():
    """A network without hidden layers has no curvature."""
    params = mlp.init_params((2, 1), seed=0)
    for hessian in (mlp.input_hessian, mlp.input_hessian_loops):
        hess = hessian(params, np.ones((3, 2)))
        assert hess.shape == (3, 2, 2) and not hess.any()


def test_input_hessian_one_hidden_unit_closed_form():
    """H = v tanh(w.x + c): d2H/dx2 = v tanh''(w.x + c) w w^T, written out by hand."""
    w, c, v = np.array([0.7, -1.3]), 0.2, 1.9
    params = [(w[:, None].copy(), np.array([c])), (np.array([[v]]), np.array([0.0]))]
    x = np.array([[0.3, 0.4], [-1.0, 2.0]])
    a = np.tanh(x @ w + c)
    tanh2 = -2 * a * (1 - a**2)
    expected = v * tanh2[:, None, None] * np.outer(w, w)[None]
    np.testing.assert_allclose(mlp.input_hessian(params, x), expected, rtol=1e-13)
    np.testing.assert_allclose(mlp.input_hessian_loops(params, x), expected, rtol=1e-13)


# --- float32 ----------------------------------------------------------------------

@given(seeds)
def test_float32_end_to_end(seed):
    """float32 params and x give float32 outputs, gradients and Hessians close to float64 ones."""
    sizes = (2, 16, 16, 1)
    p64 = mlp.init_params(sizes, seed=seed)
    p32 = mlp.init_params(sizes, seed=seed, dtype=np.float32)
    x64 = np.random.default_rng(seed).uniform(-2, 2, (6, 2))
    x32 = x64.astype(np.float32)
    for fn in (mlp.forward, mlp.input_gradient, mlp.input_hessian):
        r32, r64 = fn(p32, x32), fn(p64, x64)
        assert r32.dtype == np.float32, fn.__name__
        scale = np.abs(r64).max()
        assert np.abs(r32 - r64).max() <= 1e-4 * scale, fn.__name__


# --- reproducibility and accepted input forms -----------------------------------------

def test_repeated_calls_are_bit_identical():
    """The same params and x give the same bits on every call (no hidden state)."""
    params = mlp.init_params((2, 32, 32, 1), seed=3)
    x = np.random.default_rng(0).standard_normal((20, 2))
    for fn in (mlp.forward, mlp.input_gradient, mlp.input_hessian):
        assert fn(params, x).tobytes() == fn(params, x).tobytes(), fn.__name__


def test_integer_and_list_inputs_are_converted():
    """Integer arrays and nested lists are cast to the params' dtype; results match float input."""
    params = mlp.init_params((2, 5, 1), seed=0)
    x = [[1, 2], [0, -3]]
    expected = mlp.forward(params, np.array(x, dtype=np.float64))
    np.testing.assert_array_equal(mlp.forward(params, x), expected)
    np.testing.assert_array_equal(mlp.forward(params, np.array(x)), expected)


def test_non_contiguous_x_gives_the_same_result():
    """A strided view of x is accepted and gives what its contiguous copy gives."""
    params = mlp.init_params((2, 5, 1), seed=0)
    big = np.random.default_rng(0).standard_normal((8, 4))
    x = big[::2, ::2]
    assert not x.flags.c_contiguous
    np.testing.assert_array_equal(mlp.input_gradient(params, x),
                                  mlp.input_gradient(params, np.ascontiguousarray(x)))
