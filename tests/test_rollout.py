"""hnn_np.rollout and hnn_np.fast.fields: the learned field compiled for rollouts, and Model.rollout.

Every jitted kernel has a plain NumPy twin, and a test holds them equal:
:func:`hnn_field` and :func:`baseline_field` must give, state by state,
what :meth:`Model.time_derivative` gives for a whole batch (the twin runs
through mlp / hnn / baseline, which test_mlp and test_hnn check against finite
differences).

A rollout is then checked against an integrator that shares no code with
ours: scipy's ``solve_ivp(method="DOP853")`` integrating the NumPy twin
``Model.time_derivative``. And because an HNN's field is the symplectic
gradient of the model's own energy, that energy must stay constant along its
own rollout, whatever the weights.
"""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from hnn_np import mlp
from hnn_np.fast.fields import baseline_field, field_args, hnn_field
from hnn_np.model import Model

SIZES = {"hnn": (2, 16, 16, 1), "baseline": (2, 16, 16, 2)}


def make_model(kind, n_dof=1, scale=1.0, seed=0, weight_scale=1.0):
    sizes = (2 * n_dof,) + SIZES[kind][1:-1] + ((1,) if kind == "hnn" else (2 * n_dof,))
    params = [(W * weight_scale, b * weight_scale) for W, b in mlp.init_params(sizes, seed=seed)]
    return Model(kind, params, scale)


def field_one_by_one(model, x):
    fun = hnn_field if model.kind == "hnn" else baseline_field
    args = field_args(model)
    return np.stack([fun(0.0, np.ascontiguousarray(row), *args) for row in x])


# --- the compiled field and its NumPy twin ----------------------------------------

@pytest.mark.parametrize("kind", ["hnn", "baseline"])
@pytest.mark.parametrize("n_dof", [1, 2])
@pytest.mark.parametrize("scale", [1.0, 0.5, 80.0])
def test_compiled_field_equals_model_time_derivative(kind, n_dof, scale):
    model = make_model(kind, n_dof, scale, seed=n_dof, weight_scale=2.0)
    x = np.random.default_rng(0).uniform(-2, 2, (50, 2 * n_dof)) * scale
    expected = model.time_derivative(x)
    got = field_one_by_one(model, x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12 * scale)


@pytest.mark.parametrize("kind", ["hnn", "baseline"])
def test_compiled_field_of_a_float32_model_is_the_float64_field_of_its_weights(kind):
    """field_args promotes float32 weights to float64: the rollout is float64 whatever the model."""
    m32 = make_model(kind, seed=4)
    m32.params = [(W.astype(np.float32), b.astype(np.float32)) for W, b in m32.params]
    m64 = Model(kind, [(W.astype(np.float64), b.astype(np.float64)) for W, b in m32.params])
    x = np.random.default_rng(1).uniform(-1, 1, (20, 2))
    Ws, bs, s = field_args(m32)
    assert all(W.dtype == np.float64 and W.flags.c_contiguous for W in Ws)
    np.testing.assert_allclose(field_one_by_one(m32, x), m64.time_derivative(x), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(field_one_by_one(m32, x), m32.time_derivative(x), rtol=1e-4, atol=1e-5)


def test_hnn_field_is_J_times_the_gradient_of_the_models_energy():
    """J^T S of the compiled field is dH/dx of Model.energy, by central differences."""
    model = make_model("hnn", n_dof=2, scale=3.0, seed=8)
    x = np.random.default_rng(2).uniform(-5, 5, (30, 4))
    S = field_one_by_one(model, x)
    dH_dx = np.concatenate([-S[:, 2:], S[:, :2]], axis=1)  # J^T S = dH/dx
    # the same gradient from the energy itself, by central differences
    h = 1e-4
    fd = np.stack([(model.energy(x + h * e) - model.energy(x - h * e)) / (2 * h) for e in np.eye(4)], 1)
    np.testing.assert_allclose(dH_dx, fd, rtol=1e-6, atol=1e-8)


# --- rollouts -----------------------------------------------------------------------

def scipy_rollout(model, x0, t_eval):
    """The oracle: scipy's DOP853 on the NumPy twin, one trajectory at a time."""
    out = []
    for y0 in x0:
        res = solve_ivp(lambda t, y: model.time_derivative(y[None])[0], (t_eval[0], t_eval[-1]), y0,
                        method="DOP853", t_eval=t_eval, rtol=1e-12, atol=1e-12)
        assert res.success
        out.append(res.y.T)
    return np.stack(out)  # (B, T, 2n)


def test_rollout_agrees_with_scipy_dop853_on_the_numpy_twin():
    """One HNN; a baseline's rollout differs only in the field, held equal to its twin above.

    (Each field compiles the whole integrator anew, ~20 s, so only one kind is rolled out.)
    """
    scale = 5.0
    model = make_model("hnn", scale=scale, seed=2)
    x0 = np.random.default_rng(3).uniform(-1, 1, (3, 2)) * scale
    t_eval = np.linspace(0.0, 3.0, 31)
    x = model.rollout(x0, t_eval)
    assert x.shape == (3, 31, 2)
    np.testing.assert_array_equal(x[:, 0], x0)
    ref = scipy_rollout(model, x0, t_eval)
    np.testing.assert_allclose(x, ref, rtol=0, atol=1e-7 * scale)


def test_rollout_of_one_state_given_as_a_1d_row():
    model = make_model("hnn", seed=1)
    t = np.linspace(0, 1, 5)
    x0 = np.array([0.4, -0.3])
    np.testing.assert_array_equal(model.rollout(x0, t), model.rollout(x0[None], t))


@pytest.mark.parametrize("n_dof", [1, 2])
def test_hnn_rollout_conserves_the_models_own_energy(n_dof):
    """dH/dt = dH/dx . J dH/dx = 0: the learned energy is a constant of the learned motion."""
    scale = 10.0
    model = make_model("hnn", n_dof=n_dof, scale=scale, seed=6, weight_scale=1.5)
    x0 = np.random.default_rng(4).uniform(-1, 1, (4, 2 * n_dof)) * scale
    t_eval = np.linspace(0.0, 10.0, 101)
    x = model.rollout(x0, t_eval)  # (B, T, 2n)
    H = model.energy(x.reshape(-1, 2 * n_dof)).reshape(len(x0), -1)
    assert np.all(np.ptp(x, axis=1) > 1e-2 * scale), "the states must actually move"
    drift = np.max(np.abs(H - H[:, :1]), axis=1) / np.abs(H[:, 0])
    assert np.all(drift < 1e-8), drift


def test_rollout_rejects_states_of_the_wrong_size():
    model = make_model("hnn")
    with pytest.raises(ValueError, match=r"x0 must be real states of shape \(B, 2\)"):
        model.rollout(np.zeros((2, 4)), np.linspace(0, 1, 3))
