"""``with hnn_np.readable():`` runs the readable NumPy code only, and a learner's edit of it takes effect.

Two ways to see it, both in a fresh Python process:

* with ``import numba`` made to fail (a meta-path hook), data, training of
  every kind, the trained model's energy, field and rollout, evaluation and
  learning from a file of measurements all run inside the block -- so no
  Numba kernel of hnn_np can have run; outside it the fast path refuses;
* in a copy of the package whose ``hnn.py`` or ``mlp.py`` is edited as a
  learner would edit it (the tanh'' term dropped, the tanh replaced), the
  training and the rollout change inside the block and stay bit for bit those
  of the unedited package outside it (the fast path does not read those files).
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import hnn_np
from hnn_np import TrainConfig, fit
from hnn_np.mode import readable

ROOT = Path(__file__).resolve().parents[1]

BLOCK_NUMBA = """
import importlib.abc, sys

class BlockNumba(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "numba" or name.startswith("numba."):
            raise ImportError(f"{name} is blocked in this test")

sys.meta_path.insert(0, BlockNumba())
"""


def run_python(code, pythonpath=ROOT, timeout=600):
    """Run ``code`` in a fresh interpreter with ``pythonpath`` first on sys.path; -> CompletedProcess."""
    env = dict(os.environ, PYTHONPATH=str(pythonpath), MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-c", code], cwd=pythonpath, env=env, capture_output=True,
                          text=True, timeout=timeout)


# --- nothing compiled runs inside the block ---------------------------------------------------

WITHOUT_NUMBA = BLOCK_NUMBA + """
import json, os, tempfile
import numpy as np
import hnn_np
from hnn_np import TrainConfig
from hnn_np.evaluate import evaluate_model
from hnn_np.fit_data import fit_data

spring = hnn_np.MassSpring()
report = {}
with hnn_np.readable():
    data = hnn_np.make_dataset(spring, n_traj=6, n_obs=10, radius=2.0)
    train, test = hnn_np.train_test_split(data)
    for kind, n_out in (("hnn", 1), ("dhnn", 2), ("baseline", 2)):
        cfg = TrainConfig(kind=kind, sizes=(2, 8, 8, n_out), steps=12, finetune_steps=3, batch_size=10,
                          normalize=True, schedule="cosine", loss_weighting="relative", refit_output=True,
                          eval_every=5)
        model = hnn_np.fit(train.x, train.dx_dt, cfg, x_test=test.x, dxdt_test=test.dx_dt, progress=False)
        model.time_derivative(test.x)
        if kind != "baseline":
            model.energy(test.x)
        x_hat = model.rollout(test.x[:2], np.linspace(0.0, 1.0, 5))
        metrics = evaluate_model(model, spring, x_test_traj=x_hat, radius=2.0, n=11)
        report[kind] = [float(x_hat[0, -1, 0]), metrics["grid_field_median"]]
    t = np.linspace(0.0, 3.0, 31)
    x = spring.exact_solution(np.array([[1.0, 0.0], [0.0, 1.5], [-0.5, 0.5]]), t)  # (3, T, 2)
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "swing.npz")
    np.savez(path, t=np.tile(t, 3), q=x[..., 0].ravel(), p=x[..., 1].ravel(), run=np.repeat([0, 1, 2], len(t)))
    measured = fit_data(path, os.path.join(folder, "out"), kind="dhnn", columns="q,p", trajectory="run",
                        hidden=(8,), steps=10, batch_size=16, members=2)
    report["measured"] = measured["rms_q_mean"]
import sys
report["numba imported"] = "numba" in sys.modules
try:
    hnn_np.fit(train.x, train.dx_dt, TrainConfig(sizes=(2, 8, 1), steps=1, batch_size=None), progress=False)
    report["fast path outside"] = "ran"
except ImportError as e:
    report["fast path outside"] = str(e)
