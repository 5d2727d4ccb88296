r"""Poincaré sections of the Hénon–Heiles system: the true flow against a learned HNN's.

System: :class:`~hnn_np.systems.HenonHeiles`, state (x, y, p_x, p_y),

    H = (p_x^2 + p_y^2) / 2 + (x^2 + y^2) / 2 + x^2 y - y^3 / 3,

bound below the escape energy 1/6. On the shell E = 1/12 the motion is mostly
regular (invariant tori: closed curves on the section), on E = 1/8 mostly
chaotic (a sea of scattered points around a few islands).

The section. Each orbit is cut by the plane x = 0 where x increases
(p_x > 0 for the true flow, where dx/dt = p_x), and the crossings are drawn
in the (y, p_y) plane (:func:`hnn_np.studies.sections.section_points`,
the one function that finds crossings: the upward zeros of the event
g = x of :func:`hnn_np.integrate.solve_ivp`). Initial states
(:func:`section_starts`) lie on the section itself: (y, p_y) on the line
p_y = 0 and on the line y = 0 (p_y > 0), evenly inside the section's region
p_y^2 + 2 V(0, y) <= 2 E, with p_x = sqrt(2 E - p_y^2 - 2 V(0, y)) >= 0.
Both flows start from the same states.

The learned flow. An HNN trained on exact derivatives at states of the
microcanonical law on shells E ~ U[:data:`ENERGY_RANGE`] (a margin around
both energies; :meth:`HenonHeiles.shell_states`), with the package's recipe
(:data:`TRAIN`: inputs scaled into the unit ball, float64, relative loss,
cosine decay, then the exact least-squares output layer), integrated from
the same initial states with the same DOP853 tolerances.

How well the sections agree (:func:`~hnn_np.studies.sections.section_distance`). Single orbits of a
chaotic flow diverge, so points are compared as sets, not in time order. For
each initial state, with P the true crossings and Q the learned ones in the
(y, p_y) plane,

    d(P, Q) = [ mean_i min_j |P_i - Q_j| + mean_j min_i |Q_j - P_i| ] / (2 L)

the symmetric mean nearest-neighbour (chamfer) distance, relative to the
section's width L = y_max - y_min. It is 0 for equal sets and stays small
when both orbits trace the same torus or fill the same part of the sea, at
any phase. Because a finite set samples its curve or area with gaps, d has a
floor: d_floor = d(P, P') with P' the crossings of the same true orbit over
the next interval [T, 2T], two samples of one invariant set. d / d_floor
near 1 means the learned section is as close as the true flow is to itself.

Regular or chaotic (:func:`~hnn_np.studies.sections.separation_growth`). The orbit from y0 and from
y0 moved by delta = 1e-8 in y are integrated side by side; the growth
G = max_t |x'(t) - x(t)| / delta over [0, T] is polynomial on a torus and
exponential in the sea. The orbit is called chaotic when G > 1e4 (on the
true flow at E = 1/8 the two groups lie orders of magnitude either side of
it). Reported: the share called chaotic by each flow, and the share of
initial states on which both flows agree.

The measured numbers, and what they show, are in ``docs/studies.md`` (item 6).
"""

from __future__ import annotations

import os
import time

import numpy as np

from ..evaluate import field_errors
from ..io import save_json, save_npz
from ..npz import read_npz
from ..outputs import RunFolder
from ..plotting import pyplot, save_png
from ..systems import HenonHeiles
from ..train import TrainConfig, fit
from .sections import CHAOTIC_GROWTH, section_distance, section_points, separation_growth

__all__ = ["SYSTEM", "ENERGIES", "ENERGY_RANGE", "TRAIN", "QUICK", "section_points", "section_starts",
           "section_distance", "separation_growth", "training_states", "held_out_states", "learned_flow",
           "compare_sections", "run_henon_heiles", "draw_henon_heiles", "henon_heiles_table"]

