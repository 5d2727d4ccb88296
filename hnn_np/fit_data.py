"""``hnn-np fit DATA``: learn one's own measured trajectories and report the held-out rollouts.

The steps, each from :mod:`hnn_np.measured`:

1. :func:`~hnn_np.measured.load_measured` -- a ``.npz`` or CSV with a time
   column and state columns (q_1..q_n, p_1..p_n), one or more trajectories;
2. :func:`~hnn_np.measured.split` -- hold out the last trajectories, or the
   end of every trajectory;
3. :func:`~hnn_np.measured.derivative_targets` -- central differences of
   order 2, 4 or 6 with a stencil step of ``stride`` samples, a row kept
   every ``every`` samples, on the training part; with
   ``velocities="differences"`` the velocity columns are first replaced by
   differences of the positions (:func:`~hnn_np.measured.velocities_from_positions`);
4. :func:`~hnn_np.measured.learn` -- :func:`hnn_np.fit` in a normalized frame
   (Adam with a cosine decay, then the exact least-squares output layer),
   folded back into a Model in data units; ``members`` > 1 networks from
   seeds ``seed, seed + 1, ...`` are stacked into one, their mean
   (:func:`hnn_np.ensemble.stack_models`);
   With ``target="trajectory"`` steps 3 and 4 are instead
   :func:`learn_trajectories`: no differences of the targets; the network
   learns the training trajectories through the integrator
   (:func:`hnn_np.fit_trajectories`) in the same normalized frame, and with
   ``velocities="differences"`` from the positions alone;
5. from each held-out trajectory's first measured state, the learned field
   is rolled out over that trajectory's times with our DOP853 (rtol = atol =
   1e-10), and the RMS error of every state column is reported.

Everything is checked before anything is written: a bad file or argument
raises ``ValueError`` and leaves ``out`` untouched, and so does an output
that would overwrite the data file, a folder ``out`` that cannot be
written, another run writing into it, or one that holds an earlier run's
files (unless ``overwrite=True``, which replaces them as a set). Files, all
renamed into place together when the run succeeds
(:class:`hnn_np.outputs.RunFolder`): ``out/model.npz``
(:func:`hnn_np.load_model`), ``out/metrics.json`` (the report), and
``out/rollouts.npz`` (``t_<k>``, ``measured_<k>``, ``rollout_<k>`` per
held-out trajectory k).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

import numpy as np

from .ensemble import stack_models
from .io import save_json, save_npz
from .measured import (derivative_targets, fold_normalization, learn, linearization, load_measured,
                       normalization, split, velocities_from_positions)
from .model import Model
from .outputs import RunFolder, check_outputs
from .rollout import rollout
from .train import TrainConfig
from .train_trajectory import fit_trajectories

__all__ = ["fit_data", "learn_trajectories", "KINDS", "VELOCITIES", "FILES"]

KINDS = ("hnn", "baseline", "dhnn", "separable")
VELOCITIES = ("recorded", "differences")
FILES = ("model.npz", "metrics.json", "rollouts.npz")  # what a run writes into out


def fit_data(path, out, *, kind="hnn", time="t", columns=None, trajectory=None, order=4, stride=1, every=None,
             split="trajectory", validation=0.25, hidden=(64, 64), steps=3000, lr=3e-3, batch_size=256,
             seed=0, rtol=1e-10, velocities="recorded", members=1, progress=None, target="derivative",
             method="rk4", window=4, substeps=1, learn_starts=False, overwrite=False) -> dict:
    """Load, split, difference, learn, roll out and save; returns the report (also ``out/metrics.json``).

    See the module docstring; the keyword arguments are those of ``hnn-np fit``.
    """
    check_outputs([out] + [os.path.join(out, name) for name in FILES], [path], "output")  # before any work
    trajectory_settings = None if target == "derivative" else dict(
        target=target, method=method, window=window, substeps=substeps, learn_initial_states=learn_starts)
    return _fit_data(path, out, kind, time, columns, trajectory, order, stride, every, split, validation,
                     hidden, steps, lr, batch_size, seed, rtol, velocities, members, progress, trajectory_settings,
                     overwrite)


def _fit_data(path, out, kind, time_column, columns, trajectory, order, stride, every, how, validation, hidden,
              steps, lr, batch_size, seed, rtol, velocities, members, progress, trajectory_settings=None,
              overwrite=False):
    if kind not in KINDS or (kind == "separable" and trajectory_settings is None):
        raise ValueError(f"kind must be one of {KINDS[:3]} (or 'separable' with target='trajectory'); "
                         f"got {kind!r}")
    if velocities not in VELOCITIES:
        raise ValueError(f"velocities must be one of {VELOCITIES}; got {velocities!r}")
    if isinstance(members, bool) or not isinstance(members, (int, np.integer)) or members < 1:
        raise ValueError(f"members must be a positive integer; got {members!r}")
    data = load_measured(path, time=time_column, columns=columns, trajectory=trajectory)
    d = len(data.columns)
    if kind != "baseline" and d % 2:
        raise ValueError(f"an {kind.upper()} needs states (q, p) of even size; {path!r} gives "
                         f"{d} state columns {list(data.columns)}")
    train, val = split(data, how, validation)
    if trajectory_settings is not None:
        return _fit_trajectories(data, train, val, out, path, kind, hidden, steps, lr, batch_size, seed, rtol,
                                 velocities, members, progress, trajectory_settings,
                                 dict(split=how, validation=validation), overwrite)
    if velocities == "differences":
        train = velocities_from_positions(train, order, stride)
    x, dx_dt, _ = derivative_targets(train, order, stride, every)
    n_out = {"hnn": 1, "baseline": d, "dhnn": 2}[kind]
    config = TrainConfig(kind=kind, sizes=(d, *hidden, n_out), lr=lr, batch_size=min(batch_size, len(x)),
                         steps=steps, finetune_steps=0, schedule="cosine", lr_min=min(1e-5, lr),
                         refit_output=True, seed=seed)
    config.validate(*x.shape)
    with RunFolder(out, FILES, inputs=[path], overwrite=overwrite) as run:  # locked, written as a set
        t0 = time.perf_counter()
        fitted = [learn(x, dx_dt, replace(config, seed=seed + k), progress=progress)
                  for k in range(int(members))]
        seconds = time.perf_counter() - t0
        model = fitted[0] if members == 1 else stack_models(fitted, config=fitted[0].config,
                                                             metrics=fitted[0].metrics)
        report = dict(data=os.fspath(path), columns=list(data.columns), kind=kind, order=order, stride=stride,
                      every=every, dt=data.dt, split=how, validation=validation, n_trajectories=len(data),
                      n_train_rows=len(x), train_seconds=seconds, steps=steps, hidden=list(hidden), seed=seed,
                      velocities=velocities, members=int(members),
                      refit_loss_after=model.metrics.get("refit_loss_after"))
        if d == 2:
            try:
                lin = linearization(model.time_derivative, x.mean(axis=0))
                report.update(omega0=lin["omega0"], omega_d=lin["omega_d"], decay_rate=lin["decay_rate"],
                              equilibrium=lin["equilibrium"])
            except np.linalg.LinAlgError:
                pass
        model.config.update(data=os.fspath(path), columns=list(data.columns), order=order, stride=stride,
                            split=how, validation=validation, velocities=velocities, members=int(members))
        return _write(run, model, report, val, data, rtol)


def _write(run, model, report, val, data, rtol):
    """Roll out from each held-out trajectory's first state; stage the model, the rollouts and the report in ``run``."""
    arrays, per_column = {}, {c: [] for c in data.columns}
    for k, t, xv in zip(val.ids, val.t, val.x):
        x_hat = rollout(model, xv[:1], t, rtol=rtol, atol=rtol, how="python")[0]  # (T, d)
        rms = np.sqrt(np.mean((x_hat - xv) ** 2, axis=0))
        for c, r in zip(data.columns, rms):
            report[f"rms_{c}_traj{k}"] = float(r)
            per_column[c].append(float(r))
        arrays.update({f"t_{k}": t, f"measured_{k}": xv, f"rollout_{k}": x_hat})
    for c, values in per_column.items():
        report[f"rms_{c}_mean"] = float(np.mean(values))
    model.metrics = {**model.metrics, **{k: v for k, v in report.items() if isinstance(v, float)}}
    model.save(run.path("model.npz"))
    save_npz(run.path("rollouts.npz"), arrays)
    save_json(run.path("metrics.json"), report)
    return report


