"""hnn_np.trajectory.loss_and_grad: the discrete adjoint through RK4 and leapfrog, against finite differences.

The oracle for every gradient is a central difference of the loss computed
from the forward rollout alone (:func:`hnn_np.trajectory.rollout`, which
keeps no caches and knows nothing of adjoints). The forward maps themselves
are held to independent references in ``test_trajectory_maps.py``. Mutants
of the adjoint (one RK4 stage weight, one leapfrog half-kick) must fail the
same checks; the K = 1 limit ties the trajectory loss to the derivative loss.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hnn_np import hnn, mlp, trajectory
from hnn_np.symplectic import apply_J
from hnn_np.testing.gradients import check_grads
from hnn_np.testing.mutants import mutate
from hnn_np.testing.strategies import hidden_sizes, params_for, seeds

from _gradient_cases import assert_grads_match_entrywise_fd

CASES = [("hnn", "rk4"), ("dhnn", "rk4"), ("baseline", "rk4"), ("separable", "rk4"), ("separable", "leapfrog")]
IDS = [f"{k}-{m}" for k, m in CASES]


def small_params(kind, n=1, hidden=(5, 4), seed=1):
    if kind == "separable":
        return (mlp.init_params((n, *hidden, 1), seed=seed), mlp.init_params((n, *hidden[::-1], 1), seed=seed + 1))
    out = {"hnn": 1, "dhnn": 2, "baseline": 2 * n}[kind]
    return mlp.init_params((2 * n, *hidden, out), seed=seed)


def flat(kind, params):
    """The parameters as one list of (W, b) (V's then T's for a separable pair), for the checks."""
    return list(params[0]) + list(params[1]) if kind == "separable" else list(params)


def unflat(kind, like, layers):
    return (layers[:len(like[0])], layers[len(like[0]):]) if kind == "separable" else layers


def rollout_loss(params, X, dt, method, substeps, kind, x0=None):
    """The loss from its definition and the forward rollout only."""
    n_obs = X.shape[2]
    start = X[0] if x0 is None else x0
    X_hat = trajectory.rollout(params, start, dt, X.shape[0] - 1, method, substeps, kind)
    return float(np.mean((X_hat[1:, :, :n_obs] - X[1:]) ** 2))


def check_all_gradients(loss_and_grad, kind, method, params, X, dt, substeps, x0=None, n_directions=3):
    """check_grads on the parameters and on the starts, each against central differences of rollout_loss."""
    loss, grads, grad_X0 = loss_and_grad(params, X, dt, method, substeps, kind, x0=x0)
    assert loss == pytest.approx(rollout_loss(params, X, dt, method, substeps, kind, x0), rel=1e-12)
    check_grads(lambda p: rollout_loss(unflat(kind, params, p), X, dt, method, substeps, kind, x0),
                lambda p: flat(kind, grads), flat(kind, params), n_directions=n_directions)
    start = X[0] if x0 is None else x0
    if x0 is None:
        def loss_at(s):
            return rollout_loss(params, np.concatenate([s[None], X[1:]]), dt, method, substeps, kind)
    else:
        def loss_at(s):
            return rollout_loss(params, X, dt, method, substeps, kind, s)
    check_grads(loss_at, lambda s: grad_X0, start, n_directions=n_directions)


# --- every entry, and Hypothesis over networks, states, K, substeps, h ------------------------

@pytest.mark.parametrize("kind, method", CASES, ids=IDS)
def test_every_weight_bias_and_start_entry_matches_central_differences(kind, method):
    """K = 2 intervals of 2 substeps, 3 windows: each entry of dL/dW, dL/db and grad_X0, one by one."""
    params = small_params(kind)
    X = np.random.default_rng(0).uniform(-1.5, 1.5, (3, 3, 2))
    dt, substeps = 0.4, 2
    loss, grads, grad_X0 = trajectory.loss_and_grad(params, X, dt, method, substeps, kind)
    assert isinstance(loss, float) and grad_X0.shape == (3, 2)
    assert_grads_match_entrywise_fd(flat(kind, params), flat(kind, grads),
                                    lambda p: rollout_loss(unflat(kind, params, p), X, dt, method, substeps, kind))
    e = 1e-3
    for idx in np.ndindex(grad_X0.shape):
        def f(s, idx=idx):
            Xs = X.copy()
            Xs[0][idx] += s
            return rollout_loss(params, Xs, dt, method, substeps, kind)
        fd = (8 * (f(e) - f(-e)) - (f(2 * e) - f(-2 * e))) / (12 * e)
        assert grad_X0[idx] == pytest.approx(fd, rel=1e-6, abs=1e-10 * np.abs(grad_X0).max()), idx


@st.composite
def problems(draw):
    """(kind, method, params, X, dt, substeps, x0): a small network, windows, K, substeps, h; maybe positions only."""
    kind, method = draw(st.sampled_from(CASES))
    n = draw(st.sampled_from([1, 2]))
    if kind == "separable":
        params = tuple(draw(params_for((n, *draw(hidden_sizes(1, 2, 6)), 1))) for _ in range(2))
    else:
        out = {"hnn": 1, "dhnn": 2, "baseline": 2 * n}[kind]
        params = draw(params_for((2 * n, *draw(hidden_sizes(1, 3, 6)), out)))
    K, substeps, N = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dt = draw(st.floats(0.05, 0.6))
    X = np.random.default_rng(draw(seeds)).uniform(-1.5, 1.5, (K + 1, N, 2 * n))
    if draw(st.booleans()):  # positions only: the loss on q, the starts given
        return kind, method, params, np.ascontiguousarray(X[:, :, :n]), dt, substeps, X[0]
    return kind, method, params, X, dt, substeps, None


@given(problems())
def test_gradients_through_the_whole_rollout_match_central_differences(problem):
    kind, method, params, X, dt, substeps, x0 = problem
    check_all_gradients(trajectory.loss_and_grad, kind, method, params, X, dt, substeps, x0, n_directions=2)


# --- mutants of the adjoint must fail ------------------------------------------------------------

def mutant_loss_and_grad(monkeypatch, function, old, new):
    """loss_and_grad with one line of ``function`` (a step's adjoint) replaced."""
    monkeypatch.setattr(trajectory, function.__name__, mutate(function, old, new))
    return trajectory.loss_and_grad


@pytest.mark.parametrize("kind, method, function, old, new", [
    ("hnn", "rk4", trajectory.rk4_step_adjoint, "k2_bar = h / 3 * x_next_bar", "k2_bar = h / 6 * x_next_bar"),
    ("hnn", "rk4", trajectory.rk4_step_adjoint, "k1_bar = k1_bar + h / 2 * y2_bar", "k1_bar = k1_bar + h * y2_bar"),
    ("separable", "leapfrog", trajectory.leapfrog_step_adjoint, "-(h / 2) * p_half_bar", "-h * p_half_bar"),
], ids=["rk4 stage weight", "rk4 stage increment", "leapfrog half-kick"])
def test_a_mutant_of_the_adjoint_fails_the_finite_difference_check(monkeypatch, kind, method, function, old, new):
    params = small_params(kind)
    X = np.random.default_rng(1).uniform(-1.5, 1.5, (3, 2, 2))
    check_all_gradients(trajectory.loss_and_grad, kind, method, params, X, 0.3, 2)  # the real code passes
    mutant = mutant_loss_and_grad(monkeypatch, function, old, new)
    with pytest.raises(AssertionError, match="disagrees with finite differences"):
        check_all_gradients(mutant, kind, method, params, X, 0.3, 2)


# --- K = 1: the limit dt -> 0 is the derivative loss -------------------------------------------

@pytest.mark.parametrize("substeps", [1, 16])
def test_one_interval_tends_to_the_derivative_loss_as_dt_goes_to_zero(substeps):
    """X[1] = X[0] + dt Y. For any consistent step, Phi_dt(x) = x + dt S + dt**2/2 DS S + O(dt**3), so

        loss(dt) / dt**2 = mean((S - Y)**2) + dt mean((S - Y) * DS S) + O(dt**2),

    with S = S(X[0]) and DS = J d2H/dx2 (mlp.input_hessian): the first term is
    hnn.loss_and_grad's loss on (X[0], Y), and the remainder must fall 100-fold
    when dt does 10-fold. The gradient: grads / dt**2 -> hnn.loss_and_grad's, error O(dt).
    """
    params = mlp.init_params((2, 8, 8, 1), seed=5)
    rng = np.random.default_rng(6)
    x, Y = rng.uniform(-1, 1, (4, 2)), rng.standard_normal((4, 2))
    L0, grads0 = hnn.loss_and_grad(params, x, Y)
    S = hnn.vector_field(params, x)
    DS_S = apply_J(np.einsum("nij,nj->ni", mlp.input_hessian(params, x), S))
    L1 = float(np.mean((S - Y) * DS_S))
    remainders, grad_errors = [], []
    for dt in (1e-2, 1e-3):
        loss, grads, _ = trajectory.loss_and_grad(params, np.stack([x, x + dt * Y]), dt, "rk4", substeps)
        remainders.append(abs(loss / dt**2 - L0 - dt * L1))
        grad_errors.append(max(np.abs(g[0] / dt**2 - g0[0]).max() / np.abs(g0[0]).max()
                               for g, g0 in zip(grads, grads0)))
    assert remainders[1] < 2e-2 * remainders[0] and remainders[1] < 1e-5 * L0
    assert 5 < grad_errors[0] / grad_errors[1] < 20 and grad_errors[1] < 1e-2


# --- precision, determinism, bad input ---------------------------------------------------------

@pytest.mark.parametrize("kind, method", CASES, ids=IDS)
def test_float32_agrees_with_float64_and_stays_float32(kind, method):
    params = small_params(kind)
    X = np.random.default_rng(2).uniform(-1.5, 1.5, (3, 4, 2))
    loss64, grads64, g0_64 = trajectory.loss_and_grad(params, X, 0.3, method, 2, kind)
    p32 = unflat(kind, params, [(W.astype(np.float32), b.astype(np.float32)) for W, b in flat(kind, params)])
    loss32, grads32, g0_32 = trajectory.loss_and_grad(p32, X.astype(np.float32), 0.3, method, 2, kind)
    assert loss32 == pytest.approx(loss64, rel=1e-4)
    assert g0_32.dtype == np.float32 and all(g.dtype == np.float32 for pair in flat(kind, grads32) for g in pair)
    np.testing.assert_allclose(g0_32, g0_64, rtol=1e-3, atol=1e-4 * np.abs(g0_64).max())
    for (a, b), (c, d) in zip(flat(kind, grads32), flat(kind, grads64)):
        np.testing.assert_allclose(a, c, atol=1e-3 * np.abs(c).max())


def test_the_same_call_gives_the_same_bits():
    params = small_params("hnn")
    X = np.random.default_rng(3).uniform(-1, 1, (4, 5, 2))
    first, second = (trajectory.loss_and_grad(params, X, 0.2, "rk4", 3) for _ in range(2))
    assert first[0] == second[0] and first[2].tobytes() == second[2].tobytes()
    assert all(a.tobytes() == c.tobytes() and b.tobytes() == d.tobytes() for (a, b), (c, d) in zip(first[1], second[1]))


X3 = np.zeros((3, 2, 2))
HNN = small_params("hnn")


@pytest.mark.parametrize("call, match", [
    (lambda: trajectory.loss_and_grad(HNN, X3, 0.1, kind="nope"), "kind must be one of"),
    (lambda: trajectory.loss_and_grad(HNN, X3, 0.1, method="euler"), "method must be one of"),
    (lambda: trajectory.loss_and_grad(HNN, X3, 0.1, method="leapfrog"), "needs kind='separable'"),
    (lambda: trajectory.loss_and_grad(HNN, X3, 0.0), "dt must be a positive"),
    (lambda: trajectory.loss_and_grad(HNN, X3, 0.1, substeps=0), "substeps must be >= 1"),
    (lambda: trajectory.loss_and_grad(HNN, X3[:1], 0.1), r"K >= 1"),
    (lambda: trajectory.loss_and_grad(HNN, np.zeros((3, 2, 3)), 0.1), r"shape \(K\+1, N, 2\)"),
    (lambda: trajectory.loss_and_grad(HNN, X3.astype(np.float32), 0.1), "dtype float32 but params are float64"),
    (lambda: trajectory.loss_and_grad(HNN, X3[:, :, :1], 0.1), "give the starts x0"),
    (lambda: trajectory.loss_and_grad(HNN, X3, 0.1, x0=np.zeros((3, 2))), r"x0 must have shape \(2, 2\)"),
    (lambda: trajectory.loss_and_grad(HNN, X3 + np.nan, 0.1), "X has non-finite values"),
    (lambda: trajectory.loss_and_grad(HNN, X3, 0.1, kind="dhnn"), r"needs params with 2 output\(s\)"),
    (lambda: trajectory.loss_and_grad(HNN, X3, 0.1, kind="separable"), "pair \\(params_V, params_T\\)"),
    (lambda: trajectory.rollout(HNN, np.zeros((2, 3)), 0.1, 2), r"x0 must have shape \(N, 2\)"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_bad_input_is_refused_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
