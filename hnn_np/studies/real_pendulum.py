r"""A real pendulum: learned fields against the authors' physics model on measured data.

Data: :func:`hnn_np.datasets.load_real_pendulum`, six segments of 9.167 s at
dt = 1 ms, states x = (theta [rad], omega [rad/s]), theta = pi hanging down.
Every model here trains on segments 0-3 and is judged on segments 4 and 5,
as the authors identified their model on 0-3 and validated it on 4-5.

The authors' model (Kaheman et al. 2022)::

    theta'' = -(k1 theta' - a1 g m1 sin theta) / M,        M = m1 a1^2 + I1

so omega0 = sqrt(a1 g m1 / M) = 8.014 rad/s and gamma = k1 / M = 0.067 1/s,
and its energy E = M omega^2 / 2 + a1 g m1 (1 + cos theta) [J].

What an HNN learns here. (theta, omega) is not a canonical pair; the
momentum is p = M omega. With dq/dt = dH/dp the Hamiltonian in (theta, omega)
is H(theta, omega) = E / M (the factor 1/M turns d/dp into d/domega), so the
learned H is E / M = omega^2 / 2 + omega0^2 (1 + cos theta) in rad^2/s^2, up
to an additive constant: multiply by M for joules. An HNN conserves it, so
it cannot follow the measured decay; a D-HNN adds a dissipation D with
dx/dt = J grad H + grad D; the baseline learns dx/dt directly.

Targets. The file's omega was denoised by the authors and lags dtheta/dt
by 0.84 ms; the encoder's theta is quantised (2 pi / 40000 rad).
``velocity="theta"`` (the three runs) takes omega, too, from central
differences of theta, so that states and targets come from the encoder
alone: x = (theta, dtheta/dt), targets (dtheta/dt, d2theta/dt2), each a
difference of ``order`` at ``stride`` samples. ``velocity="fd"`` keeps the
file's omega as the state and differences it; ``velocity="omega"`` also
replaces the dtheta/dt target by it. :func:`velocity_check` measures
RMS(omega - dtheta/dt) for each order and stride.

The D-HNN is the mean of ``members = 5`` networks trained from seeds 0-4
(:func:`hnn_np.ensemble.stack_models`; still one D-HNN, with H and D the
means of theirs): the validation swings lie inside the smallest training
orbit, where a single network's field is decided by its seed.

``real-pendulum-trajectory`` learns from theta without differencing the
targets: a D-HNN integrated by RK4 from each window's start over 20 ms
samples of theta, the loss on theta alone, fitted by L-BFGS over windows of
10, 50 and 150 samples in turn (:mod:`hnn_np.studies.pendulum_trajectory`),
also the mean of 5.

Evaluation (:func:`evaluate`): from each validation segment's first
measured state, the field is rolled out over the whole segment with our
DOP853 (rtol = atol = 1e-10) and compared with the measurement: RMS errors of
theta and omega, and the energy decay E(end) / E(start), the mean of E over
the last second over its mean over the first, with E the authors' energy
(the same yardstick for every model). The small-amplitude frequency is that
of the field linearised at its equilibrium (:func:`hnn_np.measured.linearization`).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from ..datasets import load_real_pendulum, real_pendulum_params
from ..ensemble import stack_models
from ..integrate import solve_ivp
from ..io import save_json, save_npz
from ..outputs import RunFolder
from ..measured import derivative_targets, learn, linearization, velocities_from_positions
from ..npz import read_npz
from ..rollout import rollout
from ..train import TrainConfig
from .pendulum_trajectory import learn_from_theta, theta_samples, trajectory_config

__all__ = ["PendulumRun", "RUNS", "TRAIN_SEGMENTS", "VALIDATION_SEGMENTS", "authors_field", "energy",
           "evaluate", "velocity_check", "training_data", "pretrain_rows", "run_real_pendulum", "authors_metrics"]

TRAIN_SEGMENTS = (0, 1, 2, 3)
VALIDATION_SEGMENTS = (4, 5)
RTOL = ATOL = 1e-10
FILES = ("model.npz", "metrics.json", "rollouts.npz")  # out/NAME/
QUICK = dict(steps=30, hidden=(8, 8))  # `--quick`: the pipeline, not the results
QUICK_STAGES = ((4, 5, False), (8, 5, True))  # `--quick` of a trajectory run: two short stages


@dataclass(frozen=True)
class PendulumRun:
    """One model of the real pendulum: its network, targets and Adam settings."""

    name: str
    title: str
    kind: str = "hnn"
    hidden: tuple = (64, 64)
    steps: int = 3000
    order: int = 4
    stride: int = 10
    every: int | None = None  # keep a row every EVERY samples (default: stride)
    velocity: str = "fd"  # "fd": dtheta/dt by differences; "omega": the file's omega; "theta": both from theta
    members: int = 1  # networks from seeds seed, seed + 1, ...: the model is their mean (hnn_np.ensemble)
    lr: float = 3e-3
    batch_size: int = 256
    weight_decay: float = 0.0
    seed: int = 0
    target: str = "derivative"  # or "trajectory": through RK4 from theta alone (studies.pendulum_trajectory)
    stages: tuple = ()  # trajectory: ((K, lbfgs_steps, learn_starts), ...), windows of K samples, in order
    substeps: int = 1  # trajectory: RK4 steps per sample interval
    pretrain_steps: int = 0  # trajectory: Adam steps of a derivative fit (pretrain_targets) before the stages
    pretrain_targets: tuple = (6, 60, 5)  # trajectory: its (order, stride, every) of differences of theta

    def train_config(self, steps=None, seed=None, hidden=None, dtype="float64") -> TrainConfig:
        if self.target == "trajectory":
            return trajectory_config(self, steps, seed, hidden, dtype)
        n_out = {"hnn": 1, "baseline": 2}.get(self.kind, 2)  # a D-HNN outputs (H, D)
        return TrainConfig(kind=self.kind, sizes=(2, *(hidden or self.hidden), n_out), lr=self.lr,
                           batch_size=self.batch_size, steps=self.steps if steps is None else steps,
                           finetune_steps=0, schedule="cosine", lr_min=1e-5, refit_output=True,
                           weight_decay=self.weight_decay, seed=self.seed if seed is None else seed, dtype=dtype)


# The data of all three: omega, too, from the encoder's theta (velocity="theta"; the file's omega lags
# dtheta/dt, docs/real_pendulum.md), order-6 differences over a stencil step of 60 samples (60 ms), a row
# every 5 ms. The D-HNN's settings were chosen without segments 4-5: trained on 0-2, rolled out over 3
# (docs/real_pendulum.md lists the candidates and their errors).
_TARGETS = dict(order=6, stride=60, every=5, velocity="theta")
RUNS = {r.name: r for r in [
    PendulumRun("real-pendulum", "Real pendulum: D-HNN, J grad H + grad D, mean of 5 (the project's best)",
                kind="dhnn", members=5, **_TARGETS),
    # Its settings, too, chosen on segments 0-2 by the rollout over 3 (docs/real_pendulum.md).
    PendulumRun("real-pendulum-trajectory", "Real pendulum: D-HNN through RK4 from theta alone, mean of 5",
                kind="dhnn", members=5, target="trajectory", order=6, stride=20, every=20, velocity="theta", steps=0,
                stages=((10, 300, False), (50, 300, False), (150, 500, True))),
    PendulumRun("real-pendulum-hnn", "Real pendulum: HNN (conserves its energy)", kind="hnn", **_TARGETS),
    PendulumRun("real-pendulum-baseline", "Real pendulum: baseline MLP predicting dx/dt", kind="baseline",
                **_TARGETS),
]}


def authors_field(params=None):
    """The authors' field (N, 2) -> (N, 2): (omega, -(k1 omega - a1 g m1 sin theta) / M)."""
    p = real_pendulum_params() if params is None else params
    M = p["m1"] * p["a1"] ** 2 + p["I1"]

    def field(x):
        x = np.atleast_2d(x)
        return np.column_stack([x[:, 1], -(p["k1"] * x[:, 1] - p["a1"] * p["g"] * p["m1"] * np.sin(x[:, 0])) / M])

    return field