def trajectory_frame(kind, trajectories, positions_only):
    """(c, sigma, kappa) of :func:`hnn_np.measured.normalization` for learning trajectories.

    With positions only, the momenta are the velocities dq/dt of the
    normalized positions, so the frame must map p the way it maps q:
    c_p = 0, sigma_p = sigma_q, one sigma for every q of a potential-based
    kind (sigma_q sigma_p = kappa for every pair), kappa = sigma**2.
    """
    x = np.concatenate(trajectories)
    if not positions_only:
        return normalization("hnn" if kind == "separable" else kind, x)
    c, sigma, _ = normalization("baseline", np.concatenate([x, x], axis=1))  # per-column mean and std of q
    n = x.shape[1]
    if kind != "baseline":
        sigma = np.full(2 * n, float(np.exp(np.mean(np.log(sigma[:n])))))
    sigma[n:] = sigma[:n]
    c[n:] = 0
    return c, sigma, 1.0 if kind == "baseline" else float(sigma[0] ** 2)


def learn_trajectories(trajectories, dt, config, positions_only=False, progress=None):
    """:func:`hnn_np.fit_trajectories` in the frame of :func:`trajectory_frame`, as a Model in data units.

    ``trajectories``: list of (T_k, d) states, or (T_k, d / 2) positions with ``positions_only``.
    """
    c, sigma, kappa = trajectory_frame(config.kind, trajectories, positions_only)
    n_obs = trajectories[0].shape[1]
    scaled = [(x - c[:n_obs]) / sigma[:n_obs] for x in trajectories]
    model = fit_trajectories(scaled, dt, replace(config, normalize=False), progress=progress)
    params = fold_normalization(model.kind, model.params, c, sigma, kappa)
    frame = dict(center=c.tolist(), sigma=sigma.tolist(), kappa=float(kappa))
    history = {**model.history, "window_starts": model.history["window_starts"] * sigma + c}  # in data units
    return Model(model.kind, params, 1.0, config=model.config, metrics={**model.metrics, **frame}, history=history)


