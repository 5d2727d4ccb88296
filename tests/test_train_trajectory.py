"""hnn_np.fit_trajectories and ``hnn-np fit --target trajectory``: learning a field from states alone.

The data are the mass-spring's closed-form trajectories (no time derivative
is given or formed); the learned field is held to the spring's closed-form
field S = (p / m, -k q). Positions only: the field in the coordinates
(q, v = dq/dt), (v, -(k/m) q). Noisy starts, learned, must move towards the
clean states. Runs repeat bit for bit.
"""

import contextlib
import io
import json

import numpy as np
import pytest

from hnn_np import MassSpring, TrainConfig, cli, fit, fit_trajectories
from hnn_np.model import load_model
from hnn_np.train_trajectory import RowAdam, windows

SPRING = MassSpring()  # k = m = 2: q' = p / 2, p' = -2 q, omega = 1
QUICK = dict(target="trajectory", sizes=(2, 16, 16, 1), finetune_steps=0, lr=1e-2, schedule="cosine", lr_min=1e-5,
             batch_size=None)


def spring_trajectories(B=8, T=21, dt=0.2, seed=0):
    """B closed-form trajectories (B, T, 2), energies uniform in [0.2, 1] E(1, 0) and uniform phases."""
    rng = np.random.default_rng(seed)
    r, phi = np.sqrt(rng.uniform(0.2, 1.0, B)), rng.uniform(0, 2 * np.pi, B)
    return SPRING.exact_solution(np.stack([r * np.cos(phi), 2 * r * np.sin(phi)], axis=1), dt * np.arange(T))


def spring_states(n=200, seed=1):
    """States on the energy shells the data cover (radius 0.3 .. 0.9 in (q, p / 2))."""
    rng = np.random.default_rng(seed)
    r, phi = rng.uniform(0.3, 0.9, n), rng.uniform(0, 2 * np.pi, n)
    return np.stack([r * np.cos(phi), 2 * r * np.sin(phi)], axis=1)


def median_field_error(field, x, exact):
    return float(np.median(np.linalg.norm(field(x) - exact, axis=1) / np.linalg.norm(exact, axis=1)))


def spring_field(x):
    return np.stack([x[:, 1] / SPRING.m, -SPRING.k * x[:, 0]], axis=1)


@pytest.mark.parametrize("settings", [dict(kind="hnn", method="rk4", window=4),
                                      dict(kind="separable", method="leapfrog", window=4, substeps=2)],
                         ids=["hnn-rk4", "separable-leapfrog"])
def test_the_spring_field_is_recovered_from_its_trajectories(settings):
    model = fit_trajectories(spring_trajectories(), 0.2, TrainConfig(**QUICK, steps=400, **settings), progress=False)
    assert model.kind == "hnn" and model.history["train_loss"][-1] < 1e-3
    x = spring_states()
    assert median_field_error(model.time_derivative, x, spring_field(x)) < 0.05  # untrained: about 1


@pytest.mark.parametrize("learn", [False, True], ids=["estimated starts", "learned starts"])
def test_positions_alone_recover_the_field_in_q_and_dq_dt(learn):
    """Trajectories of q only; the starts' p = dq/dt by differences: the field (v, -(k/m) q) in (q, v).

    Learned, the starts stay tied to their estimates by the k = 0 term, so p keeps meaning dq/dt.
    """
    q = spring_trajectories()[:, :, :1]
    cfg = TrainConfig(**QUICK, steps=400, window=4, learn_initial_states=learn)
    model = fit_trajectories(q, 0.2, cfg, progress=False)
    x = spring_states()
    x = np.stack([x[:, 0], x[:, 1] / SPRING.m], axis=1)  # (q, v)
    exact = np.stack([x[:, 1], -SPRING.k / SPRING.m * x[:, 0]], axis=1)
    assert median_field_error(model.time_derivative, x, exact) < 0.06
    starts = model.history["window_starts"]  # (q, dq/dt by differences) at samples 0, 4, 8, ...
    v_true = spring_trajectories()[:, 0:20:4, 1].reshape(-1) / SPRING.m
    assert np.abs(starts[:, 1] - v_true).max() < 0.02  # second-order differences at dt = 0.2


def test_learned_starts_move_from_noisy_observations_towards_the_clean_states():
    """sigma = 0.05 on every observed state: windows of K = 8 pin their starts better than one sample does."""
    clean = spring_trajectories(B=6, T=33)
    noisy = clean + 0.05 * np.random.default_rng(3).standard_normal(clean.shape)
    cfg = TrainConfig(**{**QUICK, "lr": 2e-2}, steps=400, window=8, learn_initial_states=True)
    model = fit_trajectories(noisy, 0.2, cfg, progress=False)
    _, clean_starts = windows(list(clean), 8, 0.2, 2)
    _, noisy_starts = windows(list(noisy), 8, 0.2, 2)
    learned = model.history["window_starts"]
    rms = [np.sqrt(np.mean((s - clean_starts) ** 2)) for s in (learned, noisy_starts)]
    assert rms[0] < 0.85 * rms[1]


