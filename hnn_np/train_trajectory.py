r"""Training on trajectories: multiple shooting through the integrator, the window starts learned too.

Each observed trajectory (T, d_obs), sampled at spacing dt, is cut into
windows of K + 1 = ``config.window`` + 1 consecutive states that tile it
(window w holds samples wK .. wK + K; a last incomplete window is dropped).
A step of Adam takes a minibatch of windows and the gradient of
:func:`hnn_np.trajectory.loss_and_grad`: the learned field integrated from
each window's start by ``config.method`` with ``config.substeps`` steps per
interval, the loss on the states it reaches. No time derivative of the data
is ever formed.

* **Window starts.** Each window starts from its first observed state. With
  ``learn_initial_states`` every start x0 is a parameter too, moved by Adam
  with the gradient ``grad_X0`` (SRNN's remedy for noisy first states,
  Chen et al. 2020): one row per window, each with its own step count,
  since a minibatch updates only its own windows (:class:`RowAdam`). Its
  observation (for positions only: q and the estimated p) then enters the
  loss as the k = 0 term, ``loss += sum (x0 - X[0])**2 / M`` with the M of
  the other terms (identically 0 while x0 = X[0]). Without it a start
  would be free: q alone cannot fix a window's (q0, p0), and any
  P = c (p - f'(q)), H rescaled, is as good a momentum as p for every c and
  f; the term pins the coordinate p = dq/dt that rollouts from measured
  velocities need.
* **Positions only.** Trajectories of d/2 columns are the positions q; the
  loss is on q. Each window's start takes its q and, for p, the velocity
  ``np.gradient(q, dt, edge_order=2)`` at that sample (central differences,
  one-sided of order 2 at the ends): p = dq/dt, canonical for any
  H = |p|^2 / 2 + V(q) (a mass m only rescales H to H / m). The p's are
  learned if ``learn_initial_states`` (below).
* **Kinds.** ``"hnn"``, ``"dhnn"``, ``"baseline"`` through RK4, and
  ``"separable"`` (two MLPs V(q), T(p), each of sizes (d/2, hidden..., 1))
  through leapfrog (or RK4); a separable pair is returned as one HNN with
  H = V + T (:func:`hnn_np.trajectory.merge_separable`).

* **L-BFGS.** ``lbfgs_steps`` iterations of :func:`hnn_np.lbfgs.minimize`
  may follow Adam, on the full-batch loss (every window, the k = 0 term
  included) over every weight and bias and the learned starts: a
  quasi-Newton polish of a deterministic loss, which Adam's minibatch steps
  approach slowly (on the real pendulum it lowers the loss a thousandfold).

The network's Adam, the learning-rate schedule, the batch order (a seeded
reshuffle every epoch) and ``normalize`` (one scale s, x~ = x / s) are
those of :func:`hnn_np.train.fit`; the same seed gives the same bits. An
HNN through RK4 trains with the fast twin :class:`hnn_np.fast.RK4Workspace`,
a D-HNN with :class:`hnn_np.fast.DHNNRK4Workspace` (the same numbers to
rounding), unless ``reference=True`` or inside ``with hnn_np.readable():``;
every other kind with the readable
:func:`hnn_np.trajectory.loss_and_grad`. Runs are not checkpointed.
"""

from __future__ import annotations

import math

import numpy as np

from . import lbfgs, mlp, optim, trajectory
from .optim import RowAdam
from ._checks import check_choice, check_int, check_real
from .mode import is_readable
from .model import KINDS, Model
from .scale import Scale
from .train import TrainConfig, TrainingDiverged, _progress_bar, _update_bar

__all__ = ["fit_trajectories", "windows", "RowAdam", "check_trajectory_settings"]


def check_trajectory_settings(cfg) -> tuple:
    """Check the trajectory settings of a TrainConfig; returns the kinds its target allows."""
    check_choice(cfg.target, "target", ("derivative", "trajectory"))
    check_choice(cfg.method, "method", trajectory.METHODS)
    check_int(cfg.window, "window", 1)
    check_int(cfg.substeps, "substeps", 1)
    if not isinstance(cfg.learn_initial_states, (bool, np.bool_)):
        raise ValueError(f"learn_initial_states must be True or False; got {cfg.learn_initial_states!r}")
    if cfg.target == "derivative":
        return KINDS
    if cfg.method == "leapfrog" and cfg.kind != "separable":
        raise ValueError(f"method='leapfrog' needs kind='separable' (H = V(q) + T(p)); got kind={cfg.kind!r}")
    if cfg.refit_output or cfg.loss_weighting != "none":
        raise ValueError("target='trajectory' has no derivative targets: refit_output must be False "
                         "and loss_weighting 'none'")
    return KINDS + ("separable",)


