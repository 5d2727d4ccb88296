"""What the command line writes never costs the user a file: inputs, earlier runs, concurrent runs.

Each case runs the command as a user does -- a real process of
``python -m hnn_np`` (or ``tests/_tiny_cli.py``, the same command line with a
tiny experiment registered, so that training takes a fraction of a second)
-- and then reads the folder back byte for byte. What must not happen is
checked against the file as it was before: the data file a ``fit`` reads,
the model ``evaluate`` reads, the set of an earlier run, the folder of a
run still going. Checks that something is refused *before training* run
in-process, with the training function replaced by one that fails the test
if it is ever called.
"""

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hnn_np import cli
from hnn_np import fit_data as fit_data_module
from hnn_np.model import Model, load_model
from hnn_np.mlp import init_params
from hnn_np.npz import Npz

TINY_CLI = str(Path(__file__).with_name("_tiny_cli.py"))
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1")
FIT = ("--hidden", "8", "--steps", "20", "--split", "time", "--quiet")


def hnn_np_cli(*args, timeout=120):
    """``python -m hnn_np ARGS`` in a new process."""
    return subprocess.run([sys.executable, "-m", "hnn_np", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=ENV)


def tiny(*args, timeout=120):
    """``hnn-np ARGS`` with the experiment ``tiny`` (tests/_tiny_cli.py) in a new process."""
    return subprocess.run([sys.executable, TINY_CLI, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=ENV)


def tiny_popen(*args):
    return subprocess.Popen([sys.executable, TINY_CLI, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)


def in_process(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def one_error_line(res, *words):
    """Exit status 2, one line on stderr naming every word, no traceback."""
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2, res.stderr
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    for word in words:
        assert str(word) in lines[0], (word, lines[0])
    return lines[0]


def snapshot(folder):
    """{name: bytes} of every file in ``folder``."""
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir()) if p.is_file()}


def wait_for(path, proc, timeout=120):
    t0 = time.monotonic()
    while not os.path.exists(path):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, f"{path} never appeared"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """A measured trajectory as .npz: t, q, p of a unit oscillator."""
    path = tmp_path_factory.mktemp("data") / "swing.npz"
    t = 0.05 * np.arange(200)
    np.savez(path, t=t, q=np.cos(t), p=-np.sin(t))
    return path


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.npz"
    Model("hnn", init_params((2, 8, 1), seed=0)).save(path)
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished ``train tiny`` run: (parent folder, {name: bytes} of its folder)."""
    out = tmp_path_factory.mktemp("finished")
    res = tiny("train", "tiny", "--out", out, "--steps", "300", "--quiet")
    assert res.returncode == 0, res.stderr
    return out, snapshot(out / "tiny")


# --- inputs are sacred -------------------------------------------------------------------

def test_fit_refuses_to_write_its_rollouts_over_the_data_it_reads(measured, tmp_path):
    data = tmp_path / "rollouts.npz"
    data.write_bytes(measured.read_bytes())
    res = hnn_np_cli("fit", data, "--out", tmp_path, *FIT)
    one_error_line(res, data, "would overwrite the input")
    assert data.read_bytes() == measured.read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["rollouts.npz"]


def test_fit_compares_real_paths_relative_and_through_a_symlink(measured, tmp_path):
    (tmp_path / "run").mkdir()
    data = tmp_path / "run" / "model.npz"
    data.write_bytes(measured.read_bytes())
    os.symlink(tmp_path / "run", tmp_path / "link")
    res = subprocess.run([sys.executable, "-m", "hnn_np", "fit", "run/model.npz", "--out", "link", *FIT],
                         capture_output=True, text=True, timeout=120, env=ENV, cwd=tmp_path)
    one_error_line(res, "link", "run/model.npz", "would overwrite the input")
    assert data.read_bytes() == measured.read_bytes()


def test_evaluate_refuses_to_write_its_json_over_the_model(model_file, tmp_path):
    model = tmp_path / "m.npz"
    model.write_bytes(model_file.read_bytes())
    res = hnn_np_cli("evaluate", model, "--n", 21, "--json", model)
    one_error_line(res, "--json", model, "would overwrite the input")
    assert model.read_bytes() == model_file.read_bytes()
    load_model(model)


def test_evaluate_refuses_a_json_path_that_is_a_folder_before_evaluating(model_file, tmp_path):
    res = hnn_np_cli("evaluate", model_file, "--n", 21, "--json", tmp_path)
    one_error_line(res, "--json", "is a folder")
    assert res.stdout == ""  # the metrics were never computed


@pytest.fixture
def no_training(monkeypatch):
    """Training fails the test: a refusal must come before it."""
    def trained(*args, **kw):
        raise AssertionError("training started before the outputs were checked")

    monkeypatch.setattr(fit_data_module, "learn", trained)
    from hnn_np.paper import experiments

    monkeypatch.setattr(experiments, "fit", trained)


@pytest.mark.parametrize("out, message", [
    (lambda tmp: tmp / "data.npz" / "sub", "cannot be created"),  # below a file
    (lambda tmp: tmp / "data.npz", "would overwrite the input"),  # the data file itself
])  # fmt: skip
def test_fit_refuses_an_output_folder_it_cannot_write_before_training(measured, tmp_path, no_training,
                                                                      out, message):
    data = tmp_path / "data.npz"
    data.write_bytes(measured.read_bytes())
    code, stdout, stderr = in_process("fit", data, "--out", out(tmp_path), *FIT)
    assert code == 2 and message in stderr and len(stderr.splitlines()) == 1, stderr
    assert data.read_bytes() == measured.read_bytes()


def test_an_output_name_taken_by_a_folder_is_refused_before_training_and_the_old_set_kept(
        measured, tmp_path, no_training):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.npz").write_bytes(b"the earlier model")
    (out / "rollouts.npz").mkdir()
    code, _, stderr = in_process("fit", measured, "--out", out, *FIT)
    assert code == 2 and "rollouts.npz is a folder" in stderr, stderr
    assert (out / "model.npz").read_bytes() == b"the earlier model"


def test_a_failed_write_leaves_the_earlier_set_not_a_mixture(measured, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert in_process("fit", measured, "--out", out, *FIT)[0] == 0
    before = snapshot(out)

    def disk_full(path, obj):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fit_data_module, "save_json", disk_full)  # metrics.json, after model and rollouts
    code, _, stderr = in_process("fit", measured, "--out", out, "--overwrite", "--seed", "1", *FIT)
    assert code == 2 and "No space left" in stderr, stderr
    assert snapshot(out) == before
    assert sorted(os.listdir(out)) == sorted(before)  # no lock, stage or temporary left


def test_the_refusal_names_the_folder_and_the_flag_and_overwrite_replaces_the_whole_set(measured, tmp_path):
    out = tmp_path / "out"
    assert in_process("fit", measured, "--out", out, *FIT)[0] == 0
    before = snapshot(out)
    res = hnn_np_cli("fit", measured, "--out", out, "--seed", "1", *FIT)
    one_error_line(res, out, "--overwrite")
    assert snapshot(out) == before
    assert in_process("fit", measured, "--out", out, "--seed", "1", "--overwrite", *FIT)[0] == 0
    after = snapshot(out)
    assert sorted(after) == sorted(before) and all(after[n] != before[n] for n in after)
    assert load_model(out / "model.npz").config["seed"] == 1


# --- one run per folder ------------------------------------------------------------------------

def test_a_second_train_into_a_busy_folder_is_refused_with_the_holders_pid(tmp_path):
    first = tiny_popen("train", "tiny", "--out", tmp_path, "--steps", "6000", "--seed", "1", "--quiet")
    wait_for(tmp_path / "tiny" / "checkpoint.npz", first)  # the first one is training
    second = tiny("train", "tiny", "--out", tmp_path, "--steps", "6000", "--seed", "2", "--quiet")
    one_error_line(second, "in use by another run", f"pid {first.pid}")
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    folder = tmp_path / "tiny"
    assert load_model(folder / "model.npz").config["seed"] == 1
    with Npz(folder / "checkpoint.npz", "checkpoint") as ckpt:
        assert ckpt.header("header")["fingerprint"]["settings"]["seed"] == 1  # one run's files
    assert sorted(os.listdir(folder)) == ["checkpoint.npz", "grid.npz", "metrics.json", "model.npz",
                                          "test.npz", "train.npz"]


def test_a_lock_left_by_a_killed_run_is_taken_over_and_its_debris_removed(tmp_path):
    folder = tmp_path / "tiny"
    killed = tiny_popen("train", "tiny", "--out", tmp_path, "--steps", "200000", "--quiet")
    wait_for(folder / "checkpoint.npz", killed)
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=60)
    debris = sorted(n for n in os.listdir(folder) if n.startswith(".hnn_np"))
    assert debris, "a killed run leaves its lock and stage"
    res = tiny("train", "tiny", "--out", tmp_path, "--steps", "300", "--quiet", "--overwrite")
    assert res.returncode == 0, res.stderr
    assert sorted(os.listdir(folder)) == ["checkpoint.npz", "grid.npz", "metrics.json", "model.npz",
                                          "test.npz", "train.npz"]


def test_a_lock_file_of_a_process_that_is_gone_is_taken_over(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / ".hnn_np-lock").write_text(f"{gone.pid}\n")
    res = tiny("train", "tiny", "--out", tmp_path, "--steps", "50", "--quiet")
    assert res.returncode == 0, res.stderr
    assert not (folder / ".hnn_np-lock").exists()


def test_train_into_a_finished_run_is_refused_without_overwrite(finished):
    out, before = finished
    res = tiny("train", "tiny", "--out", out, "--steps", "300", "--seed", "5", "--quiet")
    one_error_line(res, out / "tiny", "earlier run", "--overwrite")
    assert snapshot(out / "tiny") == before


def test_resume_without_a_checkpoint_is_refused_by_name(tmp_path):
    res = tiny("train", "tiny", "--out", tmp_path, "--steps", "50", "--quiet", "--resume")
    one_error_line(res, "--resume", os.path.join(str(tmp_path), "tiny", "checkpoint.npz"))
    assert list(tmp_path.iterdir()) == []  # not even the folder it would have made


# --- resources ------------------------------------------------------------------------------------

def test_evaluate_refuses_a_grid_that_would_not_fit_in_memory_before_allocating(model_file):
    res = hnn_np_cli("evaluate", model_file, "--n", 100000)
    one_error_line(res, "n = 100000", "memory")
