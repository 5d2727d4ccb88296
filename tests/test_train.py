"""hnn_np.train.fit: the training loop, its settings, checkpoints and divergence.

The data here is the paper's spring (k = m = 2) sampled directly, x uniform in
a square and dx/dt = (p/m, -k q) from the closed form, so that no integrator
is involved and every run takes a fraction of a second on a (2, 16, 16, 1)
network.

What is compared with what:

* the loop against a loop written here from the reference pieces
  (``hnn.loss_and_grad`` + ``optim.Adam``, full batch): the same weights;
* the first recorded loss against the loss of the initial weights
  (``mlp.init_params``) computed by the loss modules;
* the recorded learning rates against the closed forms of the schedules;
* a run that is interrupted and resumed against one that is not: the same
  weights, bit for bit;
* a batch's rows against the training set: every epoch visits every row once.
"""

import json
import math
import os

import numpy as np
import pytest

from hnn_np import baseline, checkpoint as ckpt_mod, hnn, mlp
from hnn_np import train as train_mod
from hnn_np.optim import Adam
from hnn_np.systems import MassSpring
from hnn_np.train import TrainConfig, TrainingDiverged, evaluate_loss
from hnn_np.train import fit as fit_model

SPRING = MassSpring(k=2.0, m=2.0)
SIZES = {"hnn": (2, 16, 16, 1), "baseline": (2, 16, 16, 2)}
LOSS = {"hnn": hnn, "baseline": baseline}


def spring_data(n=100, radius=1.0, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-radius, radius, (n, 2))
    return x, SPRING.time_derivative(x)


@pytest.fixture(scope="module")
def data():
    return spring_data()


FIT_ARGS = ("x_test", "dxdt_test", "checkpoint", "checkpoint_every", "resume", "progress", "reference")


def fit(x, dxdt, kind="hnn", **kw):
    """hnn_np.fit with a TrainConfig of small, fast defaults (overridable by keyword)."""
    settings = dict(kind=kind, sizes=SIZES.get(kind, (2, 16, 16, 1)), steps=20, finetune_steps=0,
                    batch_size=32, lr=1e-2)
    args = dict(progress=False)
    for key, value in kw.items():
        (args if key in FIT_ARGS else settings)[key] = value
    return fit_model(x, dxdt, TrainConfig(**settings), **args)


def wrap_step(monkeypatch, wrapper):
    """Replace the loop's step function ``step`` by ``wrapper(step)``."""
    make = train_mod._step_functions

    def wrapped(cfg, params, batch_size, reference):
        step, Adam = make(cfg, params, batch_size, reference)
        return wrapper(step), Adam

    monkeypatch.setattr(train_mod, "_step_functions", wrapped)


def weights_bytes(model):
    return b"".join(W.tobytes() + b.tobytes() for W, b in model.params)


def record_batches(monkeypatch):
    """Wrap the loop's step function to record the rows of every batch it is given."""
    batches = []

    def recording(step):
        def recorded(xb, yb, wb):
            batches.append((xb.copy(), None if wb is None else wb.copy()))
            return step(xb, yb, wb)
        return recorded

    wrap_step(monkeypatch, recording)
    return batches


# --- learning -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["hnn", "baseline"])
def test_loss_decreases_on_the_spring(data, kind):
    x, dxdt = data
    model = fit(x, dxdt, kind, steps=300, lr=1e-2)
    initial = evaluate_loss(kind, mlp.init_params(SIZES[kind], seed=0), x, dxdt)
    final = evaluate_loss(kind, model.params, x, dxdt)
    assert final < 0.05 * initial, (initial, final)
    loss = model.history["train_loss"]
    assert np.mean(loss[-20:]) < 0.1 * np.mean(loss[:20])


@pytest.mark.parametrize("kind", ["hnn", "baseline"])
def test_full_batch_run_equals_a_loop_written_from_the_reference_pieces(data, kind):
    """batch_size=None: every step sees all rows; the weights are those of loss_and_grad + Adam."""
    x, dxdt = data
    model = fit(x, dxdt, kind, batch_size=None, steps=15, lr=1e-2)
    params = mlp.init_params(SIZES[kind], seed=0)
    opt = Adam(params, lr=1e-2)
    losses = []
    for _ in range(15):
        loss, grads = LOSS[kind].loss_and_grad(params, x, dxdt)
        losses.append(loss)
        opt.step(grads)
    np.testing.assert_allclose(model.history["train_loss"], losses, rtol=1e-9)
    for (W, b), (W_ref, b_ref) in zip(model.params, params):
        np.testing.assert_allclose(W, W_ref, rtol=1e-8, atol=1e-11)
        np.testing.assert_allclose(b, b_ref, rtol=1e-8, atol=1e-11)


