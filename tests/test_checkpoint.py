"""hnn_np.checkpoint.load on damaged files: every one is refused with a ValueError naming the file.

A checkpoint of a short run is written once; each test changes one thing in a
copy (an array, a counter of the header, the generator state) and resumes from
it. Resuming must refuse with a message that names the checkpoint and the
problem, never continue from numbers that are not what the run left.
"""

import json

import numpy as np
import pytest

from hnn_np import checkpoint as ckpt
from hnn_np.systems import MassSpring
from hnn_np.train import TrainConfig, fit

SPRING = MassSpring(k=2.0, m=2.0)
CONFIG = TrainConfig(sizes=(2, 8, 1), steps=12, finetune_steps=3, batch_size=16, lr=1e-2, eval_every=4)
N_ROWS, TOTAL = 40, 15


def spring(n, seed):
    x = np.random.default_rng(seed).uniform(-1, 1, (n, 2))
    return x, SPRING.time_derivative(x)


X_TEST, DXDT_TEST = spring(10, 1)


def run(x, dxdt, **kw):
    return fit(x, dxdt, CONFIG, x_test=X_TEST, dxdt_test=DXDT_TEST, progress=False, **kw)


@pytest.fixture(scope="module")
def data():
    return spring(N_ROWS, 0)


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def saved(data, tmp_path_factory):
    """The arrays and header of the checkpoint of step 10 of 15 (the run stopped there)."""
    path = tmp_path_factory.mktemp("ckpt") / "run.npz"
    save = ckpt.save

    def save_then_stop(*args):
        save(*args)
        if args[-2].step == 10:
            raise Stop

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ckpt, "save", save_then_stop)
        with pytest.raises(Stop):
            run(*data, checkpoint=path, checkpoint_every=5)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    return arrays, json.loads(str(arrays["header"]))


def resume_from(tmp_path, data, saved, header=None, **arrays):
    """Write the saved checkpoint with ``header`` entries and ``arrays`` replaced; resume from it."""
    base, head = saved
    head = {**head, **(header or {})}
    out = {**base, **arrays, "header": np.array(json.dumps(head))}
    path = tmp_path / "damaged.npz"
    np.savez(path, **out)
    return run(*data, resume=path)


def test_the_undamaged_checkpoint_resumes(tmp_path, data, saved):
    """The control: the same file, rewritten unchanged, resumes to the uninterrupted run's weights."""
    assert saved[1]["step"] == 10
    resumed = resume_from(tmp_path, data, saved)
    whole = run(*data)
    for (W, b), (W2, b2) in zip(resumed.params, whole.params):
        assert W.tobytes() == W2.tobytes() and b.tobytes() == b2.tobytes()


def nan_at_0(a):
    a = a.copy()
    a.flat[0] = np.nan
    return a


DAMAGED_ARRAYS = {
    "NaN weight": (lambda a: {"W0": nan_at_0(a["W0"])}, r"'W0' has non-finite values"),
    "inf bias": (lambda a: {"b1": a["b1"] + np.inf}, r"'b1' has non-finite values"),
    "NaN moment": (lambda a: {"mW1": nan_at_0(a["mW1"])}, r"'mW1' has non-finite values"),
    "negative second moment": (lambda a: {"vW0": -np.abs(a["vW0"]) - 1}, r"'vW0' has negative entries"),
    "weights of another shape": (lambda a: {"W0": np.zeros((3, 8))}, r"'W0' is float64 \(3, 8\); expected"),
    "weights of another dtype": (lambda a: {"W0": a["W0"].astype(np.float32)}, r"'W0' is float32"),
    "integer weights": (lambda a: {"W0": a["W0"].astype(np.int64)}, r"'W0' is int64"),
    "order not a permutation": (lambda a: {"order": np.zeros(N_ROWS, np.int64)}, "not a permutation"),
    "order too short": (lambda a: {"order": a["order"][:-1]}, "'order' must be 40 integers"),
    "order of floats": (lambda a: {"order": a["order"].astype(float)}, "'order' must be 40 integers"),
    "NaN in the loss history": (lambda a: {"train_loss": nan_at_0(a["train_loss"])},
                                "entries of train_loss and lr must be finite"),
    "zero learning rate in the history": (lambda a: {"lr": np.zeros_like(a["lr"])},
                                          "entries of train_loss and lr must be finite"),
    "loss history of another length": (lambda a: {"train_loss": a["train_loss"][:-1]}, "'train_loss' is float64"),
}


