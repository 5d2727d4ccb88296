"""hnn_np.hnn: the vector field S = J dH/dx, the HNN loss, and its second-order backprop.

The reference for every gradient is a central finite difference of the loss,
computed here from ``mlp.input_gradient`` alone (itself checked against finite
differences of the forward pass in test_mlp.py). Nothing in that reference
knows about adjoints, so a wrong line in the hand-written backprop shows up as
a disagreement.

The symplectic tests state what must hold for *any* weights and *any* state,
because S is the symplectic gradient of a scalar: S is orthogonal to dH/dx,
divergence free, and its Jacobian is a Hamiltonian matrix.
"""

import re
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hnn_np import hnn, mlp
from hnn_np import symplectic
from hnn_np.symplectic import apply_J, apply_J_T
from hnn_np.testing.mutants import without_tanh_second_term
from hnn_np.testing.strategies import (
    hnn_sizes, param_direction_fd, params_for, perturbed, problems, rel_err, seeds, states, tensor_names,
    unit_direction,
)

from _gradient_cases import (
    RTOL, check_every_entry, check_float32, check_paper_network, check_random_direction,
    check_repeated_calls_bit_identical, random_batch,
)

SMALL_SIZES = [(2, 1), (2, 8, 1), (2, 16, 16, 1), (4, 10, 10, 10, 1)]
PAPER_SIZES = (2, 400, 400, 400, 400, 400, 1)  # the paper network (see mlp.init_params)


def J_times(v):
    """J v with J = [[0, I], [-I, 0]], acting on the last axis: (v_p, -v_q)."""
    n = v.shape[-1] // 2
    return np.concatenate([v[..., n:], -v[..., :n]], axis=-1)


def hnn_loss(params, x, dxdt, weights=None):
    """The loss written from its definition: mean over N * 2n entries of w (J dH/dx - dxdt)**2."""
    S = J_times(mlp.input_gradient(params, x))
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    return float(np.mean(w[:, None] * (S - dxdt) ** 2))


# --- the loss value and the vector field ---------------------------------------------

@given(problems(hnn_sizes()))
def test_loss_value_is_mean_squared_error_of_S(problem):
    """loss_and_grad's loss is mean((J dH/dx - dxdt)**2) over all N * 2n entries."""
    _, params, x, dxdt = problem
    loss, _ = hnn.loss_and_grad(params, x, dxdt)
    assert isinstance(loss, float)
    assert loss == pytest.approx(hnn_loss(params, x, dxdt), rel=1e-13, abs=1e-300)


@given(problems(hnn_sizes()))
def test_vector_field_is_J_times_input_gradient(problem):
    """S = (dH/dp, -dH/dq): dq/dt from the p-columns of dH/dx, dp/dt minus the q-columns."""
    _, params, x, _ = problem
    dH_dx = mlp.input_gradient(params, x)
    n = x.shape[1] // 2
    S = hnn.vector_field(params, x)
    np.testing.assert_array_equal(S[:, :n], dH_dx[:, n:])
    np.testing.assert_array_equal(S[:, n:], -dH_dx[:, :n])


@given(problems(hnn_sizes()))
def test_loss_against_zero_target_is_mean_S_squared(problem):
    """With dxdt = 0 the loss is mean(S**2): the S that is trained is the S that vector_field returns."""
    _, params, x, _ = problem
    S = hnn.vector_field(params, x)
    loss, _ = hnn.loss_and_grad(params, x, np.zeros_like(x))
    assert loss == pytest.approx(float(np.mean(S**2)), rel=1e-13, abs=1e-300)


def test_apply_J_T_is_the_transpose_of_apply_J():
    """<J u, v> = <u, J^T v> and J is the matrix [[0, I], [-I, 0]]: the adjoint the backprop needs."""
    rng = np.random.default_rng(0)
    u, v = rng.standard_normal((2, 5, 4))
    lhs = np.sum(apply_J(u) * v)
    rhs = np.sum(u * apply_J_T(v))
    assert lhs == pytest.approx(rhs, rel=1e-14)
    np.testing.assert_array_equal(symplectic.J_matrix(2), J_matrix(4))  # the test's own J below
    np.testing.assert_array_equal(apply_J(u), u @ J_matrix(4).T)
    np.testing.assert_array_equal(apply_J_T(v), v @ J_matrix(4))


