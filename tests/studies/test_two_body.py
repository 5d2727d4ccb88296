"""hnn_np.studies.two_body: Kepler orbits sampled in closed form, and the two-body experiment.

The samplers are checked against what is known independently of them:
Kepler's equation, the energy H = -k / (2a) and angular momentum
L = +-mu sqrt(G M a (1 - e^2)) of an orbit, its period 2 pi sqrt(a^3 / (G M)),
the time average <a / |q|> = 1 (and the average over the eccentric anomaly
1 / sqrt(1 - e^2)), and scipy's DOP853 as an oracle for the motion. The quick
run exercises the whole pipeline in a temporary folder.
"""

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from hnn_np import catalog, load_model
from hnn_np.studies.two_body import (FAMILY, SYSTEM, TRAIN, TwoBodyData, fit_scaled, held_out_states,
                                     kepler_anomaly, kepler_states, orbit_states, run_two_body,
                                     training_states)
from hnn_np.train import TrainConfig


def test_kepler_anomaly_solves_keplers_equation():
    rng = np.random.default_rng(0)
    M, e = rng.uniform(0, 2 * np.pi, 1000), rng.uniform(0, 0.9, 1000)
    u = kepler_anomaly(M, e)
    assert np.max(np.abs(u - e * np.sin(u) - M)) < 1e-14
    assert np.array_equal(kepler_anomaly(M, np.zeros(1000)), M)  # a circle: u = M
    with pytest.raises(ValueError, match="e in"):
        kepler_anomaly(1.0, 1.0)


@pytest.mark.parametrize("phase", ["time", "eccentric", "true"])
def test_orbit_states_lie_on_their_kepler_ellipses(phase):
    rng = np.random.default_rng(1)
    x, el = orbit_states(SYSTEM, 4000, rng, (0.5, 1.5), 0.5, "energy", phase)
    a, e = el["a"], el["e"]
    assert a.min() >= 0.5 and a.max() <= 1.5 and e.max() <= 0.5
    np.testing.assert_allclose(SYSTEM.energy(x), -SYSTEM.k / (2 * a), rtol=1e-12)
    L = el["direction"] * SYSTEM.mu * np.sqrt(SYSTEM.G * SYSTEM.M * a * (1 - e**2))
    np.testing.assert_allclose(SYSTEM.angular_momentum(x), L, rtol=1e-12)
    r = np.hypot(x[:, 0], x[:, 1])
    assert np.all(r >= a * (1 - e) * (1 - 1e-12)) and np.all(r <= a * (1 + e) * (1 + 1e-12))
    # time average <a / r> = 1; over the eccentric anomaly 1 / sqrt(1 - e^2), over the true
    # anomaly 1 / (1 - e^2) (a / r = (1 + e cos nu) / (1 - e^2)); 4000 samples
    laws = {"time": np.ones_like(e), "eccentric": 1 / np.sqrt(1 - e**2), "true": 1 / (1 - e**2)}
    for law, expected in laws.items():
        gap = abs(np.mean(a / r - expected)) / (np.std(a / r - expected) / np.sqrt(len(r)))
        assert (gap < 4) if law == phase else (gap > 8)  # the other law is rejected


def test_energy_law_is_that_of_the_systems_sampler():
    """1 / a uniform on [2/3, 2], as TwoBody.sample_initial_states with R = 1, f ~ U[1/3, 1]."""
    x, el = held_out_states(20000, seed=3)
    inv_a = 1 / el["a"]
    assert inv_a.min() >= 2 / 3 and inv_a.max() <= 2
    assert abs(np.mean(inv_a) - 4 / 3) < 0.01 and abs(np.var(inv_a) - (4 / 3) ** 2 / 12) < 0.01
    x0, E = SYSTEM.sample_initial_states(20000, np.random.default_rng(3), 1.0, (1 / 3, 1.0))
    assert abs(np.mean(-2 * E) - np.mean(inv_a)) < 0.02  # 1 / a = -2 E / k