@pytest.mark.parametrize("case", list(DAMAGED_ARRAYS))
def test_a_damaged_array_is_refused(tmp_path, data, saved, case):
    change, match = DAMAGED_ARRAYS[case]
    with pytest.raises(ValueError, match="checkpoint .*damaged.npz.*" + match):
        resume_from(tmp_path, data, saved, **change(saved[0]))


DAMAGED_HEADERS = {
    "step < 0": (dict(step=-1, adam_t=-1), r"step = -1 is outside \[0, 15\]"),
    "step > total": (dict(step=16, adam_t=16), r"step = 16 is outside \[0, 15\]"),
    "fractional step": (dict(step=9.9, adam_t=9.9), "step must be an integer; got 9.9"),
    "boolean step": (dict(step=True, adam_t=True), "step must be an integer; got True"),
    "step as a string": (dict(step="10", adam_t="10"), "step must be an integer; got '10'"),
    "pos < 0": (dict(pos=-1), r"pos = -1 is outside \[0, 40\]"),
    "pos > rows": (dict(pos=41), r"pos = 41 is outside \[0, 40\]"),
    "Adam's step differs": (dict(adam_t=9), "Adam's step 9 differs from the loop's 10"),
    "test steps of strings": (dict(test_step=["a", "b"]), "test_step must be increasing integers"),
    "test step beyond step": (dict(test_step=[4, 80]), "test_step must be increasing integers"),
    "test losses of strings": (dict(test_loss=["a", "b"]), "test_loss must be numbers"),
    "test_step not a list": (dict(test_step="48"), "test_step and test_loss must be lists"),
    "generator of another kind": (dict(rng={"bit_generator": "MT19937", "state": {"key": [0], "pos": 0}}),
                                  "bad generator state"),
    "generator state a number": (dict(rng=5), "bad generator state"),
    "generator state out of range": (dict(rng={"bit_generator": "PCG64",
                                               "state": {"state": 2**200, "inc": 1},
                                               "has_uint32": 0, "uinteger": 0}), "bad generator state"),
    "generator state missing": (dict(rng={}), "bad generator state"),
}


@pytest.mark.parametrize("case", list(DAMAGED_HEADERS))
def test_a_damaged_header_is_refused(tmp_path, data, saved, case):
    change, match = DAMAGED_HEADERS[case]
    if case.startswith("test"):  # a run evaluated at steps 4 and 8 before its step-10 checkpoint
        assert saved[1]["test_step"] == [4, 8]
    with pytest.raises(ValueError, match="checkpoint .*damaged.npz.*" + match):
        resume_from(tmp_path, data, saved, header=change)


def test_a_header_of_the_wrong_json_type_is_refused(tmp_path, data, saved):
    for text in ("[1, 2]", "3", '"text"', "null"):
        path = tmp_path / "header.npz"
        np.savez(path, **{**saved[0], "header": np.array(text)})
        with pytest.raises(ValueError, match="checkpoint .*'header' must be a JSON object"):
            run(*data, resume=path)


def test_a_missing_header_entry_is_refused(tmp_path, data, saved):
    header = dict(saved[1])
    del header["pos"]
    path = tmp_path / "header.npz"
    np.savez(path, **{**saved[0], "header": np.array(json.dumps(header))})
    with pytest.raises(ValueError, match=r"checkpoint .* has a bad header: it lacks \['pos'\]"):
        run(*data, resume=path)
