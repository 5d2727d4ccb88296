"""Ctrl-C and SIGTERM: a training run saves the step it reached, the command line ends in one line.

Real signals throughout: sent with ``Popen.send_signal`` to a real
``hnn-np train`` / ``hnn-np fit`` process once it is training, or raised in
this process with ``signal.raise_signal`` from inside the training loop at
a chosen step. The checkpoint left behind is read back (the step it holds)
and resumed: the resumed run must end with the uninterrupted run's weights,
bit for bit.
"""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from hnn_np.npz import Npz
from hnn_np.systems import MassSpring
from hnn_np.train import TrainConfig, fit

TINY_CLI = str(Path(__file__).with_name("_tiny_cli.py"))
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1")


def wait_for(path, proc):
    while not os.path.exists(path):
        assert proc.poll() is None, proc.communicate()


def checkpoint_step(path):
    with Npz(path, "checkpoint") as ckpt:
        return ckpt.header("header")["step"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_train_saves_the_step_reached_and_prints_one_line(tmp_path, sig):
    proc = subprocess.Popen([sys.executable, TINY_CLI, "train", "tiny", "--out", str(tmp_path), "--steps",
                             "200000", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ENV)
    ckpt = tmp_path / "tiny" / "checkpoint.npz"
    wait_for(ckpt, proc)  # written at step 1000: the loop is running
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr
    step = checkpoint_step(ckpt)  # the step the signal found (at a chosen step: the in-process tests below)
    assert step >= 1000
    for words in (signal.Signals(sig).name, f"at step {step} of 200000", str(ckpt), f"holds step {step}",
                  "--resume"):
        assert words in stderr, (words, stderr)
    assert os.listdir(tmp_path / "tiny") == ["checkpoint.npz"]  # no lock, no stage, no half a set


def test_ctrl_c_in_fit_prints_one_line_and_leaves_the_earlier_set(tmp_path):
    data = tmp_path / "swing.npz"
    t = 0.05 * np.arange(200)
    np.savez(data, t=t, q=np.cos(t), p=-np.sin(t))
    out = tmp_path / "out"
    common = [sys.executable, "-m", "hnn_np", "fit", str(data), "--out", str(out), "--hidden", "8",
              "--split", "time"]
    assert subprocess.run(common + ["--steps", "20", "--quiet"], env=ENV, capture_output=True).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    proc = subprocess.Popen(common + ["--steps", "100000", "--overwrite"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    first = proc.stderr.readline()  # "fit: step 10000/100000 ...": the loop is running
    assert first.startswith("fit: step"), first + proc.communicate()[1]
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    assert proc.returncode == 130, rest
    assert "Traceback" not in rest
    last = rest.strip().splitlines()[-1]
    assert last.startswith("hnn-np fit: stopped by SIGINT at step ") and "nothing was written" in last, rest
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# --- in this process: a signal at a chosen step ----------------------------------------------

SPRING = MassSpring(k=2.0, m=2.0)
CONFIG = TrainConfig(sizes=(2, 16, 16, 1), steps=60, finetune_steps=0, batch_size=16, lr=1e-2)


@pytest.fixture(scope="module")
def data():
    x = np.random.default_rng(0).uniform(-1, 1, (64, 2))
    return x, SPRING.time_derivative(x)


def signal_at(monkeypatch, step, *signals):
    """Raise ``signals`` in this process while the loop computes the learning rate of ``step`` (0-based)."""
    lr_at = TrainConfig.lr_at

    def lr_then_signal(self, s):
        if s == step:
            for sig in signals:
                signal.raise_signal(sig)
        return lr_at(self, s)

    monkeypatch.setattr(TrainConfig, "lr_at", lr_then_signal)


def weights(model):
    return [a.tobytes() for W, b in model.params for a in (W, b)]


def test_an_interrupted_fit_resumes_to_the_uninterrupted_weights_bit_for_bit(data, tmp_path, monkeypatch):
    sig = signal.SIGINT  # SIGTERM the same way (a real process above; here it would end pytest on failure)
    whole = fit(*data, CONFIG, progress=False)
    ckpt = tmp_path / "checkpoint.npz"
    signal_at(monkeypatch, 36, sig)
    with pytest.raises(KeyboardInterrupt) as info:
        fit(*data, CONFIG, checkpoint=ckpt, checkpoint_every=25, progress=False)
    monkeypatch.undo()
    err = info.value
    assert type(err).__name__ == "Interrupted"
    assert (err.signum, err.step, err.total, err.saved) == (sig, 37, 60, 37)  # step 36 is finished first
    assert checkpoint_step(ckpt) == 37 and str(ckpt) in str(err)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handlers are back
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    resumed = fit(*data, CONFIG, checkpoint=ckpt, resume=ckpt, progress=False)
    assert weights(resumed) == weights(whole)
    assert resumed.history["train_loss"].tobytes() == whole.history["train_loss"].tobytes()


def test_without_a_checkpoint_the_interruption_says_nothing_was_saved(data, monkeypatch):
    signal_at(monkeypatch, 5, signal.SIGINT)
    with pytest.raises(KeyboardInterrupt, match="at step 6 of 60; nothing was saved") as info:
        fit(*data, CONFIG, progress=False)
    assert info.value.checkpoint is None


def test_a_second_signal_stops_at_once(data, tmp_path, monkeypatch):
    ckpt = tmp_path / "checkpoint.npz"
    signal_at(monkeypatch, 30, signal.SIGINT, signal.SIGINT)
    with pytest.raises(KeyboardInterrupt) as info:
        fit(*data, CONFIG, checkpoint=ckpt, checkpoint_every=25, progress=False)
    assert type(info.value) is KeyboardInterrupt  # not Interrupted: no save at the step reached
    assert checkpoint_step(ckpt) == 25
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_signal_after_the_last_look_is_delivered_when_the_handlers_are_restored():
    from hnn_np import interrupts

    stop = interrupts.Deferred()
    signal.raise_signal(signal.SIGINT)
    assert stop.requested
    with pytest.raises(KeyboardInterrupt):
        stop.restore()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_handler_of_ones_own_is_left_alone():
    from hnn_np import interrupts

    seen = []
    old = signal.signal(signal.SIGINT, lambda s, f: seen.append(s))
    try:
        with interrupts.Deferred() as stop:
            signal.raise_signal(signal.SIGINT)
            assert not stop.requested and seen == [signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, old)


def test_outside_the_main_thread_nothing_is_replaced():
    from hnn_np import interrupts

    out = {}

    def body():
        with interrupts.Deferred() as stop:
            out["saved"] = dict(stop._saved)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert out["saved"] == {} and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigterm_raises_keyboard_interrupt_inside_terminate_as_interrupt():
    from hnn_np import interrupts

    with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        with interrupts.terminate_as_interrupt():
            signal.raise_signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