def energy(x, params=None):
    """E = M omega^2 / 2 + a1 g m1 (1 + cos theta) [J] of states x (N, 2); zero hanging at rest."""
    p = real_pendulum_params() if params is None else params
    x = np.atleast_2d(x)
    M = p["m1"] * p["a1"] ** 2 + p["I1"]
    return 0.5 * M * x[:, 1] ** 2 + p["a1"] * p["g"] * p["m1"] * (1 + np.cos(x[:, 0]))


def _roll(field, x0, t):
    """DOP853 at rtol = atol = 1e-10 of a NumPy field (N, 2) -> (N, 2) from x0 over t; (T, 2)."""
    res = solve_ivp(lambda _t, y: field(y[None, :])[0], (t[0], t[-1]), np.asarray(x0, dtype=np.float64),
                    t_eval=t, rtol=RTOL, atol=ATOL)
    if res.status != 0:
        raise RuntimeError(f"rollout failed: {res.message}")
    return res.y.T


def model_rollout(model, x0, t):
    """A Model's field rolled out with our DOP853; (T, 2)."""
    return rollout(model, np.asarray(x0)[None, :], t, rtol=RTOL, atol=ATOL, how="python")[0]


def evaluate(roll, data, params=None):
    """Rollout metrics of ``roll(x0, t) -> (T, 2)`` on every trajectory of ``data``.

    Returns (metrics, curves): ``theta_rms_seg{k}``, ``omega_rms_seg{k}``,
    ``energy_ratio_seg{k}`` (model) and ``measured_energy_ratio_seg{k}`` for
    each segment k; curves maps ``seg{k}`` to the rolled-out states (T, 2).
    """
    metrics, curves = {}, {}
    for k, t, x in zip(data.ids, data.t, data.x):
        x_hat = roll(x[0], t)
        first, last = t - t[0] <= 1.0, t[-1] - t <= 1.0
        E, E_hat = energy(x, params), energy(x_hat, params)
        metrics[f"theta_rms_seg{k}"] = float(np.sqrt(np.mean((x_hat[:, 0] - x[:, 0]) ** 2)))
        metrics[f"omega_rms_seg{k}"] = float(np.sqrt(np.mean((x_hat[:, 1] - x[:, 1]) ** 2)))
        metrics[f"energy_ratio_seg{k}"] = float(E_hat[last].mean() / E_hat[first].mean())
        metrics[f"measured_energy_ratio_seg{k}"] = float(E[last].mean() / E[first].mean())
        curves[f"seg{k}"] = x_hat
    return metrics, curves