# --- gradients against finite differences (the shared checks of _gradient_cases) ---------

@pytest.mark.parametrize("sizes", SMALL_SIZES, ids=str)
def test_loss_and_grad_every_entry_matches_finite_differences(sizes):
    """Each dL/dW[l] and dL/db[l] entry equals a central difference of the loss (rel. err <= 1e-6)."""
    check_every_entry(hnn.loss_and_grad, hnn_loss, sizes)


@pytest.mark.parametrize("sizes", SMALL_SIZES, ids=str)
def test_weighted_loss_and_grad_match_finite_differences(sizes):
    """With row weights w (one of them 0), loss = sum_ij w_i r_ij**2 / (N 2n), checked entry by entry."""
    check_every_entry(hnn.loss_and_grad, hnn_loss, sizes, weighted=True)


@given(problems(hnn_sizes()), seeds, st.booleans())
def test_random_direction_derivative_matches_finite_differences(problem, seed, weighted):
    """For any small net, <dL/dT, V> = d/ds L(T + s V) for a random unit V, one number per tensor T."""
    check_random_direction(hnn.loss_and_grad, hnn_loss, problem, seed, weighted)


def test_paper_network_gradient_matches_finite_differences():
    """The paper-sized network: one random direction per tensor plus its largest entry."""
    check_paper_network(hnn.loss_and_grad, hnn_loss, PAPER_SIZES, output_bias_reaches_loss=False)


@given(seeds, st.sampled_from([(2, 16, 16, 1), (4, 8, 8, 1)]))
def test_float32_loss_and_grad(seed, sizes):
    """float32 in gives float32 predictions and gradients close to the float64 ones."""
    check_float32(hnn.loss_and_grad, hnn.vector_field, seed, sizes)


def test_repeated_calls_are_bit_identical():
    """The same inputs give the same loss and gradient bits every time (no hidden state)."""
    check_repeated_calls_bit_identical(hnn.loss_and_grad, 2, 1)


# --- the tanh'' term ---------------------------------------------------------------------

@pytest.mark.parametrize("sizes", [(2, 8, 1), (2, 16, 16, 1)], ids=str)
def test_finite_differences_catch_a_missing_tanh_second_derivative(sizes):
    """Dropping the tanh'' term leaves a gradient that is wrong by far more than the tolerance.

    The real gradient agrees with finite differences to 1e-6; with
    the tanh'' line of ``hnn.loss_and_grad`` removed (a mutant of its source), every
    tensor below the output layer is off by more than 1 % (the hidden biases
    of a one-hidden-layer net get no gradient at all). The output weights
    W[L-1], reached only through the input-gradient sweep, are unaffected.
    """
    params = mlp.init_params(sizes, seed=0)
    x, dxdt = random_batch(2, seed=5)
    loss = lambda p: hnn_loss(p, x, dxdt)  # noqa: E731
    _, good = hnn.loss_and_grad(params, x, dxdt)
    _, bad = without_tanh_second_term()(params, x, dxdt)
    rng = np.random.default_rng(6)
    L = len(params)
    for l, k, name in tensor_names(params):
        if (l, k) == (L - 1, 1):
            continue  # the output bias has zero gradient either way
        V = unit_direction(rng, good[l][k].shape)
        fd = param_direction_fd(loss, params, l, k, V)
        assert rel_err(np.sum(good[l][k] * V), fd) <= RTOL, f"{name}: the real gradient"
        err_without_s2 = rel_err(np.sum(bad[l][k] * V), fd)
        if l == L - 1:
            assert err_without_s2 <= RTOL, f"{name} does not depend on tanh''"
        else:
            assert err_without_s2 > 1e-2, f"{name}: a missing tanh'' term went unnoticed"