def _as_trajectories(trajectories, name, d):
    """A list of float64 arrays (T_k, d_obs), d_obs = d or d / 2, real and finite."""
    if isinstance(trajectories, np.ndarray) and trajectories.ndim == 3:
        trajectories = list(trajectories)
    if not isinstance(trajectories, (list, tuple)) or not trajectories:
        raise ValueError(f"{name} must be a non-empty list of arrays (T, d) or an array (B, T, d)")
    out = []
    for k, x in enumerate(trajectories):
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] not in (d, d // 2) or not np.issubdtype(x.dtype, np.number) \
                or x.dtype == bool or np.iscomplexobj(x):
            raise ValueError(f"{name}[{k}] must be a real array (T, {d}) of states or (T, {d // 2}) of "
                             f"positions; got {x.dtype} {x.shape}")
        if x.shape[1] != np.shape(trajectories[0])[1]:
            raise ValueError(f"{name}[{k}] has {x.shape[1]} columns but {name}[0] has "
                             f"{np.shape(trajectories[0])[1]}")
        if not np.isfinite(x).all():
            raise ValueError(f"{name}[{k}] has non-finite values")
        out.append(x.astype(np.float64))
    return out


def windows(trajectories, K, dt, d, velocities=None):
    """The windows that tile each trajectory, and their starts.

    Parameters
    ----------
    trajectories : list of ndarray (T_k, d_obs)
        States (d_obs = d) or positions only (d_obs = d / 2), spacing dt.
    K : int >= 1
        Intervals per window.
    velocities : list of ndarray (T_k, d / 2), optional
        Positions only: the velocity at every sample, for the starts' p
        (default: second-order differences of the positions).

    Returns
    -------
    X : ndarray, shape (K+1, W, d_obs)
        Window w's observed states; W windows over all trajectories, in order.
    x0 : ndarray, shape (W, d)
        Its starts: X[0], or for positions only (X[0], the velocity by differences at that sample).
    """
    X, x0 = [], []
    if velocities is not None and (len(velocities) != len(trajectories) or trajectories[0].shape[1] == d):
        raise ValueError(f"velocities must be one array (T_k, {d // 2}) per trajectory of positions only; got "
                         f"{len(velocities)} for {len(trajectories)} trajectories of {trajectories[0].shape[1]} "
                         f"columns")
    for k, x in enumerate(trajectories):
        if len(x) < K + 1:
            raise ValueError(f"trajectory {k} has {len(x)} samples; a window of K = {K} needs {K + 1}")
        if x.shape[1] < d and len(x) < 3 and velocities is None:
            raise ValueError(f"trajectory {k} has {len(x)} samples; velocities by differences need 3")
        first = np.arange(0, len(x) - K, K)  # window w: samples first[w] .. first[w] + K
        X.append(np.stack([x[first + j] for j in range(K + 1)]))  # (K+1, W_k, d_obs)
        if x.shape[1] == d:
            x0.append(x[first])
        elif velocities is not None:  # positions only, with the given velocities
            v = velocities[k]
            if v.shape != x.shape:
                raise ValueError(f"velocities[{k}] must have the shape {x.shape} of its positions; got {v.shape}")
            x0.append(np.concatenate([x[first], v[first]], axis=1))
        else:  # positions only: p = dq/dt by central differences, one-sided (order 2) at the ends
            x0.append(np.concatenate([x[first], np.gradient(x, dt, axis=0, edge_order=2)[first]], axis=1))
    return np.concatenate(X, axis=1), np.concatenate(x0)


def _init(cfg, dtype):
    """The network(s): init_params(sizes, seed); a separable pair has V and T of sizes (d/2, hidden..., 1)."""
    if cfg.kind != "separable":
        return mlp.init_params(cfg.sizes, seed=cfg.seed, dtype=dtype)
    sizes = (cfg.sizes[0] // 2, *cfg.sizes[1:])
    seed_T = int(np.random.SeedSequence([cfg.seed, 2]).generate_state(1)[0])  # T's own stream
    return mlp.init_params(sizes, seed=cfg.seed, dtype=dtype), mlp.init_params(sizes, seed=seed_T, dtype=dtype)


def _copy_init(init, cfg, dtype):
    """A copy of the initial weights ``init``, checked against the config's sizes."""
    if cfg.kind == "separable":
        raise ValueError("init is not supported for kind='separable'")
    sizes = [int(W.shape[0]) for W, _ in init] + [int(init[-1][0].shape[1])] if init else []
    if sizes != list(cfg.sizes):
        raise ValueError(f"init must be weights of sizes {list(cfg.sizes)}; got {sizes}")
    return [(np.array(W, dtype=dtype), np.array(b, dtype=dtype)) for W, b in init]


def _layers(kind, pair):
    """Parameters or gradients as one list of (W, b), V's then T's for a separable pair (for Adam)."""
    return list(pair[0]) + list(pair[1]) if kind == "separable" else pair


class _PairAdam:
    """Adam on a separable pair (V, T): one optimizer per network, each a chain of layers, one learning rate.

    Adam is elementwise with one step count, so this is Adam on V's layers and T's together.
    """

    def __init__(self, Adam, pair, **kw):
        self.n_V = len(pair[0])
        self.opts = (Adam(pair[0], **kw), Adam(pair[1], **kw))

    @property
    def lr(self):
        return self.opts[0].lr

    @lr.setter
    def lr(self, value):
        for opt in self.opts:
            opt.lr = value

    def step(self, grads):  # grads: V's layers then T's (_layers)
        self.opts[0].step(grads[:self.n_V])
        self.opts[1].step(grads[self.n_V:])


def _step_functions(cfg, params, B, dt, reference):
    """((X, x0) -> (loss, grads, grad_X0), Adam) of this run: readable, or the fast twins (HNN, D-HNN through RK4)."""
    if cfg.kind in ("hnn", "dhnn") and cfg.method == "rk4" and len(params) > 1 and not reference:
        from .fast import Adam, DHNNRK4Workspace, RK4Workspace

        workspace = (RK4Workspace if cfg.kind == "hnn" else DHNNRK4Workspace)(params, B, cfg.window, cfg.substeps)
        return (lambda X, x0: workspace.loss_and_grad(X, dt, x0=x0)), Adam
    return (lambda X, x0: trajectory.loss_and_grad(params, X, dt, cfg.method, cfg.substeps, cfg.kind, x0=x0)), \
        optim.Adam


def evaluate_trajectory_loss(cfg, params, X, x0, dt, chunk=1024):
    """The trajectory loss over all windows (K+1, W, d_obs) from starts x0 (W, d), forward only, in chunks."""
    total = 0.0
    for start in range(0, X.shape[1], chunk):
        sl = slice(start, start + chunk)
        X_hat = trajectory.rollout(params, x0[sl], dt, X.shape[0] - 1, cfg.method, cfg.substeps, cfg.kind)
        total += float(np.sum((X_hat[1:, :, :X.shape[2]] - X[1:, sl]) ** 2))
    return total / X[1:].size


def fit_trajectories(trajectories, dt, config=None, *, test_trajectories=None, progress=None,
                     reference=False, velocities=None, lbfgs_steps=0, init=None) -> Model:
    """Train a model of ``config.kind`` on observed trajectories through the integrator (module docstring).

    Parameters
    ----------
    trajectories : array (B, T, d_obs) or list of arrays (T_k, d_obs)
        Observed states (d_obs = d = config.sizes[0]) or positions only
        (d_obs = d / 2), at spacing dt, in physical units.
    dt : float > 0
        The spacing of the samples.
    config : TrainConfig, optional
        With ``target="trajectory"``; its ``window``, ``method``,
        ``substeps``, ``learn_initial_states`` and the optimizer settings.
        ``batch_size`` counts windows (None: all).
    test_trajectories : like ``trajectories``, optional
        Held out: their windows' loss (from the observed starts, not learned)
        is recorded every ``config.eval_every`` steps.
    progress : bool or None
        As for :func:`hnn_np.fit`.
    reference : bool
        Train with the readable code even where a fast twin exists (always so
        inside ``with hnn_np.readable():``).
    velocities : list of arrays (T_k, d / 2), optional
        Positions only: an estimate of dq/dt at every sample of every
        trajectory, for the starts' p (e.g. differences of higher order on
        a finer grid); default: second-order differences of ``trajectories``.
    lbfgs_steps : int >= 0
        After Adam, iterations of L-BFGS (:func:`hnn_np.lbfgs.minimize`) on
        the full-batch loss, over the weights and the learned starts.
    init : list of (W, b), optional
        Initial weights (copied; e.g. those of a run on shorter windows),
        in the frame the run learns in, of ``config.sizes``; default: drawn
        from ``config.seed``. Not for ``kind="separable"``.

    Returns
    -------
    Model
        Kind ``config.kind`` (an HNN for ``"separable"``), with ``.history``
        (``step``, ``train_loss``, ``lr``, ``test_step``, ``test_loss``,
        ``window_starts`` (W, d), the starts after training, in physical units,
        and ``lbfgs_loss`` (lbfgs_steps + 1,), the full-batch loss before and
        after each L-BFGS iteration).
    """
    cfg = TrainConfig(target="trajectory") if config is None else config
    if not isinstance(cfg, TrainConfig) or cfg.target != "trajectory":
        raise ValueError(f"config must be a TrainConfig with target='trajectory'; got {config!r}")
    dt = check_real(dt, "dt", positive=True)
    if not isinstance(reference, (bool, np.bool_)):
        raise ValueError(f"reference must be True or False; got {reference!r}")
    check_int(lbfgs_steps, "lbfgs_steps", 0)
    d, K = cfg.sizes[0], cfg.window
    if d % 2:
        raise ValueError(f"states (q, p) have an even size; sizes[0] = {d}")
    if velocities is not None:
        velocities = _as_trajectories(velocities, "velocities", d)
    X, x0 = windows(_as_trajectories(trajectories, "trajectories", d), K, dt, d, velocities)
    cfg.validate(X.shape[1], d)
    dtype = np.dtype(cfg.dtype)
    scale = Scale.fit(x0 if X.shape[2] < d else np.concatenate([x0, X.reshape(-1, d)])) if cfg.normalize \
        else Scale(1.0)
    X_tr = np.ascontiguousarray(scale.transform(X).astype(dtype))  # (K+1, W, d_obs)
    starts = np.ascontiguousarray(scale.transform(x0).astype(dtype))  # (W, d), learned in place
    has_test = test_trajectories is not None
    if has_test:
        X_te, x0_te = windows(_as_trajectories(test_trajectories, "test_trajectories", d), K, dt, d)
        if X_te.shape[2] != X.shape[2]:
            raise ValueError(f"test_trajectories have {X_te.shape[2]} columns; trajectories have {X.shape[2]}")
        X_te, x0_te = scale.transform(X_te).astype(dtype), scale.transform(x0_te).astype(dtype)

    params = _init(cfg, dtype) if init is None else _copy_init(init, cfg, dtype)
    start_opt = RowAdam(starts) if cfg.learn_initial_states else None
    observed_starts = starts.copy() if start_opt is not None else None  # X[0] (or q and p_est), (W, d)
    W_count = X.shape[1]
    B = W_count if cfg.batch_size is None else cfg.batch_size
    total = cfg.steps + cfg.finetune_steps
    loss_and_grad, Adam = _step_functions(cfg, params, B, dt, bool(reference) or is_readable())
    opt = (_PairAdam(Adam, params, lr=cfg.lr_at(0), weight_decay=cfg.weight_decay) if cfg.kind == "separable"
           else Adam(params, lr=cfg.lr_at(0), weight_decay=cfg.weight_decay))
    rng = np.random.default_rng([cfg.seed, 1])  # the batch order, as hnn_np.fit's
    order, pos = np.arange(W_count), W_count  # pos = W: reshuffle first
    hist = dict(train_loss=np.full(total, np.nan), lr=np.full(total, np.nan), test_step=[], test_loss=[])
    bar = _progress_bar(total, 0, progress)
    try:
        for step in range(total):
            if B == W_count:
                idx = np.arange(W_count)
            else:
                if pos + B > W_count:  # a new epoch: reshuffle
                    order, pos = rng.permutation(W_count), 0
                idx = order[pos:pos + B]
                pos += B
            try:
                loss, grads, grad_x0 = loss_and_grad(X_tr[:, idx], starts[idx])
                if observed_starts is not None:
                    loss, grad_x0 = _start_term(loss, grad_x0, starts[idx], observed_starts[idx], X.shape)
                if not math.isfinite(loss):
                    raise ValueError(f"loss became {loss}")
                opt.lr = cfg.lr_at(step)
                opt.step(_layers(cfg.kind, grads))
            except ValueError as e:  # non-finite results, weights or gradients
                raise TrainingDiverged(f"{e} at step {step}") from None
            if start_opt is not None:
                start_opt.step(idx, grad_x0, opt.lr)
            hist["train_loss"][step], hist["lr"][step] = loss, opt.lr
            done = step + 1
            if has_test and (done % cfg.eval_every == 0 or done == total):
                hist["test_step"].append(done)
                hist["test_loss"].append(evaluate_trajectory_loss(cfg, params, X_te, x0_te, dt))
            if bar is not None:
                _update_bar(bar, done, total, loss, opt.lr, hist)
    finally:
        if bar is not None:
            bar.close()

    lbfgs_losses = np.zeros(0)
    if lbfgs_steps:
        full = loss_and_grad if B == W_count else _step_functions(cfg, params, W_count, dt, bool(reference)
                                                                  or is_readable())[0]
        lbfgs_losses = _lbfgs_phase(cfg, params, full, X_tr, starts, observed_starts, lbfgs_steps)
        if has_test:
            hist["test_step"].append(total + lbfgs_steps)
            hist["test_loss"].append(evaluate_trajectory_loss(cfg, params, X_te, x0_te, dt))
    history = dict(step=np.arange(1, total + 1), train_loss=hist["train_loss"], lr=hist["lr"],
                   test_step=np.asarray(hist["test_step"], dtype=np.int64),
                   test_loss=np.asarray(hist["test_loss"], dtype=np.float64),
                   window_starts=scale.inverse(starts.astype(np.float64)), lbfgs_loss=lbfgs_losses)
    kind = "hnn" if cfg.kind == "separable" else cfg.kind
    model_params = trajectory.merge_separable(params) if cfg.kind == "separable" else params
    return Model(kind, model_params, scale.s, config={**cfg.to_dict(), "lbfgs_steps": int(lbfgs_steps)},
                 metrics={"n_windows": W_count}, history=history)


def _start_term(loss, grad_x0, starts, observed, shape):
    """The k = 0 term of learned starts (B, d) against their observations: loss += sum r0**2 / M, M of the mean."""
    r0 = starts - observed  # (B, d)
    M = (shape[0] - 1) * len(starts) * shape[2]  # K B d_obs, the count of loss_and_grad's mean
    return loss + float(np.sum(r0 * r0)) / M, grad_x0 + (2.0 / M) * r0


def _lbfgs_phase(cfg, params, full_loss_and_grad, X, starts, observed, steps):
    """:func:`hnn_np.lbfgs.minimize` of the full-batch loss over the weights (and the learned starts), in place.

    The vector z = (every W and b, then the starts if learned); returns the loss after each iteration.
    """
    layers = _layers(cfg.kind, params)
    arrays = [a for Wb in layers for a in Wb] + ([starts] if observed is not None else [])

    def loss_grad(z):
        for a, new in zip(arrays, lbfgs.unflatten(z, arrays)):
            a[...] = new  # in place: the loss functions (and a fast workspace) read these arrays
        try:
            loss, grads, grad_x0 = full_loss_and_grad(X, starts)
            if observed is not None:
                loss, grad_x0 = _start_term(loss, grad_x0, starts, observed, X.shape)
        except ValueError:  # non-finite on the way: a step too long for the line search
            return math.inf, np.zeros_like(z)
        parts = [g for Wb in _layers(cfg.kind, grads) for g in Wb] + ([grad_x0] if observed is not None else [])
        return loss, lbfgs.flatten(parts)

    z, losses = lbfgs.minimize(loss_grad, lbfgs.flatten(arrays), steps)
    loss_grad(z)  # leave the arrays at the accepted point
    return losses
