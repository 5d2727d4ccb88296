"""Every figure of the paper, drawn from saved models, datasets and metrics.

:func:`make_figures` is what ``make figures`` runs: it (re)trains every
experiment of :mod:`hnn_np.paper.experiments` into ``runs/``, then draws from what
was saved there. Plotting never happens inside training code. Files written
into the figures folder:

======================================  ===========================================
fig2_trajectories.png                   five spring trajectories, t in [0, 2], dt = 0.1
fig3_integrators.png                    RK45 vs DOP853: trajectory and energy (Sec. 4.1)
fig4_energy_error_trajectories.png      relative energy error along test trajectories (4.2)
fig5_grid_error_2d.png                  meshgrid relative errors in 2-D (4.2)
fig6_grid_error_3d.png                  the energy error as a 3-D surface (4.2)
fig7_data.png                           training and test data (4.3, 4.4)
fig8_masks_normalized_analytic.png      tolerance masks at 1e-3 and 5e-4 (4.3)
fig9_masks_normalized_numerical.png     the same from numerical derivatives (4.4)
fig10_masks_best.png                    the same for our best-analytic and best-numerical
fig11_training_curves.png               train and test loss of every run
metrics.json                            all metrics, one entry per experiment
metrics.md                              the README's results table
======================================  ===========================================

A second ``make figures`` replaces them all, as a set, when it ends
(:class:`hnn_np.outputs.RunFolder`); until then, and if it fails, the
folder keeps the earlier set. The experiments' folders ``runs/NAME`` are
replaced the same way.
"""

from __future__ import annotations

import os
import time

import numpy as np

from .. import data as D
from .. import evaluate as E
from ..io import save_json, save_text
from ..model import load_model
from ..npz import read_npz
from ..outputs import RunFolder
from ..plotting import pyplot, save_png
from . import experiments as X

__all__ = ["make_figures", "draw_all", "metrics_table", "FILES"]

PAPER_RUNS = ("raw-analytic", "normalized-analytic", "normalized-numerical", "baseline")
BEST_RUNS = ("best-analytic", "best-numerical")
FILES = ("fig2_trajectories.png", "fig3_integrators.png", "fig4_energy_error_trajectories.png",
         "fig5_grid_error_2d.png", "fig6_grid_error_3d.png", "fig7_data.png", "fig8_masks_normalized_analytic.png",
         "fig9_masks_normalized_numerical.png", "fig10_masks_best.png", "fig11_training_curves.png",
         "metrics.json", "metrics.md")  # the table above


def fig2_trajectories(folder):
    plt = pyplot()
    rng = np.random.default_rng(2)
    x0s, _ = D.sample_initial_states(X.SPRING, 5, rng, radius=X.RADIUS)
    t = np.arange(0.0, 2.0 + 1e-9, 0.1)
    xs = D.trajectories(X.SPRING, x0s, t)  # (5, T, 2)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for i, x in enumerate(xs):
        ax.plot(x[:, 0], x[:, 1], "o-", ms=3, lw=1, label=f"trajectory {i}")
    ax.set(xlabel="position q", ylabel="momentum p",
           title="Fig. 2: five spring trajectories, t in [0, 2], dt = 0.1 (k = m = 2)")
    ax.legend(fontsize=7)
    save_png(fig, folder, "fig2_trajectories.png")


def fig3_integrators(folder, comp):
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(9, 6.5))
    for row, method in enumerate(("RK45", "DOP853")):
        r = comp[method]
        axes[row, 0].plot(r["x"][:, 0], r["x"][:, 1], lw=1)
        axes[row, 0].set(xlabel="position q", ylabel="momentum p",
                         title=f"{method} (rtol={r['rtol']:g}, atol={r['atol']:g}): trajectory")
        axes[row, 1].plot(comp["t"], r["H"], lw=1)
        axes[row, 1].axhline(comp["H0"], color="k", ls=":", lw=0.8, label="H(x0)")
        axes[row, 1].set(xlabel="time t", ylabel="energy H = kq²/2 + p²/2m",
                         title=f"{method}: energy, max relative drift {r['drift']:.1e}")
        axes[row, 1].ticklabel_format(useOffset=False)
        axes[row, 1].legend(fontsize=7)
    fig.suptitle("Fig. 3: RK45 (top) and DOP853 (bottom) on the same spring trajectory")
    fig.tight_layout()
    save_png(fig, folder, "fig3_integrators.png")


def fig4_energy_error(folder, runs):
    plt = pyplot()
    from matplotlib.colors import LogNorm

    model = load_model(os.path.join(runs, "raw-analytic", "model.npz"))
    test = D.load_dataset(os.path.join(runs, "raw-analytic", "test.npz"))
    B = len(np.unique(test.traj))
    err = E.trajectory_energy_error(model, X.SPRING, test.x.reshape(B, -1, 2))
    fig, ax = plt.subplots(figsize=(7, 5))
    im = ax.imshow(np.maximum(err, 1e-12), aspect="auto", norm=LogNorm(), cmap="viridis",
                   origin="lower")
    fig.colorbar(im, ax=ax, label="relative energy error |Ĥ − H| / H")
    ax.set(xlabel="observation along the trajectory (index, dt = 2π/50)",
           ylabel="test trajectory (index)",
           title="Fig. 4: relative energy error along the test trajectories (raw data, Sec. 4.2)")
    save_png(fig, folder, "fig4_energy_error_trajectories.png")


