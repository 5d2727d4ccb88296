"""Every named experiment of hnn_np, and one way to run any of them.

Three families, each with its own runner:

* the paper's spring (:data:`hnn_np.paper.experiments.EXPERIMENTS`, run by
  :func:`hnn_np.paper.experiments.run_experiment`);
* the systems beyond the paper (:data:`hnn_np.studies.systems.SYSTEM_RUNS`,
  run by :func:`hnn_np.studies.systems.run_one_system`, which trains an HNN
  and a baseline: ``model.npz`` is the HNN, ``baseline.npz`` lies beside it),
  and with them ``two-body``, the HNN on exact Kepler states
  (:func:`hnn_np.studies.two_body.run_two_body`), ``two-body-greydanus``,
  every recipe on Greydanus et al.'s two-body data
  (:func:`hnn_np.studies.two_body_recipes.run_two_body_greydanus`), and
  ``henon-heiles``, the Poincaré sections of an HNN's flow against the true one
  (:func:`hnn_np.studies.henon_heiles.run_henon_heiles`);
* the real pendulum (:data:`hnn_np.studies.real_pendulum.RUNS`).

A runner is called as ``runner(out, steps=, seed=, dtype=, quick=, resume=,
progress=)`` and writes ``out/NAME/model.npz`` (read by
:func:`hnn_np.load_model`) and ``out/NAME/metrics.json``; it returns
``(model, metrics)``. :func:`run` holds ``out/NAME`` for it
(:class:`hnn_np.outputs.RunFolder`): no other run may write there
meanwhile, a folder that holds an earlier run is refused unless
``overwrite=True`` (or ``resume=True``, which continues it), and the built-in
runners' files are renamed into place together at the end. :func:`register` adds an experiment or replaces one
with its own runner (``replace=True``), e.g.
``register("two-body", title, runner, group="systems", replace=True)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace as _replace
from typing import Callable

import numpy as np

__all__ = ["Entry", "catalog", "get", "register", "run"]


@dataclass(frozen=True)
class Entry:
    """A named experiment: its title, its family and the function that runs it."""

    name: str
    title: str
    group: str
    runner: Callable


_EXTRA: dict = {}  # experiments added with register(), by name
RUN_FILES = ("model.npz", "metrics.json")  # what every runner writes into out/NAME
CHECKPOINT = "checkpoint.npz"  # what a resumable one writes as it goes


def _paper_runner(name):
    def runner(out, **kw):
        from .paper.experiments import run_experiment

        return run_experiment(name, out, **kw)

    return runner


def _system_runner(name):
    def runner(out, steps=None, seed=None, dtype=None, quick=False, resume=False, progress=None):
        from .io import save_json
        from .model import load_model
        from .outputs import RunFolder
        from .studies.systems import SYSTEM_RUNS, run_one_system

        if dtype not in (None, "float64"):
            raise ValueError(f"the systems' experiments train in float64 only; got dtype {dtype!r}")
        if resume:
            raise ValueError(f"experiment {name!r} cannot resume; train it again")
        run = SYSTEM_RUNS[name] if steps is None else _replace(SYSTEM_RUNS[name], steps=steps)
        with RunFolder(os.path.join(out, name), RUN_FILES) as folder:  # run()'s, when it calls this
            metrics, _ = run_one_system(run, runs=out, quick=quick, seed=0 if seed is None else seed,
                                        log=lambda _line: None, folder=folder.stage)
            model = load_model(folder.path("hnn.npz"))
            model.metrics = {**model.metrics, **metrics}
            model.save(folder.path("model.npz"))
            save_json(folder.path("metrics.json"), dict(metrics, experiment=name))
        return model, metrics

    return runner


def _pendulum_runner(name):
    def runner(out, steps=None, seed=None, dtype=None, quick=False, resume=False, progress=None):
        from .studies.real_pendulum import run_real_pendulum

        if resume:
            raise ValueError(f"experiment {name!r} cannot resume; train it again")
        return run_real_pendulum(name, out, steps=steps, seed=seed, dtype=dtype, quick=quick, progress=progress)

    return runner


def _two_body_runner(out, steps=None, seed=None, dtype=None, quick=False, resume=False, progress=None):
    from .studies.two_body import run_two_body

    if resume:
        raise ValueError("experiment 'two-body' cannot resume; train it again")
    train = {k: v for k, v in (("steps", steps), ("dtype", dtype)) if v is not None}  # dtype: Adam's
    return run_two_body(out, quick=quick, seed=0 if seed is None else seed, log=lambda _line: None,
                        train=train or None)


def _two_body_greydanus_runner(out, steps=None, seed=None, dtype=None, quick=False, resume=False, progress=None):
    from .studies.two_body_recipes import NAME, run_two_body_greydanus

    if resume:
        raise ValueError(f"experiment {NAME!r} cannot resume; train it again")
    if dtype is not None:
        raise ValueError(f"experiment {NAME!r} fixes the precision of each recipe; got dtype {dtype!r}")
    return run_two_body_greydanus(out, quick=quick, seed=0 if seed is None else seed, steps=steps,
                                  log=lambda _line: None)


def _henon_heiles_runner(out, steps=None, seed=None, dtype=None, quick=False, resume=False, progress=None):
    from .studies.henon_heiles import run_henon_heiles

    if resume:
        raise ValueError("experiment 'henon-heiles' cannot resume; train it again")
    train = {k: v for k, v in (("steps", steps), ("dtype", dtype)) if v is not None}
    return run_henon_heiles(out, quick=quick, seed=0 if seed is None else seed, log=lambda _line: None,
                            train=train or None)


def catalog() -> dict:
    """{name: Entry} of every experiment: the paper's, the systems', the real pendulum's, then registered ones."""
    from .paper.experiments import EXPERIMENTS
    from .studies.real_pendulum import RUNS
    from .studies.systems import SYSTEM_RUNS

    entries = [Entry(n, e.title, "paper", _paper_runner(n)) for n, e in EXPERIMENTS.items()]
    entries += [Entry(n, f"{type(r.system).__name__}: HNN and baseline ({r.steps} Adam steps each)",
                      "systems", _system_runner(n)) for n, r in SYSTEM_RUNS.items()]
    entries += [Entry("two-body", "TwoBody: the HNN on exact Kepler states (hnn_np.studies.two_body)",
                      "systems", _two_body_runner),
                Entry("two-body-greydanus", "TwoBodyAbsolute: Greydanus et al.'s two-body protocol, every recipe "
                      "by its rollout energy MSE (hnn_np.studies.two_body_recipes)", "systems",
                      _two_body_greydanus_runner),
                Entry("henon-heiles", "HenonHeiles: Poincare sections of the HNN's flow and the true one "
                      "(hnn_np.studies.henon_heiles)", "systems", _henon_heiles_runner)]
    entries += [Entry(n, r.title, "real-pendulum", _pendulum_runner(n)) for n, r in RUNS.items()]
    table = {e.name: e for e in entries}
    for name, entry in _EXTRA.items():
        table[name] = entry
    return table


