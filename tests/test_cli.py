"""hnn_np.cli and ``python -m hnn_np``: the command line, end to end.

The help and error paths run as real subprocesses of the project's Python
(``sys.executable -m hnn_np``), so the module entry point, argparse and the
exit codes are exercised exactly as a user meets them. The one training run
(``train raw-analytic --quick``, the paper network for 50 steps) runs
in-process through :func:`hnn_np.cli.main`, which is what the entry point
calls; the compiled integrator it needs is then shared with the other tests
of the session instead of being compiled again in a fresh process.

``hnn-np fit`` learns a damped oscillator written to CSV with its closed-form
solution, so the rollout report can be held against the exact trajectory;
every bad data file or argument must end in one line on stderr and status 2.
"""

import contextlib
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from hnn_np import catalog as catalog_module
from hnn_np import cli
from hnn_np.catalog import catalog
from hnn_np.paper.experiments import EXPERIMENTS
from hnn_np.model import load_model
from hnn_np.studies.real_pendulum import RUNS
from hnn_np.studies.systems import SYSTEM_RUNS

GRID_KEYS = {"grid_field_median", "grid_field_p99", "grid_field_max", "grid_field_within_0.001",
             "grid_field_within_0.0005", "grid_energy_median", "grid_energy_p99", "grid_energy_max",
             "grid_energy_within_0.001", "grid_energy_within_0.0005", "grid_points"}


