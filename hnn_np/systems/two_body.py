"""Two bodies under gravity in the plane, in relative coordinates: H = |p|^2 / (2 mu) - k / |q|."""

from __future__ import annotations

import numpy as np

from .._checks import check_pair
from .base import System, as_states, jitted
from .pendulum import _positive

__all__ = ["TwoBody", "two_body_rhs", "two_body_rhs_into"]


class TwoBody(System):
    """Two bodies under gravity in the plane, in relative coordinates.

    With positions r1, r2 (2-D) the centre of mass moves uniformly and drops
    out; what is left is one body of reduced mass mu = m1 m2 / (m1 + m2) at
    the separation q = r2 - r1, with momentum p = mu dq/dt. The state is
    x = (q_x, q_y, p_x, p_y) (n_dof = 2) and

        H(q, p) = |p|^2 / (2 mu) - k / |q|,        k = G m1 m2

        dq_dt =  dH/dp = p / mu
        dp_dt = -dH/dq = -k q / |q|^3

    Beyond H, the angular momentum L = q_x p_y - q_y p_x is conserved
    (:meth:`angular_momentum`). A bound orbit (E < 0) is an ellipse of
    semi-major axis a = -k / (2 E) and period T = 2 pi sqrt(a^3 / (G M)),
    M = m1 + m2 (Kepler's third law; :meth:`period`). H is singular at
    q = 0: states with |q| = 0 raise ValueError.

    Parameters
    ----------
    m1, m2, G : float
        Masses and the gravitational constant (> 0).
    max_eccentricity : float
        Orbits drawn by :meth:`sample_initial_states` have eccentricity
        e ~ U[0, max_eccentricity], 0 <= max_eccentricity < 1. Keeping it
        well below 1 keeps the bodies apart (the periapsis is a (1 - e)).
    """

    n_dof = 2
    name = "two-body"

    def __init__(self, m1: float = 1.0, m2: float = 1.0, G: float = 1.0,
                 max_eccentricity: float = 0.5):
        self.m1 = _positive(m1, "m1")
        self.m2 = _positive(m2, "m2")
        self.G = _positive(G, "G")
        try:
            e_max = float(max_eccentricity)
        except (TypeError, ValueError):
            e_max = np.nan
        if not 0 <= e_max < 1:
            raise ValueError(f"max_eccentricity must be in [0, 1) (bound orbits); "
                             f"got {max_eccentricity!r}")
        self.max_eccentricity = e_max
        self.M = self.m1 + self.m2  # total mass
        self.mu = self.m1 * self.m2 / self.M  # reduced mass
        self.k = self.G * self.m1 * self.m2  # coupling: V(q) = -k / |q|

    def __repr__(self) -> str:
        return (f"TwoBody(m1={self.m1}, m2={self.m2}, G={self.G}, "
                f"max_eccentricity={self.max_eccentricity})")

    def _separation(self, x):
        """|q| of each row, (N,); ValueError where the bodies coincide."""
        r = np.hypot(x[:, 0], x[:, 1])
        if np.any(r == 0):
            raise ValueError(f"x has q = 0 (the bodies coincide, H is singular) in row "
                             f"{int(np.argmax(r == 0))}")
        return r

    def energy(self, x) -> np.ndarray:
        """H = |p|^2 / (2 mu) - k / |q|; x (N, 4) -> (N,)."""
        x = as_states(x, 2)
        r = self._separation(x)
        return (x[:, 2] ** 2 + x[:, 3] ** 2) / (2.0 * self.mu) - self.k / r

    def hamiltonian_gradient(self, x) -> np.ndarray:
        """dH_dx = (k q / |q|^3, p / mu); x (N, 4) -> (N, 4)."""
        x = as_states(x, 2)
        r = self._separation(x)
        dH_dx = np.empty_like(x)
        r3 = r * r * r  # as in the compiled twin, to the last bit
        dH_dx[:, :2] = self.k * x[:, :2] / r3[:, None]  # dH/dq
        dH_dx[:, 2:] = x[:, 2:] / self.mu  # dH/dp
        return dH_dx

    def ode(self):
        """``(fun, (mu, k))`` with the jitted ``fun(t, y, mu, k) -> dy_dt``."""
        return jitted(two_body_rhs), (self.mu, self.k)

    def ode_inplace(self):
        """``(fun, (params,))`` with the jitted ``fun(t, y, dy_dt, params)``, params = [mu, k]."""
        return jitted(two_body_rhs_into), (np.array([self.mu, self.k]),)

    def angular_momentum(self, x) -> np.ndarray:
        """L = q_x p_y - q_y p_x (conserved); x (N, 4) -> (N,)."""
        x = as_states(x, 2)
        return x[:, 0] * x[:, 3] - x[:, 1] * x[:, 2]

    def semi_major_axis(self, energies) -> np.ndarray:
        """a = -k / (2 E) of bound orbits, E < 0; (n,) -> (n,)."""
        E = np.asarray(energies, dtype=np.float64)
        if not (np.all(np.isfinite(E)) and np.all(E < 0)):
            raise ValueError(f"energies must be negative (bound orbits); got {E!r}")
        return -self.k / (2.0 * E)

    def period(self, energies) -> np.ndarray:
        """Kepler's third law T = 2 pi sqrt(a^3 / (G M)), a = -k / (2E); (n,) -> (n,)."""
        a = self.semi_major_axis(energies)
        return 2 * np.pi * np.sqrt(a**3 / (self.G * self.M))

    def orbit_state(self, a, e, anomaly, angle=0.0, direction=1.0) -> np.ndarray:
        """The state on a Kepler ellipse at a given eccentric anomaly.

        In the orbit's own frame (periapsis on +x, motion counter-clockwise),
        with mean motion n = sqrt(G M / a^3), b = a sqrt(1 - e^2) and
        eccentric anomaly u::

            q = (a (cos u - e),  b sin u)
            dq/dt = n / (1 - e cos u) * (-a sin u,  b cos u),     p = mu dq/dt

        ``direction`` = -1 mirrors the orbit (y -> -y, clockwise motion), and
        the frame is then rotated by ``angle``. H = -k / (2a) and
        L = direction * mu sqrt(G M a (1 - e^2)).

        Parameters
        ----------
        a : array_like, shape (n,) or scalar
            Semi-major axes (> 0).
        e : array_like
            Eccentricities in [0, 1).
        anomaly, angle, direction : array_like
            Eccentric anomaly u, rotation of the orbit, +1 or -1; all broadcast.

        Returns
        -------
        x : ndarray, shape (n, 4)
        """
        a, e, u, w, s = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=np.float64))
                                              for v in (a, e, anomaly, angle, direction)))
        if a.ndim != 1:
            raise ValueError(f"a, e, anomaly, angle and direction must be scalars or 1-D; "
                             f"got shape {a.shape}")
        if not (np.all(np.isfinite(a)) and np.all(a > 0)):
            raise ValueError("a must be positive finite semi-major axes")
        if not (np.all(np.isfinite(e)) and np.all((e >= 0) & (e < 1))):
            raise ValueError("e must be eccentricities in [0, 1)")
        if not (np.all(np.isfinite(u)) and np.all(np.isfinite(w))):
            raise ValueError("anomaly and angle must be finite")
        if not np.all(np.abs(s) == 1):
            raise ValueError("direction must be +1 or -1")
        b = a * np.sqrt(1.0 - e**2)
        n = np.sqrt(self.G * self.M / a**3)
        cu, su = np.cos(u), np.sin(u)
        rate = n / (1.0 - e * cu)  # du/dt
        qx, qy = a * (cu - e), s * b * su
        vx, vy = -a * su * rate, s * b * cu * rate
        cw, sw = np.cos(w), np.sin(w)
        return np.stack([cw * qx - sw * qy, sw * qx + cw * qy,
                         self.mu * (cw * vx - sw * vy), self.mu * (sw * vx + cw * vy)], axis=1)

    def sample_initial_states(self, n: int, rng: np.random.Generator, radius: float = 1.0,
                              energy_range=(0.5, 1.0), log_energy: bool = False):
        """Bound orbits for :func:`hnn_np.data.sample_initial_states` (its hook).

        As for every system, E_max = :meth:`radius_to_energy` (R) = H(R, 0)
        = -k / R and E / E_max ~ U[lo, hi] (log-uniform if ``log_energy``);
        here E_max < 0, so E = f E_max with f in [lo, hi] is a bound orbit of
        semi-major axis a = -k / (2E) = R / (2 f). For example R = 1 and
        (lo, hi) = (1/3, 1) give a in [0.5, 1.5]. Then e ~ U[0,
        max_eccentricity], and the eccentric anomaly, the orientation of the
        ellipse ~ U[0, 2 pi), the sense of rotation +-1 with equal odds
        (:meth:`orbit_state`).

        Returns
        -------
        x0s : ndarray, shape (n, 4)
        energies : ndarray, shape (n,), all < 0
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be an integer >= 1; got {n!r}")
        R = _positive(radius, "radius")
        lo, hi = check_pair(energy_range, "energy_range")
        if not (0 < lo <= hi < np.inf):
            raise ValueError(f"energy_range must be fractions 0 < lo <= hi of E_max; got {(lo, hi)}")
        E_max = self.radius_to_energy(R)  # -k / R < 0
        f = np.exp(rng.uniform(np.log(lo), np.log(hi), n)) if log_energy else rng.uniform(lo, hi, n)
        energies = f * E_max  # (n,)
        a = self.semi_major_axis(energies)
        e = rng.uniform(0.0, self.max_eccentricity, n)
        anomaly = rng.uniform(0.0, 2 * np.pi, n)
        angle = rng.uniform(0.0, 2 * np.pi, n)
        direction = np.where(rng.uniform(size=n) < 0.5, -1.0, 1.0)
        return self.orbit_state(a, e, anomaly, angle, direction), energies


def two_body_rhs(t, y, mu, k):
    """Compiled twin of :meth:`TwoBody.time_derivative` for y = (q_x, q_y, p_x, p_y)."""
    dy_dt = np.empty_like(y)
    r = np.hypot(y[0], y[1])
    r3 = r * r * r
    dy_dt[0] = y[2] / mu  # dq_dt = p / mu
    dy_dt[1] = y[3] / mu
    dy_dt[2] = -k * y[0] / r3  # dp_dt = -k q / |q|^3
    dy_dt[3] = -k * y[1] / r3
    return dy_dt


def two_body_rhs_into(t, y, dy_dt, params):
    """:func:`two_body_rhs` in place; params = [mu, k]."""
    mu, k = params[0], params[1]
    r = np.hypot(y[0], y[1])
    r3 = r * r * r
    dy_dt[0] = y[2] / mu  # dq_dt = p / mu
    dy_dt[1] = y[3] / mu
    dy_dt[2] = -k * y[0] / r3  # dp_dt = -k q / |q|^3
    dy_dt[3] = -k * y[1] / r3