# --- symplectic consistency: for any weights and any state -------------------------------

@st.composite
def hnn_and_states(draw, max_rows=4):
    """(params, x) of an HNN with n = 1 or 2 degrees of freedom, any scale of weights."""
    sizes = draw(hnn_sizes())
    params = draw(params_for(sizes))
    x = draw(states(st.integers(1, max_rows), sizes[0]))
    return params, x


def fd_jacobian_of_S(params, x, h=1e-5):
    """DS[:, i, k] = dS_i/dx_k by central differences of vector_field, and its round-off.

    Each S value is off by a few ulps of |S|, divided by 2h in the quotient:
    entries of DS much smaller than |S| (a saturated tanh) are known only to
    that absolute accuracy, returned as ``roundoff``.
    """
    N, D = x.shape
    DS = np.empty((N, D, D))
    for k in range(D):
        e = np.zeros_like(x)
        e[:, k] = h
        DS[:, :, k] = (hnn.vector_field(params, x + e) - hnn.vector_field(params, x - e)) / (2 * h)
    roundoff = 100 * np.finfo(np.float64).eps * np.abs(hnn.vector_field(params, x)).max() / h
    return DS, roundoff


def J_matrix(D):
    """J = [[0, I], [-I, 0]] as a (D, D) matrix."""
    n = D // 2
    J = np.zeros((D, D))
    J[:n, n:] = np.eye(n)
    J[n:, :n] = -np.eye(n)
    return J


@given(hnn_and_states())
def test_S_is_divergence_free(net):
    """div S = 0 (Liouville), with DS by finite differences of S, and DS = J . Hess H.

    (The trace of J . Hess is zero for any symmetric matrix; the finite-difference
    Jacobian of S is what tests the field.)"""
    params, x = net
    hess = mlp.input_hessian(params, x)
    DS = J_matrix(x.shape[1]) @ hess  # DS = J . Hess, (N, D, D)
    DS_fd, roundoff = fd_jacobian_of_S(params, x)
    fd_scale = np.abs(DS_fd).max()
    assert np.abs(np.trace(DS_fd, axis1=1, axis2=2)).max() <= 1e-7 * fd_scale + x.shape[1] * roundoff
    assert np.abs(DS_fd - DS).max() <= 1e-6 * fd_scale + roundoff  # the two Jacobians agree


@given(hnn_and_states())
def test_jacobian_of_S_is_a_hamiltonian_matrix(net):
    """J . DS is symmetric (DS is Hamiltonian), with DS measured by finite differences of S alone."""
    params, x = net
    DS_fd, roundoff = fd_jacobian_of_S(params, x)
    JDS = J_matrix(x.shape[1]) @ DS_fd
    tol = 1e-7 * np.abs(JDS).max() + 2 * roundoff
    assert np.abs(JDS - JDS.transpose(0, 2, 1)).max() <= tol
    # and J . DS = J J Hess = -Hess
    np.testing.assert_allclose(JDS, -mlp.input_hessian(params, x), atol=10 * tol, rtol=0)


@given(hnn_and_states())
def test_hessian_of_H_is_symmetric(net):
    """The Hessian from input_hessian is symmetric, as every Hessian of a smooth function is."""
    params, x = net
    hess = mlp.input_hessian(params, x)
    assert np.abs(hess - hess.transpose(0, 2, 1)).max() <= 1e-13 * (np.abs(hess).max() + 1e-300)


