r"""The noisy spring: derivative training on differences of noisy states, and trajectory training on the same states.

System: the paper's spring H = k q^2 / 2 + p^2 / (2 m), k = m = 2 (omega = 1).
Data (:func:`noisy_data`): ``n_traj`` trajectories of one period
(``n_obs`` = 50 observations, dt = 2 pi / 50) with energies uniform in
[E_max / 100, E_max], E_max = H(R, 0), R = 1 (Greydanus et al.'s orbit radii
[R/10, R]), each state observed with Gaussian noise of std sigma = 0.1 on q
and on p; half the trajectories for training, half for test. Only the noisy
observations are given to the learners.

Two learners on the same observations (:data:`SIDES`):

* ``"derivatives"``: the paper's FD variant. Central differences of order 2
  of the noisy states are the targets::

      dx_dt[j] = (x[j+1] - x[j-1]) / (2 dt)

  at the interior observations (each trajectory loses its two ends). The
  difference amplifies the noise: its error has std sigma / (sqrt(2) dt) =
  0.56 against a field of size |S| ~ 0.1 .. 1, so the learner sees mostly
  noise at small radii;
* ``"trajectory"``: windows of K+1 consecutive observations, the loss on the
  states after integrating the learned field through RK4
  (:func:`hnn_np.fit_trajectories`), each window's start learned. No
  difference of the data is formed.

Scores (:func:`score`): the relative field error ||S_hat - S|| / ||S|| on the
grid over [-R, R]^2 (median, 99th percentile), and rollouts of the learned
field from the clean first states of ``n_states`` test trajectories for
``periods`` periods, against the closed form: ``energy_mse`` mean (H(x_hat) -
H(x_0))^2, ``rel_energy_max`` (:func:`hnn_np.evaluate.rollout_metrics`).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from .. import evaluate as E
from ..data import finite_difference, make_dataset, train_test_split
from ..io import save_json
from ..outputs import RunFolder
from ..rollout import rollout_stacked
from ..scale import Scale
from ..systems import MassSpring
from ..train import TrainConfig, fit
from ..train_trajectory import fit_trajectories

__all__ = ["SPRING", "NoisySpringConfig", "FULL", "QUICK", "noisy_data", "score", "side_derivatives",
           "side_trajectory", "SIDES", "run_noisy_spring"]

SPRING = MassSpring(k=2.0, m=2.0)
PERIOD = 2 * np.pi / SPRING.omega


@dataclass(frozen=True)
class NoisySpringConfig:
    """The data, both learners and the scores (:data:`FULL`; :data:`QUICK` for tests)."""

    radius: float = 1.0
    sigma: float = 0.1  # std of the noise on q and on p, state units
    n_traj: int = 200  # half train, half test
    n_obs: int = 50  # observations per period
    energy_range: tuple = (0.01, 1.0)
    sizes: tuple = (2, 200, 200, 1)
    steps: int = 3000  # Adam steps of either learner
    batch_size: int = 256
    lr: float = 1e-3
    lr_min: float = 1e-5
    loss_weighting: str = "none"  # derivatives: 1 / ||y||^2 of noisy y would weight the noise
    window: int = 4  # trajectory: K intervals per window
    substeps: int = 2
    learn_starts: bool = True
    grid_n: int = 101
    n_states: int = 10
    periods: int = 20
    samples_per_period: int = 20
    rtol: float = 1e-9
    seed: int = 0


FULL = NoisySpringConfig()
QUICK = NoisySpringConfig(n_traj=8, n_obs=20, sizes=(2, 16, 16, 1), steps=20, batch_size=32, grid_n=21,
                          n_states=2, periods=2, samples_per_period=10)


def noisy_data(cfg=FULL):
    """The observations; -> dict with ``t`` (T,), ``dt``, ``train`` (B, T, 2) noisy training
    trajectories, ``test_clean`` (B', T, 2) the test trajectories without noise, ``train_clean``."""
    kw = dict(system=SPRING, n_traj=cfg.n_traj, n_obs=cfg.n_obs, t_span=(0.0, PERIOD), radius=cfg.radius,
              energy_range=tuple(cfg.energy_range), derivative="analytic", seed=cfg.seed)
    noisy = make_dataset(noise_std=cfg.sigma, **kw)  # the noise is drawn last: the same orbits as below
    clean = make_dataset(noise_std=0.0, **kw)
    (tr, _), (tr_clean, te_clean) = train_test_split(noisy), train_test_split(clean)
    shape = lambda ds: ds.x.reshape(len(np.unique(ds.traj)), cfg.n_obs, 2)  # noqa: E731  (B, T, 2)
    return dict(t=noisy.t, dt=float(noisy.meta["dt"]), train=shape(tr), train_clean=shape(tr_clean),
                test_clean=shape(te_clean))


def score(model, data, cfg=FULL):
    """Grid field errors and rollout energy errors of ``model``; -> dict of float."""
    m = E.evaluate_model(model, SPRING, radius=cfg.radius, n=cfg.grid_n)
    x0 = np.ascontiguousarray(data["test_clean"][:cfg.n_states, 0])  # (B, 2), clean starts
    t = np.linspace(0.0, cfg.periods * PERIOD, cfg.periods * cfg.samples_per_period + 1)
    x_hat, _ = rollout_stacked(model.time_derivative, x0, t, rtol=cfg.rtol)
    ro = E.rollout_metrics(SPRING, x_hat, SPRING.exact_solution(x0, t), t)
    return dict(grid_field_median=m["grid_field_median"], grid_field_p99=m["grid_field_p99"],
                energy_mse=ro["energy_mse"], rel_energy_max=ro["rel_energy_max"],
                rel_energy_last=ro["rel_energy_last"], state_mse=ro["state_mse"])


def side_derivatives(data, cfg=FULL):
    """The HNN on order-2 differences of the noisy states; -> (Model, extra metrics)."""
    x = data["train"]  # (B, T, 2)
    y = finite_difference(x, data["dt"], 2)  # (B, T-2, 2), at x[:, 1:-1]
    x_c = x[:, 1:-1].reshape(-1, 2)
    y = y.reshape(-1, 2)
    config = TrainConfig(sizes=cfg.sizes, lr=cfg.lr, batch_size=min(cfg.batch_size, len(x_c)), steps=cfg.steps,
                         finetune_steps=0, schedule="cosine", lr_min=cfg.lr_min, loss_weighting=cfg.loss_weighting,
                         normalize=True, refit_output=True, seed=cfg.seed)
    model = fit(x_c, y, config, progress=False)
    S = SPRING.time_derivative(data["train_clean"][:, 1:-1].reshape(-1, 2))
    target_error = np.linalg.norm(y - S, axis=1) / np.linalg.norm(S, axis=1)  # the differences' own error
    return model, dict(n_rows=float(len(x_c)), target_error_median=float(np.median(target_error)))


def side_trajectory(data, cfg=FULL):
    """The HNN through RK4 on windows of K+1 noisy states, starts learned; -> (Model, extra metrics)."""
    B, T, _ = data["train"].shape
    n_windows = B * len(range(0, T - cfg.window, cfg.window))  # the windows tile each trajectory
    config = TrainConfig(target="trajectory", method="rk4", window=cfg.window, substeps=cfg.substeps,
                         learn_initial_states=cfg.learn_starts, sizes=cfg.sizes, lr=cfg.lr,
                         batch_size=min(cfg.batch_size, n_windows),
                         steps=cfg.steps, finetune_steps=0, schedule="cosine", lr_min=cfg.lr_min, normalize=True,
                         seed=cfg.seed)
    model = fit_trajectories(data["train"], data["dt"], config, progress=False)
    starts = model.history["window_starts"]  # (W, 2), learned
    clean = data["train_clean"][:, :-cfg.window:cfg.window].reshape(-1, 2)  # the windows' true first states
    observed = data["train"][:, :-cfg.window:cfg.window].reshape(-1, 2)
    return model, dict(n_windows=float(len(starts)), final_loss=float(model.history["train_loss"][-1]),
                       start_error_observed=float(np.sqrt(np.mean((observed - clean) ** 2))),
                       start_error_learned=float(np.sqrt(np.mean((starts - clean) ** 2))))


SIDES = {"derivatives": side_derivatives, "trajectory": side_trajectory}


def run_noisy_spring(out=None, cfg=FULL, overwrite=False, log=print):
    """Both sides on the same noisy observations, scored alike; -> dict (JSON), saved as
    ``out/noisy-spring/metrics.json`` (and each side's ``SIDE.npz``) when ``out`` is given, the
    files renamed into place together at the end; those of an earlier run replaced only with ``overwrite``."""
    if out is None:
        return _run(None, cfg, log)
    files = ("metrics.json",) + tuple(f"{name}.npz" for name in SIDES)
    with RunFolder(os.path.join(out, "noisy-spring"), files, overwrite=overwrite) as run:
        return _run(run, cfg, log)


def _run(run, cfg, log):
    data = noisy_data(cfg)
    result = dict(config={k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
                  n_train_traj=float(len(data["train"])), dt=data["dt"], sides={})
    for name, side in SIDES.items():
        t0 = time.perf_counter()
        model, extra = side(data, cfg)
        seconds = time.perf_counter() - t0
        result["sides"][name] = dict(score(model, data, cfg), train_seconds=seconds, **extra)
        if run is not None:
            model.save(run.path(f"{name}.npz"))
        m = result["sides"][name]
        log(f"noisy spring: {name}: grid field median {m['grid_field_median']:.2e}, rollout energy MSE "
            f"{m['energy_mse']:.2e} (max rel. {m['rel_energy_max']:.1e}), {seconds:.0f} s")
    if run is not None:
        save_json(run.path("metrics.json"), result)
    return result