def run(*args, cwd=None):
    """``python -m hnn_np ARGS`` with the interpreter running the tests."""
    return subprocess.run([sys.executable, "-m", "hnn_np", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def subcommands():
    parser = cli._parser()
    (action,) = [a for a in parser._actions if a.dest == "command"]
    return sorted(action.choices)


# --- help, list and errors (subprocesses) ------------------------------------------

def test_the_documented_subcommands_exist():
    assert {"list", "train", "evaluate", "figures"} <= set(subcommands())


@pytest.mark.parametrize("args", [["--help"]] + [[name, "--help"] for name in subcommands()])
def test_help_exits_zero_and_shows_usage(args):
    res = run(*args)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: hnn-np") and res.stderr == ""
    if args[0] != "--help":
        assert args[0] in res.stdout.splitlines()[0]


def test_no_command_is_a_usage_error():
    res = run()
    assert res.returncode == 2
    assert "usage: hnn-np" in res.stderr and "COMMAND" in res.stderr


def test_list_prints_every_experiment_with_its_title():
    res = run("list")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == list(catalog())
    assert set(EXPERIMENTS) | set(SYSTEM_RUNS) | set(RUNS) | {"two-body", "two-body-greydanus", "henon-heiles"} == set(names)
    assert names[:len(EXPERIMENTS)] == list(EXPERIMENTS)  # the spring's names, first and unchanged
    for line, entry in zip(lines, catalog().values()):
        assert line.endswith(entry.title)


def test_an_unknown_experiment_exits_2_with_a_message(tmp_path):
    res = run("train", "no-such-experiment", "--out", str(tmp_path))
    assert res.returncode == 2
    assert res.stdout == ""
    assert "hnn-np train: error: unknown experiment 'no-such-experiment'" in res.stderr
    assert "raw-analytic" in res.stderr  # the message lists the valid names
    assert "Traceback" not in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_evaluating_a_missing_model_exits_2_with_a_message(tmp_path):
    res = run("evaluate", str(tmp_path / "missing.npz"))
    assert res.returncode == 2
    assert "hnn-np evaluate: error:" in res.stderr and "does not exist" in res.stderr
    assert "Traceback" not in res.stderr


def test_a_bad_option_value_is_a_usage_error():
    res = run("train", "raw-analytic", "--dtype", "float16")
    assert res.returncode == 2 and "invalid choice" in res.stderr


# --- train, then evaluate ---------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``hnn-np train raw-analytic --quick --out DIR --quiet``; its stdout and the folder."""
    out = tmp_path_factory.mktemp("cli")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(["train", "raw-analytic", "--quick", "--out", str(out), "--quiet"])
    return code, stdout.getvalue(), stderr.getvalue(), out / "raw-analytic"


def test_train_quick_prints_metrics_json_and_writes_the_run(trained):
    code, stdout, stderr, folder = trained
    assert code == 0 and stderr == ""  # --quiet: no progress bar
    metrics = json.loads(stdout)
    assert GRID_KEYS <= set(metrics)
    assert {"train_seconds", "final_train_loss", "final_test_loss", "traj_energy_median"} <= set(metrics)
    assert metrics["grid_points"] == 201 * 201 - 1
    assert sorted(p.name for p in folder.iterdir()) == [
        "checkpoint.npz", "grid.npz", "metrics.json", "model.npz", "test.npz", "train.npz"]
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved == dict(metrics, experiment="raw-analytic", title=EXPERIMENTS["raw-analytic"].title)


def test_the_trained_model_records_the_quick_run(trained):
    *_, folder = trained
    model = load_model(folder / "model.npz")
    assert model.kind == "hnn" and model.sizes == [2, 400, 400, 400, 400, 400, 1]
    assert model.config["experiment"] == "raw-analytic" and model.config["quick"] is True
    assert model.config["steps"] == 40 and model.config["finetune_steps"] == 10
    assert model.history["train_loss"].shape == (50,)
    assert np.all(np.isfinite(model.history["train_loss"]))


def test_evaluate_prints_and_writes_the_metrics_of_a_saved_model(trained, tmp_path):
    *_, folder = trained
    out_json = tmp_path / "eval.json"
    res = run("evaluate", str(folder / "model.npz"), "--n", "21", "--radius", "100",
              "--json", str(out_json))
    assert res.returncode == 0, res.stderr
    metrics = json.loads(res.stdout)
    assert set(metrics) == GRID_KEYS
    assert metrics["grid_points"] == 21 * 21 - 1
    assert json.loads(out_json.read_text()) == metrics
    assert 0 <= metrics["grid_field_within_0.001"] <= 1
    assert metrics["grid_field_median"] <= metrics["grid_field_p99"] <= metrics["grid_field_max"]


# --- hnn-np fit DATA: a damped oscillator in CSV, with its closed-form solution -----------

W, GAMMA = 2.0, 0.1
AMPLITUDES = (1.0, 1.6, 1.2, 1.4)  # the held-out last one lies between those trained on


def damped(t, A, phi):
    """q = A e^{-gamma t / 2} cos(w_d t + phi), p = dq/dt: x'' + gamma x' + W^2 x = 0."""
    wd = np.sqrt(W**2 - GAMMA**2 / 4)
    e = A * np.exp(-GAMMA * t / 2)
    return e * np.cos(wd * t + phi), e * (-GAMMA / 2 * np.cos(wd * t + phi) - wd * np.sin(wd * t + phi))


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "osc.csv"
    lines = ["t,q,p,run"]
    for k in range(4):
        t = 0.01 * np.arange(400)
        q, p = damped(t, AMPLITUDES[k], 0.5 * k)
        lines += [f"{a!r},{b!r},{c!r},{k}" for a, b, c in zip(t.tolist(), q.tolist(), p.tolist())]
    path.write_text("\n".join(lines) + "\n")
    return path


def main(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("kind", ["baseline", "dhnn"])
def test_fit_writes_a_model_and_a_rollout_report_against_the_measurement(csv_file, tmp_path, kind):
    out = tmp_path / "fit"
    code, stdout, stderr = main("fit", str(csv_file), "--kind", kind, "--out", str(out), "--columns", "q,p",
                                "--trajectory", "run", "--order", "6", "--stride", "2", "--hidden", "16,16",
                                "--steps", "300", "--quiet")
    assert code == 0, stderr
    report = json.loads(stdout)
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "model.npz", "rollouts.npz"]
    assert json.loads((out / "metrics.json").read_text()) == report
    model = load_model(out / "model.npz")
    assert model.kind == kind and model.sizes == [2, 16, 16, 2]
    with np.load(out / "rollouts.npz") as z:
        t, measured, rolled = z["t_3"], z["measured_3"], z["rollout_3"]
    q, p = damped(t, AMPLITUDES[3], 1.5)
    np.testing.assert_allclose(measured, np.column_stack([q, p]), atol=1e-12)  # the held-out trajectory
    rms = np.sqrt(np.mean((rolled - measured) ** 2, axis=0))
    np.testing.assert_allclose([report["rms_q_traj3"], report["rms_p_traj3"]], rms, rtol=1e-12)
    # the learned field follows the held-out swing (a field of zero would leave an error of about std(q))
    assert report["rms_q_traj3"] < 0.3 * np.std(measured[:, 0])
    assert set(report) >= {"omega0", "decay_rate", "train_seconds", "n_train_rows"}


def test_a_split_by_time_holds_out_the_end_of_every_trajectory(csv_file, tmp_path):
    code, stdout, stderr = main("fit", str(csv_file), "--kind", "hnn", "--out", str(tmp_path / "f"),
                                "--columns", "q,p", "--trajectory", "run", "--split", "time", "--steps", "5",
                                "--hidden", "8", "--quiet")
    assert code == 0, stderr
    report = json.loads(stdout)
    assert {f"rms_q_traj{k}" for k in range(4)} <= set(report)


def test_fit_with_velocities_from_positions_and_members_saves_their_mean(csv_file, tmp_path):
    from hnn_np.ensemble import stack_models

    common = ["--kind", "dhnn", "--columns", "q,p", "--trajectory", "run", "--order", "4", "--stride", "2",
              "--hidden", "8", "--steps", "20", "--velocities", "differences", "--quiet"]
    runs = {}
    for name, extra in (("both", ["--members", "2"]), ("seed0", ["--seed", "0"]), ("seed1", ["--seed", "1"])):
        code, stdout, stderr = main("fit", str(csv_file), "--out", str(tmp_path / name), *common, *extra)
        assert code == 0, stderr
        runs[name] = (json.loads(stdout), load_model(tmp_path / name / "model.npz"))
    report, model = runs["both"]
    assert report["members"] == 2 and report["velocities"] == "differences" and model.sizes == [2, 16, 2]
    mean = stack_models([runs["seed0"][1], runs["seed1"][1]])  # the same two networks, trained alone
    x = np.random.default_rng(0).normal(size=(5, 2))
    np.testing.assert_allclose(model.time_derivative(x), mean.time_derivative(x), rtol=1e-12, atol=1e-12)
    recorded = main("fit", str(csv_file), "--out", str(tmp_path / "rec"), *common[:-3], "--quiet")
    assert recorded[0] == 0 and json.loads(recorded[1])["n_train_rows"] > report["n_train_rows"]  # no ends dropped


def bad_csv(tmp_path, text):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("text, columns, message", [
    ("t,q,p\n0,1,0\n0.1,abc,0\n0.2,1,0\n0.3,1,0\n", "q,p", "line 3 column 'q': expected a number, got 'abc'"),
    ("time,q,p\n0,1,0\n0.1,1,0\n0.2,1,0\n", "q,p", "has no time column 't'"),
    ("t,q,p\n0,1,0\n0.2,1,0\n0.1,1,0\n0.3,1,0\n", "q,p", "strictly increasing"),
    ("t,q,p\n0,1,0\n0.1,nan,0\n0.2,1,0\n0.3,1,0\n", "q,p", "column 'q' has a non-finite value"),
    ("t,q,p,r\n0,1,0,1\n0.1,1,0,1\n0.2,1,0,1\n0.3,1,0,1\n", "q,p,r", "needs states (q, p) of even size"),
])
def test_a_bad_data_file_exits_2_with_one_line(tmp_path, text, columns, message):
    out = tmp_path / "out"
    res = run("fit", bad_csv(tmp_path, text), "--out", str(out), "--columns", columns, "--split", "time")
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.startswith("hnn-np fit: error: data file") or "even size" in res.stderr
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.stderr and not out.exists()  # nothing half-written


@pytest.mark.parametrize("args, message", [
    (["fit", "missing.csv", "--out", "o"], "does not exist"),
    (["fit", "x.csv", "--out", "o", "--order", "3"], "invalid choice"),
    (["fit", "x.csv", "--out", "o", "--kind", "lstm"], "invalid choice"),
    (["fit", "x.csv", "--out", "o", "--split", "random"], "invalid choice"),
    (["fit", "x.csv", "--out", "o", "--stride", "0"], "expected a positive integer"),
    (["fit", "x.csv", "--out", "o", "--validation", "1.5"], "strictly between 0 and 1"),
    (["fit", "x.csv", "--out", "o", "--hidden", "16,a"], "hidden widths"),
    (["fit", "x.csv"], "required: --out"),
    (["train", "ideal-pendulum", "--resume", "--out", "o"], "cannot resume"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, message):
    res = subprocess.run([sys.executable, "-m", "hnn_np", *args], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert res.returncode == 2 and message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "o").exists()


def test_a_registered_runner_replaces_an_entry_and_train_calls_it(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog_module, "_EXTRA", {})
    calls = []

    def runner(out, **kw):
        calls.append((out, kw))
        return None, {"ok": 1.0}

    with pytest.raises(ValueError, match="exists already"):
        catalog_module.register("two-body", "Two bodies", runner)
    catalog_module.register("two-body", "Two bodies, own runner", runner, group="systems", replace=True)
    assert catalog()["two-body"].title == "Two bodies, own runner"
    code, stdout, _ = main("train", "two-body", "--out", str(tmp_path), "--steps", "7", "--quiet")
    assert code == 0 and json.loads(stdout) == {"ok": 1.0}
    assert calls[0][0] == str(tmp_path) and calls[0][1]["steps"] == 7


def test_train_runs_a_real_pendulum_experiment_by_name(tmp_path):
    code, stdout, stderr = main("train", "real-pendulum-baseline", "--quick", "--out", str(tmp_path), "--quiet")
    assert code == 0, stderr
    metrics = json.loads(stdout)
    assert metrics["authors_theta_rms_seg4"] == pytest.approx(1.47e-2, abs=5e-5)
    model = load_model(tmp_path / "real-pendulum-baseline" / "model.npz")
    assert model.kind == "baseline" and model.config["experiment"] == "real-pendulum-baseline"


@pytest.mark.parametrize("extra, message", [
    (dict(velocities="smoothed"), "velocities must be one of"),
    (dict(members=0), "members must be a positive integer"),
    (dict(members=True), "members must be a positive integer"),
    (dict(kind="lstm"), "kind must be one of"),
])  # fmt: skip
def test_fit_data_refuses_bad_arguments_before_writing(csv_file, tmp_path, extra, message):
    from hnn_np.fit_data import fit_data

    with pytest.raises(ValueError, match=message):
        fit_data(csv_file, tmp_path / "out", columns="q,p", trajectory="run", **extra)
    assert not (tmp_path / "out").exists()


def test_studies_systems_runs_the_pendulums_and_the_two_body_experiment(tmp_path):
    """``hnn-np studies --only systems``: the systems' table and figures, and two_body.json / .png."""
    out, runs = tmp_path / "fig", tmp_path / "runs"
    code, _, stderr = main("studies", "--quick", "--only", "systems", "--out", str(out), "--runs", str(runs))
    assert code == 0, stderr
    assert sorted(json.loads((out / "systems.json").read_text())) == sorted(
        [*SYSTEM_RUNS, "quick", "seconds"])
    saved = json.loads((out / "two_body.json").read_text())
    assert saved == json.loads((runs / "two-body" / "metrics.json").read_text()) and saved["quick"] == 1.0
    assert (out / "two_body.png").read_bytes() == (runs / "two-body" / "two_body.png").read_bytes()
    assert not (out / "system_two-body.png").exists()


def test_studies_henon_heiles_copies_its_metrics_and_figure(tmp_path):
    """``hnn-np studies --only henon-heiles``: henon_heiles.json / .png / .md beside the other studies."""
    out, runs = tmp_path / "fig", tmp_path / "runs"
    code, _, stderr = main("studies", "--quick", "--only", "henon-heiles", "--out", str(out), "--runs", str(runs))
    assert code == 0, stderr
    saved = json.loads((out / "henon_heiles.json").read_text())
    assert saved == json.loads((runs / "henon-heiles" / "metrics.json").read_text()) and saved["quick"] == 1.0
    assert (out / "henon_heiles.png").read_bytes() == (runs / "henon-heiles" / "henon_heiles.png").read_bytes()
    table = (out / "henon_heiles.md").read_text()
    assert table.count("\n| 1/") == 2 and f"{saved['E1_8_distance_median']:.2g} (" in table
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == \
        ["henon_heiles.json", "henon_heiles.md", "henon_heiles.png"]