def _grid(runs, name):
    """The meshgrid errors that :func:`hnn_np.experiments.run_experiment` saved."""
    return read_npz(os.path.join(runs, name, "grid.npz"), "grid file")


def fig5_fig6_grid(folder, runs):
    plt = pyplot()
    from matplotlib.colors import LogNorm

    g = _grid(runs, "raw-analytic")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
    for ax, key, label in ((axes[0], "energy", "|Ĥ − H| / H"), (axes[1], "field", "‖Ŝ − S‖ / ‖S‖")):
        im = ax.pcolormesh(g["q"], g["p"], np.maximum(g[key], 1e-12), norm=LogNorm(),
                           cmap="viridis", shading="auto")
        fig.colorbar(im, ax=ax, label=f"relative error {label}")
        ax.set(xlabel="position q", ylabel="momentum p", aspect="equal",
               title=f"{'energy' if key == 'energy' else 'vector field'} error on the grid")
    fig.suptitle("Fig. 5: relative error on the 201 × 201 meshgrid over [-100, 100]² (raw data)")
    save_png(fig, folder, "fig5_grid_error_2d.png")

    fig = plt.figure(figsize=(7, 5.5))
    ax = fig.add_subplot(projection="3d")
    log_err = np.log10(np.maximum(g["energy"], 1e-12))
    surf = ax.plot_surface(g["q"], g["p"], np.nan_to_num(log_err, nan=np.nanmax(log_err)),
                           cmap="viridis", linewidth=0, antialiased=False, rstride=2, cstride=2)
    fig.colorbar(surf, ax=ax, shrink=0.6, label="log10 relative energy error")
    ax.set(xlabel="position q", ylabel="momentum p", zlabel="log10 |Ĥ − H| / H",
           title="Fig. 6: relative energy error on the meshgrid, 3-D (raw data)")
    save_png(fig, folder, "fig6_grid_error_3d.png")


def fig7_data(folder, runs):
    plt = pyplot()
    tr = D.load_dataset(os.path.join(runs, "normalized-analytic", "train.npz"))
    te = D.load_dataset(os.path.join(runs, "normalized-analytic", "test.npz"))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), sharex=True, sharey=True)
    for ax, ds, name in ((axes[0], tr, "training"), (axes[1], te, "test")):
        sc = ax.scatter(ds.x[:, 0], ds.x[:, 1], c=ds.energy, s=2, cmap="plasma")
        fig.colorbar(sc, ax=ax, label="energy H")
        ax.set(xlabel="position q", ylabel="momentum p",
               title=f"{name}: {len(np.unique(ds.traj))} trajectories × {len(ds.t)} observations")
    fig.suptitle("Fig. 7: training and test data of Secs. 4.3 and 4.4 (physical units)")
    fig.tight_layout()
    save_png(fig, folder, "fig7_data.png")


def _masks(folder, runs, names, filename, title):
    """White where a signed component error (S_hat_i - S_i)/||S|| leaves [-tol, tol] (paper, Fig. 8)."""
    plt = pyplot()
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap(["white", "tab:blue"])
    fig, axes = plt.subplots(len(names), 2, figsize=(10, 4.6 * len(names)), squeeze=False,
                             layout="constrained")
    for row, name in enumerate(names):
        g = _grid(runs, name)
        signed = np.maximum(np.abs(g["field_q"]), np.abs(g["field_p"]))
        valid = np.isfinite(signed)
        for col, tol in enumerate(E.TOLERANCES):
            inside = signed <= tol
            ax = axes[row, col]
            im = ax.pcolormesh(g["q"], g["p"], inside.astype(float), cmap=cmap, vmin=0, vmax=1,
                               shading="auto")
            cb = fig.colorbar(im, ax=ax, ticks=[0.25, 0.75], shrink=0.8)
            cb.ax.set_yticklabels(["outside", "within"])
            ax.set(xlabel="position q", ylabel="momentum p", aspect="equal",
                   title=f"{name}: tolerance ±{tol:g}\n"
                         f"components within: {100 * inside[valid].mean():.2f} %, "
                         f"‖Ŝ−S‖/‖S‖ within: {100 * np.mean(g['field'][valid] <= tol):.2f} %")
    fig.suptitle(title + "\nsigned relative field error (Ŝ_i − S_i)/‖S‖ of both components; "
                 "white = outside the tolerance")
    save_png(fig, folder, filename)


