r"""Beyond the paper: four studies of the mass-spring H = k q^2/2 + p^2/(2m), k = m = 2.

:func:`hnn_np.studies.spring_report.make_spring_studies` runs them all and
writes, into ``folder``, one PNG per study, ``spring.json`` (every metric) and
``spring.md`` (the tables). Each study trains with :func:`run_spring`: the
``best-analytic`` experiment's data and :class:`~hnn_np.train.TrainConfig`
passed to :func:`hnn_np.fit`, with the radius, the targets and the noise as
arguments, evaluated on the grid of *its own* radius.

1. **Long rollouts** (:func:`study_long_rollouts`; Greydanus et al. 2019,
   Fig. 3). An HNN and a baseline MLP, the same data and recipe, are
   integrated from a few test states for ``periods`` periods 2 pi / omega
   (omega = sqrt(k/m) = 1) and compared with the closed form
   x(t) = :meth:`MassSpring.exact_solution`::

       energy MSE         = mean_{b,t} (H(x_hat_b(t)) - H(x_b(0)))^2          (energy units^2)
       rel. energy error  = |H(x_hat_b(t)) - H_b| / H_b,   H_b = H(x_b(0))
       state MSE          = mean_{b,t} ||x_hat_b(t) - x_b(t)||^2

   An HNN's rollout keeps its *own* energy H_hat exactly (up to the
   integrator), so its true energy error stays within the size of H_hat - H;
   a baseline's field has no conserved quantity and its energy error may
   grow with t. The exact field, integrated with the same DOP853 settings,
   is the integrator's own floor.
2. **Radius** (:func:`study_radius`). The best recipe at R = 100, 1000, 10000,
   each on the grid over [-R, R]^2. The spring is scale-covariant: with the
   same seed, the data at radius lambda R are lambda times the data at R
   (E ~ lambda^2, x ~ lambda), :class:`hnn_np.data.Scale` divides by
   s ~ lambda, so the network sees the same numbers (to rounding) and the
   relative errors on the scaled grid should be the same.
3. **Numerical derivatives** (:func:`study_derivatives`). Central differences
   of order 2h on a spring trajectory x(t) = Re(a e^{i omega t}) give, with
   theta = omega dt (dt = 2 pi / n_obs)::

       D x(t) = sum_s c_s (x(t + s dt) - x(t - s dt)) / dt = rho(theta) dx/dt(t)
       rho(theta) = (2 / theta) sum_{s=1}^{h} c_s sin(s theta)

   so every target is the true field times one number rho, and the relative
   target error is |1 - rho| ~ theta^2/6, theta^4/30, theta^6/140 for
   orders 2, 4, 6 (:func:`hnn_np.studies.targets.stencil_bias`). A model that learns those targets
   learns rho S: its grid error is |1 - rho| everywhere, above its own floor.
4. **Noisy inputs** (:func:`study_noise`). Gaussian noise x~ = x + eps,
   eps ~ N(0, sigma^2 I), on the observed states, targets y = S(x) from the
   clean states (as :func:`hnn_np.data.make_dataset` and Greydanus et al.
   do). The loss the *true* field gets on such data is the noise floor; since
   S is linear, S(x~) - y = S(eps) = (eps_p / m, -k eps_q) and::

       L_floor = (1 / (N D)) sum_i ||S(x~_i) - y_i||^2 / ||y_i||^2
       E ||S(eps)||^2 = sigma^2 (k^2 + 1/m^2) = 4.25 sigma^2   (k = m = 2)

   (:func:`hnn_np.studies.targets.noise_floor`; the relative weights 1/||y_i||^2 are those of the
   training loss, which makes the loss the same in scaled and physical
   units). A training loss below the floor means the model fits part of the
   noise, or the shrinkage E[y | x~] that beats S(x~) on noisy inputs.

Rollouts integrate all B states as one system of 2B equations with the
project's DOP853 and a NumPy right-hand side that evaluates the model's own
:meth:`Model.time_derivative` on all B states at once
(:func:`hnn_np.rollout.rollout_stacked`): one step sequence for the B states.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from .. import evaluate as E
from ..data import CENTRAL_WEIGHTS
from ..evaluate import rollout_metrics
from ..io import save_json
from ..paper import experiments as X
from ..rollout import rollout_stacked
from ..train import PAPER_SIZES, fit
from .targets import noise_floor, relative_mse, stencil_bias, target_errors

__all__ = ["SpringStudyConfig", "FULL", "QUICK", "SPRING", "PERIOD", "run_spring",
           "study_long_rollouts", "study_radius", "study_derivatives", "study_noise"]

SPRING = X.SPRING  # k = m = 2
PERIOD = 2 * np.pi / SPRING.omega  # 2 pi


@dataclass(frozen=True)
class SpringStudyConfig:
    """Sizes of the four studies (:data:`FULL` for the README, :data:`QUICK` for tests)."""

    sizes: tuple = PAPER_SIZES  # the HNN; a baseline ends in 2 instead of 1
    steps: int = 800  # Adam steps of the best recipe, studies 1-2 (then the exact output layer)
    noise_steps: int = 400  # Adam steps, study 4
    n_traj: int = 200  # trajectories, half train / half test
    grid_n: int = 201  # meshgrid of studies 1-2 (the README's)
    small_grid_n: int = 101  # meshgrid of studies 3-4
    periods: int = 100  # rollout length of study 1, in periods 2 pi / omega
    noise_periods: int = 50  # ... of study 4
    n_states: int = 5  # rollout initial states (test trajectories' first observations)
    samples_per_period: int = 20  # rollout output times
    rtol: float = 1e-10  # DOP853 tolerance of the study-1 rollouts
    noise_rtol: float = 1e-8  # ... of the study-4 rollouts (model errors ~1e-3 or more)
    radii: tuple = (100.0, 1000.0, 10000.0)
    n_obs: tuple = (25, 50, 100)  # observations per period, study 3: dt = 2 pi / n_obs
    orders: tuple = (2, 4, 6)
    noise_levels: tuple = (0.01, 0.1)  # sigma / R (Greydanus et al.: sigma = 0.1, radius <= 1)
    seed: int = 0

    def validate(self):
        for name in ("steps", "noise_steps"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0; got {getattr(self, name)!r}")
        for name in ("n_traj", "grid_n", "small_grid_n", "periods", "noise_periods", "n_states",
                     "samples_per_period"):
            if int(getattr(self, name)) < 2:
                raise ValueError(f"{name} must be >= 2; got {getattr(self, name)!r}")
        if self.n_states > self.n_traj // 2:
            raise ValueError(f"n_states must be <= n_traj / 2 (test trajectories); got {self.n_states}")
        for name in ("rtol", "noise_rtol"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must be in (0, 1); got {getattr(self, name)!r}")
        if not self.radii or any(not (np.isfinite(r) and r > 0) for r in self.radii):
            raise ValueError(f"radii must be positive numbers; got {self.radii!r}")
        if any(o not in CENTRAL_WEIGHTS for o in self.orders):
            raise ValueError(f"orders must be in {tuple(CENTRAL_WEIGHTS)}; got {self.orders!r}")
        if any(int(n) < 3 for n in self.n_obs):
            raise ValueError(f"n_obs must be >= 3 each; got {self.n_obs!r}")
        if any(not (np.isfinite(s) and s >= 0) for s in self.noise_levels):
            raise ValueError(f"noise_levels must be >= 0; got {self.noise_levels!r}")
        return self


FULL = SpringStudyConfig()
QUICK = SpringStudyConfig(sizes=(2, 32, 32, 1), steps=20, noise_steps=20, n_traj=20, grid_n=41,
                    small_grid_n=21, periods=3, noise_periods=3, n_states=2, samples_per_period=10)


# --- the runner ----------------------------------------------------------------------

def run_spring(kind="hnn", *, radius=100.0, derivative="analytic", n_obs=50, noise_std=0.0,
               energy_range=(1e-4, 1.25), log_energy=True, n_traj=200, sizes=PAPER_SIZES,
               steps=1500, refit=True, grid_n=201, seed=0, out=None, name=None):
    """Train and evaluate one spring model with the project's best recipe.

    :func:`hnn_np.paper.experiments.run_experiment` for ``best-analytic`` with the
    radius, targets, noise and step count as arguments: data as
    ``BEST_DATA`` (``n_traj`` trajectories of one period, energies
    log-uniform in [E_max/1e4, 1.25 E_max], half for test), Adam as
    ``BEST_TRAIN`` (batch 256, cosine 1e-3 -> 1e-5, weights 1/||dx/dt||^2,
    normalized), then the exact least-squares output layer, and the metrics
    of :func:`hnn_np.evaluate.evaluate_model` on the ``grid_n`` x ``grid_n``
    grid over [-radius, radius]^2.

    Parameters
    ----------
    kind : {"hnn", "baseline"}
    sizes : tuple
        The HNN's layer sizes; a baseline uses ``sizes[:-1] + (2,)``.
    steps : int
        Adam steps (0: random tanh features + least squares).
    out, name : optional
        Save ``out/name/model.npz`` and ``metrics.json``.

    Returns
    -------
    dict with ``model``, ``metrics`` (floats), ``grid`` (the arrays of
    :func:`hnn_np.evaluate.grid_errors`), ``train``, ``test`` (Datasets),
    ``x_test_traj`` (B_test, T, 2) and ``seconds``.
    """
    if kind not in ("hnn", "baseline"):
        raise ValueError(f"kind must be 'hnn' or 'baseline'; got {kind!r}")
    if not (np.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be a positive finite number; got {radius!r}")
    if isinstance(steps, bool) or int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be an integer >= 0; got {steps!r}")
    if isinstance(grid_n, bool) or int(grid_n) != grid_n or grid_n < 3:
        raise ValueError(f"grid_n must be an integer >= 3; got {grid_n!r}")
    t0 = time.perf_counter()
    cfg = replace(X.BEST_DATA, radius=float(radius), derivative=derivative, n_obs=int(n_obs),
                  noise_std=float(noise_std), energy_range=tuple(energy_range),
                  log_energy=bool(log_energy), n_traj=int(n_traj), seed=int(seed))
    train_set, test_set = X.make_data(cfg)
    config = replace(X.BEST_TRAIN, kind=kind, steps=int(steps), seed=int(seed),
                     sizes=tuple(sizes) if kind == "hnn" else tuple(sizes[:-1]) + (2,),
                     batch_size=min(X.BEST_TRAIN.batch_size, len(train_set.x)), refit_output=bool(refit))
    model = fit(train_set.x, train_set.dx_dt, config, progress=False)
    metrics = dict(model.metrics)  # the refit's losses, if any
    train_seconds = time.perf_counter() - t0
    n_test = len(np.unique(test_set.traj))
    x_test_traj = test_set.x.reshape(n_test, -1, test_set.x.shape[1])  # (B_test, T, 2)
    m, grid = E.evaluate_model(model, SPRING, x_test_traj, radius=float(radius), n=int(grid_n),
                               return_grid=True)
    metrics.update(m, train_seconds=train_seconds, scale=model.scale)
    if model.history["train_loss"].size:
        metrics["final_batch_loss"] = float(model.history["train_loss"][-1])
    model.config.update(study=name or kind, data=X.jsonable(asdict(cfg)))
    model.metrics = metrics
    if out is not None:
        folder = os.path.join(out, name or kind)
        model.save(os.path.join(folder, "model.npz"))
        save_json(os.path.join(folder, "metrics.json"), dict(metrics, name=name or kind))
    return dict(model=model, metrics=metrics, grid=grid, train=train_set, test=test_set,
                x_test_traj=x_test_traj, seconds=time.perf_counter() - t0)


def _rollouts(fields, x0, periods, samples_per_period, rtol):
    """Roll out every field (a dict name -> callable) and the truth from x0."""
    t = np.linspace(0.0, periods * PERIOD, periods * samples_per_period + 1)  # (T,)
    x_true = SPRING.exact_solution(x0, t)  # (B, T, 2), closed form
    out = dict(t=t, x_true=x_true, x={}, metrics={})
    for name, field in fields.items():
        t0 = time.perf_counter()
        x, nfev = rollout_stacked(field, x0, t, rtol=rtol)
        out["x"][name] = x
        out["metrics"][name] = dict(rollout_metrics(SPRING, x, x_true, t), nfev=nfev,
                                    rtol=rtol, seconds=time.perf_counter() - t0)
    return out


# --- the studies ----------------------------------------------------------------------

def _clean_states(res, n):
    """The first observation of the first n test trajectories, without noise."""
    return np.ascontiguousarray(res["x_test_traj"][:n, 0], dtype=np.float64)  # (n, 2)


def _short(m):
    """The grid metrics worth keeping in a table row."""
    keys = ("grid_field_within_0.001", "grid_field_within_0.0005", "grid_field_median",
            "grid_field_p99", "traj_energy_max", "train_seconds", "refit_loss_after", "scale")
    return {k: m[k] for k in keys if k in m}


def study_long_rollouts(cfg=FULL, runs=None, log=print):
    """Study 1: an HNN and a baseline, same data and recipe, rolled out for ``cfg.periods``.

    Both use the best recipe at R = 100 with ``cfg.steps`` Adam steps and the
    exact output layer. Returns a dict: ``metrics`` (JSON) and, for the figure
    and study 2, ``rollout`` (arrays) and ``runs`` (the two run results).
    """
    res = {}
    for kind in ("hnn", "baseline"):
        res[kind] = run_spring(kind, radius=100.0, sizes=cfg.sizes, steps=cfg.steps, n_traj=cfg.n_traj,
                               grid_n=cfg.grid_n, seed=cfg.seed, out=runs, name=f"rollouts-{kind}")
        log(f"  study 1: {kind:8s} trained and evaluated in {res[kind]['seconds']:.1f} s")
    x0 = _clean_states(res["hnn"], cfg.n_states)
    fields = {"HNN": res["hnn"]["model"].time_derivative,
              "baseline": res["baseline"]["model"].time_derivative,
              "exact field": SPRING.time_derivative}
    ro = _rollouts(fields, x0, cfg.periods, cfg.samples_per_period, cfg.rtol)
    for name, m in ro["metrics"].items():
        log(f"  study 1: {name:11s} rollout {m['seconds']:.1f} s, rel. energy error max "
            f"{m['rel_energy_max']:.2e} (first {m['rel_energy_first']:.1e}, last {m['rel_energy_last']:.1e})")
    metrics = dict(recipe=f"best recipe, R = 100, {cfg.steps} Adam steps + least-squares output layer",
                   periods=cfg.periods, n_states=cfg.n_states, x0=x0.tolist(), rtol=cfg.rtol,
                   rollouts=ro["metrics"], grid={"HNN": _short(res["hnn"]["metrics"]),
                                                 "baseline": _short(res["baseline"]["metrics"])})
    return dict(metrics=metrics, rollout=ro, runs=res)


def study_radius(cfg=FULL, runs=None, log=print, reuse=None):
    """Study 2: the best recipe at every radius of ``cfg.radii``, graded on [-R, R]^2.

    ``reuse`` maps a radius to an earlier :func:`run_spring` result with the
    same settings (study 1's HNN at R = 100). Also records how far the
    normalized training inputs x / s at each radius are from those at the
    first radius (0 up to rounding: the data are scaled copies).
    """
    reuse = reuse or {}
    res, metrics = {}, {}
    for R in cfg.radii:
        if R in reuse:
            res[R] = reuse[R]
        else:
            res[R] = run_spring("hnn", radius=R, sizes=cfg.sizes, steps=cfg.steps, n_traj=cfg.n_traj,
                                grid_n=cfg.grid_n, seed=cfg.seed, out=runs, name=f"radius-{R:g}")
        x_ref = res[cfg.radii[0]]["train"].x / res[cfg.radii[0]]["model"].scale
        x_R = res[R]["train"].x / res[R]["model"].scale
        metrics[f"{R:g}"] = dict(_short(res[R]["metrics"]), radius=R, reused=R in reuse,
                                 normalized_inputs_max_diff=float(np.max(np.abs(x_R - x_ref))))
        m = res[R]["metrics"]
        log(f"  study 2: R = {R:<7g} grid within 1e-3: {100 * m['grid_field_within_0.001']:6.2f} %   "
            f"5e-4: {100 * m['grid_field_within_0.0005']:6.2f} %   median {m['grid_field_median']:.2e}")
    return dict(metrics=dict(recipe=f"best recipe, {cfg.steps} Adam steps + least-squares output layer",
                             radii=metrics),
                grids={R: res[R]["grid"] for R in cfg.radii})


def study_derivatives(cfg=FULL, runs=None, log=print):
    """Study 3: analytic targets and central differences of each order, at each n_obs.

    (``runs`` is accepted for a uniform signature; these 12 quick fits are
    not saved.)

    Random tanh features + the exact output layer (``steps=0``): the same
    features for every row (same seed), so only the targets differ; the
    grid is ``cfg.small_grid_n`` wide over [-100, 100]^2.
    """
    rows = []
    for n_obs in cfg.n_obs:
        dt = PERIOD / n_obs
        for derivative in ("analytic",) + tuple(f"fd{o}" for o in cfg.orders):
            r = run_spring("hnn", radius=100.0, derivative=derivative, n_obs=int(n_obs), sizes=cfg.sizes,
                           steps=0, n_traj=cfg.n_traj, grid_n=cfg.small_grid_n, seed=cfg.seed)
            err = target_errors(SPRING, r["train"])
            order = None if derivative == "analytic" else int(derivative[2:])
            rows.append(dict(_short(r["metrics"]), derivative=derivative, order=order, n_obs=int(n_obs),
                             dt=dt, target_error_median=float(np.median(err)),
                             target_error_max=float(err.max()),
                             target_error_closed_form=0.0 if order is None else
                             float(stencil_bias(order, SPRING.omega * dt))))
            row = rows[-1]
            log(f"  study 3: {derivative:8s} n_obs = {n_obs:3d}  "
                f"target error {row['target_error_median']:.1e}  grid median {row['grid_field_median']:.1e}  "
                f"within 5e-4 {100 * row['grid_field_within_0.0005']:.1f} %")
    return dict(metrics=dict(recipe="random tanh features + least-squares output layer (no Adam), "
                                    f"grid {cfg.small_grid_n} x {cfg.small_grid_n}", rows=rows))


def study_noise(cfg=FULL, runs=None, log=print):
    """Study 4: HNN and baseline on noisy inputs, sigma = level * R at R = 100.

    Data in the geometry of Greydanus et al. (orbit radii in [R/10, R],
    i.e. E uniform in [E_max/100, E_max]), targets from the clean states,
    the best training recipe with ``cfg.noise_steps`` Adam steps + the exact
    output layer, graded on the ``cfg.small_grid_n`` grid, and rolled out
    from clean test states for ``cfg.noise_periods`` periods at ``cfg.noise_rtol``.

    Besides the noise floor, each level records the loss of the best
    *linear* field x~ A fitted to the same noisy data by weighted least
    squares (4 numbers, which cannot memorize noise): with noisy inputs the
    loss-minimizing field is not S but an attenuated one (regression
    dilution), so a loss below the floor is not by itself overfitting.
    """
    R = 100.0
    out, arrays = {}, {}
    for level in cfg.noise_levels:
        sigma = level * R
        key = f"{level:g}"
        out[key], arrays[key] = {}, dict(history={}, rollout=None)
        # the same trajectories without noise (make_dataset draws the noise last)
        clean_tr, clean_te = X.make_data(replace(X.BEST_DATA, energy_range=(0.01, 1.0), log_energy=False,
                                                 n_traj=cfg.n_traj, seed=cfg.seed))
        n_test = len(np.unique(clean_te.traj))
        x0 = np.ascontiguousarray(clean_te.x.reshape(n_test, -1, 2)[:cfg.n_states, 0])  # (B, 2)
        fields = {}
        for kind in ("hnn", "baseline"):
            r = run_spring(kind, radius=R, noise_std=sigma, energy_range=(0.01, 1.0), log_energy=False,
                           sizes=cfg.sizes, steps=cfg.noise_steps, n_traj=cfg.n_traj,
                           grid_n=cfg.small_grid_n, seed=cfg.seed, out=runs, name=f"noise-{key}-{kind}")
            tr = r["train"]
            model = r["model"]
            eps = tr.x - clean_tr.x  # the noise that was drawn, (N, 2)
            floor = noise_floor(SPRING, tr.x, tr.dx_dt)
            sqrt_w = 1.0 / np.linalg.norm(tr.dx_dt, axis=1, keepdims=True)  # (N, 1)
            A = np.linalg.lstsq(sqrt_w * tr.x, sqrt_w * tr.dx_dt, rcond=None)[0]  # (2, 2), y ~ x~ A
            loss = relative_mse(model.time_derivative(tr.x), tr.dx_dt)
            out[key][kind] = dict(
                _short(r["metrics"]), sigma=sigma, noise_std_measured=float(eps.std()),
                train_loss=loss, noise_floor=floor, loss_over_floor=loss / floor,
                linear_fit_loss=relative_mse(tr.x @ A, tr.dx_dt),
                expected_floor=float(sigma**2 * (SPRING.k**2 + 1 / SPRING.m**2)
                                     * np.mean(1 / np.sum(tr.dx_dt**2, axis=1)) / 2),
                clean_test_loss=relative_mse(model.time_derivative(clean_te.x), clean_te.dx_dt))
            arrays[key]["history"][kind] = model.history["train_loss"]
            fields["HNN" if kind == "hnn" else "baseline"] = model.time_derivative
            log(f"  study 4: sigma = {sigma:<5g} {kind:8s} loss {loss:.3e}  floor {floor:.3e}  "
                f"clean test {out[key][kind]['clean_test_loss']:.3e}  ({r['seconds']:.1f} s)")
        ro = _rollouts(fields, x0, cfg.noise_periods, cfg.samples_per_period, cfg.noise_rtol)
        arrays[key]["rollout"] = ro
        for name, m in ro["metrics"].items():
            out[key]["hnn" if name == "HNN" else name]["rollout"] = m
            log(f"  study 4: sigma = {sigma:<5g} {name:8s} rollout rel. energy error max "
                f"{m['rel_energy_max']:.2e} ({m['seconds']:.1f} s)")
    recipe = (f"E uniform in [E_max/100, E_max] (Greydanus's radii [R/10, R]), clean analytic targets, "
              f"best training recipe, {cfg.noise_steps} Adam steps + least-squares output layer; "
              f"{cfg.n_states} clean test states rolled out for {cfg.noise_periods} periods, "
              f"DOP853 rtol {cfg.noise_rtol:g}")
    return dict(metrics=dict(recipe=recipe, radius=R, periods=cfg.noise_periods, rtol=cfg.noise_rtol,
                             levels=out), arrays=arrays)