print(json.dumps(report))
"""


def test_inside_readable_nothing_needs_numba():
    """fit of every kind, energy, field, rollout, evaluation and fit_data run with numba unimportable."""
    result = run_python(WITHOUT_NUMBA)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["numba imported"] is False
    assert report["fast path outside"] == "numba is blocked in this test"  # the hook does block it
    for kind in ("hnn", "dhnn", "baseline"):
        assert all(np.isfinite(report[kind])), kind
    assert np.isfinite(report["measured"])


def test_inside_readable_fit_takes_the_readable_path_even_when_numba_is_loaded(monkeypatch):
    """In a process that has run the fast path, readable() still trains with hnn.loss_and_grad and optim.Adam."""
    from hnn_np import fast, hnn, optim

    x = np.random.default_rng(0).uniform(-1, 1, (32, 2))
    dxdt = hnn_np.MassSpring().time_derivative(x)
    cfg = TrainConfig(sizes=(2, 8, 1), steps=5, finetune_steps=0, batch_size=16)
    calls = {"loss_and_grad": 0, "fast": 0}
    loss_and_grad = hnn.loss_and_grad

    def counted(*a, **k):
        calls["loss_and_grad"] += 1
        return loss_and_grad(*a, **k)

    def refused(*a, **k):
        calls["fast"] += 1
        raise AssertionError("a fast workspace was built inside readable()")

    monkeypatch.setattr(hnn, "loss_and_grad", counted)
    monkeypatch.setattr(fast, "StepWorkspace", refused)
    with readable():
        model = fit(x, dxdt, cfg, progress=False)
    assert calls == {"loss_and_grad": 5, "fast": 0}
    with pytest.raises(AssertionError, match="fast workspace"):
        fit(x, dxdt, cfg, progress=False)  # outside, the fast path (refused here)
    reference = fit(x, dxdt, cfg, progress=False, reference=True)
    for (W, b), (W_ref, b_ref) in zip(model.params, reference.params):
        assert W.tobytes() == W_ref.tobytes() and b.tobytes() == b_ref.tobytes()
    assert isinstance(optim.Adam, type)


def test_inside_readable_a_rollout_evaluates_the_numpy_field(monkeypatch):
    """Model.rollout inside readable() calls Model.time_derivative, also when how='compiled' is asked for."""
    from hnn_np.model import Model
    from hnn_np.rollout import rollout

    model = Model("hnn", hnn_np.init_params((2, 16, 16, 1), seed=0))
    calls = []
    time_derivative = Model.time_derivative
    monkeypatch.setattr(Model, "time_derivative", lambda self, x: calls.append(1) or time_derivative(self, x))
    t = np.linspace(0.0, 0.5, 4)
    x_compiled = model.rollout([[0.3, -0.2]], t)
    assert calls == []  # outside: the compiled field
    with readable():
        x_python = model.rollout([[0.3, -0.2]], t)
        n_calls = len(calls)
        rollout(model, [[0.3, -0.2]], t, how="compiled")
    assert n_calls > 10 and len(calls) == 2 * n_calls
    np.testing.assert_allclose(x_python, x_compiled, rtol=1e-9, atol=1e-12)


# --- a learner's edit takes effect inside the block, and only there ----------------------------

EDITS = {
    "hnn.py, the tanh'' term of the backprop dropped": (
        "hnn_np/hnn.py", "a_bar = -2 * a[l + 1] * s1_bar[l]", "a_bar = 0 * s1_bar[l]"),
    "mlp.py, tanh replaced by sin in the forward pass": (
        "hnn_np/mlp.py", "a.append(np.tanh(z))", "a.append(np.sin(z))"),
}

TRAIN_AND_ROLL_OUT = """
import json
import numpy as np
import hnn_np

x = np.random.default_rng(0).uniform(-1, 1, (64, 2))
dxdt = hnn_np.MassSpring().time_derivative(x)
cfg = hnn_np.TrainConfig(sizes=(2, 16, 16, 1), steps=30, finetune_steps=0, batch_size=32, lr=3e-3)
out = {}
for mode in ("readable", "fast"):
    with hnn_np.readable(mode == "readable"):
        model = hnn_np.fit(x, dxdt, cfg, progress=False)
        x_hat = model.rollout(x[:2], np.linspace(0.0, 1.0, 6))
    out[mode] = {"W0": model.params[0][0].ravel().tolist(), "rollout": x_hat.ravel().tolist(),
                 "loss": model.history["train_loss"].tolist()}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory):
    """A copy of the repository's hnn_np (Numba's caches and the sources' times kept), edited per test.

    A compiled rollout of the same kind of network first, here, puts its kernels in the cache that is copied.
    """
    from hnn_np.model import Model

    Model("hnn", hnn_np.init_params((2, 16, 16, 1))).rollout([[0.1, 0.2]], [0.0, 0.1])
    folder = tmp_path_factory.mktemp("learner")
    shutil.copytree(ROOT / "hnn_np", folder / "hnn_np")
    return folder


def train_and_roll_out(folder):
    result = run_python(TRAIN_AND_ROLL_OUT, pythonpath=folder)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def unedited(package_copy):
    return train_and_roll_out(package_copy)


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edit_of_the_readable_core_changes_fit_and_rollout_inside_readable_only(package_copy, unedited, edit):
    path, old, new = EDITS[edit]
    source_path = package_copy / path
    source = source_path.read_text()
    assert source.count(old) == 1, f"{old!r} is not one line of {path}"
    source_path.write_text(source.replace(old, new))
    try:
        edited = train_and_roll_out(package_copy)
    finally:
        source_path.write_text(source)
    for key in ("W0", "rollout", "loss"):
        assert edited["fast"][key] == unedited["fast"][key], f"{key}: the fast path read {path}"
        a, b = np.array(edited["readable"][key]), np.array(unedited["readable"][key])
        assert np.abs(a - b).max() > 1e-3 * np.abs(b).max(), f"{key}: the edit of {path} did not take effect"
    # unedited, the two paths agree to rounding: the difference above is the edit's
    np.testing.assert_allclose(unedited["readable"]["W0"], unedited["fast"]["W0"], rtol=1e-9, atol=1e-12)