def test_full_batch_steps_see_every_row(data, monkeypatch):
    x, dxdt = data
    batches = record_batches(monkeypatch)
    fit(x, dxdt, batch_size=None, steps=3)
    assert len(batches) == 3 and all(np.array_equal(xb, x) for xb, _ in batches)


def test_every_epoch_visits_every_row_once(data, monkeypatch):
    """N = 100 rows, batches of 32: epochs of 3 batches (96 rows), a new shuffle each epoch."""
    x, dxdt = data
    batches = record_batches(monkeypatch)
    fit(x, dxdt, batch_size=32, steps=9)
    assert len(batches) == 9 and all(xb.shape == (32, 2) for xb, _ in batches)
    row_of = {tuple(r): i for i, r in enumerate(x)}
    epochs = []
    for e in range(3):
        rows = [row_of[tuple(r)] for xb, _ in batches[3 * e:3 * e + 3] for r in xb]
        assert len(set(rows)) == 96, "a row was drawn twice within an epoch"
        epochs.append(rows)
    assert epochs[0] != epochs[1] != epochs[2], "each epoch is reshuffled"


def test_first_loss_is_the_loss_of_the_initial_weights(data):
    x, dxdt = data
    for seed in (0, 5):
        model = fit(x, dxdt, batch_size=None, steps=2, seed=seed)
        expected, _ = hnn.loss_and_grad(mlp.init_params(SIZES["hnn"], seed=seed), x, dxdt)
        assert model.history["train_loss"][0] == pytest.approx(expected, rel=1e-12)


def test_no_steps_returns_the_initial_weights(data):
    x, dxdt = data
    model = fit(x, dxdt, steps=0, finetune_steps=0)
    init = mlp.init_params(SIZES["hnn"], seed=0)
    assert all(np.array_equal(W, Wi) and np.array_equal(b, bi)
               for (W, b), (Wi, bi) in zip(model.params, init))
    assert model.history["train_loss"].shape == (0,)


# --- reproducibility ----------------------------------------------------------------

@pytest.mark.parametrize("kind", ["hnn", "baseline"])
def test_same_seed_gives_bit_identical_weights_and_another_seed_does_not(data, kind):
    x, dxdt = data
    a = fit(x, dxdt, kind, seed=3)
    b = fit(x, dxdt, kind, seed=3)
    c = fit(x, dxdt, kind, seed=4)
    assert weights_bytes(a) == weights_bytes(b)
    assert a.history["train_loss"].tobytes() == b.history["train_loss"].tobytes()
    assert weights_bytes(a) != weights_bytes(c)


def test_float32_end_to_end(data):
    x, dxdt = data
    model = fit(x, dxdt, dtype=np.float32, steps=50, x_test=x[:10], dxdt_test=dxdt[:10])
    assert model.dtype == np.float32
    assert all(W.dtype == np.float32 and b.dtype == np.float32 for W, b in model.params)
    assert model.time_derivative(x).dtype == np.float32
    assert model.energy(x).dtype == np.float32
    assert model.config["dtype"] == "float32"
    loss = model.history["train_loss"]
    assert np.all(np.isfinite(loss)) and loss[-1] < loss[0]


# --- what the run records --------------------------------------------------------------

def test_history_shapes_and_test_loss(data):
    x, dxdt = data
    x_te, dxdt_te = spring_data(n=40, seed=1)
    model = fit(x, dxdt, steps=23, finetune_steps=4, eval_every=5, x_test=x_te, dxdt_test=dxdt_te)
    h = model.history
    total = 27
    assert set(h) == {"step", "train_loss", "lr", "test_step", "test_loss"}
    np.testing.assert_array_equal(h["step"], np.arange(1, total + 1))
    assert h["train_loss"].shape == h["lr"].shape == (total,)
    assert np.all(np.isfinite(h["train_loss"])) and np.all(h["lr"] > 0)
    np.testing.assert_array_equal(h["test_step"], [5, 10, 15, 20, 25, 27])
    assert h["test_loss"].shape == (6,) and h["test_loss"].dtype == np.float64
    # the last test loss is that of the final weights on the test set
    expected, _ = hnn.loss_and_grad(model.params, x_te, dxdt_te)
    assert h["test_loss"][-1] == pytest.approx(expected, rel=1e-10)


