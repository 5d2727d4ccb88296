r"""The two-body problem in Greydanus et al.'s protocol: their data, their rollouts, their energy metric.

Greydanus, Dzamba & Yosinski (2019), Sec. 4 and the code of
``experiment-2body/data.py`` and ``analyze-2body.ipynb`` of
github.com/greydanus/hamiltonian-nn; the facts below are theirs, the code
is this package's.

System: :class:`~hnn_np.systems.TwoBodyAbsolute`, m_1 = m_2 = G = 1, the
state x = (x_1, x_2, y_1, y_2, px_1, px_2, py_1, py_2) (8 columns, their
order)::

    H = |p_1|^2 / 2 + |p_2|^2 / 2 - 1 / |r_2 - r_1|

Initial states (:func:`initial_state`). Body 1 at r ~ U[0.5, 1.5]^2, body 2
at -r: the centre of mass at the origin. Each body circles it at radius
|r|, separation 2|r|, so the circular speed solves v^2 / |r| = G m / (2|r|)^2::

    v_circ = sqrt(G m / (4 |r|)) = 1 / (2 sqrt(|r|))
    v_1 = v_circ (-r_y, r_x) / |r| * (1 + 0.05 n),  n ~ N(0, 1),    v_2 = -v_1

(counter-clockwise; the one factor makes the circles slightly elliptical,
and the total momentum stays 0). The draws are those of NumPy's legacy
generator in their order -- ``random_sample(2)``, then ``standard_normal()``
-- so ``np.random.RandomState(seed)`` gives the initial states of their
code with ``np.random.seed(seed)``, to the bit.

Data (:func:`make_data`). 1000 initial states drawn one after the other
from ``RandomState(seed)`` (their ``train.py`` seeds with 0), each
integrated with RK45 (this package's, rtol 1e-9, atol 1e-6: scipy's
``solve_ivp`` defaults, which they keep) onto 50 times evenly spaced in
[0, 20]; targets the exact field at those states. Rows are orbit-major and
the first 20 % of them (the first 200 orbits) are the test set.

Rollouts (:func:`rollout_states`, :func:`energy_rollouts`). 15 initial
states, state i from ``RandomState(i)``, integrated by the true field and by
the model with RK45 at rtol 1e-9 over 500 times evenly spaced in [0, 25].
The metric is the mean squared difference of the true total energy along the
two, over all 15 x 500 points::

    energy_mse = mean_{i, j} (H(x_i(t_j)) - H(x_hat_i(t_j)))^2

and its spread as they report it: the standard deviation of the means of 5
consecutive groups of 3 rollouts, over sqrt(5). Their HNN: 3.88e-5 +- 5.0e-6,
their baseline 6.33e-2 +- 3.4e-2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .._checks import check_int, check_pair, check_real
from ..integrate import solve_ivp_batch
from ..rollout import rollout
from ..systems import TwoBodyAbsolute

__all__ = ["SYSTEM", "Protocol", "PROTOCOL", "QUICK_PROTOCOL", "GreydanusData", "circular_speed",
           "initial_state", "orbits", "make_data", "rollout_states", "energy_mse", "energy_rollouts"]

SYSTEM = TwoBodyAbsolute(m1=1.0, m2=1.0, G=1.0)


@dataclass(frozen=True)
class Protocol:
    """Greydanus et al.'s settings (:data:`PROTOCOL`); see the module docstring."""

    n_orbits: int = 1000
    n_points: int = 50
    t_end: float = 20.0
    test_fraction: float = 0.2
    r_range: tuple = (0.5, 1.5)
    orbit_noise: float = 0.05
    n_rollouts: int = 15
    rollout_t_end: float = 25.0
    rollout_points: int = 500
    rtol: float = 1e-9
    atol: float = 1e-6

    def __post_init__(self):
        for name, low in (("n_orbits", 2), ("n_points", 2), ("n_rollouts", 1), ("rollout_points", 2)):
            check_int(getattr(self, name), name, low)
        for name in ("t_end", "rollout_t_end", "rtol", "atol"):
            check_real(getattr(self, name), name, positive=True)
        check_real(self.orbit_noise, "orbit_noise", 0.0)
        lo, hi = check_pair(self.r_range, "r_range")
        if not 0 < lo <= hi:
            raise ValueError(f"r_range must satisfy 0 < lo <= hi; got {self.r_range!r}")
        n_test = int(self.n_orbits * self.n_points * check_real(self.test_fraction, "test_fraction"))
        if not 0 < n_test < self.n_orbits * self.n_points:
            raise ValueError(f"test_fraction must leave test and training rows; got {self.test_fraction!r}")


PROTOCOL = Protocol()
QUICK_PROTOCOL = Protocol(n_orbits=20, n_points=10, n_rollouts=3, rollout_t_end=5.0, rollout_points=40)