@given(problems(hnn_sizes()), st.integers(1, 3))
def test_output_bias_gets_zero_gradient(problem, n_out):
    """Adding a constant to H does not change S, so dL/db[L-1] = 0 (and extra outputs get no gradient)."""
    sizes, params, x, dxdt = problem
    if n_out > 1:  # outputs 1.. are ignored by the HNN: widen the last layer
        rng = np.random.default_rng(0)
        W, b = params[-1]
        W_extra = rng.standard_normal((W.shape[0], n_out - 1))
        params = params[:-1] + [(np.hstack([W, W_extra]),
                                 np.concatenate([b, rng.standard_normal(n_out - 1)]))]
    _, grads = hnn.loss_and_grad(params, x, dxdt)
    dW, db = grads[-1]
    assert db.shape == (n_out,) and not db.any()
    assert not dW[:, 1:].any()
    shifted = perturbed(params, len(params) - 1, 1, np.ones(n_out), 10.0)
    assert hnn_loss(shifted, x, dxdt) == hnn_loss(params, x, dxdt)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("sizes", [(2, 16, 16, 1), (4, 12, 12, 1)], ids=str)
def test_learned_energy_is_conserved_along_its_own_flow(sizes, seed):
    """Integrating dx/dt = S(x) with small RK4 steps keeps H(x(t)) constant while x moves."""
    params = mlp.init_params(sizes, seed=seed)
    x0 = np.random.default_rng(seed).uniform(-1, 1, (3, sizes[0]))
    x, dt = x0.copy(), 0.01
    for _ in range(100):  # t = 1
        k1 = hnn.vector_field(params, x)
        k2 = hnn.vector_field(params, x + dt / 2 * k1)
        k3 = hnn.vector_field(params, x + dt / 2 * k2)
        k4 = hnn.vector_field(params, x + dt * k3)
        x = x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    H0, H1 = mlp.forward(params, x0)[:, 0], mlp.forward(params, x)[:, 0]
    moved = np.linalg.norm(x - x0, axis=1)
    assert moved.min() > 1e-3
    assert np.abs(H1 - H0).max() <= 1e-8 * moved.max()


# --- weights -----------------------------------------------------------------------------------

def test_unit_weights_equal_no_weights_bit_for_bit():
    """weights = 1 for every row is the plain mean, to the last bit."""
    params = mlp.init_params((2, 8, 8, 1), seed=0)
    x, dxdt = random_batch(2)
    loss0, grads0 = hnn.loss_and_grad(params, x, dxdt)
    loss1, grads1 = hnn.loss_and_grad(params, x, dxdt, weights=np.ones(len(x)))
    assert loss0 == loss1
    for (a, b), (c, d) in zip(grads0, grads1):
        assert a.tobytes() == c.tobytes() and b.tobytes() == d.tobytes()


