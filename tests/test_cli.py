"""hnn_np.cli and ``python -m hnn_np``: the command line, end to end.

The help and error paths run as real subprocesses of the project's Python
(``sys.executable -m hnn_np``), so the module entry point, argparse and the
exit codes are exercised exactly as a user meets them. The one training run
(``train raw-analytic --quick``, the paper network for 50 steps) runs
in-process through :func:`hnn_np.cli.main`, which is what the entry point
calls; the compiled integrator it needs is then shared with the other tests
of the session instead of being compiled again in a fresh process.
"""

import contextlib
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from hnn_np import cli
from hnn_np.paper.experiments import EXPERIMENTS
from hnn_np.model import load_model

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
    assert len(lines) == len(EXPERIMENTS)
    for line, (name, exp) in zip(lines, EXPERIMENTS.items()):
        assert line.split()[0] == name and line.endswith(exp.title)


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