def _fit_trajectories(data, train, val, out, path, kind, hidden, steps, lr, batch_size, seed, rtol, velocities,
                      members, progress, settings, split_settings, overwrite=False):
    """The ``target="trajectory"`` path of :func:`fit_data`: no differences of the targets."""
    d = len(data.columns)
    positions_only = velocities == "differences"
    trajectories = [x[:, :d // 2] if positions_only else x for x in train.x]
    n_windows = sum((len(x) - 1) // settings["window"] for x in trajectories)
    n_out = {"hnn": 1, "baseline": d, "dhnn": 2, "separable": 1}[kind]
    config = TrainConfig(kind=kind, sizes=(d, *hidden, n_out), lr=lr, steps=steps,
                         batch_size=max(1, min(batch_size, n_windows)), finetune_steps=0, schedule="cosine",
                         lr_min=min(1e-5, lr), seed=seed, **settings)
    with RunFolder(out, FILES, inputs=[path], overwrite=overwrite) as run:  # locked, written as a set
        t0 = time.perf_counter()
        fitted = [learn_trajectories(trajectories, data.dt, replace(config, seed=seed + k), positions_only,
                                     progress) for k in range(int(members))]
        seconds = time.perf_counter() - t0
        model = fitted[0] if members == 1 else stack_models(fitted, config=fitted[0].config,
                                                             metrics=fitted[0].metrics)
        report = dict(data=os.fspath(path), columns=list(data.columns), kind=kind, dt=data.dt, **split_settings,
                      n_trajectories=len(data), n_windows=n_windows, train_seconds=seconds, steps=steps,
                      hidden=list(hidden), seed=seed, velocities=velocities, members=int(members), **settings,
                      final_train_loss=float(model.history["train_loss"][-1]) if steps else None)
        model.config.update(data=os.fspath(path), columns=list(data.columns), velocities=velocities,
                            members=int(members), **split_settings)
        return _write(run, model, report, val, data, rtol)