def authors_metrics(data=None):
    """The authors' model on the validation segments, rolled out and linearised as the learned ones."""
    data = load_real_pendulum() if data is None else data
    p = real_pendulum_params()
    field = authors_field(p)
    val = data.subset([data.ids.index(k) for k in VALIDATION_SEGMENTS])
    metrics, curves = evaluate(lambda x0, t: _roll(field, x0, t), val, p)
    lin = linearization(field, [np.pi, 0.0])
    metrics.update(omega0=lin["omega0"], omega_d=lin["omega_d"], decay_rate=lin["decay_rate"])
    return metrics, curves


def velocity_check(data=None, orders=(2, 4, 6), strides=(1, 10)):
    """How the file's omega differs from dtheta/dt by central differences.

    ``order{o}_stride{k}``: RMS(omega - dtheta/dt) over all segments for each
    order and stencil stride. ``lag_seconds``: the least-squares tau in
    omega(t) - dtheta/dt(t) ~ -tau domega/dt(t), i.e. omega(t) ~ dtheta/dt(t - tau)
    (order 4, stride 10); ``rms_after_lag``: what remains once it is removed.
    """
    data = load_real_pendulum() if data is None else data
    out = {}
    for stride in strides:
        for order in orders:
            x, dx_dt, _ = derivative_targets(data, order, stride)
            out[f"order{order}_stride{stride}"] = float(np.sqrt(np.mean((x[:, 1] - dx_dt[:, 0]) ** 2)))
    x, dx_dt, _ = derivative_targets(data, 4, 10)
    diff, accel = x[:, 1] - dx_dt[:, 0], dx_dt[:, 1]
    tau = -float(np.dot(diff, accel) / np.dot(accel, accel))
    out.update(lag_seconds=tau, rms_after_lag=float(np.sqrt(np.mean((diff + tau * accel) ** 2))))
    return out


