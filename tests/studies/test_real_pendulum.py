"""hnn_np.studies.real_pendulum: the authors' model reproduced, the yardsticks, and a quick run end to end.

The authors' rollouts are checked twice: against the RMS errors their data's
README states (1.47e-2 and 2.05e-2 rad on segments 4 and 5) and against
scipy's DOP853 on the same field (the oracle). The energy and the
linearisation are checked against their closed forms.
"""

import json

import numpy as np
import pytest
import scipy.integrate

from hnn_np.datasets import load_real_pendulum, real_pendulum_params
from hnn_np.model import load_model
from hnn_np.studies import real_pendulum as rp
from hnn_np.studies.real_pendulum import RUNS as RUNS_


@pytest.fixture(scope="module")
def data():
    return load_real_pendulum()


@pytest.fixture(scope="module")
def authors(data):
    return rp.authors_metrics(data)


def test_the_authors_rollouts_reproduce_their_validation_errors(authors):
    metrics, _ = authors
    assert metrics["theta_rms_seg4"] == pytest.approx(1.47e-2, abs=5e-5)
    assert metrics["theta_rms_seg5"] == pytest.approx(2.05e-2, abs=5e-5)
    assert metrics["omega_rms_seg4"] == pytest.approx(0.138, abs=5e-4)
    assert metrics["omega_rms_seg5"] == pytest.approx(0.162, abs=5e-4)


