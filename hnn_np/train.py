"""The training loop: minibatch Adam on the HNN (or baseline) loss.

:func:`train` follows the paper's recipe by default: Adam at lr 1e-3 on
minibatches of 64 for 10000 steps, then 2000 fine-tuning steps at lr 1e-7
(paper, Secs. 3 and 4.3). Options beyond the paper, used by the project's
``best-*`` experiments: a cosine learning-rate decay, per-row loss weights
1 / ||dx/dt||^2 (the loss becomes a relative error) and full-batch steps.

Batches are drawn by reshuffling the training rows every epoch with a seeded
generator. Everything the loop needs to continue -- weights, Adam moments,
the generator's state, the epoch permutation and the step -- goes into a
checkpoint, so a resumed run ends with the same weights, bit for bit, as an
uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import asdict, dataclass

import numpy as np

from . import baseline, hnn, mlp
from ._checks import check_sizes
from .data import Scale
from .model import Model, atomic_save_npz
from .fast import Adam, StepWorkspace
from .optim import cosine_lr

__all__ = ["train", "TrainConfig", "TrainingDiverged", "evaluate_loss"]

PAPER_SIZES = (2, 400, 400, 400, 400, 400, 1)


class TrainingDiverged(FloatingPointError):
    """The loss became non-finite; the last good checkpoint (if any) is kept."""


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run (JSON-serialisable; saved with the model)."""

    kind: str = "hnn"
    sizes: tuple = PAPER_SIZES
    lr: float = 1e-3
    batch_size: int | None = 64
    steps: int = 10000
    finetune_steps: int = 2000
    finetune_lr: float = 1e-7
    weight_decay: float = 0.0
    normalize: bool = False
    seed: int = 0
    dtype: str = "float64"
    schedule: str = "constant"  # or "cosine": lr -> lr_min over `steps`
    lr_min: float = 0.0
    loss_weighting: str = "none"  # or "relative": w_i = 1 / ||dx/dt_i||^2
    eval_every: int = 200

    def validate(self, n_rows: int, n_cols: int):
        if self.kind not in ("hnn", "baseline"):
            raise ValueError(f"kind must be 'hnn' or 'baseline'; got {self.kind!r}")
        sizes = check_sizes(self.sizes)
        if sizes[0] != n_cols:
            raise ValueError(f"sizes[0] = {sizes[0]} does not fit x with {n_cols} columns")
        if self.kind == "hnn" and sizes[-1] != 1:
            raise ValueError(f"an HNN's last size must be 1 (the energy); got {sizes[-1]}")
        if self.kind == "baseline" and sizes[-1] != n_cols:
            raise ValueError(f"a baseline's last size must be {n_cols} (dx/dt); got {sizes[-1]}")
        for name in ("lr", "finetune_lr"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number; got {value!r}")
        if not (0 <= self.lr_min <= self.lr):
            raise ValueError(f"lr_min must be in [0, lr]; got {self.lr_min!r}")
        for name in ("steps", "finetune_steps"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0; got {getattr(self, name)!r}")
        if self.batch_size is not None and not (1 <= self.batch_size <= n_rows):
            raise ValueError(
                f"batch_size must be between 1 and the {n_rows} training rows (or None for full batch); "
                f"got {self.batch_size!r}"
            )
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be 'constant' or 'cosine'; got {self.schedule!r}")
        if self.loss_weighting not in ("none", "relative"):
            raise ValueError(f"loss_weighting must be 'none' or 'relative'; got {self.loss_weighting!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64'; got {self.dtype!r}")
        if self.eval_every < 1:
            raise ValueError(f"eval_every must be >= 1; got {self.eval_every!r}")

    def lr_at(self, step: int) -> float:
        """Learning rate of step ``step`` (0-based) of the whole run."""
        if step >= self.steps:
            return self.finetune_lr
        if self.schedule == "cosine":
            return cosine_lr(step, self.steps, self.lr, self.lr_min)
        return self.lr


def _row_weights(dxdt, how):
    """Per-row loss weights: None, or 1 / ||dx/dt_i||^2 for a relative loss."""
    if how == "none":
        return None
    norm2 = np.sum(dxdt.astype(np.float64) ** 2, axis=1)
    if np.any(norm2 == 0):
        raise ValueError("loss_weighting='relative' needs dxdt rows that are not all zero")
    return (1.0 / norm2).astype(dxdt.dtype)


def evaluate_loss(kind, params, x, dxdt, chunk=4096):
    """The plain (unweighted) loss on a whole set, in chunks; x, dxdt already scaled."""
    total = 0.0
    for start in range(0, len(x), chunk):
        xs, ys = x[start:start + chunk], dxdt[start:start + chunk]
        pred = hnn.vector_field(params, xs) if kind == "hnn" else baseline.predict(params, xs)
        total += float(np.sum((pred - ys) ** 2))
    return total / x.size


def _make_step_fn(kind, params, batch_size):
    """loss_and_grad for this run: the preallocated fast path of :mod:`hnn_np.fast`.

    It computes what ``hnn.loss_and_grad`` / ``baseline.loss_and_grad``
    compute, to rounding (tests hold them equal), without allocating.
    """
    return StepWorkspace(params, batch_size, kind=kind).loss_and_grad


def train(kind, x, dxdt, sizes=PAPER_SIZES, lr=1e-3, batch_size=64, steps=10000,
          finetune_steps=2000, finetune_lr=1e-7, weight_decay=0.0, normalize=False, seed=0,
          dtype=np.float64, x_test=None, dxdt_test=None, *, schedule="constant", lr_min=0.0,
          loss_weighting="none", eval_every=200, checkpoint=None, checkpoint_every=1000,
          resume=None, progress=None):
    """Train an HNN or a baseline on states x and their time derivatives.

    Parameters
    ----------
    kind : {"hnn", "baseline"}
    x, dxdt : array_like, shape (N, 2n)
        Training states and targets in physical units.
    sizes : sequence of int
        Layer sizes; the paper's (2, 400, 400, 400, 400, 400, 1) by default.
    lr, batch_size, steps, finetune_steps, finetune_lr, weight_decay
        The paper's recipe: Adam at ``lr`` for ``steps`` minibatch steps, then
        ``finetune_steps`` at ``finetune_lr``. ``batch_size=None`` is full batch.
    normalize : bool
        Learn in the unit ball: x~ = x / s with s = max ||x_i|| (see
        :class:`hnn_np.data.Scale`); the model maps back to physical units.
    seed : int
        Seeds the initial weights and the batch order.
    dtype : float32 or float64
    x_test, dxdt_test : array_like, optional
        A held-out set whose loss is recorded every ``eval_every`` steps.
    schedule, lr_min : cosine decay of lr to lr_min over ``steps`` (optional).
    loss_weighting : {"none", "relative"}
        "relative" weights row i by 1 / ||dxdt_i||^2.
    checkpoint : path, optional
        Where to write a resumable checkpoint every ``checkpoint_every`` steps
        and at the end.
    resume : path, optional
        A checkpoint to continue from (same data and settings).
    progress : bool, optional
        Show a progress bar; by default only when stderr is a terminal.

    Returns
    -------
    Model
        With ``.history`` (loss curves) and ``.config`` (these settings).

    Raises
    ------
    ValueError
        On bad settings or data. :class:`TrainingDiverged` when the loss
        becomes non-finite (the last checkpoint is left as it was).
    """
    dtype = np.dtype(dtype)
    cfg = TrainConfig(kind=kind, sizes=tuple(int(s) for s in sizes), lr=float(lr),
                      batch_size=None if batch_size is None else int(batch_size), steps=int(steps),
                      finetune_steps=int(finetune_steps), finetune_lr=float(finetune_lr),
                      weight_decay=float(weight_decay), normalize=bool(normalize), seed=int(seed),
                      dtype=dtype.name, schedule=schedule, lr_min=float(lr_min),
                      loss_weighting=loss_weighting, eval_every=int(eval_every))
    x, dxdt = _as_data(x, dxdt, "x", "dxdt")
    cfg.validate(*x.shape)
    scale = Scale.fit(x) if normalize else Scale(1.0)
    x_tr = scale.transform(x).astype(dtype)  # x~ = x / s          (N, 2n)
    y_tr = scale.transform_derivative(dxdt).astype(dtype)  # dx~/dt = (dx/dt) / s
    w_tr = _row_weights(y_tr, cfg.loss_weighting)
    has_test = x_test is not None
    if has_test:
        x_test, dxdt_test = _as_data(x_test, dxdt_test, "x_test", "dxdt_test")
        if x_test.shape[1] != x.shape[1]:
            raise ValueError(f"x_test has {x_test.shape[1]} columns but x has {x.shape[1]}")
        x_te = scale.transform(x_test).astype(dtype)
        y_te = scale.transform_derivative(dxdt_test).astype(dtype)

    N = len(x_tr)
    B = N if cfg.batch_size is None else cfg.batch_size
    total = cfg.steps + cfg.finetune_steps
    params = mlp.init_params(cfg.sizes, seed=cfg.seed, dtype=dtype)
    opt = Adam(params, lr=cfg.lr_at(0), weight_decay=cfg.weight_decay)
    rng = np.random.default_rng([cfg.seed, 1])  # batch order; independent of the init stream
    order, pos, start = np.arange(N), N, 0  # pos = N: reshuffle before the first batch
    hist = dict(train_loss=np.full(total, np.nan), lr=np.full(total, np.nan),
                test_step=[], test_loss=[])
    if resume is not None:
        start, order, pos = _load_checkpoint(resume, cfg, params, opt, rng, hist, x_tr)

    step_fn = _make_step_fn(cfg.kind, params, B)
    bar = _progress_bar(total, start, progress)
    t_last_ckpt = start
    try:
        for step in range(start, total):
            if B == N:
                idx = None
            else:
                if pos + B > N:  # a new epoch: reshuffle
                    order, pos = rng.permutation(N), 0
                idx = order[pos:pos + B]
                pos += B
            xb = x_tr if idx is None else x_tr[idx]
            yb = y_tr if idx is None else y_tr[idx]
            wb = None if w_tr is None else (w_tr if idx is None else w_tr[idx])
            loss, grads = step_fn(xb, yb, wb)
            if not math.isfinite(loss):
                where = f"; the last good checkpoint is {checkpoint!r}" if checkpoint else ""
                raise TrainingDiverged(f"loss became {loss} at step {step}{where}")
            opt.lr = cfg.lr_at(step)
            opt.step(grads)
            hist["train_loss"][step], hist["lr"][step] = loss, opt.lr
            done = step + 1
            if has_test and (done % cfg.eval_every == 0 or done == total):
                hist["test_step"].append(done)
                hist["test_loss"].append(evaluate_loss(cfg.kind, params, x_te, y_te))
            if bar is not None:
                bar.update(1)
                if done % 25 == 0 or done == total:
                    post = dict(loss=f"{loss:.3e}", lr=f"{opt.lr:.1e}")
                    if hist["test_loss"]:
                        post["test"] = f"{hist['test_loss'][-1]:.3e}"
                    bar.set_postfix(post, refresh=False)
            if checkpoint and (done - t_last_ckpt >= checkpoint_every or done == total):
                if not all(np.isfinite(W).all() and np.isfinite(b).all() for W, b in params):
                    raise TrainingDiverged(f"weights became non-finite by step {done}; the last good "
                                           f"checkpoint {checkpoint!r} is kept")
                _save_checkpoint(checkpoint, cfg, params, opt, rng, order, pos, done, hist)
                t_last_ckpt = done
    finally:
        if bar is not None:
            bar.close()

    history = dict(step=np.arange(1, total + 1), train_loss=hist["train_loss"], lr=hist["lr"],
                   test_step=np.asarray(hist["test_step"], dtype=np.int64),
                   test_loss=np.asarray(hist["test_loss"], dtype=np.float64))
    config = asdict(cfg)
    config["sizes"] = list(cfg.sizes)
    return Model(cfg.kind, params, scale.s, config=config, history=history)


def _as_data(x, dxdt, name_x, name_y):
    x = np.asarray(x)
    if dxdt is None:
        raise ValueError(f"{name_y} is required when {name_x} is given")
    dxdt = np.asarray(dxdt)
    for name, arr in ((name_x, x), (name_y, dxdt)):
        if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] % 2:
            raise ValueError(f"{name} must have shape (N, 2n) with N >= 1; got {arr.shape}")
        finite = np.isfinite(arr).all(axis=1)
        if not finite.all():
            raise ValueError(f"{name} has non-finite values in row {int(np.argmin(finite))}")
    if x.shape != dxdt.shape:
        raise ValueError(f"{name_x} has shape {x.shape} but {name_y} has {dxdt.shape}")
    return x.astype(np.float64), dxdt.astype(np.float64)


def _progress_bar(total, start, progress):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=start, unit="step", dynamic_ncols=True, mininterval=0.5)


