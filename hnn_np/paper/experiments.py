"""The paper's experiments and our own, as named configurations.

Each :class:`Experiment` fixes the data (:class:`DataConfig`, fed to
:func:`hnn_np.data.make_dataset`) and the training (a
:class:`~hnn_np.train.TrainConfig` for :func:`hnn_np.fit`, which also refits
the output layer when the config says so). :func:`run_experiment` builds the
data, fits, evaluates (:mod:`hnn_np.evaluate`) and writes into ``out/NAME/``:

* ``model.npz``    -- the model (loads with :func:`hnn_np.load_model`),
* ``metrics.json`` -- its metrics,
* ``train.npz``, ``test.npz`` -- the data it saw,
* ``grid.npz``     -- its errors on the meshgrid (what the figures draw),

all renamed into place together when the run ends, and, as it trains,
``checkpoint.npz`` (:class:`hnn_np.outputs.RunFolder`: one run at a time in
a folder; an earlier run's files are replaced only with ``overwrite=True``).

=====================  =======================================================
name                   what it is
=====================  =======================================================
raw-analytic           Sec. 4.2: raw states in [-100, 100], analytic targets
normalized-analytic    Sec. 4.3: states scaled into the unit ball
normalized-numerical   Sec. 4.4: as 4.3, targets by 2nd-order central differences
baseline               an MLP predicting dx/dt, on the data of Sec. 4.3
best-analytic          ours: data covering the grid, relative loss, cosine lr,
                       exact least-squares output layer (analytic targets)
best-numerical         the same from 6th-order central differences
=====================  =======================================================

Sec. 4.1 (DOP853 against RK45) trains nothing; :func:`integrator_comparison`
computes it.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from .. import data as D
from .. import evaluate as E
from ..io import save_json, save_npz
from ..outputs import RunFolder
from ..systems import MassSpring
from ..train import PAPER_SIZES, TrainConfig, fit

__all__ = ["DataConfig", "Experiment", "EXPERIMENTS", "BEST_DATA", "BEST_TRAIN", "PAPER_TRAIN",
           "QUICK_TRAIN", "get_experiment", "make_data", "run_experiment", "integrator_comparison",
           "jsonable", "RUN_FILES", "CHECKPOINT"]

RADIUS = 100.0
SPRING = MassSpring(k=2.0, m=2.0)  # the paper: k = m = 2


@dataclass(frozen=True)
class DataConfig:
    """Arguments of :func:`hnn_np.data.make_dataset` plus the split."""

    n_traj: int = 100  # the paper: "100 trajectories in total", 50 observations each
    n_obs: int = 50
    t_span: tuple = (0.0, 2 * np.pi)  # one period of the spring with k = m = 2
    radius: float = RADIUS
    energy_range: tuple = (0.01, 1.0)  # E uniform in [E_max / 100, E_max]
    log_energy: bool = False
    derivative: str = "analytic"
    noise_std: float = 0.0
    test_fraction: float = 0.5
    seed: int = 0


@dataclass(frozen=True)
class Experiment:
    """A named run: its data and its training settings."""

    name: str
    title: str
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()

    @property
    def kind(self) -> str:
        return self.train.kind


# The paper: Adam at 1e-3, batch 64, 10000 steps, then 2000 at 1e-7 (its TrainConfig defaults).
PAPER_TRAIN = TrainConfig(sizes=PAPER_SIZES)
# Ours: energies log-uniform from E_max/1e4 up to 1.25 E_max (the grid's corner
# (100, 100) has H = 12500 = 1.25 E_max), twice the trajectories, a relative loss,
# a cosine decay, few Adam steps, then the exact output layer.
BEST_DATA = DataConfig(n_traj=200, energy_range=(1e-4, 1.25), log_energy=True)
BEST_TRAIN = TrainConfig(sizes=PAPER_SIZES, lr=1e-3, batch_size=256, steps=1500, finetune_steps=0,
                         schedule="cosine", lr_min=1e-5, loss_weighting="relative", normalize=True,
                         refit_output=True)

EXPERIMENTS = {e.name: e for e in [
    Experiment("raw-analytic", "Sec. 4.2: raw data, analytic derivatives",
               train=replace(PAPER_TRAIN, normalize=False)),
    Experiment("normalized-analytic", "Sec. 4.3: normalized data, analytic derivatives",
               train=replace(PAPER_TRAIN, normalize=True)),
    Experiment("normalized-numerical", "Sec. 4.4: normalized data, 2nd-order central differences",
               data=DataConfig(derivative="fd2"), train=replace(PAPER_TRAIN, normalize=True)),
    Experiment("baseline", "Baseline MLP predicting dx/dt (data of Sec. 4.3)",
               train=replace(PAPER_TRAIN, kind="baseline", sizes=(2, 400, 400, 400, 400, 400, 2),
                             normalize=True)),
    Experiment("best-analytic", "Ours: analytic derivatives", data=BEST_DATA, train=BEST_TRAIN),
    Experiment("best-numerical", "Ours: 6th-order central differences",
               data=replace(BEST_DATA, derivative="fd6"), train=BEST_TRAIN),
]}

RUN_FILES = ("model.npz", "grid.npz", "metrics.json", "train.npz", "test.npz")  # out/NAME/, as one set
CHECKPOINT = "checkpoint.npz"  # out/NAME/, written as the run goes
QUICK_TRAIN = dict(steps=40, finetune_steps=10)  # `figures --quick`: the pipeline, not the results


def make_data(cfg: DataConfig, dtype=np.float64):
    """The (train, test) datasets of a configuration."""
    ds = D.make_dataset(SPRING, n_traj=cfg.n_traj, n_obs=cfg.n_obs, t_span=cfg.t_span,
                        radius=cfg.radius, energy_range=cfg.energy_range,
                        log_energy=cfg.log_energy, derivative=cfg.derivative,
                        noise_std=cfg.noise_std, seed=cfg.seed, dtype=dtype)
    return D.train_test_split(ds, cfg.test_fraction, seed=cfg.seed)


def get_experiment(name) -> Experiment:
    """The experiment called ``name`` (a key of :data:`EXPERIMENTS`)."""
    if not isinstance(name, str) or name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {sorted(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def run_experiment(experiment, out="runs", *, steps=None, seed=None, dtype=None, quick=False,
                   resume=False, progress=None, overwrite=False):
    """Build the data, fit, evaluate and save one experiment.

    Parameters
    ----------
    experiment : str or Experiment
        A key of :data:`EXPERIMENTS`, or an :class:`Experiment` of one's own.
    out : path
        Parent folder; files go into ``out/NAME/``.
    steps, seed, dtype : optional overrides of the training settings.
    quick : bool
        Few steps (:data:`QUICK_TRAIN`): exercises the pipeline in seconds.
    resume : bool
        Continue from ``out/NAME/checkpoint.npz`` (refused if there is none).
    overwrite : bool
        Replace the files of an earlier run in ``out/NAME/``; without it (or
        ``resume``) such a folder is refused.

    Returns
    -------
    model : Model
    metrics : dict
    """
    exp = experiment if isinstance(experiment, Experiment) else get_experiment(experiment)
    overrides = dict(QUICK_TRAIN) if quick else {}
    if steps is not None:
        overrides["steps"] = steps
    if seed is not None:
        overrides["seed"] = seed
    if dtype is not None:
        overrides["dtype"] = np.dtype(dtype).name
    cfg = replace(exp.train, **overrides)
    folder = os.path.join(out, exp.name)
    with RunFolder(folder, RUN_FILES, keep=(CHECKPOINT,), resumable=(CHECKPOINT,),
                   overwrite=overwrite or resume) as run:
        ckpt = run.final(CHECKPOINT)
        if resume and not os.path.isfile(ckpt):
            raise ValueError(f"resume (--resume): there is no checkpoint {ckpt!r} to continue; train without it")
        train_set, test_set = make_data(exp.data)
        t0 = time.perf_counter()
        model = fit(train_set.x, train_set.dx_dt, cfg, x_test=test_set.x, dxdt_test=test_set.dx_dt,
                    checkpoint=ckpt, resume=ckpt if resume else None, progress=progress)
        train_seconds = time.perf_counter() - t0

        n_test = len(np.unique(test_set.traj))
        x_test_traj = test_set.x.reshape(n_test, -1, test_set.x.shape[1])
        metrics, grid = E.evaluate_model(model, SPRING, x_test_traj, radius=RADIUS, return_grid=True)
        metrics["train_seconds"] = train_seconds
        if model.history["train_loss"].size:
            metrics["final_train_loss"] = float(model.history["train_loss"][-1])
        if model.history["test_loss"].size:
            metrics["final_test_loss"] = float(model.history["test_loss"][-1])
        metrics.update(model.metrics)  # the refit's losses, if any
        model.config.update(experiment=exp.name, title=exp.title, data=jsonable(asdict(exp.data)),
                            quick=bool(quick))
        model.metrics = metrics
        model.save(run.path("model.npz"))
        save_npz(run.path("grid.npz"), grid)
        save_json(run.path("metrics.json"), dict(metrics, experiment=exp.name, title=exp.title))
        D.save_dataset(run.path("train.npz"), train_set)
        D.save_dataset(run.path("test.npz"), test_set)
    return model, metrics


def integrator_comparison(radius=RADIUS, t_end=20.0, n_eval=400, seed=0):
    """Sec. 4.1: one spring trajectory by RK45 (default tolerances) and DOP853 (tight).

    Returns a dict with ``t`` (T,), and for each method its states (T, 2),
    energies (T,), the relative energy drift max|H - H0| / H0 and nfev.
    """
    from ..integrate import solve_ivp

    rng = np.random.default_rng(seed)
    x0 = D.sample_initial_states(SPRING, 1, rng, radius=radius)[0][0]
    t = np.linspace(0.0, t_end, n_eval)
    fun, args = SPRING.ode()
    out = dict(t=t, x0=x0, H0=float(SPRING.energy(x0[None])[0]))
    for method, rtol, atol in (("RK45", 1e-3, 1e-6), ("DOP853", 1e-12, 1e-12)):
        res = solve_ivp(fun, (0.0, t_end), x0, method=method, t_eval=t, rtol=rtol, atol=atol, args=args)
        x = res.y.T
        H = SPRING.energy(x)
        out[method] = dict(x=x, H=H, rtol=rtol, atol=atol, nfev=int(res.nfev),
                           drift=float(np.max(np.abs(H - out["H0"])) / out["H0"]))
    return out


def jsonable(d):
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}
