"""fit's progress report, wherever it runs: a tqdm bar on a terminal, a notebook bar in Jupyter, lines otherwise."""

import io
import re
import sys
import types

import numpy as np
import pytest

from hnn_np import TrainConfig, fit, train

STEPS = 35


@pytest.fixture(scope="module")
def data():
    x = np.random.default_rng(0).uniform(-1, 1, (32, 2))
    return x, x[:, ::-1] * np.array([1.0, -1.0])


def run(data, progress, **settings):
    cfg = TrainConfig(sizes=(2, 8, 1), steps=STEPS - 5, finetune_steps=5, batch_size=16, **settings)
    return fit(*data, cfg, progress=progress, x_test=data[0], dxdt_test=data[1])


@pytest.mark.parametrize("progress", [None, True])
def test_without_a_terminal_one_line_per_tenth_of_the_run(data, capsys, progress):
    """stderr a pipe (as under pytest): ten lines, at the first step past each tenth, with loss, lr and the last test loss."""
    run(data, progress, eval_every=5)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) == 10, err
    steps = [int(re.match(r"fit: step (\d+)/35 \(\d+%\), loss \S+, lr \S+(, test \S+)?, [\d.]+ s$", line).group(1))
             for line in lines]
    assert steps == [n for n in range(1, STEPS + 1) if (10 * n) // STEPS > (10 * (n - 1)) // STEPS]
    assert steps[-1] == STEPS and "(100%)" in lines[-1] and "lr 1.0e-07, test" in lines[-1]  # fine-tuning shows


def test_progress_false_is_silent(data, capsys):
    run(data, False)
    assert capsys.readouterr() == ("", "")


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_a_tqdm_bar(data, monkeypatch):
    stderr = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", stderr)
    run(data, None)
    text = stderr.getvalue()
    assert "\r" in text and f"{STEPS}/{STEPS}" in text and "step/s" in text and "fit: step" not in text


def test_in_a_notebook_the_bar_of_tqdm_auto(data, monkeypatch):
    import tqdm.auto

    made = []

    class Recorder(tqdm.auto.tqdm):
        def __init__(self, *args, **kwargs):
            made.append(kwargs["total"])
            super().__init__(*args, file=io.StringIO(), **kwargs)

    monkeypatch.setattr(tqdm.auto, "tqdm", Recorder)
    monkeypatch.setattr(train, "_in_notebook", lambda: True)
    run(data, None)
    assert made == [STEPS]


@pytest.mark.parametrize("config, expected", [({"IPKernelApp": {}}, True), ({}, False), (None, False)])
def test_a_notebook_is_an_ipython_kernel(monkeypatch, config, expected):
    """A Jupyter kernel has IPKernelApp in its config; terminal IPython and plain Python do not."""
    shell = None if config is None else types.SimpleNamespace(config=config)
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert train._in_notebook() is expected
    monkeypatch.delitem(sys.modules, "IPython")
    assert train._in_notebook() is False
