r"""The Dissipative HNN on the damped pendulum: learned field, its split, and energy decay.

The system is :class:`~hnn_np.systems.DampedPendulum` (m = l = 1, g = 3,
gamma = 0.1) with the data of the pendulum study (:mod:`hnn_np.studies.systems`,
``_PENDULUM_DATA``). Its field has an exact Helmholtz split (Sosanya &
Greydanus 2022, arXiv 2201.10085)::

    dx/dt = J grad H + grad D,     H = 2 m g l (1 - cos q) + l^2 p^2 / (2 m),
                                   D = -gamma p^2 / 2,   grad D = (0, -gamma p)

A D-HNN (:mod:`hnn_np.dhnn`) is trained on it with the project's best recipe
(normalized states, relative loss 1 / ||dx/dt||^2, cosine learning rate,
then the exact least-squares output layer for both outputs jointly), and
compared with what the truth does.

What the data cannot decide
---------------------------
Only the sum S = J grad H + grad D is observed. A field that is both a
gradient and Hamiltonian, grad F = J grad G, can be moved from one part to the
other: H + G and D - F give the same S. In one degree of freedom this
happens exactly when F and G are harmonic conjugates (F + iG analytic in
q + ip), e.g. ``grad(q p) = (p, q) = J grad((p**2 - q**2) / 2)``, and the
constant fields (``grad q = J grad p``). So neither H nor D is identifiable
beyond such a part; their sum field is. The study measures it: the
difference between the learned and the true ``grad D`` is projected (least
squares over the test states) on the gradients of the harmonic polynomials
``Re z^k, Im z^k`` (z = (q + i p) / r, r the largest |z| of the states, k = 1 .. 10), and
``split_harmonic_fraction``
is the share of that difference's norm that lies in their span. A fraction
near 1 says the split error is the ambiguity itself, not a failure to learn.

Metrics (``folder/dissipative.json``; relative errors ||a - b|| / ||b||)
------------------------------------------------------------------------
* ``field_error_median``, ``field_error_p99``, ``field_error``: the D-HNN's
  S against the true field on the held-out test states (per state; the last
  aggregate over all states).
* ``rot_error``, ``irrot_error``: J grad H_hat against J grad H and grad D_hat
  against grad D (aggregate), before and (``..._mod_harmonic``) after removing
  the least-squares harmonic part of the difference.
* ``split_harmonic_fraction``: see above.
* ``energy_ratio_end_true``, ``energy_ratio_end_dhnn``: H(x(t_end)) / H(x(0)),
  the true energy along the true and along the D-HNN's rollouts, averaged
  over the rollouts; ``energy_ratio_rel_diff_max``: the largest
  |ratio_dhnn / ratio_true - 1| over the rollouts.
* ``train_seconds``, ``seconds``.

Files: ``folder/dissipative.json``, ``folder/dissipative.md`` (a table),
``folder/dissipative_split.png``; in ``runs/``: ``dhnn.npz`` (the model),
``train.npz``, ``test.npz``, ``split.npz`` (the curves and grids drawn).
"""

from __future__ import annotations

import os
import time

import numpy as np

from .. import data as D
from ..evaluate import field_errors
from ..io import save_json, save_npz, save_text
from ..plotting import pyplot, save_png
from ..rollout import rollout
from ..symplectic import apply_J
from ..systems import DampedPendulum
from ..train import TrainConfig, fit
from .systems import _PENDULUM_DATA

__all__ = ["run_dissipative", "SYSTEM", "harmonic_gradients", "split_metrics", "dissipative_table"]

SYSTEM = DampedPendulum(m=1.0, l=1.0, g=3.0, friction=0.1)
_FULL = dict(hidden=(200, 200, 200), steps=1500, t_end=20.0, n_rollouts=4, n_times=400)
_QUICK = dict(hidden=(16, 16, 16), steps=30, t_end=2.0, n_rollouts=2, n_times=25, n_traj=6, n_obs=12)
_TRAIN = dict(lr=1e-3, batch_size=256, finetune_steps=0, schedule="cosine", lr_min=1e-5,
              loss_weighting="relative", normalize=True, refit_output=True)
