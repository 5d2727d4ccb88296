"""hnn_np.dhnn: the field S = J dH/dx + dD/dx of a two-output MLP and its second-order backprop.

The reference loss is written from ``mlp.input_gradient`` alone: dH/dx is the
gradient of output 0, dD/dx that of output 0 of the same network with its
two output columns swapped. Nothing in it knows about seeds or adjoints.
The two input gradients themselves are checked against central differences
of ``mlp.forward``'s two outputs.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hnn_np import dhnn, hnn, mlp
from hnn_np.symplectic import apply_J
from hnn_np.testing.mutants import mutate
from hnn_np.testing.strategies import (
    hidden_sizes, n_dofs, param_direction_fd, params_for, problems, rel_err, seeds, states, tensor_names,
    unit_direction,
)

from _gradient_cases import (
    RTOL, check_every_entry, check_float32, check_paper_network, check_random_direction,
    check_repeated_calls_bit_identical, random_batch,
)


@st.composite
def dhnn_sizes(draw, n_dof=n_dofs, min_layers=0, max_layers=3, max_width=12):
    """Sizes (2n, hidden..., 2) of a D-HNN: a state in, (H, D) out."""
    n = draw(n_dof)
    return (2 * n, *draw(hidden_sizes(min_layers, max_layers, max_width)), 2)


def swapped(params):
    """The same network with its two outputs exchanged: output 0 is D."""
    W, b = params[-1]
    return params[:-1] + [(W[:, ::-1].copy(), b[::-1].copy())]


def dhnn_loss(params, x, dxdt, weights=None):
    """mean over N * 2n entries of w (J dH/dx + dD/dx - dxdt)**2, from mlp.input_gradient alone."""
    dH_dx = mlp.input_gradient(params, x)
    dD_dx = mlp.input_gradient(swapped(params), x)
    S = apply_J(dH_dx) + dD_dx
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    return float(np.mean(w[:, None] * (S - dxdt) ** 2))


SMALL_SIZES = [(2, 2), (2, 8, 2), (2, 16, 16, 2), (4, 10, 10, 10, 2)]
PAPER_SIZES = (2, 400, 400, 400, 400, 400, 2)

@pytest.mark.parametrize("sizes", SMALL_SIZES, ids=str)
def test_loss_and_grad_every_entry_matches_finite_differences(sizes):
    """Each dL/dW[l] and dL/db[l] entry equals a central difference of the loss (rel. err <= 1e-6)."""
    check_every_entry(dhnn.loss_and_grad, dhnn_loss, sizes)


@pytest.mark.parametrize("sizes", SMALL_SIZES, ids=str)
def test_weighted_loss_and_grad_match_finite_differences(sizes):
    """With row weights w (one of them 0), loss = sum_ij w_i r_ij**2 / (N 2n), checked entry by entry."""
    check_every_entry(dhnn.loss_and_grad, dhnn_loss, sizes, weighted=True)


@given(problems(dhnn_sizes()), seeds, st.booleans())
def test_random_direction_derivative_matches_finite_differences(problem, seed, weighted):
    """For any small net, <dL/dT, V> = d/ds L(T + s V) for a random unit V, one number per tensor T."""
    check_random_direction(dhnn.loss_and_grad, dhnn_loss, problem, seed, weighted)


def test_paper_network_gradient_matches_finite_differences():
    """The paper-sized network: one random direction per tensor plus its largest entry."""
    check_paper_network(dhnn.loss_and_grad, dhnn_loss, PAPER_SIZES, output_bias_reaches_loss=False)


@given(seeds, st.sampled_from([(2, 16, 16, 2), (4, 8, 8, 2)]))
def test_float32_loss_and_grad(seed, sizes):
    """float32 in gives float32 predictions and gradients close to the float64 ones."""
    check_float32(dhnn.loss_and_grad, dhnn.vector_field, seed, sizes)


def test_repeated_calls_are_bit_identical():
    """The same inputs give the same loss and gradient bits every time (no hidden state)."""
    check_repeated_calls_bit_identical(dhnn.loss_and_grad, 2, 2)


def fd_input_gradient(f, x, h=1e-4):
    """d f / dx by the 4-point central stencil, f (N, 2n) -> (N,); -> (N, 2n)."""
    out = np.empty_like(x)
    for k in range(x.shape[1]):
        e = np.zeros_like(x)
        e[:, k] = h
        out[:, k] = (8 * (f(x + e) - f(x - e)) - (f(x + 2 * e) - f(x - 2 * e))) / (12 * h)
    return out


# --- the two input gradients and the field ----------------------------------------------

@pytest.mark.parametrize("sizes", [(2, 8, 2), (2, 16, 16, 2), (4, 12, 12, 2)], ids=str)
def test_input_gradients_match_finite_differences_of_both_outputs(sizes):
    """dH/dx and dD/dx equal central differences of mlp.forward's outputs 0 and 1, separately."""
    params = [(2 * W, 2 * b) for W, b in mlp.init_params(sizes, seed=3)]  # into tanh's curved part
    x = np.random.default_rng(0).uniform(-2, 2, (10, sizes[0]))
    dH_dx, dD_dx = dhnn.input_gradients(params, x)
    for k, got in ((0, dH_dx), (1, dD_dx)):
        fd = fd_input_gradient(lambda y: mlp.forward(params, y)[:, k], x)
        np.testing.assert_allclose(got, fd, rtol=1e-8, atol=1e-9 * np.abs(fd).max())
    assert np.abs(dH_dx - dD_dx).max() > 1e-2  # two different outputs, not one gradient twice