def test_integer_weights_act_as_repeated_rows():
    """A row of weight w counts as w copies of it: weighted sum = the sum over the repeated dataset."""
    params = mlp.init_params((2, 8, 8, 1), seed=0)
    x, dxdt = random_batch(2, n_rows=5)
    w = np.array([0, 1, 2, 3, 1])
    loss_w, grads_w = hnn.loss_and_grad(params, x, dxdt, weights=w)
    loss_r, grads_r = hnn.loss_and_grad(params, np.repeat(x, w, axis=0), np.repeat(dxdt, w, axis=0))
    ratio = w.sum() / len(x)  # the repeated mean divides by sum(w) rows, the weighted one by N
    assert loss_w == pytest.approx(loss_r * ratio, rel=1e-13)
    for (a, b), (c, d) in zip(grads_w, grads_r):
        np.testing.assert_allclose(a, c * ratio, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(b, d * ratio, rtol=1e-12, atol=1e-15)


# --- float32, reproducibility, input checks ---------------------------------------------------


def test_loss_and_grad_does_not_modify_its_inputs():
    """params, x and dxdt are only read."""
    params = mlp.init_params((2, 8, 8, 1), seed=0)
    x, dxdt = random_batch(2)
    before = [a.copy() for pair in params for a in pair] + [x.copy(), dxdt.copy()]
    hnn.loss_and_grad(params, x, dxdt)
    after = [a for pair in params for a in pair] + [x, dxdt]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def test_odd_input_size_is_rejected():
    """An HNN state is (q, p): a network with an odd number of inputs cannot be one."""
    params = mlp.init_params((3, 4, 1), seed=0)
    with pytest.raises(ValueError, match="even input size"):
        hnn.vector_field(params, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="even input size"):
        hnn.loss_and_grad(params, np.zeros((2, 3)), np.zeros((2, 3)))


@pytest.mark.parametrize("bad, match", [
    (dict(dxdt=np.zeros((3, 2))), "dxdt has 3 rows but x has 4"),
    (dict(dxdt=np.zeros((4, 3))), r"dxdt must have shape \(N, 2\)"),
    (dict(dxdt=np.zeros((4, 2), np.float32)), "dxdt has dtype float32"),
    (dict(dxdt=np.array([[0, 0], [0, 0], [np.nan, 0], [0, 0]])), "dxdt has non-finite values in row 2"),
    (dict(weights=np.ones(3)), r"weights must have shape \(4,\)"),
    (dict(weights=np.array([1, -1, 1, 1.0])), "weights must be finite and >= 0; row 1"),
    (dict(weights=np.array([1, 1, np.inf, 1.0])), "weights must be finite and >= 0; row 2"),
    (dict(weights=np.ones(4, np.float32)), "weights has dtype float32"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_loss_and_grad_rejects_bad_targets_and_weights(bad, match):
    """dxdt and weights are checked against x: rows, columns, dtype and finiteness, named in the message."""
    params = mlp.init_params((2, 4, 1), seed=0)
    args = dict(x=np.zeros((4, 2)), dxdt=np.zeros((4, 2)), weights=None) | bad
    with pytest.raises(ValueError, match=match):
        hnn.loss_and_grad(params, **args)


# --- the docstring's table of arrays --------------------------------------------------------------

TABLE_ROW = re.compile(r"^ {8}(\w+\[l\](?:, \w+\[l\])*) +0 \.\. n_layers-([12]) +(\([^)]*\))", flags=re.M)


def table_shape(shape, sizes, l, N):
    """'(N, n_{l+1})' -> (N, sizes[l + 1]), and so on for the symbols of the table."""
    symbols = {"N": N, "n_l": sizes[l], "n_{l+1}": sizes[l + 1], "2n": sizes[0]}
    return tuple(symbols[s.strip()] for s in shape.strip("()").split(",") if s.strip())


def test_the_table_of_arrays_in_loss_and_grad_gives_every_index_range_and_shape():
    """Each row of the docstring's table, against the arrays loss_and_grad really holds when it returns."""
    rows = TABLE_ROW.findall(hnn.loss_and_grad.__doc__)
    assert {name for names, _, _ in rows for name in names.replace("[l]", "").split(", ")} == {
        "a", "W", "dL_dW", "dL_db", "g", "g_bar", "d", "d_bar", "s1_bar", "z_bar"}
    sizes, N = (4, 7, 6, 5, 1), 3
    params = mlp.init_params(sizes, seed=0)
    x, dxdt = random_batch(4, n_rows=N)
    seen = {}

    def tracer(frame, event, arg):
        if event == "return" and frame.f_code is hnn.loss_and_grad.__wrapped__.__code__:
            seen.update(frame.f_locals)
        return tracer

    sys.settrace(lambda frame, event, arg: tracer if frame.f_code.co_name == "loss_and_grad" else None)
    try:
        hnn.loss_and_grad(params, x, dxdt)
    finally:
        sys.settrace(None)
    n_layers = len(params)
    for names, minus, shape in rows:
        top = n_layers - int(minus)
        for name in names.replace("[l]", "").split(", "):
            arrays = seen[name]
            for l in range(top + 1):
                assert arrays[l].shape == table_shape(shape, sizes, l, N), f"{name}[{l}]"
            assert all(item is None for item in arrays[top + 1:]), f"{name} beyond l = {top}"
    for name in ("s1", "a_bar"):  # the current l: Step 2 ends at l = 0
        assert seen[name].shape == table_shape("(N, n_{l+1})", sizes, 0, N), name
    for name in ("S", "S_bar", "dxdt"):
        assert seen[name].shape == (N, sizes[0]), name