def test_kepler_states_follow_the_true_motion_and_return_after_one_period():
    x0, el = held_out_states(3, seed=0)
    t = np.linspace(0.0, 6.0, 13)
    x = kepler_states(SYSTEM, el, t)  # (3, 13, 4)
    assert np.array_equal(x[:, 0], x0)
    for b in range(3):
        sol = solve_ivp(lambda _t, y: SYSTEM.time_derivative(y[None])[0], (0, 6), x0[b], method="DOP853",
                        t_eval=t, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(x[b], sol.y.T, atol=1e-9)
    T = SYSTEM.period(-SYSTEM.k / (2 * el["a"]))
    back = np.stack([kepler_states(SYSTEM, {k: v[[b]] for k, v in el.items()}, T[b])[0, 0]
                     for b in range(3)])
    np.testing.assert_allclose(back, x0, atol=1e-12)


def test_held_out_states_are_independent_of_training_and_reproducible():
    x_tr, dx_dt = training_states(TwoBodyData(n=500), seed=0)
    x_te, _ = held_out_states(500, seed=0)
    assert not np.isin(x_te, x_tr).any()
    np.testing.assert_array_equal(dx_dt, SYSTEM.time_derivative(x_tr))
    assert np.array_equal(training_states(TwoBodyData(n=500), seed=0)[0], x_tr)
    assert np.array_equal(held_out_states(500, seed=0)[0], x_te)
    assert not np.array_equal(held_out_states(500, seed=1)[0], x_te)
    r = np.hypot(x_te[:, 0], x_te[:, 1])
    lo, hi = FAMILY["a"]
    assert r.min() >= lo * (1 - FAMILY["e_max"]) and r.max() <= hi * (1 + FAMILY["e_max"])


@pytest.mark.parametrize("kw, name", [(dict(n=1), "n"), (dict(n=2.5), "n"), (dict(a_range=(1, 0.5)), "a_range"),
                                      (dict(a_range="ab"), "a_range"), (dict(e_max=1.0), "e_max"),
                                      (dict(a_law="log"), "a_law"), (dict(phase="mean"), "phase")])
def test_bad_data_settings_raise(kw, name):
    with pytest.raises(ValueError, match=name):
        TwoBodyData(**kw)


@pytest.mark.parametrize("kw, name", [(dict(seed=-1), "seed"), (dict(seed=1.5), "seed"), (dict(quick=1), "quick"),
                                      (dict(data={"n": 3}), "data"), (dict(train={"lr": -1.0}), "lr"),
                                      (dict(scale=0.0), "scale"), (dict(train={"normalize": True}), "normalize")])
def test_bad_run_arguments_raise(tmp_path, kw, name):
    with pytest.raises(ValueError, match=name):
        run_two_body(tmp_path, **{"quick": True, **kw})


def test_fit_scaled_in_float32_returns_a_float64_model_with_the_float64_output_layer():
    """Adam in float32; the cast weights and the least-squares output layer in float64."""
    x, dx_dt = training_states(TwoBodyData(n=300), seed=0)
    cfg = TrainConfig(sizes=(4, 16, 16, 1), lr=3e-3, batch_size=64, steps=40, finetune_steps=0,
                      loss_weighting="relative", refit_output=True, dtype="float32")
    model = fit_scaled(x, dx_dt, cfg, 0.5)
    plain = fit_scaled(x, dx_dt, replace(cfg, refit_output=False), 0.5)
    assert model.dtype == np.float64 and plain.dtype == np.float64 and model.scale == 0.5
    assert model.config["dtype"] == "float32" and model.config["refit_output"] and model.config["input_scale"] == 0.5
    assert "refit_loss_after" not in plain.metrics
    for (W, b), (W2, b2) in zip(model.params[:-1], plain.params[:-1]):  # the same Adam run
        assert np.array_equal(W, W2) and np.array_equal(b, b2)
    assert not np.array_equal(model.params[-1][0], plain.params[-1][0])  # only the output layer moved
    # refit_loss_after is the weighted loss of the returned float64 model on the scaled data
    xs, ys = x / 0.5, dx_dt / 0.5
    w = 1 / np.sum(ys**2, axis=1)
    loss = np.sum(w[:, None] * (model.time_derivative(x) / 0.5 - ys) ** 2) / ys.size
    assert loss == pytest.approx(model.metrics["refit_loss_after"], rel=1e-9)
    assert model.metrics["refit_loss_after"] < model.metrics["refit_loss_before"]
    # the output layer is the least-squares optimum: moving it either way along its weights costs loss
    for eps in (1e-3, -1e-3):
        moved = with_output_scaled(model, eps)
        assert np.sum(w[:, None] * (moved.time_derivative(x) / 0.5 - ys) ** 2) / ys.size > loss


def test_the_catalog_runs_the_experiment_with_the_precision_asked_of_adam(tmp_path):
    assert TRAIN["dtype"] == "float32"
    for dtype, want in ((None, "float32"), ("float64", "float64")):
        model, _ = catalog.run("two-body", tmp_path / str(dtype), quick=True, dtype=dtype)
        assert model.config["dtype"] == want and model.dtype == np.float64


def with_output_scaled(model, eps):
    """The model with its output weights scaled by 1 + eps."""
    from hnn_np.model import Model

    params = [(W.copy(), b.copy()) for W, b in model.params]
    params[-1][0][...] *= 1 + eps
    return Model(model.kind, params, model.scale)


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    root = tmp_path_factory.mktemp("two-body")
    lines = []
    model, metrics = run_two_body(root, quick=True, seed=0, log=lines.append)
    return root, model, metrics, lines


def test_quick_run_writes_every_file(quick):
    root, model, metrics, lines = quick
    folder = root / "two-body"
    assert (folder / "two_body.png").stat().st_size > 10_000
    assert json.loads((folder / "metrics.json").read_text()) == metrics
    loaded = load_model(folder / "model.npz")
    assert loaded.kind == "hnn" and loaded.sizes == model.sizes
    assert loaded.config["data"]["n"] == 400
    assert not list(root.rglob(".hnn_np*"))
    assert len(lines) == 1 and "two-body" in lines[0]
    assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())


def test_quick_run_is_reproducible(quick, tmp_path):
    root, model, metrics, _ = quick
    model2, metrics2 = run_two_body(tmp_path, quick=True, seed=0, log=lambda _: None)
    for (W, b), (W2, b2) in zip(model.params, model2.params):
        assert np.array_equal(W, W2) and np.array_equal(b, b2)
    drop = ("train_seconds",)
    assert {k: v for k, v in metrics.items() if k not in drop} == \
        {k: v for k, v in metrics2.items() if k not in drop}
