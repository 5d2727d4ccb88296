"""A D-HNN through the package: fit (fast and reference), Model in physical units, save/load,
the compiled rollout field, and the exact least-squares output layer.

References: ``dhnn.loss_and_grad`` (checked against finite differences in
test_dhnn.py) for the training path; finite differences of ``Model.energy``
and ``Model.dissipation`` for the units; a design matrix built column by
column from ``dhnn.vector_field`` and ``numpy.linalg.lstsq`` for the refit;
scipy's DOP853 for the rollout.
"""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from hnn_np import dhnn, hnn, mlp
from hnn_np.model import Model, load_model
from hnn_np.refine import fit_output_layer
from hnn_np.fast.fields import dhnn_field, field_args
from hnn_np.symplectic import apply_J
from hnn_np.train import TrainConfig, fit

SIZES = (2, 16, 16, 2)
GAMMA = 0.3


def damped_oscillator(x):
    """dq/dt = p, dp/dt = -q - gamma p: J grad (q^2 + p^2)/2 + grad(-gamma p^2 / 2)."""
    return np.stack([x[:, 1], -x[:, 0] - GAMMA * x[:, 1]], axis=1)


@pytest.fixture(scope="module")
def data():
    x = np.random.default_rng(0).uniform(-1, 1, (128, 2))
    return x, damped_oscillator(x)


def small_fit(x, dxdt, **kw):
    settings = dict(kind="dhnn", sizes=SIZES, steps=40, finetune_steps=0, batch_size=32, lr=1e-2)
    reference = kw.pop("reference", False)
    settings.update(kw)
    return fit(x, dxdt, TrainConfig(**settings), progress=False, reference=reference)


def grad_fd(f, x, h):
    out = np.empty_like(x)
    for k in range(x.shape[1]):
        e = np.zeros(x.shape[1])
        e[k] = h
        out[:, k] = (8 * (f(x + e) - f(x - e)) - (f(x + 2 * e) - f(x - 2 * e))) / (12 * h)
    return out


# --- training ---------------------------------------------------------------------------