def test_without_a_test_set_the_test_history_is_empty(data):
    h = fit(*data, steps=5).history
    assert h["test_step"].shape == (0,) and h["test_loss"].shape == (0,)


def test_config_records_every_setting_and_is_json(data):
    x, dxdt = data
    model = fit(x, dxdt, steps=7, lr=3e-3, batch_size=None, normalize=True, seed=9)
    cfg = json.loads(json.dumps(model.config))
    assert cfg["kind"] == "hnn" and cfg["sizes"] == [2, 16, 16, 1] and cfg["steps"] == 7
    assert cfg["lr"] == 3e-3 and cfg["batch_size"] is None and cfg["normalize"] is True
    assert cfg["seed"] == 9 and cfg["dtype"] == "float64"
    assert set(cfg) == set(TrainConfig.__dataclass_fields__)


# --- normalization, loss weights, schedules -----------------------------------------

def test_normalize_learns_in_the_unit_ball_and_answers_in_physical_units(data):
    x, dxdt = data
    x, dxdt = 50.0 * x, 50.0 * dxdt  # a spring in a big box: its field is linear
    model = fit(x, dxdt, steps=10, normalize=True, batch_size=None)
    s = np.max(np.linalg.norm(x, axis=1))
    assert model.scale == s
    np.testing.assert_allclose(model.time_derivative(x), s * hnn.vector_field(model.params, x / s),
                               rtol=1e-14, atol=1e-12)
    np.testing.assert_allclose(model.energy(x), s**2 * mlp.forward(model.params, x / s)[:, 0],
                               rtol=1e-14, atol=1e-12)
    # the loss was the scaled one: (x / s, dxdt / s)
    expected, _ = hnn.loss_and_grad(mlp.init_params(SIZES["hnn"]), x / s, dxdt / s)
    assert model.history["train_loss"][0] == pytest.approx(expected, rel=1e-12)


def test_without_normalize_the_scale_is_one(data):
    assert fit(*data, steps=2).scale == 1.0


@pytest.mark.parametrize("kind", ["hnn", "baseline"])
def test_relative_loss_weights_rows_by_inverse_squared_speed(data, kind, monkeypatch):
    x, dxdt = data
    batches = record_batches(monkeypatch)
    model = fit(x, dxdt, kind, steps=3, batch_size=None, loss_weighting="relative")
    v = 1.0 / np.sum(dxdt**2, axis=1)
    np.testing.assert_allclose(batches[0][1], v, rtol=1e-15)
    expected, _ = LOSS[kind].loss_and_grad(mlp.init_params(SIZES[kind]), x, dxdt, v)
    assert model.history["train_loss"][0] == pytest.approx(expected, rel=1e-12)
    plain, _ = LOSS[kind].loss_and_grad(mlp.init_params(SIZES[kind]), x, dxdt)
    assert abs(expected - plain) > 1e-3 * plain  # the weights do change the loss


def test_relative_weights_of_a_minibatch_follow_its_rows(data, monkeypatch):
    x, dxdt = data
    batches = record_batches(monkeypatch)
    fit(x, dxdt, steps=4, batch_size=32, loss_weighting="relative")
    speed2 = {tuple(r): float(np.sum(d**2)) for r, d in zip(x, dxdt)}
    for xb, wb in batches:
        np.testing.assert_allclose(wb, [1.0 / speed2[tuple(r)] for r in xb], rtol=1e-15)


def test_relative_weights_need_nonzero_targets(data):
    x, dxdt = data
    dxdt = dxdt.copy()
    dxdt[4] = 0.0
    with pytest.raises(ValueError, match="not all zero"):
        fit(x, dxdt, loss_weighting="relative")