def test_the_same_seed_gives_the_same_bits_and_another_seed_other_ones():
    data = spring_trajectories(B=3)
    cfg = TrainConfig(**{**QUICK, "batch_size": 4}, steps=30, window=3, learn_initial_states=True, seed=5)
    a, b = (fit_trajectories(data, 0.2, cfg, progress=False) for _ in range(2))
    c = fit_trajectories(data, 0.2, TrainConfig(**{**cfg.to_dict(), "seed": 6}), progress=False)
    for (Wa, ba), (Wb, bb) in zip(a.params, b.params):
        assert Wa.tobytes() == Wb.tobytes() and ba.tobytes() == bb.tobytes()
    assert a.history["window_starts"].tobytes() == b.history["window_starts"].tobytes()
    assert a.params[0][0].tobytes() != c.params[0][0].tobytes()


def test_windows_tile_each_trajectory():
    x = np.arange(11.0)[:, None] * np.ones((1, 2))  # 11 samples: windows of K = 3 start at 0, 3, 6
    X, x0 = windows([x, x[:7]], 3, 0.1, 2)
    assert X.shape == (4, 3 + 2, 2)
    np.testing.assert_array_equal(X[:, :, 0].T, [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9], [0, 1, 2, 3],
                                                 [3, 4, 5, 6]])
    np.testing.assert_array_equal(x0, X[0])


def test_given_velocities_replace_the_differences_in_the_starts():
    """Positions only with ``velocities``: each start is (q, v) at its sample, v as given, not differenced."""
    x = spring_trajectories(B=2, T=13)
    q, v = x[:, :, :1], x[:, :, 1:] / SPRING.m
    X, x0 = windows(list(q), 4, 0.2, 2, velocities=list(v))
    np.testing.assert_array_equal(x0, np.concatenate([q[:, 0:12:4], v[:, 0:12:4]], axis=2).reshape(-1, 2))
    _, x0_diff = windows(list(q), 4, 0.2, 2)
    assert np.abs(x0_diff[:, 1] - x0[:, 1]).max() > 1e-3  # second-order differences at dt = 0.2 differ
    model = fit_trajectories(q, 0.2, TrainConfig(**QUICK, steps=2, window=4), progress=False, velocities=v)
    np.testing.assert_array_equal(model.history["window_starts"], x0)
    with pytest.raises(ValueError, match="velocities must be one array"):
        windows(list(x), 4, 0.2, 2, velocities=list(v))  # states, not positions only
    with pytest.raises(ValueError, match=r"velocities\[1\] must have the shape"):
        windows(list(q), 4, 0.2, 2, velocities=[v[0], v[1][:-1]])


@pytest.mark.parametrize("learn", [False, True], ids=["observed starts", "learned starts"])
def test_lbfgs_after_adam_lowers_the_full_batch_loss_and_leaves_the_weights_at_its_last_point(learn):
    from hnn_np.train_trajectory import evaluate_trajectory_loss

    data = spring_trajectories(B=4)
    cfg = TrainConfig(**{**QUICK, "batch_size": 8}, steps=100, window=4, learn_initial_states=learn)
    adam = fit_trajectories(data, 0.2, cfg, progress=False)
    both = fit_trajectories(data, 0.2, cfg, progress=False, lbfgs_steps=60)
    losses = both.history["lbfgs_loss"]
    assert len(losses) == 61 and np.all(np.diff(losses[np.isfinite(losses)]) <= 0)
    assert np.nanmin(losses) < 0.05 * losses[0]
    X, x0 = windows(list(data), 4, 0.2, 2)
    starts = both.history["window_starts"]
    loss = evaluate_trajectory_loss(cfg, both.params, X, starts, 0.2)
    if learn:  # the k = 0 term too; the starts moved
        loss += np.sum((starts - x0) ** 2) / X[1:].size
        assert np.abs(starts - x0).max() > 0
    else:
        np.testing.assert_array_equal(starts, x0)
    assert loss == pytest.approx(np.nanmin(losses), rel=1e-9)
    x = spring_states()
    errors = [median_field_error(m.time_derivative, x, spring_field(x)) for m in (adam, both)]
    assert errors[1] < 0.5 * errors[0]
    assert both.config["lbfgs_steps"] == 60


def test_a_run_can_start_from_given_weights():
    """init: zero steps return the given weights (copied); longer windows then start from a shorter run's fit."""
    data = spring_trajectories(B=4)
    short = fit_trajectories(data, 0.2, TrainConfig(**QUICK, steps=200, window=2), progress=False)
    same = fit_trajectories(data, 0.2, TrainConfig(**QUICK, steps=0, window=2), progress=False, init=short.params)
    for (Wa, ba), (Wb, bb) in zip(short.params, same.params):
        assert Wa.tobytes() == Wb.tobytes() and ba.tobytes() == bb.tobytes() and Wa is not Wb
    cfg = TrainConfig(**QUICK, steps=20, window=8)
    longer, fresh = (fit_trajectories(data, 0.2, cfg, progress=False, init=init) for init in (short.params, None))
    assert longer.history["train_loss"][0] < 0.01 * fresh.history["train_loss"][0]
    with pytest.raises(ValueError, match=r"init must be weights of sizes \[2, 16, 16, 1\]; got \[2, 16, 1\]"):
        fit_trajectories(data, 0.2, cfg, progress=False, init=[short.params[0], short.params[2]])