def test_fast_and_reference_training_agree_and_the_loss_falls(data):
    """fit(kind='dhnn') with the workspace and with dhnn.loss_and_grad: the same run to rounding."""
    x, dxdt = data
    fast_model = small_fit(x, dxdt, steps=200)
    ref_model = small_fit(x, dxdt, steps=200, reference=True)
    for (W, b), (Wr, br) in zip(fast_model.params, ref_model.params, strict=True):
        np.testing.assert_allclose(W, Wr, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(b, br, rtol=1e-8, atol=1e-10)
    loss = fast_model.history["train_loss"]
    assert loss[-20:].mean() < 0.1 * loss[:5].mean()


def test_same_seed_same_bits_other_seed_other_bits(data):
    x, dxdt = data
    a, b, c = small_fit(x, dxdt, seed=3), small_fit(x, dxdt, seed=3), small_fit(x, dxdt, seed=4)
    bits = lambda m: b"".join(W.tobytes() + v.tobytes() for W, v in m.params)  # noqa: E731
    assert bits(a) == bits(b) != bits(c)


def test_float32_end_to_end(data):
    x, dxdt = data
    model = small_fit(x, dxdt, dtype="float32", refit_output=True)
    assert model.dtype == np.float32
    assert model.time_derivative(x).dtype == np.float32
    assert model.energy(x).dtype == np.float32 and model.dissipation(x).dtype == np.float32


def test_refit_output_improves_on_adam(data):
    """Adam, then the joint least-squares (w_H, w_D): a smaller field error than Adam's own output layer."""
    x, dxdt = data
    kw = dict(steps=300, normalize=True, schedule="cosine")
    adam_only, refit = small_fit(x, dxdt, **kw), small_fit(x, dxdt, refit_output=True, **kw)
    err = lambda m: np.linalg.norm(m.time_derivative(x) - dxdt) / np.linalg.norm(dxdt)  # noqa: E731
    assert refit.metrics["refit_loss_after"] <= refit.metrics["refit_loss_before"]
    assert err(refit) < 0.5 * err(adam_only) and err(refit) < 0.05


def test_config_checks_the_last_size(data):
    x, dxdt = data
    with pytest.raises(ValueError, match="D-HNN's last size must be 2"):
        small_fit(x, dxdt, sizes=(2, 16, 1))


# --- Model: physical units, persistence, rollout -------------------------------------------

@pytest.mark.parametrize("scale", [1.0, 0.25, 37.0])
def test_field_is_J_grad_energy_plus_grad_dissipation_in_physical_units(scale):
    """time_derivative(x) = J dH/dx + dD/dx with H = model.energy, D = model.dissipation, any scale."""
    params = [(2 * W, 2 * b) for W, b in mlp.init_params((4, 16, 16, 2), seed=3)]
    model = Model("dhnn", params, scale)
    x = np.random.default_rng(1).uniform(-1, 1, (20, 4)) * scale
    h = 1e-3 * scale
    expected = apply_J(grad_fd(model.energy, x, h)) + grad_fd(model.dissipation, x, h)
    np.testing.assert_allclose(model.time_derivative(x), expected, rtol=1e-7, atol=1e-9 * scale)


def test_a_model_trained_on_scaled_data_has_potentials_scaled_by_c_squared(data):
    """Data x -> c x, dx/dt -> c dx/dt (the same field in other units): with normalize, H and D scale by c**2.

    c = 4 is a power of two, so x / s is the same bits for both and both runs learn the same network.
    """
    x, dxdt = data
    c = 4.0
    m1 = small_fit(x, dxdt, normalize=True)
    mc = small_fit(c * x, c * dxdt, normalize=True)
    assert mc.scale == c * m1.scale
    np.testing.assert_allclose(mc.energy(c * x), c**2 * m1.energy(x), rtol=1e-13)
    np.testing.assert_allclose(mc.dissipation(c * x), c**2 * m1.dissipation(x), rtol=1e-13)
    np.testing.assert_allclose(mc.time_derivative(c * x), c * m1.time_derivative(x), rtol=1e-13)


def test_only_a_dhnn_has_a_dissipation_and_sizes_are_checked():
    with pytest.raises(ValueError, match="only a D-HNN"):
        Model("hnn", mlp.init_params((2, 4, 1))).dissipation(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="outputs \\(H, D\\)"):
        Model("dhnn", mlp.init_params((2, 4, 1)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_save_load_round_trip_is_bit_exact(tmp_path, dtype):
    model = Model("dhnn", mlp.init_params(SIZES, seed=2, dtype=dtype), 3.5)
    model.save(tmp_path / "m.npz")
    back = load_model(tmp_path / "m.npz")
    assert back.kind == "dhnn" and back.scale == 3.5
    x = np.random.default_rng(0).uniform(-3, 3, (7, 2))
    assert back.time_derivative(x).tobytes() == model.time_derivative(x).tobytes()
    assert back.dissipation(x).tobytes() == model.dissipation(x).tobytes()


def test_compiled_field_equals_time_derivative_and_rollout_matches_scipy():
    params = [(2 * W, 2 * b) for W, b in mlp.init_params((4, 12, 12, 2), seed=5)]
    model = Model("dhnn", params, 2.0)
    x = np.random.default_rng(2).uniform(-2, 2, (30, 4))
    args = field_args(model)
    one_by_one = np.stack([dhnn_field(0.0, np.ascontiguousarray(r), *args) for r in x])
    np.testing.assert_allclose(one_by_one, model.time_derivative(x), rtol=1e-12, atol=1e-12)
    t = np.linspace(0, 2, 11)
    ours = model.rollout(x[:2], t)
    for b in range(2):
        ref = solve_ivp(lambda _t, y: model.time_derivative(y[None])[0], (0, 2), x[b], method="DOP853",
                        t_eval=t, rtol=1e-11, atol=1e-11)
        np.testing.assert_allclose(ours[b], ref.y.T, rtol=1e-7, atol=1e-8)


# --- the exact output layer ---------------------------------------------------------------

def design_matrix_from_the_field(params, x):
    """Column (k, j) of Phi = the field with W[L-1] = e_j in column k, zero elsewhere (no Jacobian code)."""
    W, b = params[-1]
    cols = []
    for k in range(2):
        for j in range(W.shape[0]):
            E = np.zeros_like(W)
            E[j, k] = 1.0
            cols.append(dhnn.vector_field(params[:-1] + [(E, b)], x).reshape(-1))
    return np.stack(cols, axis=1)  # (N * 2n, 2m)


@pytest.mark.parametrize("weighted", [False, True])
def test_refit_equals_a_direct_least_squares_solve(weighted):
    rng = np.random.default_rng(0)
    params = mlp.init_params((2, 10, 10, 2), seed=1)
    x, dxdt = rng.uniform(-1.5, 1.5, (40, 2)), rng.standard_normal((40, 2))
    v = rng.uniform(0.1, 3, 40) if weighted else np.ones(40)
    Phi = design_matrix_from_the_field(params, x)
    sv = np.repeat(np.sqrt(v), 2)
    theta = np.linalg.lstsq(Phi * sv[:, None], dxdt.reshape(-1) * sv, rcond=None)[0]
    before, after = fit_output_layer("dhnn", params, x, dxdt, v if weighted else None)
    np.testing.assert_allclose(params[-1][0].T.reshape(-1), theta, rtol=1e-6, atol=1e-8)
    loss, grads = dhnn.loss_and_grad(params, x, dxdt, v if weighted else None)
    assert after == pytest.approx(loss, rel=1e-9) and after <= before
    assert np.abs(grads[-1][0]).max() <= 1e-10  # the normal equations


def test_refit_recovers_an_exactly_representable_field():
    rng = np.random.default_rng(1)
    params = mlp.init_params((2, 12, 12, 2), seed=2)
    x = rng.uniform(-1, 1, (60, 2))
    true_W = rng.standard_normal((12, 2))
    dxdt = dhnn.vector_field(params[:-1] + [(true_W, params[-1][1])], x)
    fit_output_layer("dhnn", params, x, dxdt)
    np.testing.assert_allclose(params[-1][0], true_W, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind, sizes, change, match", [
    ("gan", (2, 8, 1), {}, "kind must be one of"),
    ("baseline", (2, 8, 1), {}, "not a 'baseline' network"),
    ("hnn", (2, 8, 2), {}, "not a 'hnn' network"),
    ("dhnn", (2, 8, 1), {}, "not a 'dhnn' network"),
    ("dhnn", (2, 8, 2), dict(dxdt=np.r_[np.zeros((3, 2)), [[np.nan, 0]]]), "dxdt has non-finite values in row 3"),
    ("hnn", (2, 8, 1), dict(x=np.r_[np.zeros((3, 2)), [[0, np.inf]]]), "x has non-finite values in row 3"),
    ("baseline", (2, 8, 2), dict(dxdt=np.zeros((4, 3))), r"dxdt must have shape \(N, 2\)"),
    ("dhnn", (2, 8, 2), dict(weights=np.ones(3)), r"weights must have shape \(4,\)"),
    ("hnn", (2, 8, 1), dict(weights=np.array([1, 1, np.nan, 1])), "weights must be finite"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_refit_refuses_bad_arguments_and_leaves_the_weights_alone(kind, sizes, change, match):
    params = mlp.init_params(sizes, seed=0)
    saved = [W.copy() for W, _ in params]
    args = dict(x=np.zeros((4, 2)), dxdt=np.zeros((4, 2)), weights=None) | change
    with pytest.raises(ValueError, match=match):
        fit_output_layer(kind, params, **args)
    assert all((W == S).all() for (W, _), S in zip(params, saved))


def test_hnn_refit_is_unchanged_by_the_dhnn_path():
    """The HNN's refit still solves for column 0 alone and agrees with the HNN's own loss."""
    rng = np.random.default_rng(3)
    params = mlp.init_params((2, 10, 10, 1), seed=4)
    x, dxdt = rng.uniform(-1, 1, (30, 2)), rng.standard_normal((30, 2))
    _, after = fit_output_layer("hnn", params, x, dxdt)
    assert after == pytest.approx(hnn.loss_and_grad(params, x, dxdt)[0], rel=1e-9)


def test_an_interrupted_dhnn_run_resumed_ends_bit_for_bit_where_an_uninterrupted_one_does(
        data, tmp_path, monkeypatch):
    """Checkpoints carry a D-HNN run as they carry an HNN's: killed at step 14, resumed from step 10."""
    from hnn_np import train

    x, dxdt = data
    cfg = TrainConfig(kind="dhnn", sizes=SIZES, steps=25, finetune_steps=5, batch_size=48, lr=1e-2)
    whole = fit(x, dxdt, cfg, checkpoint=tmp_path / "whole.npz", checkpoint_every=10, progress=False)

    class Killed(Exception):
        pass

    real = train._step_functions

    def killed_at_14(*args):
        step, adam = real(*args)
        count = [0]

        def maybe_kill(xb, yb, wb):
            if count[0] == 14:
                raise Killed
            count[0] += 1
            return step(xb, yb, wb)
        return maybe_kill, adam

    ckpt = tmp_path / "ckpt.npz"
    with monkeypatch.context() as m:
        m.setattr(train, "_step_functions", killed_at_14)
        with pytest.raises(Killed):
            fit(x, dxdt, cfg, checkpoint=ckpt, checkpoint_every=10, progress=False)
    resumed = fit(x, dxdt, cfg, checkpoint=ckpt, checkpoint_every=10, resume=ckpt, progress=False)
    bits = lambda m: b"".join(W.tobytes() + b.tobytes() for W, b in m.params)  # noqa: E731
    assert bits(resumed) == bits(whole)
    assert resumed.history["train_loss"].tobytes() == whole.history["train_loss"].tobytes()
