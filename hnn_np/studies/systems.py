"""Beyond the paper: an HNN and a baseline on two more systems.

For each of

* ``ideal-pendulum``  -- :class:`~hnn_np.systems.IdealPendulum` (m = l = 1, g = 3, the HNN
  paper's pendulum), H = 2 m g l (1 - cos q) + l^2 p^2 / (2 m);
* ``damped-pendulum`` -- :class:`~hnn_np.systems.DampedPendulum`, the same H observed with
  friction dp/dt = -dH/dq - gamma p (gamma = 0.1): a stand-in for the paper's
  real pendulum, and *not* Hamiltonian;

:func:`run_systems` builds a dataset (:func:`hnn_np.data.make_dataset`, analytic
targets), splits it by trajectory, trains an HNN and a baseline MLP the way the
project's ``best-*`` recipe does (Adam with a cosine decay on the relative loss
1 / ||dx/dt||^2, then the exact least-squares output layer of
:func:`hnn_np.refine.fit_output_layer`), rolls both learned fields out from a
few held-out initial states (:func:`hnn_np.rollout.rollout`) next to the true
trajectories (:func:`hnn_np.data.trajectories`) and draws one figure per system.
The two-body problem is its own experiment, ``two-body``
(:mod:`hnn_np.studies.two_body`: exact Kepler states, its own recipe), which
the catalog runs by that name.

Data choices. Pendulum energies E = f H(R, 0), f ~ U[0.01, 1], with the
amplitude R = 2.5 < pi: H(2.5, 0) = 10.8 is 90 % of the separatrix energy
4 m g l = 12, so every orbit librates (q = pi, the upright pendulum, would
need an infinite period).

Metrics (per system, plain floats; also written to ``folder/systems.json``):

* ``{hnn,baseline}_field_error_median``, ``..._p99``: the relative field error
  ||S_hat - S|| / ||S|| over the held-out test states; ``..._field_error``:
  the aggregate ||S_hat - S||_F / ||S||_F. ``trivial_field_error`` is the
  aggregate error of the best constant predictor (the mean training target),
  the bar any model must clear.
* ``{hnn,baseline}_energy_mse``: mean over rollouts and times of
  (H(x_hat(t)) - H(x(t)))^2, the *true* energy of the learned rollout against
  that of the true trajectory (the HNN paper's "energy MSE");
  ``..._state_mse``: mean ||x_hat(t) - x(t)||^2.
* ``hnn_learned_energy_nrmse``: the HNN's own energy H_hat against H on the
  test states, after fixing its free additive constant by least squares on
  the training states, RMS(H_hat + c - H) / std(H).
* ``energy_ratio_end_{true,hnn,baseline}``: H(x(t_end)) / H(x(0)) averaged
  over the rollouts (1 for a conservative flow).

What the HNN learns on the damped pendulum. Its field J grad H_theta is
divergence-free and conserves H_theta exactly, so it cannot represent
dissipation. The friction field splits, for any alpha, as

    (0, -gamma p) = -gamma (alpha q, (1 - alpha) p)   +   gamma alpha (q, -p)
                    contraction, divergence -gamma       = J grad(gamma alpha q p),
                    (no Hamiltonian field has it)          Hamiltonian

so a least-squares fit can absorb the second, area-preserving "squeeze" part
into its energy, H_theta ~ H + beta q p, and must miss the contraction. For
the family above the best alpha = E[w p^2] / E[w (q^2 + p^2)] (w the loss
weights) depends on the spread of the data in q and p. Metrics:
``hnn_field_error_vs_conservative`` (against the frictionless field J grad H),
``hnn_squeeze_over_friction`` = beta / gamma, the least-squares coefficient
of (q, -p) in S_hat - J grad H, and
``hnn_field_error_vs_conservative_plus_squeeze`` (against J grad(H + beta q p),
small when this is what it learned). Its rollouts keep H_theta, so the true H
only wobbles (``energy_ratio_end_hnn`` ~ 1) while the truth decays
(``energy_ratio_end_true`` < 1). The baseline, an unconstrained MLP, can and
does learn the dissipation.

Files: ``folder/system_<name>.png`` (three panels: learned against true
energy; energy against time for the truth, the HNN and the baseline; the
phase portrait q-p), ``folder/systems.json``, and in
``runs/<system>/``: ``hnn.npz``, ``baseline.npz`` (models), ``train.npz``,
``test.npz`` (data), ``rollouts.npz``. Every file is written atomically.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np

from .. import data as D
from ..evaluate import field_errors
from ..io import save_json, save_npz, save_text
from ..plotting import pyplot, save_png
from ..rollout import rollout
from ..systems import DampedPendulum, IdealPendulum, System
from ..train import TrainConfig, fit

__all__ = ["SystemRun", "SYSTEM_RUNS", "run_systems", "run_one_system", "systems_table"]


@dataclass(frozen=True)
class SystemRun:
    """One system's data, networks and rollouts.

    ``data`` are keyword arguments of :func:`hnn_np.data.make_dataset`;
    ``hidden`` the hidden widths of both networks (the HNN ends in 1 unit,
    the baseline in 2n); ``steps`` the Adam steps of each; rollouts start
    from the first state of ``n_rollouts`` test trajectories and run over
    [0, ``t_end``] at ``n_times`` points.
    """

    name: str
    system: System
    data: dict
    hidden: tuple = (200, 200, 200)
    steps: int = 1500
    t_end: float = 20.0
    n_rollouts: int = 4
    n_times: int = 400
    train: dict = field(default_factory=dict)


# The same depth everywhere: the compiled rollout field takes the weights as a
# tuple whose length is part of its type, so one depth means one compilation.
_PENDULUM_DATA = dict(n_traj=100, n_obs=50, t_span=(0.0, 3.0), radius=2.5, energy_range=(0.01, 1.0))
SYSTEM_RUNS = {r.name: r for r in [
    SystemRun("ideal-pendulum", IdealPendulum(m=1.0, l=1.0, g=3.0), _PENDULUM_DATA, steps=1500),
    SystemRun("damped-pendulum", DampedPendulum(m=1.0, l=1.0, g=3.0, friction=0.1), _PENDULUM_DATA,
              steps=1500),
]}
_TRAIN = dict(lr=1e-3, batch_size=256, finetune_steps=0, schedule="cosine", lr_min=1e-5,
              loss_weighting="relative", normalize=True)
_QUICK = dict(n_traj=6, n_obs=12, hidden=(16, 16, 16), steps=20, t_end=2.0, n_rollouts=2, n_times=25)


def _fit(kind, sizes, tr, te, steps, seed, extra):
    """Adam on the relative loss, then the exact least-squares output layer (as best-* does)."""
    kw = {**_TRAIN, **extra}
    kw["batch_size"] = min(kw["batch_size"], len(tr.x))  # quick runs have fewer rows than a batch
    config = TrainConfig(kind=kind, sizes=sizes, steps=steps, seed=seed, refit_output=True, **kw)
    model = fit(tr.x, tr.dx_dt, config, x_test=te.x, dxdt_test=te.dx_dt, progress=False)
    return model, model.metrics["refit_loss_before"], model.metrics["refit_loss_after"]


def _rollout(model, x0, t, compiled):
    """The learned field integrated from x0 over t, (R, 2n) -> (R, T, 2n), DOP853 at 1e-9.

    ``compiled``: the field in Numba (:func:`hnn_np.rollout.rollout`), or
    the same integrator on :meth:`Model.time_derivative` (slow per step, so
    for short rollouts only).
    """
    return rollout(model, x0, t, rtol=1e-9, atol=1e-9, how="compiled" if compiled else "python")


def run_one_system(run: SystemRun, runs="runs/studies", quick=False, seed=0, log=print,
                   compiled_rollouts=None, folder=None):
    """Data, two models, rollouts and metrics of one system, saved into ``folder`` (default ``runs/NAME``).

    ``compiled_rollouts`` (default: ``not quick``) chooses how the learned
    fields are integrated (see :func:`_rollout`): the quick run skips the two
    compilations, which would take longer than everything else it does.

    Returns
    -------
    metrics : dict of float
    curves : dict of ndarray
        What the figure draws: ``t`` (T,), ``true``, ``hnn``, ``baseline``
        rollouts (R, T, 2n), their true energies ``H_true``, ``H_hnn``,
        ``H_baseline`` (R, T), the HNN's calibrated energy ``Hhat_true``
        on the true trajectories (R, T), and ``H_test``, ``Hhat_test`` (N,),
        true and calibrated learned energies on the test states.
    """
    system = run.system
    data_kw = dict(run.data)
    hidden, steps, t_end, n_roll, n_times = run.hidden, run.steps, run.t_end, run.n_rollouts, run.n_times
    if quick:
        data_kw.update(n_traj=_QUICK["n_traj"], n_obs=_QUICK["n_obs"])
        hidden, steps, t_end = _QUICK["hidden"], _QUICK["steps"], _QUICK["t_end"]
        n_roll, n_times = _QUICK["n_rollouts"], _QUICK["n_times"]
    out = os.path.join(runs, run.name) if folder is None else folder
    t0 = time.perf_counter()
    ds = D.make_dataset(system, seed=seed, **data_kw)
    tr, te = D.train_test_split(ds, 0.5, seed=seed)
    D.save_dataset(os.path.join(out, "train.npz"), tr)
    D.save_dataset(os.path.join(out, "test.npz"), te)
    d = 2 * system.n_dof
    metrics = dict(n_train=float(len(tr.x)), n_test=float(len(te.x)), steps=float(steps))

    S = system.time_derivative(te.x)  # the truth on held-out states, (N, 2n)
    trivial = tr.dx_dt.mean(axis=0)  # the best constant predictor
    metrics["trivial_field_error"] = float(np.linalg.norm(S - trivial) / np.linalg.norm(S))
    models = {}
    for kind, n_out in (("hnn", 1), ("baseline", d)):
        t1 = time.perf_counter()
        model, before, after = _fit(kind, (d, *hidden, n_out), tr, te, steps, seed, run.train)
        seconds = time.perf_counter() - t1
        model.config.update(system=repr(system), experiment=f"studies/{run.name}", quick=bool(quick))
        model.save(os.path.join(out, f"{kind}.npz"))
        models[kind] = model
        err = field_errors(model.time_derivative(te.x), S)
        metrics.update({f"{kind}_field_error": err["aggregate"],
                        f"{kind}_field_error_median": err["median"], f"{kind}_field_error_p99": err["p99"],
                        f"{kind}_refit_loss_before": before, f"{kind}_refit_loss_after": after,
                        f"{kind}_train_seconds": seconds})
    hnn = models["hnn"]
    if isinstance(system, DampedPendulum):  # what an HNN can learn instead (module docstring)
        S_hnn, S_cons = hnn.time_derivative(te.x), system.conservative().time_derivative(te.x)
        squeeze = np.column_stack([te.x[:, 0], -te.x[:, 1]])  # J grad(q p) = (q, -p)
        beta = float(np.sum((S_hnn - S_cons) * squeeze) / np.sum(squeeze**2))
        metrics["hnn_field_error_vs_conservative"] = field_errors(S_hnn, S_cons)["aggregate"]
        metrics["hnn_squeeze_over_friction"] = beta / system.friction if system.friction else 0.0
        metrics["hnn_field_error_vs_conservative_plus_squeeze"] = field_errors(
            S_hnn, S_cons + beta * squeeze)["aggregate"]

    # the HNN's energy, up to its free constant c = mean(H - H_hat) over the training states
    c = float(np.mean(system.energy(tr.x) - hnn.energy(tr.x)))
    H_te, Hhat_te = system.energy(te.x), hnn.energy(te.x) + c
    metrics["hnn_learned_energy_nrmse"] = float(np.sqrt(np.mean((Hhat_te - H_te) ** 2)) / np.std(H_te))

    # rollouts from the first state of a few test trajectories
    B = len(np.unique(te.traj))
    x0 = te.x.reshape(B, -1, d)[:n_roll, 0]  # (R, 2n)
    t = np.linspace(0.0, t_end, n_times)
    curves = dict(t=t, true=D.trajectories(system, x0, t), H_test=H_te, Hhat_test=Hhat_te)
    compiled = (not quick) if compiled_rollouts is None else bool(compiled_rollouts)
    for kind, model in models.items():
        curves[kind] = _rollout(model, x0, t, compiled)
    R, T = curves["true"].shape[:2]
    for kind in ("true", "hnn", "baseline"):
        curves[f"H_{kind}"] = system.energy(curves[kind].reshape(-1, d)).reshape(R, T)
    curves["Hhat_true"] = (hnn.energy(curves["true"].reshape(-1, d)) + c).reshape(R, T)
    for kind in ("hnn", "baseline"):
        metrics[f"{kind}_energy_mse"] = float(np.mean((curves[f"H_{kind}"] - curves["H_true"]) ** 2))
        metrics[f"{kind}_state_mse"] = float(np.mean(np.sum((curves[kind] - curves["true"]) ** 2, -1)))
    for kind in ("true", "hnn", "baseline"):
        H = curves[f"H_{kind}"]
        metrics[f"energy_ratio_end_{kind}"] = float(np.mean(H[:, -1] / H[:, 0]))
    metrics["seconds"] = time.perf_counter() - t0
    save_npz(os.path.join(out, "rollouts.npz"), curves)
    log(f"{run.name}: field error HNN {metrics['hnn_field_error']:.2e}, baseline "
        f"{metrics['baseline_field_error']:.2e} (constant predictor {metrics['trivial_field_error']:.2f}); "
        f"energy MSE HNN {metrics['hnn_energy_mse']:.2e}, baseline {metrics['baseline_energy_mse']:.2e}; "
        f"{metrics['seconds']:.0f} s")
    if isinstance(system, DampedPendulum):
        log(f"{run.name}: the HNN cannot dissipate; it learns H + beta q p with beta = "
            f"{metrics['hnn_squeeze_over_friction']:.2f} gamma (field error vs that "
            f"{metrics['hnn_field_error_vs_conservative_plus_squeeze']:.2e}, vs H alone "
            f"{metrics['hnn_field_error_vs_conservative']:.2e}); H(t_end)/H(0): truth "
            f"{metrics['energy_ratio_end_true']:.3f}, HNN {metrics['energy_ratio_end_hnn']:.3f}, "
            f"baseline {metrics['energy_ratio_end_baseline']:.3f}")
    return metrics, curves


def run_systems(folder="figures/studies", runs="runs/studies", quick=False, log=print, seed=0,
                systems=None) -> dict:
    """Train, evaluate and draw every system of :data:`SYSTEM_RUNS`.

    Parameters
    ----------
    folder : path
        Where the figures and ``systems.json`` go.
    runs : path
        Where models, datasets and rollouts go (one subfolder per system).
    quick : bool
        Tiny data, networks and step counts: the pipeline in seconds, not the results.
    log : callable
        Receives one line of text per system.
    seed : int
        Seeds the data, the split, the weights and the batch order.
    systems : sequence of str, optional
        A subset of the names in :data:`SYSTEM_RUNS` (default: all).

    Returns
    -------
    dict
        ``{system name: {metric: float}}`` plus ``"seconds"``, the wall time.
    """
    names = list(SYSTEM_RUNS) if systems is None else list(systems)
    unknown = [n for n in names if n not in SYSTEM_RUNS]
    if unknown or not names:
        raise ValueError(f"systems must be names from {sorted(SYSTEM_RUNS)}; got {systems!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int; got {seed!r}")
    t0 = time.perf_counter()
    results = {}
    for name in names:
        run = SYSTEM_RUNS[name]
        metrics, curves = run_one_system(run, runs, quick=quick, seed=int(seed), log=log)
        draw_system(folder, run, curves, metrics)
        results[name] = metrics
    results["seconds"] = time.perf_counter() - t0
    save_json(os.path.join(folder, "systems.json"), dict(results, quick=float(bool(quick))))
    save_text(os.path.join(folder, "systems.md"), systems_table(results))
    return results


def systems_table(results) -> str:
    """The metrics of :func:`run_systems` as a markdown table (the README shows it)."""
    rows = ["| system | field error HNN / baseline (median) | 99th pct. HNN / baseline "
            "| rollout energy MSE HNN / baseline | H(t_end)/H(0): truth / HNN / baseline "
            "| constant predictor |", "|---|---|---|---|---|---|"]
    for name, m in results.items():
        if not isinstance(m, dict):
            continue
        rows.append(
            f"| {name} | {m['hnn_field_error_median']:.2g} / {m['baseline_field_error_median']:.2g} "
            f"| {m['hnn_field_error_p99']:.2g} / {m['baseline_field_error_p99']:.2g} "
            f"| {m['hnn_energy_mse']:.2g} / {m['baseline_energy_mse']:.2g} "
            f"| {m['energy_ratio_end_true']:.3f} / {m['energy_ratio_end_hnn']:.3f} / "
            f"{m['energy_ratio_end_baseline']:.3f} | {m['trivial_field_error']:.2f} |"
        )  # fmt: skip
    return "\n".join(rows) + "\n"


# --- figures -------------------------------------------------------------------

_STYLE = dict(true=dict(color="k", lw=1.6, label="truth"),
              hnn=dict(color="tab:blue", lw=1.2, ls="--", label="HNN"),
              baseline=dict(color="tab:red", lw=1.0, ls=":", label="baseline"))


def draw_system(folder, run: SystemRun, curves, metrics):
    """One figure per system: learned vs true energy, energy vs time, phase portrait or orbit."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.3), layout="constrained")
    t = curves["t"]

    ax = axes[0]  # the HNN's energy (constant fixed on the training data) against the truth
    H, Hhat = curves["H_test"], curves["Hhat_test"]
    ax.plot(H, Hhat, ".", ms=2, color="tab:blue", label="HNN, held-out test states")
    lo, hi = min(H.min(), Hhat.min()), max(H.max(), Hhat.max())
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8, label="Ĥ = H")
    ax.set(xlabel="true energy H", ylabel="learned energy Ĥ + c",
           title=f"learned vs true energy (NRMSE {metrics['hnn_learned_energy_nrmse']:.1e})")
    ax.legend(fontsize=7)

    ax = axes[1]  # the true energy along each rollout
    for kind in ("true", "hnn", "baseline"):
        for i, H_i in enumerate(curves[f"H_{kind}"]):
            ax.plot(t, H_i, **{**_STYLE[kind], "label": _STYLE[kind]["label"] if i == 0 else None})
    ax.set(xlabel="time t", ylabel="true energy H(x(t))",
           title=f"energy along rollouts (MSE: HNN {metrics['hnn_energy_mse']:.1e}, "
                 f"baseline {metrics['baseline_energy_mse']:.1e})")
    ax.legend(fontsize=7)

    ax = axes[2]  # phase portrait (pendulums) or orbit (two bodies)
    n = run.system.n_dof
    i, j, labels = (0, 1, ("q_x", "q_y")) if n == 2 else (0, 1, ("angle q", "momentum p"))
    for kind in ("true", "hnn", "baseline"):
        for r, x in enumerate(curves[kind]):
            ax.plot(x[:, i], x[:, j], **{**_STYLE[kind], "label": _STYLE[kind]["label"] if r == 0 else None})
    if n == 2:
        ax.plot([0], [0], "k+", ms=8)
        ax.set_aspect("equal", adjustable="datalim")
    ax.set(xlabel=labels[0], ylabel=labels[1],
           title="relative orbits q = r2 - r1" if n == 2 else "phase portrait")
    ax.legend(fontsize=7)

    title = (f"{run.name}: {run.system!r} -- field error on test states: HNN "
             f"{metrics['hnn_field_error']:.1e}, baseline {metrics['baseline_field_error']:.1e}")
    if "hnn_field_error_vs_conservative" in metrics:
        title += (f"\nthe HNN cannot dissipate: it learns H + beta q p, beta = "
                  f"{metrics['hnn_squeeze_over_friction']:.2f} gamma (field error vs that "
                  f"{metrics['hnn_field_error_vs_conservative_plus_squeeze']:.1e}, vs H alone "
                  f"{metrics['hnn_field_error_vs_conservative']:.1e}); H(t_end)/H(0): truth "
                  f"{metrics['energy_ratio_end_true']:.2f}, HNN {metrics['energy_ratio_end_hnn']:.2f}")
    fig.suptitle(title, fontsize=9)
    save_png(fig, folder, f"system_{run.name}.png")
    plt.close(fig)