class GreydanusData(NamedTuple):
    """The orbits and their split. ``orbits`` (B, T, 8) at times ``t`` (T,); the first
    ``n_test_rows`` rows of ``orbits.reshape(-1, 8)`` are the test set."""

    t: np.ndarray
    orbits: np.ndarray
    n_test_rows: int
    x_train: np.ndarray
    dx_dt_train: np.ndarray
    x_test: np.ndarray
    dx_dt_test: np.ndarray

    @property
    def train_orbits(self):
        """The orbits with no test row, (B_train, T, 8) (the split falls on an orbit boundary)."""
        T = self.orbits.shape[1]
        return self.orbits[-(-self.n_test_rows // T):]


def circular_speed(r, system=SYSTEM):
    """The speed of each of two equal masses on a circle of radius r about their centre of mass.

    v^2 / r = G m / (2 r)^2, so v = sqrt(G m / (4 r)); r (n,) -> (n,).
    """
    if system.m1 != system.m2:
        raise ValueError(f"the circular start needs equal masses; got m1 = {system.m1}, m2 = {system.m2}")
    r = np.asarray(r, dtype=np.float64)
    if not (np.all(np.isfinite(r)) and np.all(r > 0)):
        raise ValueError("r must be positive and finite")
    return np.sqrt(system.G * system.m1 / (4.0 * r))


def initial_state(rng, protocol=PROTOCOL, system=SYSTEM):
    """One initial state (8,) from ``rng`` (a ``np.random.RandomState``), as the module docstring says."""
    lo, hi = protocol.r_range
    r = rng.random_sample(2) * (hi - lo) + lo  # body 1 at r, body 2 at -r
    size = np.sqrt(np.sum(r**2))
    v = circular_speed(size, system) * np.array([-r[1], r[0]]) / size  # counter-clockwise
    v = v * (1.0 + protocol.orbit_noise * rng.standard_normal())
    p = system.m1 * v
    return np.array([r[0], -r[0], r[1], -r[1], p[0], -p[0], p[1], -p[1]])


def orbits(x0s, t, protocol=PROTOCOL, system=SYSTEM):
    """The true motion from each x0 at the times t, by this package's RK45; (B, 8), (T,) -> (B, T, 8)."""
    fun, args = system.ode_inplace()
    res = solve_ivp_batch(fun, (t[0], t[-1]), np.ascontiguousarray(x0s, dtype=np.float64), t, method="RK45",
                          rtol=protocol.rtol, atol=protocol.atol, args=args, inplace=True)
    if np.any(res.status != 0):
        raise RuntimeError(f"RK45 failed on orbit {int(np.argmax(res.status != 0))}")
    return res.states


def make_data(protocol=PROTOCOL, seed=0, system=SYSTEM):
    """Greydanus et al.'s two-body data from ``RandomState(seed)``; -> :class:`GreydanusData`."""
    check_int(seed, "seed", 0)
    rng = np.random.RandomState(seed)
    x0s = np.stack([initial_state(rng, protocol, system) for _ in range(protocol.n_orbits)])  # (B, 8)
    t = np.linspace(0.0, protocol.t_end, protocol.n_points)
    x = orbits(x0s, t, protocol, system)  # (B, T, 8)
    rows = x.reshape(-1, 8)
    dx_dt = system.time_derivative(rows)
    n_test = int(len(rows) * protocol.test_fraction)  # their split: the first rows are the test set
    return GreydanusData(t, x, n_test, rows[n_test:], dx_dt[n_test:], rows[:n_test], dx_dt[:n_test])


def rollout_states(protocol=PROTOCOL, system=SYSTEM):
    """The rollouts' initial states, state i from ``RandomState(i)``; -> (n_rollouts, 8)."""
    return np.stack([initial_state(np.random.RandomState(i), protocol, system)
                     for i in range(protocol.n_rollouts)])


def energy_mse(H_true, H_hat, groups=5):
    """mean (H_true - H_hat)^2 and its spread std(group means) / sqrt(groups); (R, T), (R, T) -> (float, float).

    The groups are consecutive rollouts (R divisible by ``groups``; otherwise
    as many groups as divide R), as Greydanus et al.'s ``bootstrap_conf``.
    """
    H_true, H_hat = np.asarray(H_true, np.float64), np.asarray(H_hat, np.float64)
    if H_true.shape != H_hat.shape or H_true.ndim != 2:
        raise ValueError(f"H_true and H_hat must both be (R, T); got {H_true.shape}, {H_hat.shape}")
    sq = (H_true - H_hat) ** 2  # (R, T)
    g = max(k for k in range(1, groups + 1) if len(sq) % k == 0)
    means = [part.mean() for part in np.split(sq, g)]
    return float(sq.mean()), float(np.std(means) / np.sqrt(g))


def energy_rollouts(model, protocol=PROTOCOL, system=SYSTEM, how="compiled"):
    """The protocol's rollouts of ``model`` and of the truth, and the energy metric.

    Returns
    -------
    metrics : dict of float
        ``energy_mse``, ``energy_mse_spread`` (:func:`energy_mse`),
        ``rel_energy_max`` max |H(x_hat) - H(x)| / |H(x)|, ``state_mse_end``
        the mean ||x_hat(t_end) - x(t_end)||^2.
    curves : dict of ndarray
        ``t`` (T,), ``true``, ``hat`` (R, T, 8), ``H_true``, ``H_hat`` (R, T).
    """
    x0 = rollout_states(protocol, system)
    t = np.linspace(0.0, protocol.rollout_t_end, protocol.rollout_points)
    true = orbits(x0, t, protocol, system)  # (R, T, 8)
    hat = rollout(model, x0, t, method="RK45", rtol=protocol.rtol, atol=protocol.atol, how=how)
    R, T, d = true.shape
    H_true = system.energy(true.reshape(-1, d)).reshape(R, T)
    H_hat = system.energy(hat.reshape(-1, d)).reshape(R, T)
    mse, spread = energy_mse(H_true, H_hat)
    metrics = dict(energy_mse=mse, energy_mse_spread=spread,
                   rel_energy_max=float(np.max(np.abs(H_hat - H_true) / np.abs(H_true))),
                   state_mse_end=float(np.mean(np.sum((hat[:, -1] - true[:, -1]) ** 2, axis=1))))
    return metrics, dict(t=t, true=true, hat=hat, H_true=H_true, H_hat=H_hat)

