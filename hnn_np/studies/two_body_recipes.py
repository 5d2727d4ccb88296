r"""Experiment ``two-body-greydanus``: every recipe on Greydanus et al.'s two-body data, scored by their energy metric.

The data, the rollouts and the metric are those of
:mod:`hnn_np.studies.two_body_greydanus`. A recipe is a small function
``recipe(data, seed, quick, steps=None) -> (model, seconds)`` that trains on
the data (``steps``, if given, replacing its number of Adam steps) and
returns an :class:`~hnn_np.model.Model` in physical units and its training
time; :data:`RECIPES` holds them by name:

* ``"hnn-derivatives"``: an HNN on the exact time derivatives,
  :data:`VARIANTS` [:data:`BEST_VARIANT`];
* ``"hnn-rk4"``: an HNN trained through RK4 on windows of the training orbits;
* ``"srnn-leapfrog"``: a separable H = V(q) + T(p) trained through leapfrog
  (Chen et al. 2020);
* ``"baseline"``: an MLP that outputs dx/dt, on the exact derivatives, with
  Greydanus et al.'s settings.

The trajectory recipes train with :func:`hnn_np.fit_trajectories` on
windows of the training orbits at one input scale s
(:func:`fit_trajectories_scaled`), with the settings of :data:`TRAJECTORY`.

:data:`VARIANTS` are the derivative recipes measured in
``docs/two_body_greydanus.md``: Greydanus et al.'s settings (sizes
(8, 200, 200, 1), lr 1e-3, batch 200, 10000 Adam steps), then the project's
tools one by one -- an input scale s (x~ = x / s), the relative loss
1 / ||dx/dt||^2, a cosine decay, Adam in float32, the exact least-squares
output layer (:func:`hnn_np.studies.two_body.fit_scaled`), more steps, and
an ensemble whose members differ in their seed (:mod:`hnn_np.ensemble`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_int
from ..ensemble import stack_models
from ..evaluate import field_errors
from ..io import save_json
from ..outputs import RunFolder
from ..train import TrainConfig, fit
from .two_body import fit_scaled
from ..model import Model
from ..train_trajectory import fit_trajectories
from .two_body_greydanus import PROTOCOL, QUICK_PROTOCOL, SYSTEM, energy_rollouts, make_data

__all__ = ["Variant", "GREYDANUS_TRAIN", "VARIANTS", "BEST_VARIANT", "TRAJECTORY", "RECIPES",
           "train_variant", "fit_trajectories_scaled", "train_trajectory_variant", "run_two_body_greydanus",
           "run_variants"]

NAME = "two-body-greydanus"
GREYDANUS_TRAIN = dict(sizes=(8, 200, 200, 1), lr=1e-3, batch_size=200, steps=10000, finetune_steps=0)
_TOOLS = dict(lr=3e-3, batch_size=256, schedule="cosine", lr_min=1e-6, loss_weighting="relative",
              refit_output=True, dtype="float32")
QUICK_TRAIN = dict(sizes=(8, 16, 16, 1), steps=30, batch_size=32)


@dataclass(frozen=True)
class Variant:
    """A derivative recipe: overrides of :class:`~hnn_np.train.TrainConfig`, an input scale s
    (None: the raw states, no scaling) and the number of ensemble members (seeds seed, seed+1, ...)."""

    train: dict = field(default_factory=dict)
    scale: float | None = None
    members: int = 1


_G32 = {**GREYDANUS_TRAIN, "dtype": "float32"}
VARIANTS = {
    "greydanus": Variant(GREYDANUS_TRAIN),  # their settings, float64
    "greydanus-float32": Variant(_G32),
    # one tool at a time, from "greydanus-float32"
    "+refit": Variant({**_G32, "refit_output": True}),
    "+cosine": Variant({**_G32, "schedule": "cosine", "lr_min": 1e-6}),
    "+scale-0.5": Variant(_G32, scale=0.5),
    "+relative": Variant({**_G32, "loss_weighting": "relative"}),
    "+lr-3e-3-batch-256": Variant({**_G32, "lr": 3e-3, "batch_size": 256}),
    # all of them (the recipe of the experiment ``two-body``), then one change at a time
    "tools-10k": Variant({**GREYDANUS_TRAIN, **_TOOLS}, scale=0.5),
    "tools-10k-no-refit": Variant({**GREYDANUS_TRAIN, **_TOOLS, "refit_output": False}, scale=0.5),
    "tools-10k-scale-1": Variant({**GREYDANUS_TRAIN, **_TOOLS}, scale=1.0),
    "tools-10k-scale-2": Variant({**GREYDANUS_TRAIN, **_TOOLS}, scale=2.0),
    "tools-10k-plain-loss-scale-1": Variant({**GREYDANUS_TRAIN, **_TOOLS, "loss_weighting": "none"}, scale=1.0),
    "tools-10k-3-layers": Variant({**GREYDANUS_TRAIN, **_TOOLS, "sizes": (8, 200, 200, 200, 1)}, scale=0.5),
    "tools-30k": Variant({**GREYDANUS_TRAIN, **_TOOLS, "steps": 30000}, scale=0.5),
    "tools-10k-ensemble-3": Variant({**GREYDANUS_TRAIN, **_TOOLS}, scale=0.5, members=3),
    "tools-100k": Variant({**GREYDANUS_TRAIN, **_TOOLS, "steps": 100000}, scale=0.5),
    "tools-30k-ensemble-3": Variant({**GREYDANUS_TRAIN, **_TOOLS, "steps": 30000}, scale=0.5, members=3),
}
BEST_VARIANT = "tools-100k"


def train_variant(data, variant: Variant, seed=0, quick=False, steps=None):
    """Train ``variant`` on the derivative data (``steps``: its Adam steps instead); -> (Model, seconds)."""
    kw = {**variant.train, **(QUICK_TRAIN if quick else {}), **({} if steps is None else {"steps": steps})}
    members = 1 if quick else variant.members
    t0 = time.perf_counter()
    models = []
    for k in range(members):
        config = TrainConfig(**{**kw, "seed": int(seed) + k})
        if variant.scale is None:
            models.append(fit(data.x_train, data.dx_dt_train, config, progress=False))
        else:
            models.append(fit_scaled(data.x_train, data.dx_dt_train, config, variant.scale))
    model = models[0] if members == 1 else stack_models(
        models, config={**models[0].config, "members": members, "seeds": [int(seed) + k for k in range(members)]})
    return model, time.perf_counter() - t0


def recipe_hnn_derivatives(data, seed, quick, steps=None):
    """The HNN on the exact derivatives, :data:`VARIANTS` [:data:`BEST_VARIANT`]."""
    return train_variant(data, VARIANTS[BEST_VARIANT], seed, quick, steps)


def recipe_baseline(data, seed, quick, steps=None):
    """The baseline MLP (8, 200, 200, 8) on the exact derivatives with Greydanus et al.'s settings."""
    kw = {**GREYDANUS_TRAIN, **(QUICK_TRAIN if quick else {}), "kind": "baseline",
          **({} if steps is None else {"steps": steps})}
    kw["sizes"] = kw["sizes"][:-1] + (8,)
    t0 = time.perf_counter()
    model = fit(data.x_train, data.dx_dt_train, TrainConfig(**{**kw, "seed": int(seed)}), progress=False)
    return model, time.perf_counter() - t0


