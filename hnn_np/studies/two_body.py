r"""The two-body problem to a relative field error of 1e-3.

System: :class:`~hnn_np.systems.TwoBody` with m1 = m2 = G = 1 in relative
coordinates x = (q_x, q_y, p_x, p_y), q = r2 - r1, p = mu dq/dt, mu = 1/2::

    H(q, p) = |p|^2 / (2 mu) - 1 / |q|,     dq/dt = p / mu,   dp/dt = -q / |q|^3

The family. Bound orbits of semi-major axis a in [0.5, 1.5] and
eccentricity e <= 0.5, so |q| = a (1 - e cos u) lies in [0.25, 2.25] and
|dp/dt| = 1 / |q|^2 in [0.2, 16].

States of an orbit (:func:`orbit_states`). An orbit is fixed by (a, e), the
orientation w of its periapsis and its sense of rotation s = +-1; a state on
it by the mean anomaly M = n (t - t_p), which advances uniformly in time
(n = sqrt(G M_tot / a^3)). Kepler's equation

    M = u - e sin u                                              (Newton: u <- u - (u - e sin u - M) / (1 - e cos u))

gives the eccentric anomaly u, and :meth:`TwoBody.orbit_state` the state.
No integration is needed: every state is exact to rounding.

Test states (:func:`held_out_states`): the family as
:meth:`TwoBody.sample_initial_states` draws it (E / E_max ~ U[1/3, 1] with
R = 1, i.e. a = 1 / (2 f); e ~ U[0, 0.5]; w ~ U[0, 2 pi); s = +-1), at a mean
anomaly M ~ U[0, 2 pi): a state of a random orbit at a random time. They are
drawn from their own random stream (``seed`` and a fixed tag), never from the
training one.

Training states (:class:`TwoBodyData`): the same law of orbits on a slightly
wider box (a in [0.45, 1.65], e <= 0.55, so that the test family sits inside
the data rather than on its edge), orientations uniform (the problem is
invariant under rotations, so this only spreads the samples evenly), and the
phase uniform in the eccentric anomaly u rather than in time, which puts
(1 - e cos u)^-1 more samples near periapsis, where the field is largest and
bends fastest. Targets are the exact field.

Training (:data:`TRAIN`): the package's recipe, :func:`hnn_np.fit`, on
x / s with one scalar scale s = :data:`INPUT_SCALE` (:func:`fit_scaled`), the
relative loss 1 / ||dx/dt||^2, batches of 256 and a cosine learning-rate
decay from 3e-3 to 1e-6 over 72000 Adam steps, then the exact least-squares
output layer. The Adam steps run in float32: at these sizes a step takes
1.9-2.3x less time than in float64 on one BLAS thread and the errors are
the same (12000 steps: median 9.42e-4 against 9.55e-4); the weights are
then cast to float64 and the output layer is solved in float64. At budgets
of minutes only more Adam steps lowered the errors; batch size, learning
rate, width, depth, data size and the phase law did not, and two BLAS
threads are slower than one when the other core is busy. 72000 steps take
261 s and reach a median field error of 3.7e-4, a 99th
percentile of 1.4e-3 and a rollout energy error of 5.6e-4. The
measurements, and what limits the energy error (the field error near the
periapsis of the most eccentric orbits), are in ``docs/two_body.md``.

Evaluation (:func:`evaluate_two_body`): the relative field error
||S_hat - S|| / ||S|| on the test states (median, 99th percentile); rollouts of
the learned field over 20 time units from test states, scored by the true
energy and angular momentum, |H(x_hat(t)) - H(x0)| / |H(x0)| and
|L(x_hat(t)) - L(x0)| / |L(x0)|, both closed forms.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from .._checks import check_pair
from ..evaluate import field_errors
from ..data import Scale
from ..io import save_json, save_npz
from ..outputs import RunFolder
from ..model import Model
from ..npz import read_npz
from ..plotting import pyplot, save_png
from ..rollout import rollout
from ..systems import TwoBody
from ..refine import fit_output_layer
from ..train import TrainConfig, fit, row_weights

__all__ = ["SYSTEM", "FAMILY", "TwoBodyData", "TRAIN", "QUICK", "kepler_anomaly", "orbit_states",
           "kepler_states", "held_out_states", "training_states", "INPUT_SCALE", "fit_scaled",
           "evaluate_two_body", "run_two_body", "draw_two_body"]

SYSTEM = TwoBody(m1=1.0, m2=1.0, G=1.0, max_eccentricity=0.5)
FAMILY = dict(a=(0.5, 1.5), e_max=0.5)  # the orbits the model is judged on
_TEST_TAG = 7919  # the test stream is default_rng([seed, _TEST_TAG]); training uses [seed, 1]


@dataclass(frozen=True)
class TwoBodyData:
    """How the training states are drawn (see the module docstring).

    n : states; a_range, e_max : the box of orbits; a_law : "energy"
    (E ~ uniform, as the test family) or "uniform" (a ~ uniform); phase :
    "eccentric" (u ~ U[0, 2 pi)), "true" (the true anomaly ~ U[0, 2 pi),
    denser still at periapsis) or "time" (M ~ U[0, 2 pi)).
    """

    n: int = 20000
    a_range: tuple = (0.45, 1.65)
    e_max: float = 0.55
    a_law: str = "energy"
    phase: str = "eccentric"

    def __post_init__(self):
        if isinstance(self.n, bool) or not isinstance(self.n, (int, np.integer)) or self.n < 2:
            raise ValueError(f"n must be an integer >= 2; got {self.n!r}")
        _check_family(self.a_range, self.e_max)
        if self.a_law not in ("energy", "uniform"):
            raise ValueError(f"a_law must be 'energy' or 'uniform'; got {self.a_law!r}")
        if self.phase not in ("eccentric", "true", "time"):
            raise ValueError(f"phase must be 'eccentric', 'true' or 'time'; got {self.phase!r}")


FILES = ("model.npz", "metrics.json", "rollouts.npz", "two_body.png")  # out/two-body/
INPUT_SCALE = 0.5  # x~ = x / s: |q~| in [0.5, 4.5] (docs/two_body.md: s = max ||x|| = 2.5 is 3x worse)
TRAIN = dict(sizes=(4, 200, 200, 200, 1), lr=3e-3, batch_size=256, steps=72000, finetune_steps=0,
             schedule="cosine", lr_min=1e-6, loss_weighting="relative", normalize=False,
             refit_output=True, eval_every=1000, dtype="float32")
QUICK = dict(n=400, n_test=400, sizes=(4, 16, 16, 1), steps=30, batch_size=64, t_end=2.0,
             n_rollouts=2, n_times=41)


def _check_family(a_range, e_max):
    lo, hi = check_pair(a_range, "a_range")
    if not (0 < lo <= hi < np.inf):
        raise ValueError(f"a_range must satisfy 0 < lo <= hi; got {a_range!r}")
    if not (isinstance(e_max, (int, float, np.floating)) and 0 <= e_max < 1):
        raise ValueError(f"e_max must be in [0, 1); got {e_max!r}")
    return lo, hi


def _check_scale(scale):
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.floating)) or not (
            np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive finite number; got {scale!r}")
    return float(scale)


def kepler_anomaly(M, e, iterations=50):
    """The eccentric anomaly u solving Kepler's equation M = u - e sin u, e in [0, 1).

    Newton's method from u = M + e sin M; for e <= 0.8 it reaches rounding
    in under ten steps, and stops as soon as no step changes u.
    """
    M, e = np.broadcast_arrays(np.asarray(M, dtype=np.float64), np.asarray(e, dtype=np.float64))
    if not (np.all(np.isfinite(M)) and np.all((e >= 0) & (e < 1))):
        raise ValueError("M must be finite and e in [0, 1)")
    u = M + e * np.sin(M)
    for _ in range(iterations):
        du = (u - e * np.sin(u) - M) / (1.0 - e * np.cos(u))  # f / f'
        u = u - du
        if np.all(np.abs(du) <= 4e-16 * (1.0 + np.abs(u))):
            break
    return u


def orbit_states(system, n, rng, a_range, e_max, a_law="energy", phase="time"):
    """``n`` states of random bound orbits; -> x (n, 4), elements.

    ``elements`` is a dict of (n,) arrays ``a``, ``e``, ``angle``,
    ``direction`` and the mean anomaly ``M`` of each state, from which
    :func:`kepler_states` gives the state at any later time.


    a: 1 / a ~ uniform (``a_law="energy"``, E = -k / (2a) uniform) or a ~
    uniform; e ~ U[0, e_max]; orientation ~ U[0, 2 pi); sense +-1 with equal
    odds; the phase uniform in the mean anomaly (``"time"``), in the
    eccentric anomaly (``"eccentric"``) or in the true anomaly nu
    (``"true"``; density (1 - e cos u)^-1 in u, where time has 1 - e cos u).
    """
    lo, hi = _check_family(a_range, e_max)
    if a_law == "energy":
        a = 1.0 / rng.uniform(1.0 / hi, 1.0 / lo, n)  # (n,)
    elif a_law == "uniform":
        a = rng.uniform(lo, hi, n)
    else:
        raise ValueError(f"a_law must be 'energy' or 'uniform'; got {a_law!r}")
    e = rng.uniform(0.0, e_max, n)
    angle = rng.uniform(0.0, 2 * np.pi, n)
    direction = np.where(rng.uniform(size=n) < 0.5, -1.0, 1.0)
    anomaly = rng.uniform(0.0, 2 * np.pi, n)
    if phase == "time":
        M = anomaly
    elif phase == "eccentric":
        M = anomaly - e * np.sin(anomaly)  # u -> M
    elif phase == "true":  # the true anomaly nu -> u = 2 atan(sqrt((1 - e) / (1 + e)) tan(nu / 2)) -> M
        u = 2 * np.arctan2(np.sqrt(1 - e) * np.sin(anomaly / 2), np.sqrt(1 + e) * np.cos(anomaly / 2))
        M = np.mod(u - e * np.sin(u), 2 * np.pi)
    else:
        raise ValueError(f"phase must be 'eccentric', 'true' or 'time'; got {phase!r}")
    elements = dict(a=a, e=e, angle=angle, direction=direction, M=M)
    return kepler_states(system, elements, 0.0)[:, 0], elements


def kepler_states(system, elements, t):
    """The exact states of the orbits ``elements`` at times t; -> (n, T, 4).

    The mean anomaly advances as M(t) = M + n t, n = sqrt(G M_tot / a^3)
    (Kepler's third law), then u from :func:`kepler_anomaly`.
    """
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))  # (T,)
    a, e = elements["a"][:, None], elements["e"][:, None]  # (n, 1)
    n_motion = np.sqrt(system.G * system.M / a**3)  # (n, 1)
    M = elements["M"][:, None] + n_motion * t[None, :]  # (n, T)
    u = kepler_anomaly(np.mod(M, 2 * np.pi), e)
    B, T = u.shape
    rep = lambda v: np.repeat(v, T)  # noqa: E731  (n,) -> (n T,)
    x = system.orbit_state(rep(elements["a"]), rep(elements["e"]), u.ravel(),
                           rep(elements["angle"]), rep(elements["direction"]))
    return x.reshape(B, T, 4)


def held_out_states(n, seed=0, system=SYSTEM):
    """Held-out states of the family at random times, from their own stream; -> x (n, 4), elements."""
    rng = np.random.default_rng([seed, _TEST_TAG])
    return orbit_states(system, n, rng, FAMILY["a"], FAMILY["e_max"], "energy", "time")


def training_states(data: TwoBodyData, seed=0, system=SYSTEM):
    """Training states and their exact field; -> x (n, 4), dx_dt (n, 4)."""
    rng = np.random.default_rng([seed, 1])
    x, _ = orbit_states(system, data.n, rng, data.a_range, data.e_max, data.a_law, data.phase)
    return x, system.time_derivative(x)


def evaluate_two_body(model, x_test, elements_0, t, system=SYSTEM, how="compiled"):
    """Field errors on ``x_test`` and rollouts of the orbits ``elements_0`` over the times ``t``.

    Returns
    -------
    metrics : dict of float
        ``field_error_median``, ``field_error_p99``, ``field_error_max``,
        ``field_error_aggregate``; ``rollout_energy_error_max`` and
        ``rollout_angular_momentum_error_max`` (max over rollouts and times
        of |H(x_hat) - H0| / |H0| and |L(x_hat) - L0| / |L0|),
        ``rollout_position_error_end`` (max over rollouts of
        ||q_hat(t_end) - q(t_end)|| / a).
    curves : dict of ndarray
        ``t`` (T,), ``true`` and ``hnn`` (R, T, 4), ``H_true``, ``H_hnn``,
        ``L_hnn`` (R, T), ``r_test`` (N,) |q| and ``field_error`` (N,) the
        per-state relative field errors.
    """
    S = system.time_derivative(x_test)  # (N, 4)
    S_hat = model.time_derivative(x_test)
    rel = np.linalg.norm(S_hat - S, axis=1) / np.linalg.norm(S, axis=1)  # (N,)
    err = field_errors(S_hat, S)
    metrics = dict(field_error_median=err["median"], field_error_p99=err["p99"],
                   field_error_max=float(rel.max()), field_error_aggregate=err["aggregate"],
                   n_test=float(len(x_test)))
    true = kepler_states(system, elements_0, t)  # (R, T, 4), closed form
    R, T, d = true.shape
    x_hat = rollout(model, true[:, 0], t, rtol=1e-10, atol=1e-10, how=how)  # (R, T, 4)
    H = system.energy(x_hat.reshape(-1, d)).reshape(R, T)
    L = system.angular_momentum(x_hat.reshape(-1, d)).reshape(R, T)
    H0, L0 = system.energy(true[:, 0])[:, None], system.angular_momentum(true[:, 0])[:, None]
    dq = np.linalg.norm(x_hat[:, -1, :2] - true[:, -1, :2], axis=1) / elements_0["a"]  # (R,)
    metrics.update(rollout_energy_error_max=float(np.max(np.abs(H - H0) / np.abs(H0))),
                   rollout_angular_momentum_error_max=float(np.max(np.abs(L - L0) / np.abs(L0))),
                   rollout_position_error_end=float(dq.max()), rollout_t_end=float(t[-1]),
                   n_rollouts=float(R))
    curves = dict(t=t, true=true, hnn=x_hat, H_true=np.broadcast_to(H0, (R, T)).copy(), H_hnn=H,
                  L_hnn=L, r_test=np.hypot(x_test[:, 0], x_test[:, 1]), field_error=rel)
    return metrics, curves


def fit_scaled(x, dx_dt, config, scale):
    """:func:`hnn_np.fit` on x~ = x / s, dx~/dt = (dx/dt) / s, returned as a float64 model of scale s.

    :class:`hnn_np.data.Scale` with a chosen s rather than s = max ||x||: the
    scaled data are again Hamiltonian, H~(x~) = H(s x~) / s^2, and the
    returned :class:`~hnn_np.model.Model` maps back to physical units.

    Adam runs in ``config.dtype``. With float32 the weights are then cast to
    float64 and the exact output layer (``config.refit_output``) is solved in
    float64 on the float64 data, so the model, its field and its rollouts are
    float64 whatever precision Adam used.
    """
    if config.normalize:
        raise ValueError("config.normalize must be False: the scale is given")
    s = Scale(_check_scale(scale))
    xs, ys = s.transform(x), s.transform_derivative(dx_dt)  # float64
    low = config.dtype != "float64"
    fitted = fit(xs, ys, replace(config, refit_output=config.refit_output and not low), progress=False)
    params, metrics = fitted.params, dict(fitted.metrics)
    if low:
        params = [(W.astype(np.float64), b.astype(np.float64)) for W, b in params]
        if config.refit_output:
            before, after = fit_output_layer(config.kind, params, xs, ys, row_weights(ys, config.loss_weighting))
            metrics.update(refit_loss_before=before, refit_loss_after=after)
    return Model(fitted.kind, params, s.s, config={**config.to_dict(), "input_scale": s.s},
                 metrics=metrics, history=fitted.history)


def run_two_body(out, *, quick=False, seed=0, log=print, data=None, train=None, scale=INPUT_SCALE,
                 overwrite=False):
    """Train the HNN of the experiment ``two-body``, evaluate it and draw its figure.

    Parameters
    ----------
    out : path
        Results go to ``out/two-body/``: ``model.npz``, ``metrics.json``,
        ``rollouts.npz`` and the figure ``two_body.png``.
    quick : bool
        Tiny data, network and step count: the pipeline in seconds, not the results.
    seed : int
        Seeds the training states, the test states (a separate stream), the
        initial weights and the batch order; the same seed gives the same bits.
    log : callable
        Receives a few lines of text.
    data : TwoBodyData, optional
        The training states (default ``TwoBodyData()``).
    train : dict, optional
        Overrides of :data:`TRAIN` (any :class:`~hnn_np.train.TrainConfig` field).
    scale : float
        The input scale s of :func:`fit_scaled` (:data:`INPUT_SCALE`).
    overwrite : bool
        Replace the files of an earlier run in ``out/two-body/`` (refused
        without it); the new ones are renamed into place together at the end.

    Returns
    -------
    model : hnn_np.Model
    metrics : dict of float
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
    if not isinstance(quick, (bool, np.bool_)):
        raise ValueError(f"quick must be True or False; got {quick!r}")
    _check_scale(scale)
    data = TwoBodyData() if data is None else data
    if not isinstance(data, TwoBodyData):
        raise ValueError(f"data must be a TwoBodyData; got {type(data).__name__}")
    kw = {**TRAIN, **(train or {})}
    n_test, t_end, n_roll, n_times = 20000, 20.0, 6, 401
    if quick:
        data = replace(data, n=QUICK["n"])
        kw.update(sizes=QUICK["sizes"], steps=QUICK["steps"], batch_size=QUICK["batch_size"])
        n_test, t_end, n_roll, n_times = QUICK["n_test"], QUICK["t_end"], QUICK["n_rollouts"], QUICK["n_times"]
    config = TrainConfig(**{**kw, "seed": int(seed)})  # ValueError on a bad setting
    with RunFolder(os.path.join(out, "two-body"), FILES, overwrite=overwrite) as run:
        return _run(run, data, config, seed, n_test, t_end, n_roll, n_times, scale, quick, log)


def _run(run, data, config, seed, n_test, t_end, n_roll, n_times, scale, quick, log):
    x, dx_dt = training_states(data, seed=int(seed))
    x_test, elements = held_out_states(n_test, seed=int(seed))
    t0 = time.perf_counter()
    model = fit_scaled(x, dx_dt, config, scale)
    seconds = time.perf_counter() - t0
    model.config.update(system=repr(SYSTEM), experiment="studies/two-body", quick=bool(quick),
                        data={k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(data).items()})
    first = {k: v[:n_roll] for k, v in elements.items()}  # rollouts from the first test states
    t = np.linspace(0.0, t_end, n_times)
    metrics, curves = evaluate_two_body(model, x_test, first, t, how="python" if quick else "compiled")
    metrics.update(train_seconds=seconds, n_train=float(len(x)), steps=float(config.steps),
                   refit_loss_before=model.metrics["refit_loss_before"],
                   refit_loss_after=model.metrics["refit_loss_after"], quick=float(bool(quick)))
    model.metrics.update(metrics)
    model.save(run.path("model.npz"))
    save_json(run.path("metrics.json"), metrics)
    save_npz(run.path("rollouts.npz"), curves)
    draw_two_body(run.stage, read_npz(run.path("rollouts.npz"), "rollouts file"), metrics)
    log(f"two-body: field error median {metrics['field_error_median']:.2e}, p99 "
        f"{metrics['field_error_p99']:.2e} on {n_test} test states; rollout energy error "
        f"{metrics['rollout_energy_error_max']:.2e} over {t_end:g} time units; trained in {seconds:.0f} s")
    return model, metrics


def draw_two_body(folder, curves, metrics):
    """``folder/two_body.png`` from the saved rollouts: orbits, energy error against time, field error against |q|."""
    plt = pyplot()
    fig, (ax0, ax1, ax2) = plt.subplots(1, 3, figsize=(13, 4))
    t, true, hnn = curves["t"], curves["true"], curves["hnn"]
    for r in range(len(true)):
        line, = ax0.plot(true[r, :, 0], true[r, :, 1], lw=2.5, alpha=0.35)
        ax0.plot(hnn[r, :, 0], hnn[r, :, 1], "--", lw=0.9, color=line.get_color())
    ax0.plot([0], [0], "k+")
    ax0.set(aspect="equal", xlabel="$q_x$", ylabel="$q_y$",
            title=f"orbits over {t[-1]:g} time units: true (thick), HNN (dashed)")
    rel_H = np.abs(curves["H_hnn"] - curves["H_true"]) / np.abs(curves["H_true"])
    for r in range(len(rel_H)):
        ax1.semilogy(t, np.maximum(rel_H[r], 1e-17), lw=0.9)
    ax1.axhline(1e-3, color="k", ls=":", lw=0.8)
    ax1.set(xlabel="t", ylabel="|H(x_hat(t)) - H(x0)| / |H(x0)|",
            title=f"true energy along the HNN rollouts (max {metrics['rollout_energy_error_max']:.1e})")
    ax2.loglog(curves["r_test"], curves["field_error"], ".", ms=1, alpha=0.3)
    ax2.axhline(metrics["field_error_median"], color="C1", lw=1, label="median")
    ax2.axhline(metrics["field_error_p99"], color="C3", lw=1, label="99th percentile")
    ax2.set(xlabel="|q|", ylabel="||S_hat - S|| / ||S||", title="relative field error on the test states")
    ax2.legend(loc="upper right")
    fig.tight_layout()
    save_png(fig, folder, "two_body.png")
    plt.close(fig)