_HARMONIC_DEGREE = 10


def harmonic_gradients(x, degree=_HARMONIC_DEGREE, radius=1.0):
    """Gradients of Re z^k and Im z^k, z = (q + i p) / radius, k = 1 .. degree; x (N, 2) -> (N, 2, 2 degree).

    With ``z^(k-1) = u + i v``: grad Re z^k = k (u, -v) / radius, grad Im z^k =
    k (v, u) / radius (the radius keeps the columns of similar size). Each
    is also Hamiltonian (Cauchy-Riemann): grad Re z^k = J grad(Im z^k),
    grad Im z^k = J grad(-Re z^k).
    """
    z = (x[:, 0] + 1j * x[:, 1]) / radius
    cols = []
    for k in range(1, degree + 1):
        w = k * z ** (k - 1) / radius
        cols += [np.stack([w.real, -w.imag], axis=1), np.stack([w.imag, w.real], axis=1)]
    return np.stack(cols, axis=2)


def _remove_harmonic(diff, x):
    """diff (N, 2) minus its least-squares projection on the harmonic gradients; -> (rest, projection)."""
    B = harmonic_gradients(x, radius=float(np.abs(x[:, 0] + 1j * x[:, 1]).max()))  # (N, 2, K)
    A = B.reshape(-1, B.shape[2])
    coef = np.linalg.lstsq(A, diff.reshape(-1), rcond=None)[0]
    proj = (A @ coef).reshape(diff.shape)
    return diff - proj, proj


def split_metrics(model, system, x):
    """How the learned field splits, against the truth, on states x (N, 2) (module docstring)."""
    dH_dx = system.hamiltonian_gradient(x)
    rot_true = apply_J(dH_dx)  # J grad H
    irrot_true = system.time_derivative(x) - rot_true  # grad D = (0, -gamma p)
    h = 1e-5 * model.scale
    grad_D, grad_H = np.empty_like(x), np.empty_like(x)
    for k in range(2):  # the learned potentials' gradients, central differences in physical units
        e = np.zeros(2)
        e[k] = h
        grad_H[:, k] = (model.energy(x + e) - model.energy(x - e)) / (2 * h)
        grad_D[:, k] = (model.dissipation(x + e) - model.dissipation(x - e)) / (2 * h)
    rot_hat, irrot_hat = apply_J(grad_H), grad_D
    diff = irrot_hat - irrot_true
    rest, proj = _remove_harmonic(diff, x)
    err = lambda a, b: float(np.linalg.norm(a - b) / np.linalg.norm(b))  # noqa: E731
    return dict(
        rot_error=err(rot_hat, rot_true), irrot_error=err(irrot_hat, irrot_true),
        rot_error_mod_harmonic=err(rot_hat + proj, rot_true),  # J grad G = grad F moved back
        irrot_error_mod_harmonic=float(np.linalg.norm(rest) / np.linalg.norm(irrot_true)),
        split_harmonic_fraction=float(np.linalg.norm(proj) / max(np.linalg.norm(diff), 1e-300)),
    ), dict(rot_true=rot_true, irrot_true=irrot_true, rot_hat=rot_hat, irrot_hat=irrot_hat,
            irrot_hat_mod_harmonic=irrot_hat - proj)


