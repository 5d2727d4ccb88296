r"""The real pendulum learned through the integrator from theta alone: no differences of the targets.

A run of :mod:`hnn_np.studies.real_pendulum` with ``target="trajectory"``
trains a D-HNN with :func:`hnn_np.fit_trajectories` on the encoder's theta,
positions only:

* **Samples.** theta of every training segment, one sample every ``every``
  ms (the file's 1 ms grid thinned: dt = every ms between observations).
  The loss is on theta alone; the file's omega is never read.
* **Window starts.** Each window starts from its first theta and, for
  p = dtheta/dt, a central difference of theta of ``order`` over a stencil
  step of ``stride`` ms on the full 1 ms grid
  (:func:`hnn_np.measured.velocities_from_positions`), passed as
  ``velocities``: second-order differences of the thinned samples would be
  biased by (every dt)**2 / 6 theta''' (0.05 rad/s at 20 ms). In stages
  that learn the starts they are only where the starts begin.
* **Frame.** x~ = (x - c) / sigma with c = (mean theta, 0) and one sigma for
  both coordinates, the spread of dtheta/dt (as the derivative recipe's
  :func:`hnn_np.measured.normalization`: a D-HNN's gradient part needs one
  scale for all coordinates), time unscaled; so p~ = dtheta~/dt, the
  convention of positions only. :func:`hnn_np.measured.fold_normalization`
  returns the weights in data units (kappa = sigma**2).
* **Stages.** ``stages`` = ((K, lbfgs_steps, learn_starts), ...): windows
  of K samples, fitted by L-BFGS on the full batch
  (:func:`hnn_np.lbfgs.minimize`), each stage starting from the weights of
  the one before (``init``): short windows first, where the loss is
  nearly convex, then longer ones, which pin the frequency and the decay
  over several swings (the phase error of a field grows with the length
  of the rollout; a window of 0.2 s barely sees it). Adam's ``steps`` (0 by
  default) may come before the first stage.
* **Derivative pre-fit** (``pretrain_steps`` > 0). The first stage may
  start instead from a D-HNN fitted in the same frame to the derivative
  recipe's rows (x, dx/dt) of differences of theta (``derivative_rows``:
  x~ = (x - c) / sigma, targets dx/dt / sigma, ``pretrain_steps`` Adam
  steps, then the exact least-squares output layer, as
  :func:`hnn_np.measured.learn`); the stages then refit it through RK4.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..measured import fold_normalization, velocities_from_positions
from ..model import Model
from ..train import TrainConfig, fit
from ..train_trajectory import fit_trajectories

__all__ = ["theta_samples", "trajectory_config", "pretrain_config", "learn_from_theta"]


def theta_samples(run, data):
    """(theta list of (T_k, 1), dtheta/dt list of (T_k, 1), dt) of every segment, a sample every ``run.every`` ms.

    dtheta/dt: central differences of ``run.order`` with a stencil step of
    ``run.stride`` samples on the full grid, at the kept samples (the
    ``order / 2 * stride`` samples at each end are dropped first).
    """
    if not run.stages:
        raise ValueError(f"run {run.name!r} with target='trajectory' needs stages ((K, lbfgs_steps, learn), ...)")
    every = run.every or run.stride
    states = velocities_from_positions(data, run.order, run.stride)  # (theta, dtheta/dt) on the 1 ms grid
    theta = [x[::every, :1].copy() for x in states.x]
    dtheta_dt = [x[::every, 1:].copy() for x in states.x]
    return theta, dtheta_dt, data.dt * every


def trajectory_config(run, steps=None, seed=None, hidden=None, dtype="float64") -> TrainConfig:
    """The TrainConfig of the first stage (Adam's ``steps`` before it, then its windows and L-BFGS)."""
    K, _, learn = run.stages[0]
    n_out = {"hnn": 1, "baseline": 2}.get(run.kind, 2)  # a D-HNN outputs (H, D)
    return TrainConfig(kind=run.kind, sizes=(2, *(hidden or run.hidden), n_out), lr=run.lr, batch_size=None,
                       steps=run.steps if steps is None else steps, finetune_steps=0, schedule="cosine",
                       lr_min=min(1e-5, run.lr), weight_decay=run.weight_decay, seed=run.seed if seed is None else seed,
                       dtype=dtype, target="trajectory", method="rk4", window=K, substeps=run.substeps,
                       learn_initial_states=bool(learn))


def pretrain_config(run, config) -> TrainConfig:
    """The derivative pre-fit's TrainConfig: the trajectory run's network and seed, the derivative recipe's Adam."""
    return TrainConfig(kind=config.kind, sizes=config.sizes, lr=run.lr, batch_size=run.batch_size,
                       steps=run.pretrain_steps, finetune_steps=0, schedule="cosine", lr_min=1e-5,
                       refit_output=True, weight_decay=run.weight_decay, seed=config.seed, dtype=config.dtype)


def learn_from_theta(run, data, config, stages=None, progress=None, derivative_rows=None) -> Model:
    """One D-HNN in data units, learned from theta through RK4 (module docstring).

    ``config`` from :func:`trajectory_config`; ``stages`` replaces
    ``run.stages`` (the quick mode). The model's history holds the
    full-batch loss of every stage (``lbfgs_loss_stage{i}``) and its
    ``window_starts`` (data units) of the last. ``derivative_rows`` = (x
    (N, 2), dx_dt (N, 2)) in data units, differences of theta: the
    pre-fit's rows when ``run.pretrain_steps`` > 0.
    """
    stages = run.stages if stages is None else stages
    theta, dtheta_dt, dt = theta_samples(run, data)
    c = np.array([float(np.mean(np.concatenate(theta))), 0.0])
    sigma = float(np.std(np.concatenate(dtheta_dt)))
    q = [(x - c[0]) / sigma for x in theta]  # theta~ (T_k, 1)
    v = [u / sigma for u in dtheta_dt]  # dtheta~/dt, the starts' p~
    params, history = None, {}
    if run.pretrain_steps:
        if derivative_rows is None:
            raise ValueError(f"run {run.name!r} has pretrain_steps > 0: give derivative_rows (x, dx_dt)")
        x, dx_dt = (np.asarray(a, dtype=np.float64) for a in derivative_rows)
        pre = fit((x - c) / sigma, dx_dt / sigma, pretrain_config(run, config), progress=progress)
        params, history["pretrain_loss"] = pre.params, pre.history["train_loss"]
    for i, (K, lbfgs_steps, learn) in enumerate(stages):
        cfg = replace(config, window=K, learn_initial_states=bool(learn), normalize=False,
                      steps=config.steps if i == 0 else 0)
        fitted = fit_trajectories(q, dt, cfg, progress=progress, velocities=v, lbfgs_steps=lbfgs_steps, init=params)
        params = fitted.params
        history[f"lbfgs_loss_stage{i}"] = fitted.history["lbfgs_loss"]
        if i == 0:
            history["train_loss"] = fitted.history["train_loss"]
    history["window_starts"] = fitted.history["window_starts"] * sigma + c
    config_dict = {**fitted.config, "stages": [list(s) for s in stages], "every": run.every,
                   "pretrain_steps": run.pretrain_steps,
                   "velocity_order": run.order, "velocity_stride": run.stride}
    kappa = 1.0 if run.kind == "baseline" else sigma**2
    frame = dict(center=c.tolist(), sigma=[sigma, sigma], kappa=kappa)
    return Model(run.kind, fold_normalization(run.kind, params, c, np.full(2, sigma), kappa), 1.0,
                 config=config_dict, metrics={**fitted.metrics, **frame}, history=history)