def test_cosine_schedule_follows_the_closed_form(data):
    x, dxdt = data
    steps, lr, lr_min = 40, 1e-2, 1e-4
    model = fit(x, dxdt, steps=steps, finetune_steps=5, finetune_lr=1e-6, lr=lr, lr_min=lr_min,
                schedule="cosine")
    t = np.arange(steps)
    expected = lr_min + (lr - lr_min) * (1 + np.cos(np.pi * t / steps)) / 2
    np.testing.assert_allclose(model.history["lr"][:steps], expected, rtol=1e-14)
    assert model.history["lr"][0] == lr
    np.testing.assert_array_equal(model.history["lr"][steps:], 1e-6)


def test_finetune_phase_uses_finetune_lr(data):
    """After `steps` steps at lr, `finetune_steps` at finetune_lr, and they move the weights that little."""
    x, dxdt = data
    main = fit(x, dxdt, steps=20, finetune_steps=0, lr=1e-2)
    tuned = fit(x, dxdt, steps=20, finetune_steps=6, lr=1e-2, finetune_lr=1e-7)
    lr = tuned.history["lr"]
    np.testing.assert_array_equal(lr[:20], 1e-2)
    np.testing.assert_array_equal(lr[20:], 1e-7)
    # the first 20 steps are the same run; 6 Adam steps of size ~1e-7 follow
    np.testing.assert_array_equal(tuned.history["train_loss"][:20], main.history["train_loss"])
    moved = max(np.max(np.abs(W - W0)) for (W, _), (W0, _) in zip(tuned.params, main.params))
    assert 0 < moved < 6 * 1e-7 * 10


# --- bad settings --------------------------------------------------------------------

@pytest.mark.parametrize("kw, match", [
    (dict(batch_size=101), "batch_size must be between 1 and the 100"),
    (dict(batch_size=0), "batch_size"),
    (dict(lr=0.0), "lr must be a positive"),
    (dict(lr=-1e-3), "lr must be a positive"),
    (dict(lr=float("nan")), "lr must be a positive"),
    (dict(finetune_lr=0.0), "finetune_lr must be a positive"),
    (dict(steps=-1), "steps must be >= 0"),
    (dict(finetune_steps=-5), "finetune_steps must be >= 0"),
    (dict(kind="lstm"), "kind must be one of"),
    (dict(sizes=(4, 16, 1)), "does not fit x with 2 columns"),
    (dict(sizes=(2, 16, 2)), "last size must be 1"),
    (dict(kind="baseline", sizes=(2, 16, 1)), "last size must be 2"),
    (dict(schedule="linear"), "schedule"),
    (dict(lr_min=1.0), "lr_min"),
    (dict(loss_weighting="inverse"), "loss_weighting"),
    (dict(dtype=np.float16), "dtype"),
    (dict(eval_every=0), "eval_every"),
])
def test_bad_settings_are_refused_with_a_clear_message(data, kw, match):
    x, dxdt = data
    kind = kw.pop("kind", "hnn")
    with pytest.raises(ValueError, match=match):
        fit(x, dxdt, kind, **kw)


@pytest.mark.parametrize("damage, match", [
    ("nan_x", "x has non-finite values in row 7"),
    ("inf_dxdt", "dxdt has non-finite values in row 3"),
    ("odd_columns", "shape"),
    ("rows_differ", "dxdt has 99 rows; expected 100"),
    ("no_dxdt", "dxdt is required"),
    ("test_columns", "x_test"),
])
def test_bad_data_is_refused_with_a_clear_message(data, damage, match):
    x, dxdt = data[0].copy(), data[1].copy()
    kw = {}
    if damage == "nan_x":
        x[7, 1] = np.nan
    elif damage == "inf_dxdt":
        dxdt[3, 0] = np.inf
    elif damage == "odd_columns":
        x, dxdt = x[:, :1], dxdt[:, :1]
    elif damage == "rows_differ":
        dxdt = dxdt[:-1]
    elif damage == "no_dxdt":
        dxdt = None
    elif damage == "test_columns":
        kw = dict(x_test=np.zeros((3, 4)), dxdt_test=np.zeros((3, 4)))
    with pytest.raises(ValueError, match=match):
        fit(x, dxdt, **kw)


# --- checkpoints and resume -----------------------------------------------------------

RESUME_KW = dict(steps=23, finetune_steps=7, batch_size=32, eval_every=4)  # 30 steps in all


class Interrupted(Exception):
    pass


