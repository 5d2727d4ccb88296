"""One training recipe: :func:`fit` trains an HNN (or a D-HNN, or a baseline) on states and their time derivatives.

:class:`TrainConfig` holds every setting. Its defaults are the paper's
recipe: Adam at lr 1e-3 on minibatches of 64 for 10000 steps, then 2000
fine-tuning steps at lr 1e-7 (paper, Secs. 3 and 4.3). Options beyond the
paper, used by the project's ``best-*`` experiments: a cosine learning-rate
decay, per-row loss weights 1 / ||dx/dt||^2 (the loss becomes a relative
error), and the exact least-squares output layer after Adam
(``refit_output``, :mod:`hnn_np.refine`).

Each step is the readable code or its fast twin:

* inside ``with hnn_np.readable():`` (or with ``reference=True``):
  :func:`hnn_np.hnn.loss_and_grad` (or the D-HNN's, or the baseline's) and
  :class:`hnn_np.optim.Adam`, the code the docstrings derive, so that an edit
  of those files changes the training;
* otherwise (default): :class:`hnn_np.fast.StepWorkspace` (for a
  D-HNN :class:`hnn_np.fast.DHNNWorkspace`) and :class:`hnn_np.fast.Adam`,
  the same numbers to rounding, without allocation.

The test loss, the refit of the output layer (:mod:`hnn_np.refine`) and the
returned :class:`~hnn_np.model.Model` are NumPy on either path.

Batches are drawn by reshuffling the training rows every epoch with a seeded
generator. Everything the loop needs to continue goes into a checkpoint
(:mod:`hnn_np.checkpoint`), so a resumed run ends with the same weights, bit
for bit, as an uninterrupted one.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

from . import baseline, checkpoint as ckpt, dhnn, hnn, interrupts, mlp, optim
from ._checks import check_choice, check_int, check_real, check_sizes, check_states
from .data import Scale
from .mode import is_readable
from .model import KINDS, Model
from .refine import fit_output_layer

__all__ = ["fit", "TrainConfig", "TrainingDiverged", "evaluate_loss", "PAPER_SIZES"]

PAPER_SIZES = (2, 400, 400, 400, 400, 400, 1)


class TrainingDiverged(FloatingPointError):
    """The loss became non-finite; the last good checkpoint (if any) is kept."""


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run (JSON-serialisable; saved with the model and its checkpoints).

    kind : "hnn", "dhnn" or "baseline"; sizes : layer sizes (an HNN ends in
    1, a D-HNN in 2 -- its outputs (H, D) --, a baseline in 2n); lr, batch_size (None: full batch), steps,
    finetune_steps, finetune_lr, weight_decay : Adam's phases; normalize :
    learn in the unit ball (:class:`hnn_np.data.Scale`); seed : the initial
    weights and the batch order; dtype : "float64" or "float32"; schedule,
    lr_min : "constant" or "cosine" decay to lr_min over ``steps``;
    loss_weighting : "none" or "relative" (w_i = 1 / ||dx/dt_i||^2);
    eval_every : steps between test-loss evaluations; refit_output : finish
    with the exact least-squares output layer. target "trajectory" and the
    settings after it: :func:`hnn_np.train_trajectory.fit_trajectories`.
    """

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
    schedule: str = "constant"
    lr_min: float = 0.0
    loss_weighting: str = "none"
    eval_every: int = 200
    refit_output: bool = False
    target: str = "derivative"
    method: str = "rk4"
    window: int = 1
    substeps: int = 1
    learn_initial_states: bool = False

    def __post_init__(self):
        from .train_trajectory import check_trajectory_settings

        kinds = check_trajectory_settings(self)  # KINDS, and "separable" for target="trajectory"
        if not isinstance(self.kind, str) or self.kind not in kinds:
            raise ValueError(f"kind must be one of {kinds}; got {self.kind!r}")
        object.__setattr__(self, "sizes", check_sizes(self.sizes))
        for name in ("lr", "finetune_lr"):
            check_real(getattr(self, name), name, positive=True)
        check_real(self.lr_min, "lr_min", 0.0, maximum=self.lr)
        check_real(self.weight_decay, "weight_decay", 0.0)
        for name in ("steps", "finetune_steps", "seed"):
            check_int(getattr(self, name), name, 0)
        check_int(self.eval_every, "eval_every", 1)
        if self.batch_size is not None:
            check_int(self.batch_size, "batch_size", 1)
        for name in ("normalize", "refit_output"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False; got {getattr(self, name)!r}")
        check_choice(self.schedule, "schedule", ("constant", "cosine"))
        check_choice(self.loss_weighting, "loss_weighting", ("none", "relative"))
        dtype = self.dtype
        if not isinstance(dtype, str):  # np.float32, np.dtype("float64"), ...
            try:
                dtype = np.dtype(dtype).name
            except TypeError:
                pass
        object.__setattr__(self, "dtype", check_choice(dtype, "dtype", ("float32", "float64")))

    def validate(self, n_rows: int, n_cols: int):
        """Check the settings against data of ``n_rows`` rows and ``n_cols`` columns."""
        if self.sizes[0] != n_cols:
            raise ValueError(f"sizes[0] = {self.sizes[0]} does not fit x with {n_cols} columns")
        if self.kind in ("hnn", "separable") and self.sizes[-1] != 1:
            raise ValueError(f"an HNN's last size must be 1 (the energy); got {self.sizes[-1]}")
        if self.kind == "dhnn" and self.sizes[-1] != 2:
            raise ValueError(f"a D-HNN's last size must be 2 (H, D); got {self.sizes[-1]}")
        if self.kind == "baseline" and self.sizes[-1] != n_cols:
            raise ValueError(f"a baseline's last size must be {n_cols} (dx/dt); got {self.sizes[-1]}")
        if self.batch_size is not None and self.batch_size > n_rows:
            raise ValueError(f"batch_size must be between 1 and the {n_rows} training rows "
                             f"(or None for full batch); got {self.batch_size!r}")

    def lr_at(self, step: int) -> float:
        """Learning rate of step ``step`` (0-based) of the whole run."""
        if step >= self.steps:
            return self.finetune_lr
        if self.schedule == "cosine":
            return optim.cosine_lr(step, self.steps, self.lr, self.lr_min)
        return self.lr

    def to_dict(self) -> dict:
        """The settings as plain JSON types."""
        return {**asdict(self), "sizes": list(self.sizes)}


def row_weights(dxdt, how):
    """Per-row loss weights: None, or 1 / ||dx/dt_i||^2 for a relative loss."""
    if how == "none":
        return None
    norm2 = np.sum(dxdt.astype(np.float64) ** 2, axis=1)
    if np.any(norm2 == 0):
        raise ValueError("loss_weighting='relative' needs dxdt rows that are not all zero")
    return (1.0 / norm2).astype(dxdt.dtype)


def predict(kind, params, x):
    """The field a network of ``kind`` predicts on scaled states x."""
    if kind == "dhnn":
        return dhnn.vector_field(params, x)
    return hnn.vector_field(params, x) if kind == "hnn" else baseline.predict(params, x)


def evaluate_loss(kind, params, x, dxdt, chunk=4096):
    """The plain (unweighted) loss on a whole set, in chunks; x, dxdt already scaled."""
    total = 0.0
    for start in range(0, len(x), chunk):
        pred = predict(kind, params, x[start:start + chunk])
        total += float(np.sum((pred - dxdt[start:start + chunk]) ** 2))
    return total / x.size


def _step_functions(cfg, params, batch_size, reference):
    """(loss_and_grad, Adam) of this run: the readable core, or its fast twins."""
    if reference:
        core = {"hnn": hnn, "dhnn": dhnn, "baseline": baseline}[cfg.kind]
        return (lambda x, y, w: core.loss_and_grad(params, x, y, w)), optim.Adam
    from .fast import Adam, DHNNWorkspace, StepWorkspace

    if cfg.kind == "dhnn":
        return DHNNWorkspace(params, batch_size).loss_and_grad, Adam
    return StepWorkspace(params, batch_size, kind=cfg.kind).loss_and_grad, Adam


def fit(x, dxdt, config=None, *, x_test=None, dxdt_test=None, checkpoint=None, checkpoint_every=1000,
        resume=None, progress=None, reference=False) -> Model:
    """Train a model of ``config.kind`` on states ``x`` and their time derivatives ``dxdt``.

    Parameters
    ----------
    x, dxdt : array_like, shape (N, 2n)
        Training states and targets in physical units, real and finite.
    config : TrainConfig, optional
        The settings; the paper's recipe by default.
    x_test, dxdt_test : array_like, shape (M, 2n), optional
        A held-out set whose loss is recorded every ``config.eval_every`` steps.
    checkpoint : path, optional
        Where to write a resumable checkpoint every ``checkpoint_every``
        steps and at the end of Adam.
    resume : path, optional
        A checkpoint of a run with the same data and settings to continue.
    progress : bool or None
        False: silent. None (default) or True: progress on stderr in the form
        that suits where it runs -- a tqdm bar on a terminal, a notebook bar
        in Jupyter, one line per tenth of the steps otherwise (a pipe, a log file).
    reference : bool
        Train with the readable code (slow) instead of the fast path; always
        so inside ``with hnn_np.readable():``.

    Returns
    -------
    Model
        With ``.history`` (loss curves), ``.config`` (the settings) and, after
        a refit, ``.metrics["refit_loss_before"]`` / ``["refit_loss_after"]``.

    Raises
    ------
    ValueError
        On bad settings, data or checkpoints. :class:`TrainingDiverged` when
        the loss becomes non-finite (the last checkpoint is left as it was).
    hnn_np.interrupts.Interrupted
        A ``KeyboardInterrupt``: SIGINT or SIGTERM arrived; the loop stopped
        after the step it was in, saved ``checkpoint`` at that step (if given)
        and names it, for ``resume``.
    """
    cfg = TrainConfig() if config is None else config
    if not isinstance(cfg, TrainConfig):
        raise ValueError(f"config must be a TrainConfig; got {type(cfg).__name__}")
    if cfg.target != "derivative":
        raise ValueError("target='trajectory' learns trajectories: use hnn_np.fit_trajectories(trajectories, dt, cfg)")
    checkpoint_every = check_int(checkpoint_every, "checkpoint_every", 1)
    if not isinstance(reference, (bool, np.bool_)):
        raise ValueError(f"reference must be True or False; got {reference!r}")
    reference = bool(reference) or is_readable()  # the path that runs (and that checkpoints record)
    x = check_states(x, "x")
    dxdt = check_states(dxdt, "dxdt", n_cols=x.shape[1], n_rows=x.shape[0])
    cfg.validate(*x.shape)
    dtype = np.dtype(cfg.dtype)
    scale = Scale.fit(x) if cfg.normalize else Scale(1.0)
    x_tr = scale.transform(x).astype(dtype)  # x~ = x / s          (N, 2n)
    y_tr = scale.transform_derivative(dxdt).astype(dtype)  # dx~/dt = (dx/dt) / s
    w_tr = row_weights(y_tr, cfg.loss_weighting)
    if (x_test is None) != (dxdt_test is None):
        raise ValueError("x_test and dxdt_test must be given together")
    has_test = x_test is not None
    if has_test:
        x_test = check_states(x_test, "x_test", n_cols=x.shape[1])
        dxdt_test = check_states(dxdt_test, "dxdt_test", n_cols=x.shape[1], n_rows=x_test.shape[0])
        x_te = scale.transform(x_test).astype(dtype)
        y_te = scale.transform_derivative(dxdt_test).astype(dtype)

    N = len(x_tr)
    B = N if cfg.batch_size is None else cfg.batch_size
    total = cfg.steps + cfg.finetune_steps
    params = mlp.init_params(cfg.sizes, seed=cfg.seed, dtype=dtype)
    loss_and_grad, Adam = _step_functions(cfg, params, B, reference)
    opt = Adam(params, lr=cfg.lr_at(0), weight_decay=cfg.weight_decay)
    rng = np.random.default_rng([cfg.seed, 1])  # batch order; independent of the init stream
    state = ckpt.LoopState(order=np.arange(N), pos=N, step=0)  # pos = N: reshuffle first
    hist = dict(train_loss=np.full(total, np.nan), lr=np.full(total, np.nan), test_step=[], test_loss=[])
    fingerprint = None
    if checkpoint or resume is not None:
        fingerprint = ckpt.fingerprint(cfg, reference, x_tr, y_tr, w_tr,
                                       (x_te, y_te) if has_test else None)
    if resume is not None:
        state = ckpt.load(resume, fingerprint, params, opt, rng, hist, N)

    bar = _progress_bar(total, state.step, progress)
    last_saved = state.step
    order, pos = state.order, state.pos
    stop = interrupts.Deferred()  # Ctrl-C and SIGTERM set stop.signum; the loop stops between two steps
    try:
        for step in range(state.step, total):
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
            where = f"; the last good checkpoint is {checkpoint!r}" if checkpoint else ""
            try:
                loss, grads = loss_and_grad(xb, yb, wb)
            except ValueError as e:  # the readable path refuses non-finite weights and results
                raise TrainingDiverged(f"{e} at step {step}{where}") from None
            if not math.isfinite(loss):
                raise TrainingDiverged(f"loss became {loss} at step {step}{where}")
            opt.lr = cfg.lr_at(step)
            try:
                opt.step(grads)
            except ValueError as e:  # Adam refuses non-finite gradients
                raise TrainingDiverged(f"{e} at step {step}{where}") from None
            hist["train_loss"][step], hist["lr"][step] = loss, opt.lr
            done = step + 1
            if has_test and (done % cfg.eval_every == 0 or done == total):
                hist["test_step"].append(done)
                hist["test_loss"].append(evaluate_loss(cfg.kind, params, x_te, y_te))
            if bar is not None:
                _update_bar(bar, done, total, loss, opt.lr, hist)
            if checkpoint and (done - last_saved >= checkpoint_every or done == total):
                if not all(np.isfinite(W).all() and np.isfinite(b).all() for W, b in params):
                    raise TrainingDiverged(f"weights became non-finite by step {done}; the last good "
                                           f"checkpoint {checkpoint!r} is kept")
                ckpt.save(checkpoint, fingerprint, params, opt, rng,
                          ckpt.LoopState(order, pos, done), hist)
                last_saved = done
            if stop.requested:  # save the step reached, then stop (hnn_np.interrupts)
                finite = all(np.isfinite(W).all() and np.isfinite(b).all() for W, b in params)
                if checkpoint and done > last_saved and finite:
                    ckpt.save(checkpoint, fingerprint, params, opt, rng, ckpt.LoopState(order, pos, done), hist)
                    last_saved = done
                raise stop.interrupted(done, total, checkpoint, last_saved if checkpoint else None)
    finally:
        stop.restore()
        if bar is not None:
            bar.close()

    history = dict(step=np.arange(1, total + 1), train_loss=hist["train_loss"], lr=hist["lr"],
                   test_step=np.asarray(hist["test_step"], dtype=np.int64),
                   test_loss=np.asarray(hist["test_loss"], dtype=np.float64))
    metrics = {}
    if cfg.refit_output:
        before, after = fit_output_layer(cfg.kind, params, x_tr, y_tr, w_tr)
        metrics.update(refit_loss_before=before, refit_loss_after=after)
    return Model(cfg.kind, params, scale.s, config=cfg.to_dict(), metrics=metrics, history=history)


def _in_notebook() -> bool:
    """True in a Jupyter kernel (where stderr is no terminal but a widget can show a bar)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


class _Lines:
    """Progress as one line on stderr per tenth of the run, where no bar can be drawn (a pipe, a log)."""

    def __init__(self, total, start):
        self.total, self.n, self.postfix = total, start, {}
        self.t0 = time.perf_counter()

    def update(self, k):
        before, self.n = self.n, self.n + k
        if self.n == self.total or (10 * self.n) // self.total > (10 * before) // self.total:
            post = "".join(f", {key} {value}" for key, value in self.postfix.items())
            print(f"fit: step {self.n}/{self.total} ({100 * self.n // self.total}%){post}, "
                  f"{time.perf_counter() - self.t0:.1f} s", file=sys.stderr, flush=True)

    def set_postfix(self, post, refresh=False):
        self.postfix = dict(post)

    def close(self):
        pass


def _progress_bar(total, start, progress):
    """None or True: a tqdm bar on a terminal, a notebook widget in Jupyter, else a line per 10 %; False: none."""
    if progress is None:
        progress = True
    if not progress or total == start:
        return None
    if _in_notebook():
        from tqdm.auto import tqdm
    elif sys.stderr.isatty():
        from tqdm import tqdm
    else:
        return _Lines(total, start)
    return tqdm(total=total, initial=start, unit="step", dynamic_ncols=True, mininterval=0.5)


def _update_bar(bar, done, total, loss, lr, hist):
    if done % 25 == 0 or done == total or isinstance(bar, _Lines):
        post = dict(loss=f"{loss:.3e}", lr=f"{lr:.1e}")
        if hist["test_loss"]:
            post["test"] = f"{hist['test_loss'][-1]:.3e}"
        bar.set_postfix(post, refresh=False)
    bar.update(1)