def training_data(run: PendulumRun, data):
    """(x, dx_dt) of the training segments: differences, or the file's omega for dtheta/dt.

    ``velocity="theta"``: omega too is a difference of theta
    (:func:`hnn_np.measured.velocities_from_positions`, the run's order and
    stride), so states and both targets come from the encoder alone.
    """
    if run.velocity not in ("fd", "omega", "theta"):
        raise ValueError(f"velocity must be 'fd', 'omega' or 'theta'; got {run.velocity!r}")
    if run.velocity == "theta":
        data = velocities_from_positions(data, run.order, run.stride)
    x, dx_dt, _ = derivative_targets(data, run.order, run.stride, run.every)
    if run.velocity == "omega":
        dx_dt[:, 0] = x[:, 1]
    return x, dx_dt


def pretrain_rows(run: PendulumRun, data):
    """A trajectory run's derivative pre-fit rows (x, dx_dt): differences of theta at its ``pretrain_targets``."""
    if not run.pretrain_steps:
        return None
    order, stride, every = run.pretrain_targets
    return training_data(replace(run, velocity="theta", order=order, stride=stride, every=every), data)


def run_real_pendulum(run, out="runs", *, steps=None, seed=None, dtype=None, quick=False, progress=None,
                      overwrite=False):
    """Train one run on segments 0-3, evaluate it on 4-5, and save ``out/NAME/``.

    Writes ``model.npz`` (a Model in data units, :func:`hnn_np.load_model`),
    ``metrics.json`` (the model's metrics beside the authors') and
    ``rollouts.npz`` (the measured and rolled-out validation segments),
    together at the end; a folder with an earlier run's files is refused
    unless ``overwrite``. Returns (model, metrics).
    """
    if isinstance(run, str):
        if run not in RUNS:
            raise ValueError(f"unknown real-pendulum run {run!r}; choose one of {sorted(RUNS)}")
        run = RUNS[run]
    data = load_real_pendulum()
    train = data.subset([data.ids.index(k) for k in TRAIN_SEGMENTS])
    val = data.subset([data.ids.index(k) for k in VALIDATION_SEGMENTS])
    q = QUICK if quick else {}
    if run.target not in ("derivative", "trajectory"):
        raise ValueError(f"target must be 'derivative' or 'trajectory'; got {run.target!r}")
    trajectory = run.target == "trajectory"
    cfg = run.train_config(steps=(0 if trajectory else q.get("steps")) if quick else steps, seed=seed,
                           hidden=q.get("hidden"), dtype=dtype or "float64")
    if isinstance(run.members, bool) or not isinstance(run.members, int) or run.members < 1:
        raise ValueError(f"members must be a positive integer; got {run.members!r}")
    if trajectory:  # what is learned from, checked before the folder is taken
        n_train = sum(len(theta) for theta in theta_samples(run, train)[0])  # the theta samples observed
    else:
        x, dx_dt = training_data(run, train)  # the derivative recipe's rows
        n_train = len(x)
    with RunFolder(os.path.join(out, run.name), FILES, overwrite=overwrite) as folder:  # before training
        t0 = time.perf_counter()
        if trajectory:
            rows = pretrain_rows(run, train)
            members = [learn_from_theta(run, train, replace(cfg, seed=cfg.seed + k), QUICK_STAGES if quick else None,
                                        progress, rows) for k in range(run.members)]
        else:
            members = [learn(x, dx_dt, replace(cfg, seed=cfg.seed + k), progress=progress)
                       for k in range(run.members)]
        seconds = time.perf_counter() - t0
        model = members[0] if run.members == 1 else stack_models(members, config=members[0].config,
                                                                 metrics=dict(members[0].metrics))  # fmt: skip
        metrics, curves = evaluate(lambda x0, t: model_rollout(model, x0, t), val)
        if run.members > 1:  # each member alone, rolled out the same way
            alone = [evaluate(lambda x0, t, m=m: model_rollout(m, x0, t), val)[0] for m in members]
            metrics.update({f"members_{key}": [a[key] for a in alone] for key in alone[0] if key.startswith("theta")})
        lin = linearization(model.time_derivative, [np.pi, 0.0])
        ref, ref_curves = authors_metrics(data)
        metrics.update(omega0=lin["omega0"], omega_d=lin["omega_d"], decay_rate=lin["decay_rate"],
                       equilibrium_theta=lin["equilibrium"][0], train_seconds=seconds, n_train=n_train,
                       **{f"authors_{k}": v for k, v in ref.items() if not k.startswith("measured")})
        if model.kind == "hnn":  # its energy, in joules, against the authors' E (constant fixed at rest)
            p = real_pendulum_params()
            M = p["m1"] * p["a1"] ** 2 + p["I1"]
            H = M * (model.energy(x) - model.energy(np.array([[np.pi, 0.0]]))[0])
            metrics["energy_vs_authors_nrmse"] = float(np.sqrt(np.mean((H - energy(x, p)) ** 2)) / np.std(energy(x, p)))
        model.config.update(experiment=run.name, title=run.title, run=_jsonable(asdict(run)), quick=bool(quick))
        model.metrics = {**model.metrics, **metrics}
        _save(folder, model, metrics, run, val, curves, ref_curves)
    return model, metrics


