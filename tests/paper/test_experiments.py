"""hnn_np.paper.experiments and hnn_np.paper.figures: the named runs and the whole pipeline.

* The integrator comparison of Sec. 4.1 is checked against the spring's
  closed-form energy and solution: DOP853 at tight tolerances keeps the
  energy to < 1e-9, RK45 at its defaults drifts by more than 1e-7.
* Every named experiment must be runnable: its training settings pass
  :meth:`TrainConfig.validate` on the number of rows its data configuration
  really produces.
* :func:`run_experiment` on a small network writes a model, metrics and the
  datasets that load back consistently, and resumes from its own checkpoint.
* ``make_figures(quick=True)`` -- the full pipeline with few steps -- writes
  every PNG its docstring lists and a metrics.json with every experiment.
"""

import json
import os
import re
import time
from dataclasses import replace

import numpy as np
import pytest

from hnn_np import data as D
from hnn_np.paper import experiments as X
from hnn_np import hnn
from hnn_np.paper import figures
from hnn_np.model import load_model
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def small(name, sizes=(2, 16, 16, 1), **train):
    """The named experiment on a small network (same name, same data)."""
    exp = X.get_experiment(name)
    return replace(exp, train=replace(exp.train, sizes=sizes, **train))


# --- Sec. 4.1: DOP853 against RK45 --------------------------------------------------

def test_integrator_comparison_dop853_conserves_energy_and_rk45_drifts():
    comp = X.integrator_comparison()
    x0, t = comp["x0"], comp["t"]
    H0 = float(X.SPRING.energy(x0[None])[0])  # the closed-form energy of the start
    assert comp["H0"] == H0
    exact = X.SPRING.exact_solution(x0[None], t)[0]  # (T, 2)
    for method in ("RK45", "DOP853"):
        r = comp[method]
        assert r["x"].shape == (len(t), 2)
        np.testing.assert_allclose(r["H"], X.SPRING.energy(r["x"]), rtol=1e-15)
        assert r["drift"] == pytest.approx(np.max(np.abs(r["H"] - H0)) / H0, rel=1e-12)
    assert comp["DOP853"]["drift"] < 1e-9
    assert comp["RK45"]["drift"] > 1e-7
    scale = np.max(np.abs(exact))
    assert np.max(np.abs(comp["DOP853"]["x"] - exact)) < 1e-9 * scale
    assert comp["RK45"]["nfev"] < comp["DOP853"]["nfev"]


# --- the named experiments ----------------------------------------------------------

@pytest.mark.parametrize("name", sorted(X.EXPERIMENTS))
def test_every_experiment_has_a_valid_configuration(name):
    exp = X.get_experiment(name)
    assert exp.name == name and exp.title
    train_set, test_set = X.make_data(exp.data)
    assert len(np.unique(train_set.traj)) + len(np.unique(test_set.traj)) == exp.data.n_traj
    assert len(train_set.t) == exp.data.n_obs
    exp.train.validate(*train_set.x.shape)  # raises ValueError on a bad setting
    replace(exp.train, **X.QUICK_TRAIN).validate(*train_set.x.shape)


def test_the_paper_experiments_follow_the_paper():
    for name in ("raw-analytic", "normalized-analytic", "normalized-numerical"):
        cfg = X.EXPERIMENTS[name].train
        assert cfg.sizes == (2, 400, 400, 400, 400, 400, 1)
        assert (cfg.lr, cfg.batch_size, cfg.steps, cfg.finetune_steps, cfg.finetune_lr) == \
            (1e-3, 64, 10000, 2000, 1e-7)
        assert not cfg.refit_output
    assert X.EXPERIMENTS["raw-analytic"].train.normalize is False
    assert X.EXPERIMENTS["normalized-analytic"].train.normalize is True
    assert X.EXPERIMENTS["normalized-numerical"].data.derivative == "fd2"
    assert X.EXPERIMENTS["baseline"].kind == "baseline"