# The trajectory recipes: windows of K+1 states of the training orbits (dt = 20/49), through the integrator.
TRAJECTORY = {
    "hnn-rk4": Variant(dict(target="trajectory", kind="hnn", sizes=(8, 200, 200, 1), method="rk4", substeps=2,
                            window=1, steps=10000, batch_size=200, lr=3e-3, schedule="cosine", lr_min=1e-6,
                            finetune_steps=0, dtype="float32"), scale=0.5),
    "srnn-leapfrog": Variant(dict(target="trajectory", kind="separable", sizes=(8, 200, 200, 1), method="leapfrog",
                                  substeps=4, window=1, steps=10000, batch_size=200, lr=3e-3, schedule="cosine",
                                  lr_min=1e-6, finetune_steps=0, dtype="float32"), scale=0.5),
}


def fit_trajectories_scaled(trajectories, dt, config, scale):
    """:func:`hnn_np.fit_trajectories` on x~ = x / s at the same dt, returned as a float64 model of scale s.

    The scaled motion is again Hamiltonian, H~(x~) = H(s x~) / s^2, with the
    same time, so a network that learns the windows of x / s learns S~ and
    the :class:`~hnn_np.model.Model` of scale s maps it back.
    """
    if config.normalize:
        raise ValueError("config.normalize must be False: the scale is given")
    s = float(scale)
    fitted = fit_trajectories(np.asarray(trajectories, dtype=np.float64) / s, dt, config, progress=False)
    params = [(W.astype(np.float64), b.astype(np.float64)) for W, b in fitted.params]
    return Model(fitted.kind, params, s, config={**config.to_dict(), "input_scale": s}, metrics=fitted.metrics,
                 history=fitted.history)