def _save(folder, model, metrics, run, val, curves, ref_curves):
    model.save(folder.path("model.npz"))
    arrays = {"t_seg%d" % k: t for k, t in zip(val.ids, val.t)}
    arrays.update({"measured_seg%d" % k: xv for k, xv in zip(val.ids, val.x)})
    arrays.update({"model_" + k: v for k, v in curves.items()})
    arrays.update({"authors_" + k: v for k, v in ref_curves.items()})
    save_npz(folder.path("rollouts.npz"), arrays)
    save_json(folder.path("metrics.json"), dict(metrics, experiment=run.name, title=run.title))


def _jsonable(d):
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


# --- the table and the figure, from the saved runs ------------------------------------

_LABELS = {"real-pendulum": "D-HNN (real-pendulum)", "real-pendulum-trajectory": "D-HNN through RK4",
           "real-pendulum-hnn": "HNN", "real-pendulum-baseline": "baseline"}


def _seconds(metrics) -> str:
    return f"{metrics['train_seconds']:.0f}" if "train_seconds" in metrics else "–"


def pendulum_table(results) -> str:
    """A Markdown table of ``{name: metrics}`` (each holding the authors' numbers too)."""
    first = next(iter(results.values()))
    rows = [("authors' model", {k[len("authors_"):]: v for k, v in first.items() if k.startswith("authors_")})]
    rows += [(name, m) for name, m in results.items()]
    head = ("| model | θ RMS seg 4 [rad] | θ RMS seg 5 | ω RMS seg 4 [rad/s] | ω RMS seg 5 | ω0 [rad/s] "
            "| E ratio seg 4 | E ratio seg 5 | train [s] |\n|---|---|---|---|---|---|---|---|---|\n")
    lines = [f"| {name} | {m['theta_rms_seg4']:.3e} | {m['theta_rms_seg5']:.3e} | {m['omega_rms_seg4']:.3e} "
             f"| {m['omega_rms_seg5']:.3e} | {m['omega0']:.4f} | {m['energy_ratio_seg4']:.3f} "
             f"| {m['energy_ratio_seg5']:.3f} | {_seconds(m)} |" for name, m in rows]
    lines.append(f"| measured | | | | | | {first['measured_energy_ratio_seg4']:.3f} "
                 f"| {first['measured_energy_ratio_seg5']:.3f} | |")
    return head + "\n".join(lines) + "\n"


