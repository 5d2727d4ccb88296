r"""Beyond the paper: four studies of the mass-spring H = k q^2/2 + p^2/(2m), k = m = 2.

:func:`make_extra_figures` runs them all and writes, into ``folder``, one PNG
per study, ``extra.json`` (every metric) and ``extra.md`` (the tables). Each
study trains with :func:`run_spring`, a small runner that mirrors
:func:`hnn_np.experiments.run_experiment` (data, Adam, exact least-squares
output layer, metrics) but takes the radius, the targets and the noise as
arguments, and evaluates on the grid of *its own* radius.

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
   orders 2, 4, 6 (:func:`stencil_bias`). A model that learns those targets
   learns rho S: its grid error is |1 - rho| everywhere, above its own floor.
4. **Noisy inputs** (:func:`study_noise`). Gaussian noise x~ = x + eps,
   eps ~ N(0, sigma^2 I), on the observed states, targets y = S(x) from the
   clean states (as :func:`hnn_np.data.make_dataset` and Greydanus et al.
   do). The loss the *true* field gets on such data is the noise floor; since
   S is linear, S(x~) - y = S(eps) = (eps_p / m, -k eps_q) and::

       L_floor = (1 / (N D)) sum_i ||S(x~_i) - y_i||^2 / ||y_i||^2
       E ||S(eps)||^2 = sigma^2 (k^2 + 1/m^2) = 4.25 sigma^2   (k = m = 2)

   (:func:`noise_floor`; the relative weights 1/||y_i||^2 are those of the
   training loss, which makes the loss the same in scaled and physical
   units). A training loss below the floor means the model fits part of the
   noise, or the shrinkage E[y | x~] that beats S(x~) on noisy inputs.

Rollouts integrate all B states as one system of 2B equations with the
project's DOP853 (:func:`hnn_np.integrate.solve_ivp`, Hairer's controller)
and a plain-Python right-hand side that evaluates the model on all B states
at once (:func:`rollout_stacked`). This takes one step sequence for the B
states instead of B, and avoids compiling the integrator for each network
(~20 s each, which Numba cannot cache); the field is the model's own
:meth:`Model.time_derivative`.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from . import evaluate as E
from . import experiments as X
from .data import CENTRAL_WEIGHTS
from .figures import pyplot, save_png, write_text
from .integrate import solve_ivp
from .refine import fit_output_layer
from .systems import as_states
from .train import PAPER_SIZES, train

__all__ = ["ExtraConfig", "FULL", "QUICK", "run_spring", "rollout_stacked", "rollout_metrics",
           "relative_mse", "noise_floor", "stencil_bias", "target_errors",
           "study_long_rollouts", "study_radius", "study_derivatives", "study_noise",
           "extra_tables", "make_extra_figures"]

SPRING = X.SPRING  # k = m = 2
PERIOD = 2 * np.pi / SPRING.omega  # 2 pi


@dataclass(frozen=True)
class ExtraConfig:
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


FULL = ExtraConfig()
QUICK = ExtraConfig(sizes=(2, 32, 32, 1), steps=20, noise_steps=20, n_traj=20, grid_n=41,
                    small_grid_n=21, periods=3, noise_periods=3, n_states=2, samples_per_period=10)


# --- the runner ----------------------------------------------------------------------

def run_spring(kind="hnn", *, radius=100.0, derivative="analytic", n_obs=50, noise_std=0.0,
               energy_range=(1e-4, 1.25), log_energy=True, n_traj=200, sizes=PAPER_SIZES,
               steps=1500, refit=True, grid_n=201, seed=0, out=None, name=None):
    """Train and evaluate one spring model with the project's best recipe.

    :func:`hnn_np.experiments.run_experiment` for ``best-analytic`` with the
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
    kw = dict(X.BEST_TRAIN, steps=int(steps), seed=int(seed),
              sizes=tuple(sizes) if kind == "hnn" else tuple(sizes[:-1]) + (2,),
              batch_size=min(X.BEST_TRAIN["batch_size"], len(train_set.x)))
    model = train(kind, train_set.x, train_set.dx_dt, progress=False, **kw)
    metrics = {}
    if refit:
        x = train_set.x / model.scale  # x~ = x / s
        y = train_set.dx_dt / model.scale  # dx~/dt = (dx/dt) / s
        before, after = fit_output_layer(kind, model.params, x, y, 1.0 / np.sum(y**2, axis=1))
        metrics.update(refit_loss_before=before, refit_loss_after=after)
    train_seconds = time.perf_counter() - t0
    n_test = len(np.unique(test_set.traj))
    x_test_traj = test_set.x.reshape(n_test, -1, test_set.x.shape[1])  # (B_test, T, 2)
    m, grid = E.evaluate_model(model, SPRING, x_test_traj, radius=float(radius), n=int(grid_n),
                               return_grid=True)
    metrics.update(m, train_seconds=train_seconds, scale=model.scale)
    if model.history["train_loss"].size:
        metrics["final_batch_loss"] = float(model.history["train_loss"][-1])
    model.config.update(extra=name or kind, data=X.jsonable(asdict(cfg)), refit_output=bool(refit))
    model.metrics = metrics
    if out is not None:
        folder = os.path.join(out, name or kind)
        model.save(os.path.join(folder, "model.npz"))
        E.save_metrics(os.path.join(folder, "metrics.json"), dict(metrics, name=name or kind))
    return dict(model=model, metrics=metrics, grid=grid, train=train_set, test=test_set,
                x_test_traj=x_test_traj, seconds=time.perf_counter() - t0)