def train_trajectory_variant(data, variant: Variant, seed=0, quick=False, steps=None):
    """Train a trajectory ``variant`` on the training orbits; -> (Model, seconds)."""
    kw = {**variant.train, **({} if steps is None else {"steps": steps})}
    if quick:
        kw.update(sizes=(8, 16, 16, 1), steps=30 if steps is None else steps, batch_size=16)
    config = TrainConfig(**{**kw, "seed": int(seed)})
    t0 = time.perf_counter()
    model = fit_trajectories_scaled(data.train_orbits, float(data.t[1] - data.t[0]), config, variant.scale)
    return model, time.perf_counter() - t0


def _trajectory_recipe(name):
    def recipe(data, seed, quick, steps=None):
        return train_trajectory_variant(data, TRAJECTORY[name], seed, quick, steps)

    recipe.__doc__ = f"{name}: trajectory training with TRAJECTORY[{name!r}]."
    return recipe


RECIPES = {"hnn-derivatives": recipe_hnn_derivatives, "hnn-rk4": _trajectory_recipe("hnn-rk4"),
           "srnn-leapfrog": _trajectory_recipe("srnn-leapfrog"), "baseline": recipe_baseline}


def run_two_body_greydanus(out, *, quick=False, seed=0, recipes=None, steps=None, overwrite=False, log=print):
    """Run every recipe (or those named in ``recipes``), score each and write ``out/two-body-greydanus/``.

    Writes ``RECIPE.npz`` per trained recipe, ``model.npz`` (the recipe of
    the lowest energy MSE) and ``metrics.json``: ``energy_mse`` (the best),
    ``best_recipe``, and per recipe ``energy_mse_by_recipe`` (None where the
    rollout failed), ``energy_mse_spread_by_recipe``, ``train_seconds_by_recipe``,
    ``field_error_median_by_recipe`` (||S_hat - S|| / ||S|| on the test
    rows), ``recipe_notes`` (why a recipe has no number). ``quick``: 20
    orbits, 3 short rollouts, tiny networks: the pipeline in seconds.
    ``steps`` replaces every recipe's number of Adam steps. The files are
    renamed into place together at the end (:class:`hnn_np.outputs.RunFolder`);
    those of an earlier run are replaced only with ``overwrite``.

    Returns (model, metrics).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
    if not isinstance(quick, (bool, np.bool_)):
        raise ValueError(f"quick must be True or False; got {quick!r}")
    names = list(RECIPES) if recipes is None else list(recipes)
    unknown = [n for n in names if n not in RECIPES]
    if unknown or not names:
        raise ValueError(f"recipes must name some of {list(RECIPES)}; got {recipes!r}")
    if steps is not None:
        check_int(steps, "steps", 1)
    files = ("model.npz", "metrics.json") + tuple(f"{name}.npz" for name in names)
    with RunFolder(os.path.join(out, NAME), files, overwrite=overwrite) as run:
        return _run(run, names, QUICK_PROTOCOL if quick else PROTOCOL, int(seed), bool(quick), steps, log)


def _run(run, names, protocol, seed, quick, steps, log):
    data = make_data(protocol, seed=seed)
    S_test = SYSTEM.time_derivative(data.x_test)
    by = {k: {} for k in ("energy_mse", "energy_mse_spread", "train_seconds", "field_error_median",
                          "rel_energy_max")}
    notes, models = {}, {}
    for name in names:
        model, seconds = RECIPES[name](data, seed, quick, steps)
        err = field_errors(model.time_derivative(data.x_test), S_test)
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                m, _ = energy_rollouts(model, protocol, how="python" if quick else "compiled")
            if not np.isfinite(m["energy_mse"]):
                notes[name] = "rollout failed: the energy along it overflows"
        except (RuntimeError, ValueError) as e:  # a field the integrator cannot follow, or non-finite states
            m = dict(energy_mse=np.nan, energy_mse_spread=np.nan, rel_energy_max=np.nan)
            notes[name] = f"rollout failed: {e}"
        for key, value in (("energy_mse", m["energy_mse"]), ("energy_mse_spread", m["energy_mse_spread"]),
                           ("train_seconds", seconds), ("field_error_median", err["median"]),
                           ("rel_energy_max", m["rel_energy_max"])):
            by[key][name] = float(value) if np.isfinite(value) else None  # JSON has no NaN
        model.metrics.update(energy_mse=m["energy_mse"], train_seconds=seconds, field_error_median=err["median"])
        model.config.update(experiment=NAME, recipe=name, quick=quick)
        model.save(run.path(f"{name}.npz"))
        models[name] = model
        log(f"{NAME}: {name}: energy MSE {m['energy_mse']:.3e} +- {m['energy_mse_spread']:.1e}, field error "
            f"median {err['median']:.2e}, trained in {seconds:.0f} s")
    scored = {n: v for n, v in by["energy_mse"].items() if v is not None}
    if not scored:
        raise RuntimeError(f"no recipe of {names} gave a finite energy MSE; notes: {notes}")
    best = min(scored, key=scored.get)
    metrics = dict(experiment=NAME, energy_mse=scored[best], best_recipe=best, quick=float(quick),
                   **{f"{k}_by_recipe": v for k, v in by.items()}, recipe_notes=notes,
                   best_variant=BEST_VARIANT, n_train=float(len(data.x_train)), n_test=float(len(data.x_test)),
                   n_rollouts=float(protocol.n_rollouts), rollout_t_end=protocol.rollout_t_end)
    model = models[best]
    model.save(run.path("model.npz"))
    save_json(run.path("metrics.json"), metrics)
    return model, metrics


def run_variants(out=None, names=None, seed=0, log=print):
    """Train and score each derivative variant (all of :data:`VARIANTS` by default), one after the other.

    Returns a list of dicts (name, energy_mse, energy_mse_spread, field
    errors, train_seconds, load: the 1-minute load average when the training
    ended), also written to ``out/variants.json`` when ``out`` is given.
    """
    names = list(VARIANTS) if names is None else list(names)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown or not names:
        raise ValueError(f"names must be some of {list(VARIANTS)}; got {names!r}")
    data = make_data(PROTOCOL, seed=int(seed))
    S_test = SYSTEM.time_derivative(data.x_test)
    rows = []
    for name in names:
        model, seconds = train_variant(data, VARIANTS[name], seed)
        load = os.getloadavg()[0]
        err = field_errors(model.time_derivative(data.x_test), S_test)
        m, _ = energy_rollouts(model)
        rows.append(dict(name=name, energy_mse=m["energy_mse"], energy_mse_spread=m["energy_mse_spread"],
                         rel_energy_max=m["rel_energy_max"], field_error_median=err["median"],
                         field_error_p99=err["p99"], train_seconds=seconds, load=load))
        log(f"{name:30s} energy MSE {m['energy_mse']:.2e} +- {m['energy_mse_spread']:.1e}  field median "
            f"{err['median']:.2e} p99 {err['p99']:.2e}  {seconds:.0f} s (load {load:.1f})")
        if out is not None:
            save_json(os.path.join(out, "variants.json"), dict(rows=rows, seed=int(seed)))
    return rows