def run_dissipative(folder, runs, quick=False, log=print, seed=0) -> dict:
    """Train a D-HNN on the damped pendulum, evaluate its field, split and rollouts, draw the split.

    Parameters
    ----------
    folder : path
        Where ``dissipative.json``, ``dissipative.md`` and ``dissipative_split.png`` go.
    runs : path
        Where the model, datasets and curves go.
    quick : bool
        Tiny data, network and step count: the pipeline in seconds, not the results.
    log : callable
        Receives a line of text with the main numbers.
    seed : int
        Seeds the data, the split, the weights and the batch order.

    Returns
    -------
    dict of float
        The metrics of the module docstring.
    """
    if not isinstance(quick, (bool, np.bool_)):
        raise ValueError(f"quick must be True or False; got {quick!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int; got {seed!r}")
    if not callable(log):
        raise ValueError(f"log must be callable; got {log!r}")
    s = dict(_FULL)
    data_kw = dict(_PENDULUM_DATA)
    if quick:
        s.update(_QUICK)
        data_kw.update(n_traj=_QUICK["n_traj"], n_obs=_QUICK["n_obs"])
    t0 = time.perf_counter()
    ds = D.make_dataset(SYSTEM, seed=int(seed), **data_kw)
    tr, te = D.train_test_split(ds, 0.5, seed=int(seed))
    D.save_dataset(os.path.join(runs, "train.npz"), tr)
    D.save_dataset(os.path.join(runs, "test.npz"), te)

    train = dict(_TRAIN, batch_size=min(_TRAIN["batch_size"], len(tr.x)))
    config = TrainConfig(kind="dhnn", sizes=(2, *s["hidden"], 2), steps=s["steps"], seed=int(seed), **train)
    t1 = time.perf_counter()
    model = fit(tr.x, tr.dx_dt, config, progress=False)
    metrics = dict(n_train=float(len(tr.x)), n_test=float(len(te.x)), steps=float(s["steps"]),
                   train_seconds=time.perf_counter() - t1, quick=float(bool(quick)),
                   refit_loss_before=model.metrics["refit_loss_before"],
                   refit_loss_after=model.metrics["refit_loss_after"])
    model.config.update(system=repr(SYSTEM), experiment="studies/dissipative", quick=bool(quick))
    model.save(os.path.join(runs, "dhnn.npz"))

    S = SYSTEM.time_derivative(te.x)
    err = field_errors(model.time_derivative(te.x), S)
    metrics.update(field_error=err["aggregate"], field_error_median=err["median"], field_error_p99=err["p99"])
    split, _ = split_metrics(model, SYSTEM, te.x)
    metrics.update(split)

    B = len(np.unique(te.traj))
    x0 = te.x.reshape(B, -1, 2)[:s["n_rollouts"], 0]  # the first state of a few test trajectories
    t = np.linspace(0.0, s["t_end"], s["n_times"])
    x_true = D.trajectories(SYSTEM, x0, t)  # (R, T, 2)
    x_hat = rollout(model, x0, t, rtol=1e-9, atol=1e-9, how="python" if quick else "compiled")
    R, T = x_true.shape[:2]
    H_true = SYSTEM.energy(x_true.reshape(-1, 2)).reshape(R, T)
    H_hat = SYSTEM.energy(x_hat.reshape(-1, 2)).reshape(R, T)
    ratio_true, ratio_hat = H_true[:, -1] / H_true[:, 0], H_hat[:, -1] / H_hat[:, 0]
    metrics.update(energy_ratio_end_true=float(ratio_true.mean()), energy_ratio_end_dhnn=float(ratio_hat.mean()),
                   energy_ratio_rel_diff_max=float(np.abs(ratio_hat / ratio_true - 1).max()),
                   state_mse=float(np.mean(np.sum((x_hat - x_true) ** 2, -1))))

    grid = _split_grid(model, tr.x)
    save_npz(os.path.join(runs, "split.npz"), dict(t=t, x_true=x_true, x_hat=x_hat, H_true=H_true, H_hat=H_hat,
                                                    **grid))
    metrics["seconds"] = time.perf_counter() - t0
    draw_split(folder, grid, dict(t=t, H_true=H_true, H_hat=H_hat), metrics)
    save_json(os.path.join(folder, "dissipative.json"), metrics)
    save_text(os.path.join(folder, "dissipative.md"), dissipative_table(metrics))
    log(f"dissipative: field error median {metrics['field_error_median']:.2e} (p99 {metrics['field_error_p99']:.2e}); "
        f"grad D error {metrics['irrot_error']:.2e}, {metrics['irrot_error_mod_harmonic']:.1e} without its "
        f"harmonic part; "
        f"H(t_end)/H(0) truth {metrics['energy_ratio_end_true']:.4f}, D-HNN {metrics['energy_ratio_end_dhnn']:.4f}; "
        f"{metrics['seconds']:.0f} s")
    return metrics


