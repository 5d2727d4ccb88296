"""hnn_np.refine: the output layer by linear least squares.

With the hidden layers fixed, an HNN's field (and a baseline's output) is
linear in the output weights, so the best output layer solves a linear
least-squares problem. Three things must then hold, each checked against a
reference that does not use the design matrix of refine.py:

* the loss never goes up (the old weights are one candidate of the argmin);
* the "after" loss it reports is the loss that ``hnn.loss_and_grad`` (or
  ``baseline.loss_and_grad``) computes from scratch with the new weights, and
  its gradient with respect to the output weights is zero there (the normal
  equations);
* when the targets are exactly the field of the same hidden layers with some
  output vector w*, it finds w* itself.

The forward-mode Jacobian of the last hidden layer is also checked against
central differences of the forward pass.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hnn_np import baseline, hnn, mlp
from hnn_np.refine import fit_output_layer, hidden_jacobian
from hnn_np.testing.strategies import seeds

LOSS = {"hnn": hnn, "baseline": baseline}


def setup(kind, seed, n_rows=64, n_dof=1, width=16, weight_scale=1.0):
    """Params of a small network, states x and unrelated targets dxdt, row weights v."""
    rng = np.random.default_rng(seed)
    D = 2 * n_dof
    sizes = (D, width, width, 1 if kind == "hnn" else D)
    params = [(W * weight_scale, b * weight_scale) for W, b in mlp.init_params(sizes, seed=seed)]
    x = rng.uniform(-1.5, 1.5, (n_rows, D))
    dxdt = rng.standard_normal((n_rows, D))
    v = rng.uniform(0.1, 3.0, n_rows)
    return params, x, dxdt, v


def copy(params):
    return [(W.copy(), b.copy()) for W, b in params]


# --- the hidden layer's Jacobian ----------------------------------------------------

def test_hidden_jacobian_matches_central_differences_of_the_forward_pass():
    params, x, _, _ = setup("hnn", seed=0, n_rows=10, n_dof=2, weight_scale=2.0)
    jac = hidden_jacobian(params, x)  # (N, m, 2n)
    assert jac.shape == (10, 16, 4)
    last_hidden = lambda x: mlp.forward_cache(params, x).a[-1]  # noqa: E731
    h = 1e-5
    for k in range(4):
        e = np.zeros(4)
        e[k] = h
        fd = (last_hidden(x + e) - last_hidden(x - e)) / (2 * h)
        np.testing.assert_allclose(jac[:, :, k], fd, rtol=1e-7, atol=1e-9)


def test_hnn_field_is_J_jacobian_times_output_weights():
    """S(x) = sum_j w_j J da_j/dx: the linearity refine.py builds on."""
    params, x, _, _ = setup("hnn", seed=1, n_rows=12, n_dof=2)
    jac = hidden_jacobian(params, x)
    dH_dx = np.einsum("nmk,m->nk", jac, params[-1][0][:, 0])  # sum_j w_j da_j/dx  (N, 2n)
    S = np.concatenate([dH_dx[:, 2:], -dH_dx[:, :2]], axis=1)
    np.testing.assert_allclose(S, hnn.vector_field(params, x), rtol=1e-12, atol=1e-14)


# --- the loss never goes up, and is what the loss module says ------------------------

@pytest.mark.parametrize("kind", ["hnn", "baseline"])
@given(seed=seeds, weighted=st.booleans(), n_dof=st.sampled_from([1, 2]))
def test_refit_never_increases_the_loss_and_reports_the_loss_module_value(kind, seed, weighted, n_dof):
    params, x, dxdt, v = setup(kind, seed % 1000, n_rows=40, n_dof=n_dof)
    w = v if weighted else None
    loss_old, _ = LOSS[kind].loss_and_grad(params, x, dxdt, w)
    new = copy(params)
    before, after = fit_output_layer(kind, new, x, dxdt, weights=w)
    loss_new, grads = LOSS[kind].loss_and_grad(new, x, dxdt, w)
    assert before == pytest.approx(loss_old, rel=1e-10)
    assert after == pytest.approx(loss_new, rel=1e-10)
    assert after <= before * (1 + 1e-12)
    # the normal equations: no gradient left in the weights that were solved for
    dW_out, db_out = grads[-1]
    g = dW_out[:, 0] if kind == "hnn" else np.concatenate([dW_out.ravel(), db_out])
    assert np.max(np.abs(g)) < 1e-8 * max(1.0, loss_new)


@pytest.mark.parametrize("kind", ["hnn", "baseline"])
def test_refit_only_touches_the_output_layer(kind):
    params, x, dxdt, _ = setup(kind, seed=3)
    new = copy(params)
    fit_output_layer(kind, new, x, dxdt)
    for l in range(len(params) - 1):
        assert np.array_equal(new[l][0], params[l][0]) and np.array_equal(new[l][1], params[l][1])
    if kind == "hnn":  # H's constant does not enter the field: the output bias is left alone
        assert np.array_equal(new[-1][1], params[-1][1])
        assert not np.array_equal(new[-1][0], params[-1][0])


def test_refit_of_an_already_optimal_layer_changes_nothing():
    params, x, dxdt, _ = setup("hnn", seed=4)
    fit_output_layer("hnn", params, x, dxdt)
    w1 = params[-1][0].copy()
    before, after = fit_output_layer("hnn", params, x, dxdt)
    assert after == pytest.approx(before, rel=1e-10)
    np.testing.assert_allclose(params[-1][0], w1, rtol=1e-8, atol=1e-10)


# --- recovering an output layer that fits exactly ----------------------------------

@pytest.mark.parametrize("weighted", [False, True])
def test_hnn_refit_recovers_the_output_weights_of_an_exactly_representable_field(weighted):
    """Targets = the field of the same hidden layers with output w*: refit finds w*."""
    params, x, _, v = setup("hnn", seed=5, n_rows=64, width=8)
    w_star = np.random.default_rng(50).standard_normal(8)
    teacher = copy(params)
    teacher[-1][0][:, 0] = w_star
    dxdt = hnn.vector_field(teacher, x)
    student = copy(params)  # the same hidden layers, the original (wrong) output weights
    before, after = fit_output_layer("hnn", student, x, dxdt, weights=v if weighted else None)
    assert before > 1e-3
    assert after < 1e-20
    np.testing.assert_allclose(student[-1][0][:, 0], w_star, rtol=0, atol=1e-8)


def test_baseline_refit_recovers_the_output_weights_and_bias():
    params, x, _, _ = setup("baseline", seed=6, n_rows=64, width=8)
    rng = np.random.default_rng(60)
    W_star, b_star = rng.standard_normal((8, 2)), rng.standard_normal(2)
    teacher = copy(params)
    teacher[-1] = (W_star, b_star)
    dxdt = baseline.predict(teacher, x)
    student = copy(params)
    _, after = fit_output_layer("baseline", student, x, dxdt)
    assert after < 1e-20
    np.testing.assert_allclose(student[-1][0], W_star, rtol=0, atol=1e-8)
    np.testing.assert_allclose(student[-1][1], b_star, rtol=0, atol=1e-8)


def test_refit_works_in_float32_and_keeps_the_dtype():
    params, x, dxdt, _ = setup("hnn", seed=7)
    p32 = [(W.astype(np.float32), b.astype(np.float32)) for W, b in params]
    before, after = fit_output_layer("hnn", p32, x.astype(np.float32), dxdt.astype(np.float32))
    assert p32[-1][0].dtype == np.float32
    assert after <= before
    loss32, _ = hnn.loss_and_grad(p32, x.astype(np.float32), dxdt.astype(np.float32))
    assert after == pytest.approx(loss32, rel=1e-4)