def interrupt_after(monkeypatch, n_steps):
    """Make the step function raise once ``n_steps`` steps have run (a killed process)."""
    count = [0]

    def interruptible(step):
        def maybe_interrupt(xb, yb, wb):
            if count[0] == n_steps:
                raise Interrupted
            count[0] += 1
            return step(xb, yb, wb)
        return maybe_interrupt

    wrap_step(monkeypatch, interruptible)


@pytest.mark.parametrize("kind", ["hnn", "baseline"])
def test_an_interrupted_run_resumed_ends_bit_for_bit_where_an_uninterrupted_one_does(
        data, tmp_path, monkeypatch, kind):
    x, dxdt = data
    x_te, dxdt_te = spring_data(n=20, seed=2)
    kw = dict(RESUME_KW, x_test=x_te, dxdt_test=dxdt_te, checkpoint_every=10)
    whole = fit(x, dxdt, kind, checkpoint=tmp_path / "whole.npz", **kw)

    ckpt = tmp_path / "ckpt.npz"
    with monkeypatch.context() as m:
        interrupt_after(m, 14)  # killed during step 14; the last checkpoint is step 10's
        with pytest.raises(Interrupted):
            fit(x, dxdt, kind, checkpoint=ckpt, **kw)
    with np.load(ckpt) as f:
        assert json.loads(str(f["header"]))["step"] == 10
    resumed = fit(x, dxdt, kind, checkpoint=ckpt, resume=ckpt, **kw)

    assert weights_bytes(resumed) == weights_bytes(whole)
    for key in ("train_loss", "lr", "test_step", "test_loss"):
        assert resumed.history[key].tobytes() == whole.history[key].tobytes(), key
    assert resumed.config == whole.config


def test_resuming_a_finished_run_changes_nothing(data, tmp_path):
    x, dxdt = data
    ckpt = tmp_path / "ckpt.npz"
    whole = fit(x, dxdt, checkpoint=ckpt, checkpoint_every=5, **RESUME_KW)
    again = fit(x, dxdt, resume=ckpt, **RESUME_KW)
    assert weights_bytes(again) == weights_bytes(whole)


def test_resume_from_every_checkpoint(data, tmp_path, monkeypatch):
    """Copies of the checkpoint at steps 7, 14, 21, 28: each one resumes to the same end."""
    x, dxdt = data
    ckpt = tmp_path / "ckpt.npz"
    copies = {}
    save = ckpt_mod.save

    def save_and_copy(path, *args):
        save(path, *args)
        step = args[-2].step  # the LoopState
        copies[step] = tmp_path / f"at{step}.npz"
        copies[step].write_bytes(open(path, "rb").read())

    with monkeypatch.context() as m:
        m.setattr(ckpt_mod, "save", save_and_copy)
        whole = fit(x, dxdt, checkpoint=ckpt, checkpoint_every=7, **RESUME_KW)
    assert sorted(copies) == [7, 14, 21, 28, 30]
    for step in (7, 14, 21, 28):
        assert weights_bytes(fit(x, dxdt, resume=copies[step], **RESUME_KW)) == weights_bytes(whole)


@pytest.fixture
def checkpoint(data, tmp_path):
    path = tmp_path / "ckpt.npz"
    fit(*data, checkpoint=path, checkpoint_every=10, **RESUME_KW)
    return path


@pytest.mark.parametrize("change", [dict(lr=2e-2), dict(seed=1), dict(batch_size=16),
                                    dict(steps=24), dict(loss_weighting="relative")])
def test_resuming_with_other_settings_is_refused(data, checkpoint, change):
    kw = dict(RESUME_KW, **change)
    with pytest.raises(ValueError, match="other settings"):
        fit(*data, resume=checkpoint, **kw)


@pytest.mark.parametrize("other, what", [
    ("fewer rows", "training states x"),
    ("same rows, other states", "training states x"),
    ("same states, other targets", "training targets dxdt"),
])
def test_resuming_on_other_data_is_refused_naming_what_differs(data, checkpoint, other, what):
    x, dxdt = data[0].copy(), data[1].copy()
    if other == "fewer rows":
        x, dxdt = x[:90], dxdt[:90]
    elif other == "same rows, other states":
        x[5, 0] += 1e-12  # one entry, one ulp-sized change
    else:
        dxdt[0, 1] *= 1.5
    with pytest.raises(ValueError, match=f"other data: the {what}"):
        fit(x, dxdt, resume=checkpoint, **RESUME_KW)