def _split_grid(model, x_train, n=21):
    """Both parts, learned and true, on an n x n grid over the data's box; NaN outside the data's energies."""
    lo, hi = x_train.min(axis=0), x_train.max(axis=0)
    Q, P = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n))
    xg = np.stack([Q.ravel(), P.ravel()], axis=1)
    inside = SYSTEM.energy(xg) <= SYSTEM.energy(x_train).max()  # where there are data
    _, parts = split_metrics(model, SYSTEM, xg[inside])
    grid = dict(grid_q=Q, grid_p=P)
    for k, v in parts.items():
        full = np.full((n * n, 2), np.nan)
        full[inside] = v
        grid[f"grid_{k}"] = full.reshape(n, n, 2)
    return grid


def dissipative_table(m) -> str:
    """The metrics as a markdown table."""
    rows = ["| metric | D-HNN | truth |", "|---|---|---|",
            f"| field error, median / p99 / aggregate | {m['field_error_median']:.2g} / "
            f"{m['field_error_p99']:.2g} / {m['field_error']:.2g} | 0 |",
            f"| J grad H error (modulo harmonic part) | {m['rot_error']:.2g} ({m['rot_error_mod_harmonic']:.2g}) | 0 |",
            f"| grad D error (modulo harmonic part) | {m['irrot_error']:.2g} "
            f"({m['irrot_error_mod_harmonic']:.2g}) | 0 |",
            f"| share of the grad D error that is harmonic | 1 - {1 - m['split_harmonic_fraction']:.1e} | - |",
            f"| H(t_end)/H(0) along rollouts | {m['energy_ratio_end_dhnn']:.4f} | {m['energy_ratio_end_true']:.4f} |",
            f"| max relative difference of that ratio | {m['energy_ratio_rel_diff_max']:.2g} | - |",
            f"| training seconds | {m['train_seconds']:.0f} | - |"]
    return "\n".join(rows) + "\n"


def draw_split(folder, grid, curves, metrics):
    """Learned J grad H and grad D beside the true ones (and grad D without its harmonic part), and H(t)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.3), layout="constrained")
    Q, P = grid["grid_q"], grid["grid_p"]
    panels = ((axes[0], "rot_true", "rot_hat", "rotational part J grad H"),
              (axes[1], "irrot_true", "irrot_hat", "irrotational part grad D"),
              (axes[2], "irrot_true", "irrot_hat_mod_harmonic", "grad D minus its harmonic part"))
    for ax, true_key, hat_key, title in panels:
        true, hat = grid[f"grid_{true_key}"], grid[f"grid_{hat_key}"]
        scale = 25 * (np.nanmax(np.abs(true)) or 1.0)  # the truth's arrows set the length scale
        for field, color, width, label in ((true, "k", 0.005, "truth"), (hat, "tab:orange", 0.0025, "D-HNN")):
            ok = np.isfinite(field[..., 0])
            ax.quiver(Q[ok], P[ok], field[..., 0][ok], field[..., 1][ok], color=color, scale=scale,
                      width=width, label=label)
        ax.set(xlabel="angle q", ylabel="momentum p", title=title)
        ax.legend(fontsize=7, loc="upper right")
    ax = axes[3]
    t = curves["t"]
    for i, (Ht, Hh) in enumerate(zip(curves["H_true"], curves["H_hat"])):
        ax.plot(t, Ht, "k-", lw=1.6, label="truth" if i == 0 else None)
        ax.plot(t, Hh, "--", color="tab:orange", lw=1.2, label="D-HNN rollout" if i == 0 else None)
    ax.set(xlabel="time t", ylabel="true energy H(x(t))", title="energy decay along rollouts")
    ax.legend(fontsize=7)
    fig.suptitle(f"D-HNN on {SYSTEM!r}: field error median {metrics['field_error_median']:.1e}; grad D error "
                 f"{metrics['irrot_error']:.1e}, its harmonic share 1 - {1 - metrics['split_harmonic_fraction']:.0e} "
                 f"(not identifiable; without it {metrics['irrot_error_mod_harmonic']:.1e}); "
                 f"H(t_end)/H(0) {metrics['energy_ratio_end_dhnn']:.4f} vs {metrics['energy_ratio_end_true']:.4f}",
                 fontsize=9)
    save_png(fig, folder, "dissipative_split.png")
    plt.close(fig)