# --- rollouts -------------------------------------------------------------------------

def rollout_stacked(field, x0, t_eval, rtol=1e-10, atol=None):
    """Integrate dx/dt = field(x) from B states at once with DOP853.

    The B states are one system of 2nB equations, y = (x_0, ..., x_{B-1})
    flattened, with ``field`` evaluated on all rows per call::

        dy/dt = field(y.reshape(B, 2n)).reshape(-1)

    Parameters
    ----------
    field : callable
        (B, 2n) -> (B, 2n): ``model.time_derivative`` or
        ``system.time_derivative`` (the exact field).
    x0 : array_like, shape (B, 2n)
    t_eval : array_like, shape (T,)
        Increasing output times; the integration starts at ``t_eval[0]``.
    rtol, atol : float
        DOP853 tolerances; ``atol`` defaults to rtol times the smallest
        ||x0_b||, so that every state is held to about rtol of its own size.

    Returns
    -------
    x : ndarray, shape (B, T, 2n)
    nfev : int
    """
    if not callable(field):
        raise ValueError(f"field must be a callable (B, 2n) -> (B, 2n); got {field!r}")
    x0 = np.asarray(x0, dtype=np.float64)
    if x0.ndim != 2 or x0.shape[1] % 2 or not len(x0) or not np.isfinite(x0).all():
        raise ValueError(f"x0 must be finite states of shape (B, 2n); got {x0.shape}")
    t_eval = np.asarray(t_eval, dtype=np.float64)
    if t_eval.ndim != 1 or len(t_eval) < 2 or not (np.diff(t_eval) > 0).all():
        raise ValueError("t_eval must be >= 2 strictly increasing times")
    if not 0 < rtol < 1:
        raise ValueError(f"rtol must be in (0, 1); got {rtol!r}")
    B, d = x0.shape
    if atol is None:
        size = np.linalg.norm(x0, axis=1)  # (B,)
        atol = rtol * (size[size > 0].min() if size.any() else 1.0)

    def fun(t, y):
        return np.asarray(field(y.reshape(B, d)), dtype=np.float64).reshape(-1)  # (B * 2n,)

    res = solve_ivp(fun, (t_eval[0], t_eval[-1]), x0.reshape(-1), method="DOP853", t_eval=t_eval,
                    rtol=rtol, atol=atol, max_steps=10**7)
    if res.status != 0:
        raise RuntimeError(f"rollout failed: {res.message}")
    return res.y.reshape(B, d, -1).transpose(0, 2, 1), int(res.nfev)  # (B, 2n, T) -> (B, T, 2n)


