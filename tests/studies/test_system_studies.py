"""hnn_np.studies.systems: HNN and baseline on the ideal and the damped pendulum.

The quick run exercises the whole pipeline (data, training, refit, rollouts,
figures, JSON) in a temporary folder. A short real training then checks that
the pipeline learns: on the ideal pendulum the HNN's field error falls far
below that of the best constant predictor, and on the damped pendulum the HNN
keeps its energy while the truth and the baseline lose it. The two-body
problem is not among the systems: the catalog runs its own experiment.
"""

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from hnn_np import load_model
from hnn_np.catalog import catalog
from hnn_np.evaluate import field_errors
from hnn_np.studies.systems import SYSTEM_RUNS, run_one_system, run_systems

NAMES = ("ideal-pendulum", "damped-pendulum")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    root = tmp_path_factory.mktemp("studies")
    lines = []
    results = run_systems(folder=root / "fig", runs=root / "runs", quick=True, log=lines.append)
    return root, results, lines


def test_quick_run_writes_every_file(quick):
    root, results, lines = quick
    for name in NAMES:
        assert (root / "fig" / f"system_{name}.png").stat().st_size > 10_000
        for f in ("hnn.npz", "baseline.npz", "train.npz", "test.npz", "rollouts.npz"):
            assert (root / "runs" / name / f).is_file()
        assert load_model(root / "runs" / name / "hnn.npz").kind == "hnn"
    assert not list(root.rglob(".hnn_np*"))  # atomic writes leave no temporaries
    saved = json.loads((root / "fig" / "systems.json").read_text())
    assert saved["quick"] == 1.0
    assert set(NAMES) <= set(saved) and set(NAMES) <= set(results)
    assert len(lines) == 3  # one line per system, plus the damped pendulum's explanation
    table = (root / "fig" / "systems.md").read_text().splitlines()
    assert len(table) == 2 + len(NAMES) and all(f"| {name} |" in "".join(table) for name in NAMES)


def test_quick_run_metrics_are_finite_floats(quick):
    _, results, _ = quick
    assert isinstance(results["seconds"], float) and results["seconds"] > 0
    for name in NAMES:
        m = results[name]
        for key in ("hnn_field_error", "baseline_field_error", "trivial_field_error", "hnn_energy_mse",
                    "baseline_energy_mse", "hnn_learned_energy_nrmse", "energy_ratio_end_true"):
            assert isinstance(m[key], float) and math.isfinite(m[key]), (name, key)
        assert all(isinstance(v, float) and math.isfinite(v) for v in m.values()), name
    assert "hnn_field_error_vs_conservative" in results["damped-pendulum"]
    assert "hnn_field_error_vs_conservative" not in results["ideal-pendulum"]
    # the quick rollouts are short, but the ideal pendulum's true energy is already exactly flat
    assert results["ideal-pendulum"]["energy_ratio_end_true"] == pytest.approx(1.0, abs=1e-7)


def test_two_body_is_its_own_experiment_not_a_system_run():
    """One recipe for two bodies: the catalog's ``two-body`` runs hnn_np.studies.two_body."""
    assert set(SYSTEM_RUNS) == set(NAMES)
    entry = catalog()["two-body"]
    assert entry.group == "systems" and "two_body" in entry.title
    names = list(catalog())
    assert names.index("two-body") == names.index(NAMES[-1]) + 1  # listed with the systems


def test_field_errors_is_the_relative_norm_error():
    S = np.array([[3.0, 4.0], [1.0, 0.0]])
    err = field_errors(S + np.array([[0.0, 0.5], [0.0, 0.0]]), S)
    assert err["median"] == pytest.approx(0.05)
    assert err["aggregate"] == pytest.approx(0.5 / np.sqrt(26))


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(ValueError, match="systems must be names from"):
        run_systems(tmp_path, tmp_path, quick=True, systems=["spring"])
    with pytest.raises(ValueError, match="seed must be an int"):
        run_systems(tmp_path, tmp_path, quick=True, seed=1.5)


def short(name, **kw):
    """A small but real version of a system's run: a few hundred steps of a 64-wide network.

    Its rollouts run in plain Python (``compiled_rollouts=False``), which for
    two short rollouts is faster than compiling the integrator for the field.
    """
    run = SYSTEM_RUNS[name]
    data = dict(run.data, n_traj=20, n_obs=30)
    return replace(run, data=data, hidden=(64, 64, 64), steps=300, t_end=10.0, n_rollouts=2,
                   n_times=100, **kw)


def test_a_short_training_learns_the_ideal_pendulum(tmp_path):
    """Field error far below the best constant predictor's (~1), and a rollout that keeps H."""
    m, curves = run_one_system(short("ideal-pendulum"), runs=tmp_path, log=lambda s: None,
                                 compiled_rollouts=False)
    assert m["trivial_field_error"] > 0.9
    assert m["hnn_field_error"] < 1e-3 and m["baseline_field_error"] < 1e-2
    H0 = curves["H_true"][:, :1]
    assert np.abs(curves["H_hnn"] / H0 - 1).max() < 1e-2
    assert m["hnn_learned_energy_nrmse"] < 1e-2


def test_the_hnn_cannot_learn_the_damped_pendulums_friction(tmp_path):
    """The truth and the baseline lose energy; the HNN, which conserves its own H, does not."""
    m, curves = run_one_system(short("damped-pendulum"), runs=tmp_path, log=lambda s: None,
                                 compiled_rollouts=False)
    assert m["energy_ratio_end_true"] < 0.5  # gamma = 0.1 over t = 10
    assert m["energy_ratio_end_baseline"] == pytest.approx(m["energy_ratio_end_true"], abs=0.05)
    assert m["energy_ratio_end_hnn"] == pytest.approx(1.0, abs=0.1)
    # it misses the friction, which is a few percent of the field, but fits the rest
    assert 1e-3 < m["hnn_field_error"] < 0.1 and m["baseline_field_error"] < 1e-2
    assert m["hnn_field_error_vs_conservative_plus_squeeze"] < m["hnn_field_error_vs_conservative"]