def test_resuming_with_another_test_set_or_path_is_refused(data, checkpoint):
    x_te, dxdt_te = spring_data(n=20, seed=2)
    with pytest.raises(ValueError, match="other data: the test set"):
        fit(*data, resume=checkpoint, x_test=x_te, dxdt_test=dxdt_te, **RESUME_KW)
    with pytest.raises(ValueError, match="other settings: reference"):
        fit(*data, resume=checkpoint, reference=True, **RESUME_KW)


def test_a_missing_checkpoint_is_refused(data, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        fit(*data, resume=tmp_path / "nope.npz", **RESUME_KW)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "model_file", "other_version"])
def test_a_corrupt_checkpoint_is_refused(data, checkpoint, damage):
    if damage == "garbage":
        checkpoint.write_bytes(b"this is not a checkpoint")
    elif damage == "truncated":
        checkpoint.write_bytes(checkpoint.read_bytes()[:500])
    elif damage == "model_file":
        fit(*data, steps=2).save(checkpoint)
    elif damage == "other_version":
        with np.load(checkpoint) as f:
            arrays = {k: f[k] for k in f.files}
        header = json.loads(str(arrays["header"]))
        header["version"] = 99
        arrays["header"] = np.array(json.dumps(header))
        np.savez(checkpoint, **arrays)
    with pytest.raises(ValueError, match="checkpoint"):
        fit(*data, resume=checkpoint, **RESUME_KW)


def test_a_checkpoint_missing_an_array_is_refused(data, checkpoint):
    """A readable header but a lost array (W1) is damage too: ValueError, not KeyError."""
    with np.load(checkpoint) as f:
        arrays = {k: f[k] for k in f.files if k != "W1"}
    np.savez(checkpoint, **arrays)
    with pytest.raises(ValueError, match="checkpoint"):
        fit(*data, resume=checkpoint, **RESUME_KW)


def test_checkpoints_leave_no_temporary_files(data, tmp_path):
    fit(*data, checkpoint=tmp_path / "ckpt.npz", checkpoint_every=3, **RESUME_KW)
    assert os.listdir(tmp_path) == ["ckpt.npz"]


# --- divergence ------------------------------------------------------------------------

def nan_loss_at(monkeypatch, bad_step, grads_only=False):
    """From step ``bad_step`` on, the step function reports a NaN loss (or, with
    ``grads_only``, a finite loss but NaN gradients, once)."""
    count = [0]

    def breaking(step):
        def bad(xb, yb, wb):
            loss, grads = step(xb, yb, wb)
            count[0] += 1
            if count[0] - 1 == bad_step:
                if grads_only:
                    return loss, [(np.full_like(dW, np.nan), np.full_like(db, np.nan)) for dW, db in grads]
                return math.nan, grads
            return loss, grads
        return bad

    wrap_step(monkeypatch, breaking)


def test_a_non_finite_loss_raises_with_the_step_and_keeps_the_last_checkpoint(data, tmp_path, monkeypatch):
    x, dxdt = data
    ckpt = tmp_path / "ckpt.npz"
    with monkeypatch.context() as m:
        nan_loss_at(m, 17)
        with pytest.raises(TrainingDiverged, match="step 17") as info:
            fit(x, dxdt, checkpoint=ckpt, checkpoint_every=5, **RESUME_KW)
    assert "ckpt.npz" in str(info.value)
    assert isinstance(info.value, FloatingPointError)
    # the checkpoint is step 15's, loadable, and resumes to the uninterrupted result
    with np.load(ckpt) as f:
        assert json.loads(str(f["header"]))["step"] == 15
    whole = fit(x, dxdt, **RESUME_KW)
    assert weights_bytes(fit(x, dxdt, resume=ckpt, **RESUME_KW)) == weights_bytes(whole)
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_the_checkpoint_file_is_not_touched_by_the_diverging_steps(data, tmp_path, monkeypatch):
    x, dxdt = data
    ckpt = tmp_path / "ckpt.npz"
    with monkeypatch.context() as m:
        interrupt_after(m, 16)
        with pytest.raises(Interrupted):
            fit(x, dxdt, checkpoint=ckpt, checkpoint_every=5, **RESUME_KW)
    good = ckpt.read_bytes()  # step 15's checkpoint
    with monkeypatch.context() as m:
        nan_loss_at(m, 0)  # resumed at 15: the very first step diverges
        with pytest.raises(TrainingDiverged, match="step 15"):
            fit(x, dxdt, checkpoint=ckpt, resume=ckpt, checkpoint_every=1, **RESUME_KW)
    assert ckpt.read_bytes() == good
    with monkeypatch.context() as m:
        nan_loss_at(m, 3)  # steps 15..17 are good and saved (every step); 18 diverges
        with pytest.raises(TrainingDiverged, match="step 18"):
            fit(x, dxdt, checkpoint=ckpt, resume=ckpt, checkpoint_every=1, **RESUME_KW)
    with np.load(ckpt) as f:
        assert json.loads(str(f["header"]))["step"] == 18  # the last good state: after step 17