def register(name, title, runner, group="extra", replace=False):
    """Add an experiment (or, with ``replace=True``, put a new runner under an existing name)."""
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        raise ValueError(f"name must be a non-empty word; got {name!r}")
    if not callable(runner):
        raise ValueError(f"runner must be callable; got {runner!r}")
    if not replace and (name in _EXTRA or name in catalog()):
        raise ValueError(f"experiment {name!r} exists already; pass replace=True to replace its runner")
    _EXTRA[name] = Entry(name, str(title), str(group), runner)


def get(name) -> Entry:
    """The experiment called ``name``."""
    table = catalog()
    if not isinstance(name, str) or name not in table:
        raise ValueError(f"unknown experiment {name!r}; choose one of {sorted(table)}")
    return table[name]


def run(name, out="runs", *, steps=None, seed=None, dtype=None, quick=False, resume=False, progress=None,
        overwrite=False):
    """Train, evaluate and save experiment ``name`` into ``out/NAME/``; returns (model, metrics).

    ``out/NAME`` is locked for the run; if it holds an earlier run's files it
    is refused, unless ``overwrite`` (replace them) or ``resume`` (continue
    from its ``checkpoint.npz``, which must exist).
    """
    from .outputs import RunFolder

    entry = get(name)
    if dtype is not None:
        dtype = np.dtype(dtype).name
    with RunFolder(os.path.join(out, name), RUN_FILES, keep=(CHECKPOINT,), resumable=(CHECKPOINT,),
                   overwrite=overwrite or resume):
        return entry.runner(out, steps=steps, seed=seed, dtype=dtype, quick=quick, resume=resume,
                            progress=progress)