SYSTEM = HenonHeiles()
ENERGIES = {"1/12": 1.0 / 12.0, "1/8": 1.0 / 8.0}  # mostly regular, mostly chaotic
ENERGY_RANGE = (0.05, 0.15)  # the training shells: both energies and a margin, below 1/6
TOL = 1e-11  # rtol = atol of every integration of the full run, true and learned
_TEST_TAG = 7919  # the test stream is default_rng([seed, _TEST_TAG]); training uses [seed, 1]
FILES = ("model.npz", "metrics.json", "sections.npz", "henon_heiles.png")  # out/henon-heiles/
# One hidden layer of 800: the exact output layer on 800 tanh features fits this field to ~3e-7 in
# 4000 Adam steps (docs/studies.md); two layers of 200 stop near 1e-3, of 400 near 5e-5. 10000
# states do as well as 20000 (2.3e-7 against 2.1e-7) with half the memory of the refit (1.7 GB).
TRAIN = dict(sizes=(4, 800, 1), lr=3e-3, batch_size=256, steps=4000, finetune_steps=0, schedule="cosine",
             lr_min=1e-6, loss_weighting="relative", normalize=True, refit_output=True, eval_every=1000,
             dtype="float64")
RUN = dict(n=10000, n_test=2000, n_line=12, t_end=2000.0, tol=TOL)  # states, test states per shell, starts, T
QUICK = dict(n=400, n_test=200, n_line=2, t_end=40.0, tol=1e-8, sizes=(4, 16, 1), steps=30, batch_size=64)