def test_an_overflowing_loss_raises_at_once(data):
    """Targets of 1e200: the squared residual overflows to inf on the first step."""
    x, dxdt = data
    with pytest.raises(TrainingDiverged, match="step 0"):
        fit(x, 1e200 * dxdt)


def test_a_checkpoint_never_holds_non_finite_weights(data, tmp_path, monkeypatch):
    """A finite loss with NaN gradients (step 12) poisons the weights it updates.

    The loss of the *next* step is NaN and the run stops; the checkpoint left
    behind must still be a good one (finite weights), even though step 13's
    scheduled save (every 13 steps here) came after the bad update.
    """
    x, dxdt = data
    ckpt = tmp_path / "ckpt.npz"
    with monkeypatch.context() as m:
        nan_loss_at(m, 12, grads_only=True)
        with pytest.raises(TrainingDiverged):
            fit(x, dxdt, checkpoint=ckpt, checkpoint_every=13, **RESUME_KW)
    if ckpt.exists():
        with np.load(ckpt) as f:
            for key in f.files:
                if key[:1] in "Wbmv" and key != "header":
                    assert np.all(np.isfinite(f[key])), f"checkpoint array {key} is not finite"


# --- the readable path ------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["hnn", "baseline"])
@pytest.mark.parametrize("loss_weighting", ["none", "relative"])
def test_reference_training_ends_at_the_fast_paths_weights_to_rounding(data, kind, loss_weighting):
    """reference=True trains with hnn.loss_and_grad / baseline.loss_and_grad and optim.Adam.

    After 20 minibatch steps (with a cosine schedule and a refit) its weights
    equal the fast path's to 1e-10 relative, while the two paths run different
    code: the fast step sums the two weight-gradient products as one, in
    another order, and its Adam divides once instead of twice.
    """
    x, dxdt = data
    kw = dict(steps=20, batch_size=32, lr=1e-2, schedule="cosine", lr_min=1e-4,
              loss_weighting=loss_weighting, normalize=True, refit_output=True)
    fast = fit(x, dxdt, kind, **kw)
    ref = fit(x, dxdt, kind, reference=True, **kw)
    differ = False
    for (W, b), (W_ref, b_ref) in zip(fast.params, ref.params):
        for a, a_ref in ((W, W_ref), (b, b_ref)):
            scale = np.abs(a_ref).max() + 1e-300
            assert np.abs(a - a_ref).max() <= 1e-10 * scale
            differ |= a.tobytes() != a_ref.tobytes()
    assert differ  # the paths really are two computations, not one
    np.testing.assert_allclose(fast.history["train_loss"], ref.history["train_loss"], rtol=1e-10)


def test_reference_training_follows_the_readable_functions(data, monkeypatch):
    """With reference=True every step calls hnn.loss_and_grad and optim.Adam.step, nothing of fast."""
    x, dxdt = data
    calls = {"loss": 0, "adam": 0}
    loss_and_grad, step = hnn.loss_and_grad, Adam.step

    def counted_loss(*a, **k):
        calls["loss"] += 1
        return loss_and_grad(*a, **k)

    def counted_step(self, grads):
        calls["adam"] += type(self) is Adam  # hnn_np.fast.Adam shares step(), not the update
        return step(self, grads)

    monkeypatch.setattr(hnn, "loss_and_grad", counted_loss)
    monkeypatch.setattr(Adam, "step", counted_step)
    fit(x, dxdt, steps=6, reference=True)
    assert calls == {"loss": 6, "adam": 6}
    fit(x, dxdt, steps=6)  # the fast path uses neither
    assert calls == {"loss": 6, "adam": 6}