def test_an_unknown_experiment_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="unknown experiment 'nope'.*raw-analytic"):
        X.get_experiment("nope")
    with pytest.raises(ValueError, match="unknown experiment"):
        X.run_experiment("nope", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_run_experiment_writes_a_consistent_run_and_resumes_from_its_checkpoint(tmp_path):
    """best-analytic on a small network: refit, metrics, files; a resumed rerun is identical."""
    model, metrics = X.run_experiment(small("best-analytic"), tmp_path, quick=True, progress=False)
    folder = tmp_path / "best-analytic"
    assert sorted(os.listdir(folder)) == ["checkpoint.npz", "grid.npz", "metrics.json", "model.npz", "test.npz",
                                          "train.npz"]
    assert metrics["refit_loss_after"] <= metrics["refit_loss_before"]
    assert metrics["grid_points"] == 201 * 201 - 1
    saved = load_model(folder / "model.npz")
    assert saved.metrics == metrics and saved.scale == model.scale
    assert saved.config["experiment"] == "best-analytic" and saved.config["refit_output"] is True
    assert saved.config["quick"] is True and saved.config["sizes"] == [2, 16, 16, 1]
    assert json.loads((folder / "metrics.json").read_text())["experiment"] == "best-analytic"
    train_set, test_set = D.load_dataset(folder / "train.npz"), D.load_dataset(folder / "test.npz")
    expected_train, _ = X.make_data(X.EXPERIMENTS["best-analytic"].data)
    np.testing.assert_array_equal(train_set.x, expected_train.x)
    assert not set(np.unique(train_set.traj)) & set(np.unique(test_set.traj))
    # normalization: the scale is the largest training state's norm
    assert model.scale == pytest.approx(np.max(np.linalg.norm(train_set.x, axis=1)), rel=1e-15)
    # the refit output layer: its loss is the one reported
    s = model.scale
    y = train_set.dx_dt / s
    loss, _ = hnn.loss_and_grad(model.params, train_set.x / s, y, 1.0 / np.sum(y**2, axis=1))
    assert loss == pytest.approx(metrics["refit_loss_after"], rel=1e-9)

    # a rerun with resume=True finds the finished checkpoint; the refit on top is deterministic
    again, _ = X.run_experiment(small("best-analytic"), tmp_path, quick=True, progress=False,
                                resume=True)
    for (W, b), (W2, b2) in zip(model.params, again.params):
        assert W.tobytes() == W2.tobytes() and b.tobytes() == b2.tobytes()


def test_run_experiment_overrides_steps_seed_and_dtype(tmp_path):
    model, _ = X.run_experiment(small("baseline", (2, 16, 16, 2), finetune_steps=2), tmp_path, steps=5,
                                seed=3, dtype="float32", progress=False)
    assert model.kind == "baseline" and model.dtype == np.float32
    assert model.config["steps"] == 5 and model.config["seed"] == 3
    assert model.history["train_loss"].shape == (7,)


# --- the whole pipeline --------------------------------------------------------------

def listed_outputs():
    """The files named in the table of the figures module's docstring."""
    names = re.findall(r"^(\S+\.(?:png|json|md))\s", figures.__doc__, flags=re.M)
    assert "metrics.json" in names and len(names) >= 11
    return names


@pytest.mark.slow
def test_quick_pipeline_writes_every_figure_and_the_metrics(tmp_path):
    figs, runs = tmp_path / "figs", tmp_path / "runs"
    lines = []
    t0 = time.perf_counter()
    summary = figures.make_figures(folder=str(figs), runs=str(runs), quick=True, progress=False,
                                   log=lines.append)
    seconds = time.perf_counter() - t0
    print(f"\nquick pipeline: {seconds:.1f} s", *lines, sep="\n  ")  # shown with pytest -s
    assert len(lines) == len(figures.PAPER_RUNS + figures.BEST_RUNS) + 1

    expected = listed_outputs()
    assert sorted(os.listdir(figs)) == sorted(expected)  # every listed file, and nothing else
    for name in expected:
        data = (figs / name).read_bytes()
        if name.endswith(".png"):
            assert data.startswith(PNG_SIGNATURE), name
            assert len(data) > 5000, name
            assert b"IEND" in data[-16:], f"{name} is truncated"
    metrics = json.loads((figs / "metrics.json").read_text())
    assert metrics["quick"] is True
    for name in X.EXPERIMENTS:
        assert name in metrics, name
        assert metrics[name]["grid_points"] == 201 * 201 - 1
        assert 0 <= metrics[name]["grid_field_within_0.001"] <= 1
    for method in ("RK45", "DOP853"):
        assert metrics["integrators"][method]["relative_energy_drift"] >= 0
    assert metrics["integrators"]["DOP853"]["relative_energy_drift"] < 1e-9
    assert json.loads(json.dumps(summary)) == metrics
    for name in X.EXPERIMENTS:
        assert (runs / name / "model.npz").exists() and (runs / name / "metrics.json").exists()
    leftovers = [os.path.join(d, f) for d, ds, fs in os.walk(tmp_path) for f in ds + fs
                 if f.startswith((".tmp-", ".hnn_np"))]  # no temporary, stage or lock
    assert leftovers == []


@pytest.mark.slow
def test_figures_run_twice_into_the_same_folders_replace_the_first_set(tmp_path, monkeypatch):
    """``make figures`` twice: the second run replaces every file of the first (small networks here)."""
    for name, exp in X.EXPERIMENTS.items():
        monkeypatch.setitem(X.EXPERIMENTS, name, small(name, (2, 8, 8, exp.train.sizes[-1])))
    figs, runs = tmp_path / "figs", tmp_path / "runs"
    first = figures.make_figures(folder=str(figs), runs=str(runs), quick=True, progress=False, jobs=1,
                                 log=lambda line: None)
    before = {name: (figs / name).read_bytes() for name in os.listdir(figs)}
    second = figures.make_figures(folder=str(figs), runs=str(runs), quick=True, progress=False, jobs=1,
                                  log=lambda line: None)
    assert sorted(os.listdir(figs)) == sorted(figures.FILES) == sorted(listed_outputs())
    assert json.loads((figs / "metrics.json").read_text())["seconds"] == second["seconds"] != first["seconds"]
    assert before["metrics.json"] != (figs / "metrics.json").read_bytes()
    for name in X.EXPERIMENTS:
        assert sorted(os.listdir(runs / name)) == ["checkpoint.npz", *sorted(X.RUN_FILES)]