def rollout_metrics(system, x_hat, x_true, t):
    """Energy and state errors of a rollout against the truth.

    Parameters
    ----------
    x_hat, x_true : ndarray, shape (B, T, 2n)
    t : ndarray, shape (T,)

    Returns
    -------
    dict of float: ``energy_mse`` mean (H(x_hat) - H_b)^2 with H_b = H(x_true[:, 0]);
    ``rel_energy_mse`` mean ((H(x_hat) - H_b) / H_b)^2; ``rel_energy_max`` max
    |H(x_hat) - H_b| / H_b; ``rel_energy_first``, ``rel_energy_last`` its mean
    over the first and the last 10 % of the times (bounded: equal; drift:
    last >> first); ``state_mse`` mean ||x_hat - x_true||^2; ``rel_state_last``
    max_b ||x_hat_b(t_end) - x_b(t_end)|| / ||x_b(0)||.
    """
    x_hat, x_true = np.asarray(x_hat, np.float64), np.asarray(x_true, np.float64)
    if x_hat.shape != x_true.shape or x_hat.ndim != 3:
        raise ValueError(f"x_hat and x_true must both have shape (B, T, 2n); got {x_hat.shape}, "
                         f"{x_true.shape}")
    B, T, d = x_hat.shape
    H = system.energy(x_hat.reshape(-1, d)).reshape(B, T)  # (B, T)
    H_b = system.energy(x_true[:, 0])[:, None]  # (B, 1)
    rel = np.abs(H - H_b) / H_b  # (B, T)
    k = max(1, T // 10)
    size = np.linalg.norm(x_true[:, 0], axis=1)  # (B,)
    return dict(energy_mse=float(np.mean((H - H_b) ** 2)), rel_energy_mse=float(np.mean(rel**2)),
                rel_energy_max=float(rel.max()), rel_energy_first=float(rel[:, :k].mean()),
                rel_energy_last=float(rel[:, -k:].mean()),
                state_mse=float(np.mean(np.sum((x_hat - x_true) ** 2, axis=2))),
                rel_state_last=float(np.max(np.linalg.norm(x_hat[:, -1] - x_true[:, -1], axis=1) / size)),
                t_end=float(t[-1]))


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


# --- losses, floors, stencils ---------------------------------------------------------

def relative_mse(pred, target):
    """The training loss with relative weights: (1/(N D)) sum_i ||pred_i - y_i||^2 / ||y_i||^2.

    The same number in physical and in scaled units (both sides scale by s).
    pred, target : (N, D) -> float
    """
    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    if pred.shape != target.shape or pred.ndim != 2:
        raise ValueError(f"pred and target must both have shape (N, D); got {pred.shape}, {target.shape}")
    norm2 = np.sum(target**2, axis=1)  # (N,)
    if np.any(norm2 == 0):
        raise ValueError("target has an all-zero row: relative weights 1/||y||^2 are undefined")
    return float(np.mean(np.sum((pred - target) ** 2, axis=1) / norm2) / target.shape[1])


def noise_floor(system, x_noisy, dx_dt):
    """The loss the true field gets on noisy inputs: relative_mse(S(x~), y); -> float.

    x_noisy, dx_dt : (N, 2n), the observed (noisy) states and their targets.
    """
    x_noisy = as_states(x_noisy, system.n_dof, "x_noisy")
    return relative_mse(system.time_derivative(x_noisy), dx_dt)


def stencil_bias(order, theta):
    """|1 - rho(theta)|, rho = (2/theta) sum_s c_s sin(s theta): the relative error of
    central differences of ``order`` on a harmonic oscillator at theta = omega dt.

    theta : float or ndarray -> same shape
    """
    if order not in CENTRAL_WEIGHTS:
        raise ValueError(f"order must be one of {tuple(CENTRAL_WEIGHTS)}; got {order!r}")
    theta = np.asarray(theta, dtype=np.float64)
    if np.any(~np.isfinite(theta)) or np.any(theta <= 0):
        raise ValueError("theta must be positive and finite")
    rho = 2.0 / theta * sum(c * np.sin(s * theta) for s, c in enumerate(CENTRAL_WEIGHTS[order], 1))
    return np.abs(1.0 - rho)


def target_errors(system, ds):
    """||dx_dt_i - S(x_i)|| / ||S(x_i)|| of a dataset's targets; -> (N,)."""
    S = system.time_derivative(ds.x)
    return np.linalg.norm(ds.dx_dt - S, axis=1) / np.linalg.norm(S, axis=1)


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
    save_png(fig, folder, "extra1_long_rollouts.png")


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
    save_png(fig, folder, "extra2_radius.png")


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
    save_png(fig, folder, "extra3_derivatives.png")


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
    save_png(fig, folder, "extra4_noise.png")


# --- tables ---------------------------------------------------------------------------

def _pct(x):
    return f"{100 * x:.2f} %"


def extra_tables(summary) -> str:
    """The Markdown tables of the four studies, from :func:`make_extra_figures`' summary."""
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


def make_extra_figures(folder="figures/extra", runs="runs/extra", quick=False, log=print) -> dict:
    """Run the four studies; write their figures, ``extra.json`` and ``extra.md`` into ``folder``.

    Parameters
    ----------
    folder : path
        Where the PNGs, ``extra.json`` and ``extra.md`` go.
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
        The summary written to ``extra.json``.
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
    E.save_metrics(os.path.join(folder, "extra.json"), summary)
    write_text(os.path.join(folder, "extra.md"), extra_tables(summary))
    log(f"extra figures written to {folder}/ in {summary['seconds']['total']:.0f} s")
    return summary