# --- checkpoints ---------------------------------------------------------------

CHECKPOINT_VERSION = 1


def _save_checkpoint(path, cfg, params, opt, rng, order, pos, step, hist):
    header = dict(version=CHECKPOINT_VERSION, config={**asdict(cfg), "sizes": list(cfg.sizes)},
                  step=int(step), pos=int(pos), adam_t=opt.t, rng=rng.bit_generator.state,
                  test_step=list(map(int, hist["test_step"])),
                  test_loss=list(map(float, hist["test_loss"])))
    arrays = {"header": np.array(json.dumps(header)), "order": order,
              "train_loss": hist["train_loss"], "lr": hist["lr"]}
    for l, ((W, b), (mW, mb), (vW, vb)) in enumerate(zip(params, opt.m, opt.v)):
        arrays.update({f"W{l}": W, f"b{l}": b, f"mW{l}": mW, f"mb{l}": mb, f"vW{l}": vW, f"vb{l}": vb})
    atomic_save_npz(path, arrays)


def _load_checkpoint(path, cfg, params, opt, rng, hist, x_tr):
    if not os.path.isfile(path):
        raise ValueError(f"checkpoint {path!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
        header = json.loads(str(data["header"]))
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same clear error
        raise ValueError(f"checkpoint {path!r} is not readable: {e}") from None
    if header.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"checkpoint {path!r} has version {header.get('version')!r}; "
                         f"expected {CHECKPOINT_VERSION}")
    try:
        return _restore(path, header, data, cfg, params, opt, rng, hist, x_tr)
    except KeyError as e:
        raise ValueError(f"checkpoint {path!r} is incomplete: it lacks {e}") from None


def _restore(path, header, data, cfg, params, opt, rng, hist, x_tr):
    saved = header["config"]
    mine = {**asdict(cfg), "sizes": list(cfg.sizes)}
    differ = {k: (saved.get(k), v) for k, v in mine.items() if saved.get(k) != v}
    if differ:
        raise ValueError(f"checkpoint {path!r} was made with other settings (saved, now): {differ}")
    order = data["order"]
    if order.shape != (len(x_tr),):
        raise ValueError(f"checkpoint {path!r} was made on {order.shape[0]} rows; the data has {len(x_tr)}")
    for l, ((W, b), (mW, mb), (vW, vb)) in enumerate(zip(params, opt.m, opt.v)):
        for dst, key in ((W, "W"), (b, "b"), (mW, "mW"), (mb, "mb"), (vW, "vW"), (vb, "vb")):
            dst[...] = data[f"{key}{l}"]
    opt.t = int(header["adam_t"])
    rng.bit_generator.state = header["rng"]
    hist["train_loss"][:] = data["train_loss"]
    hist["lr"][:] = data["lr"]
    hist["test_step"][:] = header["test_step"]
    hist["test_loss"][:] = header["test_loss"]
    return int(header["step"]), order, int(header["pos"])