def draw_real_pendulum(folder, runs, names=tuple(RUNS), window=2.5, name="real_pendulum.png"):
    """Measured against rolled-out theta(t) (the last ``window`` s of segments 4 and 5) and E(t), one PNG."""
    from ..plotting import pyplot, save_png

    saved = {}
    for run_name in names:
        saved[run_name] = read_npz(os.path.join(runs, run_name, "rollouts.npz"), "rollouts file")
    first = saved[names[0]]
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    styles = [("authors", "authors' model", dict(color="tab:gray", ls="--"))]
    styles += [(n, _LABELS.get(n, n), dict(color=c)) for n, c in
               zip(names, ("tab:red", "tab:blue", "tab:green", "tab:purple"))]
    for ax, k in zip(axes[:2], VALIDATION_SEGMENTS):
        t = first[f"t_seg{k}"]
        keep = t >= t[-1] - window
        ax.plot(t[keep], first[f"measured_seg{k}"][keep, 0], color="k", lw=2.2, label="measured")
        for key, label, style in styles:
            x = first[f"authors_seg{k}"] if key == "authors" else saved[key][f"model_seg{k}"]
            ax.plot(t[keep], x[keep, 0], lw=1.2, label=label, **style)
        ax.set(xlabel="t [s]", ylabel="θ [rad]", title=f"validation segment {k}: the last {window:g} s")
    ax = axes[2]
    for k in VALIDATION_SEGMENTS:
        t = first[f"t_seg{k}"]
        ax.plot(t, energy(first[f"measured_seg{k}"]), color="k", lw=1.5, label="measured" if k == 4 else None)
        for key, label, style in styles:
            x = first[f"authors_seg{k}"] if key == "authors" else saved[key][f"model_seg{k}"]
            ax.plot(t, energy(x), lw=1.0, label=label if k == 4 else None, **style)
    ax.set(xlabel="t [s]", ylabel="E [J]", yscale="log", title="energy, segments 4 and 5")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle("Real pendulum: trained on segments 0-3, rolled out from the first state of 4 and 5")
    fig.tight_layout()
    save_png(fig, folder, name)
    return os.path.join(folder, name)


def run_all(folder="figures/studies", runs="runs/studies", quick=False, progress=None, log=print):
    """Train every run of RUNS, then write ``real_pendulum.png``, ``real_pendulum.md`` and ``.json`` into folder."""
    from ..io import save_text

    results = {}
    for name in RUNS:
        _, results[name] = run_real_pendulum(name, runs, quick=quick, progress=progress, overwrite=True)
        log(f"{name}: theta RMS {results[name]['theta_rms_seg4']:.3e} (seg 4), "
            f"{results[name]['theta_rms_seg5']:.3e} (seg 5); {results[name]['train_seconds']:.0f} s")
    results_v = dict(results, velocity_check=velocity_check())
    save_json(os.path.join(folder, "real_pendulum.json"), results_v)
    save_text(os.path.join(folder, "real_pendulum.md"), pendulum_table(results))
    draw_real_pendulum(folder, runs)
    return results_v