def section_starts(energy, n_line, system=SYSTEM, margin=0.05):
    """Initial states on the section x = 0 (p_x >= 0) at energy E; -> (n_line + n_line // 2, 4).

    ``n_line`` points on the line p_y = 0 with y evenly inside (y_min, y_max)
    (cell centres of the interval shrunk by ``margin`` of its width at each
    end), then ``n_line // 2`` on the line y = 0 with p_y evenly in
    (0, sqrt(2 E)) the same way; p_x = sqrt(2 E - p_y^2 - 2 V(0, y)).
    """
    if isinstance(n_line, bool) or not isinstance(n_line, (int, np.integer)) or n_line < 1:
        raise ValueError(f"n_line must be an integer >= 1; got {n_line!r}")
    lo, hi = system.section_bounds(energy)

    def centres(a, b, n):
        w = (b - a) * (1 - 2 * margin)
        return a + (b - a) * margin + w * (np.arange(n) + 0.5) / n

    y_line = centres(lo, hi, n_line)
    p_line = centres(0.0, np.sqrt(2 * energy), n_line // 2)
    y = np.concatenate([y_line, np.zeros(n_line // 2)])
    p_y = np.concatenate([np.zeros(n_line), p_line])
    return system.section_state(energy, y, p_y)


def training_states(n, seed=0, energy_range=ENERGY_RANGE, system=SYSTEM):
    """States on shells E ~ U[energy_range] (microcanonical on each) and their exact field; -> (n, 4) twice."""
    rng = np.random.default_rng([seed, 1])
    x = system.shell_states(rng.uniform(*energy_range, n), rng)
    return x, system.time_derivative(x)


def held_out_states(n, seed=0, system=SYSTEM):
    """``n`` states on each shell of :data:`ENERGIES`, from their own stream; -> {tag: (n, 4)}."""
    rng = np.random.default_rng([seed, _TEST_TAG])
    return {tag: system.shell_states(np.full(n, E), rng) for tag, E in ENERGIES.items()}


def learned_flow(model, how="compiled"):
    """``(fun, args)`` of the model's field for :func:`solve_ivp`: compiled (Numba) or the NumPy model."""
    if how == "compiled":
        from ..fast.fields import FIELDS, field_args

        return FIELDS[model.kind], field_args(model)
    if how == "python":
        return (lambda _t, y: model.time_derivative(y[None, :])[0]), ()
    raise ValueError(f"how must be 'compiled' or 'python'; got {how!r}")


def _key(tag):
    return "E" + tag.replace("/", "_")  # "1/8" -> "E1_8"


def compare_sections(model, n_line, t_end, how="compiled", system=SYSTEM, tol=TOL):
    """Sections of the true and the learned flow from the same starts, on both shells.

    ``n_line`` starts per line (:func:`section_starts`), orbits over [0, t_end]
    (the true ones also over [t_end, 2 t_end], for the floor), all integrated
    with rtol = atol = ``tol``; ``how`` as for :func:`learned_flow`.

    Returns
    -------
    metrics : dict of float
        Per shell (prefix ``E1_12_``, ``E1_8_``): ``distance_median``,
        ``distance_max`` of d(P, Q) over the starts, ``floor_median``
        (d(P, P'), see the module docstring), ``distance_over_floor_median``
        and, over the starts the true flow calls regular / chaotic (a key
        only when there are some), ``distance_over_floor_regular``,
        ``distance_over_floor_chaotic``; ``chaotic_true``, ``chaotic_hnn``
        (shares called chaotic), ``indicator_agreement`` (share of starts
        both call alike), ``crossings_min`` (fewest crossings of one orbit,
        either flow), ``orbits_lost`` (learned orbits that never crossed;
        left out of the distances), ``energy_error_max`` (max |H(crossing) -
        E| / E along the learned orbits, H the true energy), ``n_starts``.
    sections : dict of ndarray
        Per shell (prefix ``E1_12_``, ...): ``starts`` (K, 4); ``true``,
        ``hnn`` (M, 2) crossings (y, p_y) with ``true_orbit``, ``hnn_orbit``
        (M,) the index of their start; ``distance``, ``floor``,
        ``growth_true``, ``growth_hnn`` (K,); ``bounds`` (2,) y_min, y_max.
    """
    true_fun, true_args = system.ode()
    fun, args = learned_flow(model, how)
    metrics, sections = {}, {}
    for tag, E in ENERGIES.items():
        k = _key(tag)
        starts = section_starts(E, n_line, system)
        lo, hi = system.section_bounds(E)
        P, P2, Q, d, floor, crossings, drift = [], [], [], [], [], [], []
        for y0 in starts:
            t, y = section_points(true_fun, y0, 2 * t_end, args=true_args, rtol=tol, atol=tol)
            first = t <= t_end
            t_hat, y_hat = section_points(fun, y0, t_end, args=args, rtol=tol, atol=tol)
            P.append(y[first][:, [1, 3]])
            P2.append(y[~first][:, [1, 3]])
            Q.append(y_hat[:, [1, 3]])
            crossings.append(min(len(P[-1]), len(Q[-1])))
            floor.append(section_distance(P[-1], P2[-1], hi - lo))
            d.append(section_distance(P[-1], Q[-1], hi - lo) if len(Q[-1]) else np.nan)
            drift.append(np.max(np.abs(system.energy(y_hat) - E)) / E if len(y_hat) else np.nan)
        g_true = separation_growth(true_fun, starts, t_end, args=true_args, rtol=tol, atol=tol)
        g_hnn = separation_growth(fun, starts, t_end, args=args, rtol=tol, atol=tol)
        d, floor, drift = np.array(d), np.array(floor), np.array(drift)
        metrics.update(_shell_metrics(k, d, floor, g_true, g_hnn, crossings, drift))
        sections.update({
            f"{k}_starts": starts, f"{k}_bounds": np.array([lo, hi]),
            f"{k}_true": np.concatenate(P), f"{k}_true_orbit": np.repeat(np.arange(len(P)), [len(p) for p in P]),
            f"{k}_hnn": np.concatenate(Q), f"{k}_hnn_orbit": np.repeat(np.arange(len(Q)), [len(q) for q in Q]),
            f"{k}_distance": d, f"{k}_floor": floor, f"{k}_growth_true": g_true, f"{k}_growth_hnn": g_hnn})
    return metrics, sections


def _shell_metrics(k, d, floor, g_true, g_hnn, crossings, drift):
    """The metrics of one shell from the per-start arrays (K,); NaN d: a learned orbit without crossings."""
    seen = np.isfinite(d)  # the learned orbits that crossed the section
    if not seen.any():
        raise RuntimeError(f"no learned orbit crossed the section at {k}: the model's flow is far from the truth")
    c_true, c_hnn = g_true > CHAOTIC_GROWTH, g_hnn > CHAOTIC_GROWTH
    ratio = d / floor
    metrics = {f"{k}_distance_median": float(np.median(d[seen])), f"{k}_distance_max": float(np.max(d[seen])),
               f"{k}_floor_median": float(np.median(floor)),
               f"{k}_distance_over_floor_median": float(np.median(ratio[seen])),
               f"{k}_chaotic_true": float(np.mean(c_true)), f"{k}_chaotic_hnn": float(np.mean(c_hnn)),
               f"{k}_indicator_agreement": float(np.mean(c_true == c_hnn)),
               f"{k}_crossings_min": float(min(crossings)), f"{k}_orbits_lost": float(np.sum(~seen)),
               f"{k}_energy_error_max": float(np.max(drift[seen])), f"{k}_n_starts": float(len(d))}
    for name, group in (("regular", ~c_true), ("chaotic", c_true)):  # by the true flow's indicator
        if np.any(group & seen):
            metrics[f"{k}_distance_over_floor_{name}"] = float(np.median(ratio[group & seen]))
    return metrics


def run_henon_heiles(out, *, quick=False, seed=0, log=print, train=None, overwrite=False):
    """Train the HNN of the experiment ``henon-heiles``, compare its sections with the truth, draw them.

    Parameters
    ----------
    out : path
        Results go to ``out/henon-heiles/``: ``model.npz``, ``metrics.json``,
        ``sections.npz`` and the figure ``henon_heiles.png``.
    quick : bool
        Tiny data, network, orbits and step count; the learned flow runs as
        NumPy (no compilation): the pipeline in seconds, not the results.
    seed : int
        Seeds the training and test states (separate streams), the initial
        weights and the batch order; the starts of the sections are fixed.
    log : callable
        Receives a line of text.
    train : dict, optional
        Overrides of :data:`TRAIN` (any :class:`~hnn_np.train.TrainConfig` field).
    overwrite : bool
        Replace the files of an earlier run in ``out/henon-heiles/``.

    Returns
    -------
    model : hnn_np.Model
    metrics : dict of float
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
    if not isinstance(quick, (bool, np.bool_)):
        raise ValueError(f"quick must be True or False; got {quick!r}")
    if train is not None and not isinstance(train, dict):
        raise ValueError(f"train must be a dict of TrainConfig settings; got {type(train).__name__}")
    kw, run = {**TRAIN, **(train or {})}, dict(RUN)
    if quick:
        kw.update(sizes=QUICK["sizes"], steps=QUICK["steps"], batch_size=QUICK["batch_size"])
        run.update({k: QUICK[k] for k in run})
    config = TrainConfig(**{**kw, "seed": int(seed)})  # ValueError on a bad setting
    with RunFolder(os.path.join(out, "henon-heiles"), FILES, overwrite=overwrite) as folder:
        x, dx_dt = training_states(run["n"], seed=int(seed))
        t0 = time.perf_counter()
        model = fit(x, dx_dt, config, progress=False)
        seconds = time.perf_counter() - t0
        model.config.update(system=repr(SYSTEM), experiment="studies/henon-heiles", quick=bool(quick),
                            energy_range=list(ENERGY_RANGE), n_train=run["n"])
        metrics = {}
        for tag, x_test in held_out_states(run["n_test"], seed=int(seed)).items():
            err = field_errors(model.time_derivative(x_test), SYSTEM.time_derivative(x_test))
            k = _key(tag)
            metrics.update({f"{k}_field_error_median": err["median"], f"{k}_field_error_p99": err["p99"]})
        t0 = time.perf_counter()
        how = "python" if quick else "compiled"
        found, sections = compare_sections(model, run["n_line"], run["t_end"], how=how, tol=run["tol"])
        metrics.update(found, train_seconds=seconds, sections_seconds=time.perf_counter() - t0,
                       n_train=float(run["n"]), steps=float(config.steps), t_end=float(run["t_end"]),
                       refit_loss_after=model.metrics["refit_loss_after"], quick=float(bool(quick)))
        model.metrics.update(metrics)
        model.save(folder.path("model.npz"))
        save_json(folder.path("metrics.json"), metrics)
        save_npz(folder.path("sections.npz"), sections)
        draw_henon_heiles(folder.stage, read_npz(folder.path("sections.npz"), "sections file"), metrics)
    shells = "; ".join(
        f"E = {tag}: field error {metrics[f'{k}_field_error_median']:.1e}, section distance "
        f"{metrics[f'{k}_distance_median']:.1e} ({metrics[f'{k}_floor_median']:.1e} the true orbit's to itself), "
        f"indicator agrees on {metrics[f'{k}_indicator_agreement']:.0%}"
        for tag, k in ((t, _key(t)) for t in ENERGIES))
    log(f"henon-heiles (medians over the starts): {shells}")
    return model, metrics


def henon_heiles_table(metrics) -> str:
    """The metrics of :func:`run_henon_heiles` as a markdown table, one row per shell."""
    rows = ["| E | field error, median (p99) | d median (max) | d_floor median | d/d_floor, regular / chaotic "
            "starts | chaotic: true / HNN | indicator agrees | crossings, fewest | max relative energy error, HNN |",
            "|---|---|---|---|---|---|---|---|---|"]
    for tag in ENERGIES:
        k = _key(tag)
        m = {name[len(k) + 1:]: v for name, v in metrics.items() if name.startswith(k + "_")}
        K = int(m["n_starts"])
        ratios = " / ".join(f"{m[f'distance_over_floor_{g}']:.2g}" if f"distance_over_floor_{g}" in m else "–"
                            for g in ("regular", "chaotic"))
        rows.append(f"| {tag} | {m['field_error_median']:.2g} ({m['field_error_p99']:.2g}) | "
                    f"{m['distance_median']:.2g} ({m['distance_max']:.2g}) | {m['floor_median']:.2g} | {ratios} | "
                    f"{round(m['chaotic_true'] * K)} / {round(m['chaotic_hnn'] * K)} of {K} | "
                    f"{round(m['indicator_agreement'] * K)} / {K} | {m['crossings_min']:.0f} | "
                    f"{m['energy_error_max']:.2g} |")
    rows.append("")
    rows.append(f"Orbits over t = {metrics['t_end']:g}; training {metrics['train_seconds']:.0f} s, sections and "
                f"indicator {metrics['sections_seconds']:.0f} s.")
    return "\n".join(rows) + "\n"


def draw_henon_heiles(folder, sections, metrics):
    """``folder/henon_heiles.png``: the sections of the true flow (left) and the HNN's (right), E = 1/12 and 1/8.

    One colour per start, the same in both panels of a row; orbits the true
    flow calls chaotic in black.
    """
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(10, 9.5), sharex="row", sharey="row")
    cmap = plt.get_cmap("turbo")
    for row, (tag, E) in enumerate(ENERGIES.items()):
        k = _key(tag)
        K = len(sections[f"{k}_starts"])
        chaotic = sections[f"{k}_growth_true"] > CHAOTIC_GROWTH
        colours = np.array([(0, 0, 0, 1) if chaotic[i] else cmap((i + 0.5) / K) for i in range(K)])
        lo, hi = sections[f"{k}_bounds"]
        y = np.linspace(lo, hi, 400)
        edge = np.sqrt(np.maximum(2 * E - y**2 + 2 * y**3 / 3, 0.0))  # p_y^2 + 2 V(0, y) = 2 E
        for col, (flow, name) in enumerate((("true", "true flow"), ("hnn", "HNN"))):
            ax = axes[row, col]
            pts, orbit = sections[f"{k}_{flow}"], sections[f"{k}_{flow}_orbit"].astype(int)
            ax.scatter(pts[:, 0], pts[:, 1], s=0.6, c=colours[orbit], linewidths=0)
            ax.plot(y, edge, "k-", y, -edge, "k-", lw=0.6)
            starts = sections[f"{k}_starts"]
            ax.plot(starts[:, 1], starts[:, 3], "k+", ms=4, mew=0.6)
            chaos = metrics[f"{k}_chaotic_{flow}"]
            ax.set(xlabel="y", ylabel="$p_y$", title=f"{name}, E = {tag}: {chaos:.0%} of the orbits chaotic")
        ratios = ", ".join(f"{name} {metrics[f'{k}_distance_over_floor_{name}']:.2g}"
                           for name in ("regular", "chaotic") if f"{k}_distance_over_floor_{name}" in metrics)
        axes[row, 1].text(0.02, 0.02, f"d median {metrics[f'{k}_distance_median']:.1e}, max "
                          f"{metrics[f'{k}_distance_max']:.1e}; d / d_floor: {ratios}\n"
                          f"field error median {metrics[f'{k}_field_error_median']:.1e}",
                          transform=axes[row, 1].transAxes, fontsize=8, va="bottom")
    fig.suptitle(f"Hénon–Heiles: Poincaré sections x = 0, $p_x$ > 0, over t = {metrics['t_end']:g} "
                 "(+ the starts; black: chaotic orbits of the true flow)")
    fig.tight_layout()
    save_png(fig, folder, "henon_heiles.png")