def test_row_adam_is_adam_on_each_row():
    """Rows updated t times follow optim.Adam's update of a tensor t times, whatever the other rows do."""
    from hnn_np.optim import adam_update

    x = np.random.default_rng(0).standard_normal((3, 2))
    ref, m, v = x[1].copy(), np.zeros(2), np.zeros(2)
    opt = RowAdam(x)
    for t, rows in enumerate(([0, 1], [1], [2, 1]), start=1):
        g = np.full((len(rows), 2), 0.5 * t)
        opt.step(np.array(rows), g, 0.1)
        adam_update(ref, np.full(2, 0.5 * t), m, v, 0.1, 0.9, 0.999, 1e-8, 0.0, t)
    np.testing.assert_allclose(x[1], ref, rtol=1e-15)
    assert list(opt.t) == [1, 3, 1]


@pytest.mark.parametrize("make, match", [
    (lambda: TrainConfig(target="trajectory", method="leapfrog"), "needs kind='separable'"),
    (lambda: TrainConfig(kind="separable"), "kind must be one of"),
    (lambda: TrainConfig(target="trajectory", refit_output=True), "refit_output must be False"),
    (lambda: TrainConfig(target="states"), "target must be one of"),
    (lambda: TrainConfig(target="trajectory", window=0), "window must be >= 1"),
    (lambda: fit(np.ones((4, 2)), np.ones((4, 2)), TrainConfig(target="trajectory")), "use hnn_np.fit_trajectories"),
    (lambda: fit_trajectories(np.ones((2, 3, 2)), 0.1, TrainConfig(target="trajectory", window=3)), "needs 4"),
    (lambda: fit_trajectories(np.ones((2, 5, 3)), 0.1, TrainConfig(target="trajectory", sizes=(2, 4, 1))),
     r"\(T, 2\) of states or \(T, 1\) of positions"),
    (lambda: fit_trajectories(np.ones((2, 5, 2)), 0.1, TrainConfig()), "target='trajectory'"),
], ids=["leapfrog-hnn", "separable-derivative", "refit", "target", "window", "fit", "short", "columns", "config"])
def test_bad_settings_and_data_are_refused_by_name(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# --- hnn-np fit DATA --target trajectory ------------------------------------------------------

@pytest.fixture(scope="module")
def spring_csv(tmp_path_factory):
    """4 trajectories of q'' = -4 q (omega = 2) in (q, v = dq/dt), 121 samples at dt = 0.05."""
    path = tmp_path_factory.mktemp("spring") / "spring.csv"
    lines = ["t,q,v,run"]
    t = 0.05 * np.arange(121)
    for k, (A, phi) in enumerate(((1.0, 0.0), (1.6, 1.0), (1.2, 2.0), (1.4, 3.0))):
        q, v = A * np.cos(2 * t + phi), -2 * A * np.sin(2 * t + phi)
        lines += [f"{a!r},{b!r},{c!r},{k}" for a, b, c in zip(t.tolist(), q.tolist(), v.tolist())]
    path.write_text("\n".join(lines) + "\n")
    return path


def main(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("extra, n_windows", [(["--window", "4"], 3 * 30),
                                              (["--window", "16", "--velocities", "differences"], 3 * 7)],
                         ids=["states", "positions-only"])
def test_fit_target_trajectory_follows_the_held_out_swing(spring_csv, tmp_path, extra, n_windows):
    """The held-out trajectory (A = 1.4), rolled out from its first measured state over two periods."""
    code, stdout, stderr = main("fit", str(spring_csv), "--out", str(tmp_path / "f"), "--columns", "q,v",
                                "--trajectory", "run", "--target", "trajectory", "--hidden", "16,16",
                                "--steps", "300", "--lr", "1e-2", "--batch-size", "64", "--quiet", *extra)
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["target"] == "trajectory" and report["n_windows"] == n_windows
    with np.load(tmp_path / "f" / "rollouts.npz") as z:
        measured, rolled = z["measured_3"], z["rollout_3"]
    assert report["rms_q_traj3"] == pytest.approx(np.sqrt(np.mean((rolled[:, 0] - measured[:, 0]) ** 2)), rel=1e-12)
    assert report["rms_q_traj3"] < 0.5 * np.std(measured[:, 0])  # a zero field leaves about 1.4 std(q)
    model = load_model(tmp_path / "f" / "model.npz")
    assert model.kind == "hnn" and model.config["target"] == "trajectory"