def fig11_training_curves(folder, runs, names):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for i, name in enumerate(names):
        h = load_model(os.path.join(runs, name, "model.npz")).history
        step, loss = h["step"], h["train_loss"]
        k = max(1, len(loss) // 400)  # a running mean over k steps for legibility
        smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
        ax.semilogy(step[k - 1:], smooth, color=f"C{i}", lw=1, label=f"{name} (train)")
        if h["test_step"].size:
            ax.semilogy(h["test_step"], h["test_loss"], color=f"C{i}", ls="--", lw=1,
                        label=f"{name} (test)")
    ax.set(xlabel="training step", ylabel="loss (scaled units)",
           title="Training curves: train (running mean) and test loss")
    ax.legend(fontsize=7, ncol=2)
    save_png(fig, folder, "fig11_training_curves.png")


def draw_all(folder="figures", runs="runs", comp=None):
    """Draw every figure from what :func:`make_figures` saved in ``runs``."""
    os.makedirs(folder, exist_ok=True)
    comp = X.integrator_comparison() if comp is None else comp
    fig2_trajectories(folder)
    fig3_integrators(folder, comp)
    fig4_energy_error(folder, runs)
    fig5_fig6_grid(folder, runs)
    fig7_data(folder, runs)
    _masks(folder, runs, ["normalized-analytic"], "fig8_masks_normalized_analytic.png",
           "Fig. 8: tolerance masks, normalized data with analytic derivatives (Sec. 4.3)")
    _masks(folder, runs, ["normalized-numerical"], "fig9_masks_normalized_numerical.png",
           "Fig. 9: tolerance masks, normalized data with 2nd-order numerical derivatives (Sec. 4.4)")
    _masks(folder, runs, list(BEST_RUNS), "fig10_masks_best.png",
           "Ours: tolerance masks of best-analytic (top) and best-numerical (bottom)")
    fig11_training_curves(folder, runs, PAPER_RUNS + BEST_RUNS)


def metrics_table(summary) -> str:
    """The README's results table (Markdown) from :func:`make_figures`' summary."""
    head = ("| experiment | grid ‖Ŝ−S‖/‖S‖ ≤ 1e-3 | ≤ 5e-4 | median | 99th pct. | "
            "max energy error on test trajectories | train time |\n|---|---|---|---|---|---|---|\n")
    rows = []
    for name in PAPER_RUNS + BEST_RUNS:
        m = summary[name]
        energy = f"{m['traj_energy_max']:.1e}" if "traj_energy_max" in m else "— (no energy)"
        rows.append(f"| `{name}` | {100 * m['grid_field_within_0.001']:.2f} % | "
                    f"{100 * m['grid_field_within_0.0005']:.2f} % | {m['grid_field_median']:.1e} | "
                    f"{m['grid_field_p99']:.1e} | {energy} | {m['train_seconds']:.0f} s |")
    return head + "\n".join(rows) + "\n"


def _run_one(name, runs, quick, progress):
    t0 = time.perf_counter()
    _, metrics = X.run_experiment(name, runs, quick=quick, progress=progress, overwrite=True)
    return name, metrics, time.perf_counter() - t0


def make_figures(folder="figures", runs="runs", quick=False, progress=None, log=print, jobs=2):
    """Train every experiment, evaluate it, and draw every figure.

    With ``jobs > 1`` the experiments train in that many worker processes,
    each limited to one BLAS thread: on a small machine two single-threaded
    trainings finish sooner than two in a row with two BLAS threads each
    (at batch 64 the products are too small to split well, and OpenBLAS's
    threads spin-wait badly when another process holds a core). Results
    are bit-for-bit reproducible for a given ``jobs``.

    Returns the combined metrics (also written to ``folder/metrics.json``).
    """
    with RunFolder(folder, FILES, overwrite=True, what="figures folder") as run:
        return _make_figures(run, runs, quick, progress, log, jobs)


def _make_figures(run, runs, quick, progress, log, jobs):
    t_start = time.perf_counter()
    comp = X.integrator_comparison()
    summary = {"integrators": {m: {"relative_energy_drift": comp[m]["drift"], "nfev": comp[m]["nfev"],
                                   "rtol": comp[m]["rtol"], "atol": comp[m]["atol"]}
                               for m in ("RK45", "DOP853")}}
    summary["integrators"]["H0"] = comp["H0"]
    names = PAPER_RUNS + BEST_RUNS

    def report(name, metrics, seconds):
        summary[name] = metrics
        log(f"{name:22s} {seconds:7.1f} s   grid within 1e-3: "
            f"{100 * metrics['grid_field_within_0.001']:6.2f} %   within 5e-4: "
            f"{100 * metrics['grid_field_within_0.0005']:6.2f} %")

    if jobs > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        saved = {k: os.environ.get(k) for k in _THREAD_VARS}
        os.environ.update({k: "1" for k in _THREAD_VARS})  # read by the workers' BLAS at start-up
        try:
            with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
                futures = [pool.submit(_run_one, name, runs, quick, False) for name in names]
                for fut in futures:
                    report(*fut.result())
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    else:
        for name in names:
            report(*_run_one(name, runs, quick, progress))
    draw_all(run.stage, runs, comp)
    summary["quick"] = bool(quick)
    summary["jobs"] = int(jobs)
    summary["seconds"] = time.perf_counter() - t_start
    save_json(run.path("metrics.json"), summary)
    save_text(run.path("metrics.md"), metrics_table(summary))
    log(f"figures written to {run.folder}/ in {summary['seconds']:.0f} s")
    return summary


_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