def test_our_dop853_rollout_of_the_authors_model_matches_scipys(data, authors):
    _, curves = authors
    field = rp.authors_field()
    t, x = data.t[4], data.x[4]
    ref = scipy.integrate.solve_ivp(lambda _t, y: field(y[None])[0], (t[0], t[-1]), x[0], method="DOP853",
                                    t_eval=t, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(curves["seg4"], ref.y.T, atol=1e-6)


def test_energy_and_linearisation_have_their_closed_forms(authors):
    p = real_pendulum_params()
    M = p["m1"] * p["a1"] ** 2 + p["I1"]
    assert rp.energy(np.array([[np.pi, 0.0]]))[0] == pytest.approx(0.0, abs=1e-15)
    assert rp.energy(np.array([[0.0, 0.0]]))[0] == pytest.approx(2 * p["a1"] * p["g"] * p["m1"])
    assert rp.energy(np.array([[np.pi, 2.0]]))[0] == pytest.approx(2 * M)
    metrics, _ = authors
    assert metrics["omega0"] == pytest.approx(np.sqrt(p["a1"] * p["g"] * p["m1"] / M), rel=1e-7)
    assert metrics["decay_rate"] == pytest.approx(p["k1"] / M, rel=1e-6)
    assert metrics["measured_energy_ratio_seg5"] < metrics["energy_ratio_seg5"]  # friction is not viscous


def test_the_files_omega_differs_from_the_differences_of_theta_by_about_004(data):
    check = rp.velocity_check(data, orders=(2, 4), strides=(1, 10))
    assert 0.03 < check["order2_stride10"] < 0.05
    assert check["order4_stride1"] > check["order4_stride10"]  # the encoder's steps, amplified by 1 / dt


def test_a_quick_run_saves_a_model_in_data_units_and_its_rollouts(tmp_path, data):
    model, metrics = rp.run_real_pendulum("real-pendulum-hnn", tmp_path, quick=True, progress=False)
    folder = tmp_path / "real-pendulum-hnn"
    assert sorted(p.name for p in folder.iterdir()) == ["metrics.json", "model.npz", "rollouts.npz"]
    loaded = load_model(folder / "model.npz")
    x = data.x[4][:50]
    np.testing.assert_array_equal(loaded.time_derivative(x), model.time_derivative(x))
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved["experiment"] == "real-pendulum-hnn"
    assert saved["authors_theta_rms_seg4"] == pytest.approx(1.47e-2, abs=5e-5)
    assert saved["energy_ratio_seg4"] == pytest.approx(1.0, abs=0.05)  # an HNN keeps its own energy ...
    assert saved["measured_energy_ratio_seg4"] < 0.7  # ... while the pendulum loses it
    with np.load(folder / "rollouts.npz") as z:
        np.testing.assert_array_equal(z["measured_seg4"], data.x[4])
        assert z["model_seg5"].shape == data.x[5].shape


def test_the_d_hnn_is_the_mean_of_its_members_and_trains_on_theta_alone(tmp_path, data):
    """real-pendulum: 5 members stacked into one D-HNN, trained on (theta, dtheta/dt) from the encoder."""
    from hnn_np.studies.real_pendulum import RUNS, training_data

    run = RUNS["real-pendulum"]
    assert run.kind == "dhnn" and run.members == 5 and run.velocity == "theta"
    x, dx_dt = training_data(run, data.subset([0]))
    np.testing.assert_array_equal(x[:, 1], dx_dt[:, 0])  # the state's omega is the dtheta/dt target itself
    model, metrics = rp.run_real_pendulum("real-pendulum", tmp_path, quick=True, progress=False)
    assert model.kind == "dhnn" and model.sizes == [2, 40, 40, 2]  # QUICK: (8, 8) x 5 members
    assert len(metrics["members_theta_rms_seg4"]) == 5
    loaded = load_model(tmp_path / "real-pendulum" / "model.npz")
    np.testing.assert_array_equal(loaded.dissipation(data.x[5][:20]), model.dissipation(data.x[5][:20]))


def test_the_trajectory_recipe_never_reads_the_files_omega(data):
    """real-pendulum-trajectory: the same weights, bit for bit, when the file's omega is replaced by noise."""
    from dataclasses import replace

    from hnn_np.studies.pendulum_trajectory import learn_from_theta

    run = RUNS_["real-pendulum-trajectory"]
    train = data.subset([0, 1])
    rng = np.random.default_rng(0)
    garbled = replace(train, x=tuple(np.column_stack([x[:, 0], rng.standard_normal(len(x))]) for x in train.x))
    cfg = run.train_config(hidden=(4, 4))
    a, b = (learn_from_theta(run, d, cfg, stages=((4, 3, False), (8, 3, True))) for d in (train, garbled))
    for (Wa, ba), (Wb, bb) in zip(a.params, b.params):
        assert Wa.tobytes() == Wb.tobytes() and ba.tobytes() == bb.tobytes()
    assert a.kind == "dhnn" and a.config["target"] == "trajectory" and a.config["stages"][1] == [8, 3, True]


def test_theta_samples_take_the_starts_velocity_from_differences_on_the_full_grid():
    """theta = A cos(w t): the order-6 difference at stride 20 ms is -w A sin(w t) to (w h)**6 / 140 w A = 5e-7.

    Second-order differences of the thinned samples would be off by up to (w h)**2 / 6 w A = 0.017 rad/s.
    """
    from hnn_np.measured import Measured
    from hnn_np.studies.pendulum_trajectory import theta_samples

    t = 1e-3 * np.arange(3000)
    w, A = 8.0, 0.5
    measured = Measured((t,), (np.column_stack([np.pi + A * np.cos(w * t), np.zeros_like(t)]),), ("theta", "omega"),
                        (0,), "synthetic")
    theta, dtheta_dt, dt = theta_samples(RUNS_["real-pendulum-trajectory"], measured)
    assert dt == pytest.approx(0.02)
    t_kept = t[60:-60:20]  # order 6 at stride 20 drops 3 * 20 samples at each end; then every 20th
    np.testing.assert_allclose(theta[0][:, 0], np.pi + A * np.cos(w * t_kept), atol=1e-15)
    np.testing.assert_allclose(dtheta_dt[0][:, 0], -w * A * np.sin(w * t_kept), atol=1e-6)
    biased = np.gradient(theta[0][:, 0], dt)  # second-order differences of the thinned samples
    assert np.abs(biased[1:-1] + w * A * np.sin(w * t_kept[1:-1])).max() > 0.015


def test_a_quick_trajectory_run_trains_from_theta_and_saves_the_mean_of_its_members(tmp_path, data):
    model, metrics = rp.run_real_pendulum("real-pendulum-trajectory", tmp_path, quick=True, progress=False)
    assert model.kind == "dhnn" and model.sizes == [2, 40, 40, 2]  # QUICK: (8, 8) x 5 members
    assert len(metrics["members_theta_rms_seg4"]) == 5 and model.config["target"] == "trajectory"
    loaded = load_model(tmp_path / "real-pendulum-trajectory" / "model.npz")
    np.testing.assert_array_equal(loaded.time_derivative(data.x[4][:20]), model.time_derivative(data.x[4][:20]))


def test_the_derivative_pre_fit_reads_theta_alone_too(data):
    """pretrain_steps > 0: the pre-fit's rows are differences of theta, so omega replaced by noise changes nothing."""
    from dataclasses import replace

    from hnn_np.studies.pendulum_trajectory import learn_from_theta

    run = replace(RUNS_["real-pendulum-trajectory"], pretrain_steps=20)
    train = data.subset([0, 1])
    rng = np.random.default_rng(0)
    garbled = replace(train, x=tuple(np.column_stack([x[:, 0], rng.standard_normal(len(x))]) for x in train.x))
    cfg = run.train_config(hidden=(4, 4))
    a, b = (learn_from_theta(run, d, cfg, stages=((4, 3, False),), derivative_rows=rp.pretrain_rows(run, d))
            for d in (train, garbled))
    for (Wa, ba), (Wb, bb) in zip(a.params, b.params):
        assert Wa.tobytes() == Wb.tobytes() and ba.tobytes() == bb.tobytes()
    assert len(a.history["pretrain_loss"]) == 20 and a.config["pretrain_steps"] == 20
    with pytest.raises(ValueError, match="derivative_rows"):
        learn_from_theta(run, train, cfg, stages=((4, 3, False),))
