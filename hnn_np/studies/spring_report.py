"""The spring studies' figures and tables, and the run that makes them all.

:func:`make_spring_studies` runs the four studies of
:mod:`hnn_np.studies.spring`, saves their metrics, and draws one figure per
study and the markdown tables from the results.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict

import numpy as np

from .. import evaluate as E
from ..io import save_json, save_text
from ..paper import experiments as X
from ..plotting import pyplot, save_png
from .spring import FULL, PERIOD, QUICK, SPRING, study_derivatives, study_long_rollouts, study_noise, study_radius
from .targets import stencil_bias

__all__ = ["make_spring_studies", "spring_tables"]


# --- figures --------------------------------------------------------------------------

def fig_long_rollouts(folder, s1):
    """Energy against time (one state, then all) and the phase portraits of the last period."""
    plt = pyplot()
    ro = s1["rollout"]
    t, x_true = ro["t"], ro["x_true"]
    colors = {"HNN": "C0", "baseline": "C3", "exact field": "0.5"}
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5))
    b = int(np.argmax(SPRING.energy(x_true[:, 0])))  # the largest orbit
    ax = axes[0, 0]
    ax.plot(t, SPRING.energy(x_true[b]), color="k", lw=2.5, label="true (closed form)")
    for name in ("HNN", "baseline"):
        ax.plot(t, SPRING.energy(ro["x"][name][b]), color=colors[name], lw=1, label=name)
    ax.ticklabel_format(useOffset=False)
    ax.set(xlabel="time t", ylabel="energy H(x(t))", title=f"energy of rollout {b} (largest orbit)")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    for name, x in ro["x"].items():
        H = SPRING.energy(x.reshape(-1, 2)).reshape(x.shape[:2])
        rel = np.abs(H - SPRING.energy(x_true[:, 0])[:, None]) / SPRING.energy(x_true[:, 0])[:, None]
        label = name + (" (DOP853 floor)" if name == "exact field" else "")
        for i, r in enumerate(rel):  # from t_1 on: at t_0 = 0 every error is 0
            ax.semilogy(t[1:], np.maximum(r[1:], 1e-17), color=colors[name], lw=0.8, alpha=0.8,
                        ls=":" if name == "exact field" else "-", label=label if i == 0 else None)
    ax.set(xlabel="time t", ylabel="|H(x̂(t)) − H(x(0))| / H(x(0))",
           title=f"relative energy error, {len(x_true)} test states")
    ax.legend(fontsize=7)
    T = x_true.shape[1]
    last = slice(T - (T - 1) // s1["metrics"]["periods"] - 1, T)  # the last period
    orbits = SPRING.exact_solution(x_true[:, 0], np.linspace(0.0, PERIOD, 200))  # (B, 200, 2)
    for ax, name in zip(axes[1], ("HNN", "baseline")):
        for i in range(len(x_true)):
            ax.plot(orbits[i, :, 0], orbits[i, :, 1], color="k", lw=2.5, alpha=0.3,
                    label="true orbit" if i == 0 else None)
            ax.plot(ro["x"][name][i, last, 0], ro["x"][name][i, last, 1], ".", ms=3, color=colors[name],
                    label=f"{name}, last period" if i == 0 else None)
        m = ro["metrics"][name]
        ax.set(xlabel="position q", ylabel="momentum p", aspect="equal",
               title=f"{name}: phase portrait at t ≈ {t[-1]:.0f}, "
                     f"‖x̂−x‖/‖x0‖ ≤ {m['rel_state_last']:.1e}")
        ax.legend(fontsize=7)
    fig.suptitle(f"HNN vs baseline MLP, rolled out for {s1['metrics']['periods']} periods with DOP853 "
                 f"(rtol {s1['metrics']['rtol']:g})")
    fig.tight_layout()
    save_png(fig, folder, "spring1_long_rollouts.png")


def fig_radius(folder, s2):
    plt = pyplot()
    from matplotlib.colors import LogNorm

    grids = s2["grids"]
    radii = list(grids)
    fig, axes = plt.subplots(1, len(radii), figsize=(4.6 * len(radii), 4.2), layout="constrained",
                             squeeze=False)
    vals = np.concatenate([g["field"][np.isfinite(g["field"])] for g in grids.values()])
    norm = LogNorm(vmin=max(vals.min(), 1e-12), vmax=max(vals.max(), 1e-11))
    for ax, R in zip(axes[0], radii):
        g = grids[R]
        m = s2["metrics"]["radii"][f"{R:g}"]
        im = ax.pcolormesh(g["q"], g["p"], np.maximum(g["field"], 1e-12), norm=norm, cmap="viridis",
                           shading="auto")
        ax.set(xlabel="position q", ylabel="momentum p", aspect="equal",
               title=f"R = {R:g}: ≤1e-3 {100 * m['grid_field_within_0.001']:.1f} %, "
                     f"≤5e-4 {100 * m['grid_field_within_0.0005']:.1f} %\n"
                     f"median {m['grid_field_median']:.1e}")
    fig.colorbar(im, ax=axes[0].tolist(), label="‖Ŝ − S‖ / ‖S‖")
    fig.suptitle("Best recipe at three radii, each graded on its own grid over [-R, R]²")
    save_png(fig, folder, "spring2_radius.png")


def fig_derivatives(folder, s3, small_grid_n):
    plt = pyplot()
    rows = s3["metrics"]["rows"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    ax = axes[0]
    dts = np.array(sorted({r["dt"] for r in rows}))
    dense = np.geomspace(dts.min() / 1.3, dts.max() * 1.3, 100)
    for i, order in enumerate(sorted({r["order"] for r in rows if r["order"]})):
        sel = sorted((r for r in rows if r["order"] == order), key=lambda r: r["dt"])
        c = f"C{i}"
        ax.loglog(dense, stencil_bias(order, SPRING.omega * dense), color=c, lw=1,
                  label=f"order {order}: |1 − ρ(ω dt)| ∝ dt^{order}")
        ax.loglog([r["dt"] for r in sel], [r["target_error_median"] for r in sel], "x", color=c, ms=7,
                  label=f"order {order}: targets (median)")
        ax.loglog([r["dt"] for r in sel], [r["grid_field_median"] for r in sel], "o", color=c, mfc="none",
                  ms=8, label=f"order {order}: learned field, grid median")
    sel = sorted((r for r in rows if r["order"] is None), key=lambda r: r["dt"])
    ax.loglog([r["dt"] for r in sel], [r["grid_field_median"] for r in sel], "s--", color="k", mfc="none",
              label="analytic targets: learned field (the model's floor)")
    for tol in E.TOLERANCES:
        ax.axhline(tol, color="0.6", ls=":", lw=0.8)
    ax.set(xlabel="observation spacing dt = 2π / n_obs", ylabel="relative error",
           title="target error and learned-field error against dt")
    ax.legend(fontsize=6)
    ax = axes[1]
    labels = [r["derivative"] for r in rows if r["n_obs"] == rows[0]["n_obs"]]
    n_obs = sorted({r["n_obs"] for r in rows})
    width = 0.8 / len(n_obs)
    for j, n in enumerate(n_obs):
        vals = [next(r for r in rows if r["n_obs"] == n and r["derivative"] == lab) for lab in labels]
        xs = np.arange(len(labels)) + (j - (len(n_obs) - 1) / 2) * width
        ax.bar(xs, [100 * v["grid_field_within_0.001"] for v in vals], width * 0.95, color=f"C{j}",
               alpha=0.4, label=f"n_obs = {n}: ≤ 1e-3")
        ax.bar(xs, [100 * v["grid_field_within_0.0005"] for v in vals], width * 0.6, color=f"C{j}",
               label=f"n_obs = {n}: ≤ 5e-4")
    ax.set_xticks(np.arange(len(labels)), labels)
    ax.set(ylabel=f"% of the {small_grid_n}² grid", title="grid fraction within the tolerances")
    ax.legend(fontsize=6)
    fig.suptitle("Targets from central differences of order 2, 4, 6 (random features + least squares)")
    fig.tight_layout()
    save_png(fig, folder, "spring3_derivatives.png")


def fig_noise(folder, s4):
    plt = pyplot()
    levels = list(s4["arrays"])
    fig, axes = plt.subplots(2, len(levels), figsize=(5.5 * len(levels), 8), squeeze=False)
    for j, key in enumerate(levels):
        m = s4["metrics"]["levels"][key]
        a = s4["arrays"][key]
        ax = axes[0, j]
        for kind, c in (("hnn", "C0"), ("baseline", "C3")):
            h = a["history"][kind]
            if h.size:
                w = max(1, h.size // 50)
                smooth = np.convolve(h, np.ones(w) / w, mode="valid")
                ax.semilogy(np.arange(w, h.size + 1), smooth, color=c, lw=1, label=f"{kind}: batch loss")
            ax.plot([max(h.size, 1)], [m[kind]["train_loss"]], "o", color=c,
                    label=f"{kind}: after the exact output layer")
        ax.axhline(m["hnn"]["noise_floor"], color="k", ls="--", lw=1, label="noise floor (true field)")
        ax.set(xlabel="Adam step", ylabel="relative training loss",
               title=f"σ = {m['hnn']['sigma']:g} (σ/R = {key})")
        ax.legend(fontsize=7)
        ax = axes[1, j]
        ro = a["rollout"]
        H0 = SPRING.energy(ro["x_true"][:, 0])[:, None]
        for name, c in (("HNN", "C0"), ("baseline", "C3")):
            x = ro["x"][name]
            rel = np.abs(SPRING.energy(x.reshape(-1, 2)).reshape(x.shape[:2]) - H0) / H0
            for i, r in enumerate(rel):
                ax.semilogy(ro["t"][1:], np.maximum(r[1:], 1e-17), color=c, lw=0.8,
                            label=name if i == 0 else None)
        ax.set(xlabel="time t", ylabel="|H(x̂(t)) − H(x(0))| / H(x(0))",
               title=f"rollouts from {len(H0)} clean test states")
        ax.legend(fontsize=7)
    fig.suptitle("Noisy inputs: training loss against the noise floor, and energy over rollouts")
    fig.tight_layout()
    save_png(fig, folder, "spring4_noise.png")


# --- tables ---------------------------------------------------------------------------

def _pct(x):
    return f"{100 * x:.2f} %"


def spring_tables(summary) -> str:
    """The Markdown tables of the four studies, from :func:`make_spring_studies`' summary."""
    out = []
    s1 = summary["long_rollouts"]
    out.append(f"**1. Long rollouts** ({s1['recipe']}; {s1['n_states']} test states, "
               f"{s1['periods']} periods, t_end = {s1['rollouts']['HNN']['t_end']:.0f}, DOP853 rtol "
               f"{s1['rtol']:g})\n")
    out.append("| field | energy MSE | relative energy MSE | max rel. energy error | mean rel. energy error, "
               "first / last 10 % of t | state MSE | max ‖x̂−x‖/‖x₀‖ at t_end | grid ≤ 1e-3 | "
               "grid ≤ 5e-4 |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for name, m in s1["rollouts"].items():
        g = s1["grid"].get(name)
        grid = (f"{_pct(g['grid_field_within_0.001'])} | {_pct(g['grid_field_within_0.0005'])}" if g
                else "— | —")
        out.append(f"| {name} | {m['energy_mse']:.2e} | {m['rel_energy_mse']:.2e} | "
                   f"{m['rel_energy_max']:.2e} | {m['rel_energy_first']:.1e} / {m['rel_energy_last']:.1e} | "
                   f"{m['state_mse']:.2e} | "
                   f"{m['rel_state_last']:.1e} | {grid} |")
    s2 = summary["radius"]
    out.append(f"\n**2. Radius** ({s2['recipe']}; each graded on its own grid over [-R, R]²)\n")
    out.append("| R | scale s | grid ≤ 1e-3 | ≤ 5e-4 | median | 99th pct. | "
               "max energy error, test traj. | max \\|x/s − x₁₀₀/s₁₀₀\\| |")
    out.append("|---|---|---|---|---|---|---|---|")
    for R, m in s2["radii"].items():
        out.append(f"| {R} | {m['scale']:.4g} | {_pct(m['grid_field_within_0.001'])} | "
                   f"{_pct(m['grid_field_within_0.0005'])} | {m['grid_field_median']:.2e} | "
                   f"{m['grid_field_p99']:.2e} | {m['traj_energy_max']:.1e} | "
                   f"{m['normalized_inputs_max_diff']:.1e} |")
    s3 = summary["derivatives"]
    out.append(f"\n**3. Numerical derivatives** ({s3['recipe']})\n")
    out.append("| targets | n_obs | dt | target error, closed form | target error, median | grid ≤ 1e-3 | "
               "≤ 5e-4 | grid median |")
    out.append("|---|---|---|---|---|---|---|---|")
    for r in s3["rows"]:
        out.append(f"| {r['derivative']} | {r['n_obs']} | {r['dt']:.4f} | "
                   f"{r['target_error_closed_form']:.1e} | "
                   f"{r['target_error_median']:.1e} | {_pct(r['grid_field_within_0.001'])} | "
                   f"{_pct(r['grid_field_within_0.0005'])} | {r['grid_field_median']:.1e} |")
    s4 = summary["noise"]
    out.append(f"\n**4. Noisy inputs** (R = {s4['radius']:g}; {s4['recipe']})\n")
    out.append("| σ / R | model | training loss | noise floor | loss / floor | best linear field's loss | "
               "clean test loss | grid median | energy MSE | relative energy MSE | max rel. energy error |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for key, lv in s4["levels"].items():
        for kind in ("hnn", "baseline"):
            m = lv[kind]
            ro = m["rollout"]
            out.append(f"| {key} | {kind} | {m['train_loss']:.2e} | {m['noise_floor']:.2e} | "
                       f"{m['loss_over_floor']:.3f} | {m['linear_fit_loss']:.2e} | "
                       f"{m['clean_test_loss']:.2e} | "
                       f"{m['grid_field_median']:.1e} | "
                       f"{ro['energy_mse']:.2e} | {ro['rel_energy_mse']:.2e} | {ro['rel_energy_max']:.2e} |")
    return "\n".join(out) + "\n"


def make_spring_studies(folder="figures/studies", runs="runs/studies", quick=False, log=print) -> dict:
    """Run the four studies; write their figures, ``spring.json`` and ``spring.md`` into ``folder``.

    Parameters
    ----------
    folder : path
        Where the PNGs, ``spring.json`` and ``spring.md`` go.
    runs : path or None
        Where the trained models go (``runs/NAME/model.npz``, ``metrics.json``).
    quick : bool
        :data:`QUICK` sizes (a small network, few steps, small grids, 3
        periods): the pipeline in seconds, not the results.
    log : callable
        Receives one progress line at a time.

    Returns
    -------
    dict
        The summary written to ``spring.json``.
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise ValueError(f"folder must be a path; got {folder!r}")
    if runs is not None and not isinstance(runs, (str, os.PathLike)):
        raise ValueError(f"runs must be a path or None; got {runs!r}")
    if not isinstance(quick, bool):
        raise ValueError(f"quick must be True or False; got {quick!r}")
    if not callable(log):
        raise ValueError(f"log must be callable; got {log!r}")
    cfg = (QUICK if quick else FULL).validate()
    t_start = time.perf_counter()
    os.makedirs(folder, exist_ok=True)
    summary, seconds = dict(quick=quick, config=X.jsonable(asdict(cfg))), {}

    t0 = time.perf_counter()
    s1 = study_long_rollouts(cfg, runs, log)
    seconds["long_rollouts"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    s2 = study_radius(cfg, runs, log, reuse={100.0: s1["runs"]["hnn"]} if 100.0 in cfg.radii else None)
    seconds["radius"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    s3 = study_derivatives(cfg, runs, log)
    seconds["derivatives"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    s4 = study_noise(cfg, runs, log)
    seconds["noise"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    fig_long_rollouts(folder, s1)
    fig_radius(folder, s2)
    fig_derivatives(folder, s3, cfg.small_grid_n)
    fig_noise(folder, s4)
    seconds["figures"] = time.perf_counter() - t0
    summary.update(long_rollouts=s1["metrics"], radius=s2["metrics"], derivatives=s3["metrics"],
                   noise=s4["metrics"], seconds=dict(seconds, total=time.perf_counter() - t_start))
    save_json(os.path.join(folder, "spring.json"), summary)
    save_text(os.path.join(folder, "spring.md"), spring_tables(summary))
    log(f"spring studies written to {folder}/ in {summary['seconds']['total']:.0f} s")
    return summary