@given(st.data())
def test_vector_field_is_J_dH_plus_dD(data):
    """S = (dH/dp + dD/dq, -dH/dq + dD/dp), column by column."""
    sizes = data.draw(dhnn_sizes())
    params = data.draw(params_for(sizes))
    x = data.draw(states(st.integers(1, 4), sizes[0]))
    dH_dx = mlp.input_gradient(params, x)
    dD_dx = mlp.input_gradient(swapped(params), x)
    n = sizes[0] // 2
    S = dhnn.vector_field(params, x)
    np.testing.assert_allclose(S[:, :n], dH_dx[:, n:] + dD_dx[:, :n], rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(S[:, n:], -dH_dx[:, :n] + dD_dx[:, n:], rtol=1e-13, atol=1e-14)


def test_zero_dissipation_column_is_the_hnn():
    """With W[L-1][:, 1] = 0 the D-HNN is the HNN of column 0: same field, same hidden gradients."""
    params = mlp.init_params((2, 12, 12, 2), seed=4)
    params[-1][0][:, 1] = 0
    h_params = params[:-1] + [(params[-1][0][:, :1].copy(), params[-1][1][:1].copy())]
    x, dxdt = random_batch(2, seed=7)
    np.testing.assert_allclose(dhnn.vector_field(params, x), hnn.vector_field(h_params, x), rtol=1e-14)
    loss_d, g_d = dhnn.loss_and_grad(params, x, dxdt)
    loss_h, g_h = hnn.loss_and_grad(h_params, x, dxdt)
    assert loss_d == pytest.approx(loss_h, rel=1e-14)
    for l in range(len(params) - 1):
        np.testing.assert_allclose(g_d[l][0], g_h[l][0], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(g_d[l][1], g_h[l][1], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g_d[-1][0][:, 0], g_h[-1][0][:, 0], rtol=1e-12, atol=1e-15)


@given(st.data())
def test_output_bias_gets_zero_gradient_and_constants_do_not_change_S(data):
    """H and D are potentials: adding constants to them (the output bias) changes neither S nor the loss."""
    sizes = data.draw(dhnn_sizes())
    params = data.draw(params_for(sizes))
    x = data.draw(states(st.integers(1, 4), sizes[0]))
    _, grads = dhnn.loss_and_grad(params, x, np.zeros_like(x))
    assert grads[-1][1].shape == (2,) and not grads[-1][1].any()
    W, b = params[-1]
    shifted = params[:-1] + [(W, b + np.array([10.0, -7.0]))]
    np.testing.assert_array_equal(dhnn.vector_field(shifted, x), dhnn.vector_field(params, x))


# --- mutants: the tests see a missing term ------------------------------------------------

MUTANTS = {
    "without tanh''": ("a_bar = -2 * a[l + 1] * s1_bar[l]", "a_bar = 0 * s1_bar[l]"),
    "s1_bar from the H seed only": ("s1_bar[l] = (d_bar[l] * g[l + 1]).sum(axis=0)",
                                    "s1_bar[l] = d_bar[l][0] * g[l + 1][0]"),
    "dD/dx adjoint dropped": ("np.stack([apply_J_T(S_bar), S_bar])",
                              "np.stack([apply_J_T(S_bar), 0 * S_bar])"),
}


@pytest.mark.parametrize("which", list(MUTANTS))
@pytest.mark.parametrize("sizes", [(2, 8, 2), (2, 16, 16, 2)], ids=str)
def test_finite_differences_catch_a_broken_backprop(sizes, which):
    """Each mutant of dhnn.loss_and_grad (one source line changed) is off by > 1 % on some hidden tensor.

    The real gradient agrees with finite differences to 1e-6 along the same directions.
    """
    bad_loss_and_grad = mutate(dhnn.loss_and_grad, *MUTANTS[which])
    params = mlp.init_params(sizes, seed=0)
    x, dxdt = random_batch(2, seed=5)
    loss = lambda p: dhnn_loss(p, x, dxdt)  # noqa: E731
    _, good = dhnn.loss_and_grad(params, x, dxdt)
    _, bad = bad_loss_and_grad(params, x, dxdt)
    rng = np.random.default_rng(6)
    worst = 0.0
    for l, k, name in tensor_names(params)[:-2]:  # the hidden layers
        V = unit_direction(rng, good[l][k].shape)
        fd = param_direction_fd(loss, params, l, k, V)
        assert rel_err(np.sum(good[l][k] * V), fd) <= RTOL, f"{name}: the real gradient"
        worst = max(worst, rel_err(np.sum(bad[l][k] * V), fd))
    assert worst > 1e-2, f"{which}: the mutant went unnoticed"


# --- float32 end to end, input checks ----------------------------------------------------------

def test_float32_field_and_gradients_stay_float32():
    """float32 params and data: float32 field, input gradients, loss gradients, near float64."""
    p32 = mlp.init_params((2, 16, 16, 2), seed=0, dtype=np.float32)
    p64 = mlp.init_params((2, 16, 16, 2), seed=0)
    x, dxdt = random_batch(2)
    S32 = dhnn.vector_field(p32, x.astype(np.float32))
    assert S32.dtype == np.float32
    assert all(g.dtype == np.float32 for g in dhnn.input_gradients(p32, x.astype(np.float32)))
    np.testing.assert_allclose(S32, dhnn.vector_field(p64, x), rtol=1e-4, atol=1e-5)
    _, grads = dhnn.loss_and_grad(p32, x.astype(np.float32), dxdt.astype(np.float32))
    assert all(dW.dtype == np.float32 and db.dtype == np.float32 for dW, db in grads)


@pytest.mark.parametrize("sizes, match", [((2, 8, 1), "last size must be 2"), ((2, 8, 3), "last size must be 2"),
                                          ((3, 8, 2), "even input size")], ids=str)
def test_wrong_sizes_are_rejected(sizes, match):
    """A D-HNN takes (q, p) and gives (H, D): other shapes are refused, naming the problem."""
    params = mlp.init_params(sizes, seed=0)
    x = np.zeros((2, sizes[0]))
    with pytest.raises(ValueError, match=match):
        dhnn.vector_field(params, x)
    with pytest.raises(ValueError, match=match):
        dhnn.loss_and_grad(params, x, x)


@pytest.mark.parametrize("bad, match", [
    (dict(dxdt=np.zeros((3, 2))), "dxdt has 3 rows but x has 4"),
    (dict(dxdt=np.array([[0, 0], [0, 0], [np.nan, 0], [0, 0]])), "dxdt has non-finite values in row 2"),
    (dict(x=np.zeros((4, 2), np.float32)), "x has dtype float32"),
    (dict(weights=np.array([1, -1, 1, 1.0])), "weights must be finite and >= 0; row 1"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_loss_and_grad_rejects_bad_input(bad, match):
    """x, dxdt and weights are checked, with the argument named in the message."""
    params = mlp.init_params((2, 4, 2), seed=0)
    args = dict(x=np.zeros((4, 2)), dxdt=np.zeros((4, 2)), weights=None) | bad
    with pytest.raises(ValueError, match=match):
        dhnn.loss_and_grad(params, **args)
