"""Two bodies under gravity in the plane: in relative coordinates (:class:`TwoBody`, H = |p|^2 / (2 mu) - k / |q|)
and in the bodies' own coordinates (:class:`TwoBodyAbsolute`, 8 columns, as Greydanus et al. 2019)."""

from __future__ import annotations

import numpy as np

from .._checks import check_pair
from .base import System, as_states, jitted
from .pendulum import _positive

__all__ = ["TwoBody", "TwoBodyAbsolute", "two_body_rhs", "two_body_rhs_into", "two_body_absolute_rhs",
           "two_body_absolute_rhs_into"]


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


class TwoBodyAbsolute(System):
    """Two bodies under gravity in the plane, each with its own position and momentum.

    The state has 8 columns in the order of Greydanus et al.'s two-body data
    (``experiment-2body/data.py``: the coordinates x, then y, then the
    momenta, body 1 before body 2)::

        x = (x_1, x_2, y_1, y_2, px_1, px_2, py_1, py_2),     q = x[:4], p = x[4:]

    (n_dof = 4), with r_i = (x_i, y_i), p_i = (px_i, py_i) = m_i dr_i/dt and
    d = r_2 - r_1::

        H = |p_1|^2 / (2 m_1) + |p_2|^2 / (2 m_2) - k / |d|,      k = G m_1 m_2

        dr_i/dt = p_i / m_i,     dp_1/dt = k d / |d|^3 = -dp_2/dt

    Besides H, the total momentum P = p_1 + p_2 and the angular momentum
    L = sum_i r_i x p_i are conserved; the centre of mass moves with velocity
    P / (m_1 + m_2). :meth:`relative` maps a state to the relative
    coordinates of :class:`TwoBody` (q = d, p = mu dd/dt), where the
    energy of the motion about the centre of mass is H - |P|^2 / (2 M).
    """

    n_dof = 4
    name = "two-body-absolute"

    def __init__(self, m1: float = 1.0, m2: float = 1.0, G: float = 1.0):
        self.m1 = _positive(m1, "m1")
        self.m2 = _positive(m2, "m2")
        self.G = _positive(G, "G")
        self.M = self.m1 + self.m2
        self.mu = self.m1 * self.m2 / self.M
        self.k = self.G * self.m1 * self.m2

    def __repr__(self) -> str:
        return f"TwoBodyAbsolute(m1={self.m1}, m2={self.m2}, G={self.G})"

    def _split(self, x):
        """r1, r2, p1, p2, each (N, 2), and |d| (N,); ValueError where the bodies coincide."""
        x = as_states(x, 4)
        r1, r2 = x[:, [0, 2]], x[:, [1, 3]]
        p1, p2 = x[:, [4, 6]], x[:, [5, 7]]
        dist = np.hypot(r2[:, 0] - r1[:, 0], r2[:, 1] - r1[:, 1])
        if np.any(dist == 0):
            raise ValueError(f"x has r_1 = r_2 (the bodies coincide, H is singular) in row "
                             f"{int(np.argmax(dist == 0))}")
        return r1, r2, p1, p2, dist

    def energy(self, x) -> np.ndarray:
        """H = |p_1|^2 / (2 m_1) + |p_2|^2 / (2 m_2) - k / |r_2 - r_1|; x (N, 8) -> (N,)."""
        _, _, p1, p2, dist = self._split(x)
        return (np.sum(p1**2, axis=1) / (2 * self.m1) + np.sum(p2**2, axis=1) / (2 * self.m2)
                - self.k / dist)

    def hamiltonian_gradient(self, x) -> np.ndarray:
        """dH/dr_1 = -k d / |d|^3 = -dH/dr_2, dH/dp_i = p_i / m_i; x (N, 8) -> (N, 8)."""
        r1, r2, p1, p2, dist = self._split(x)
        pull = (self.k / (dist * dist * dist))[:, None] * (r2 - r1)  # k d / |d|^3, (N, 2), as the compiled twin
        dH_dx = np.empty((len(r1), 8), dtype=np.result_type(r1, np.float64))
        dH_dx[:, [0, 2]], dH_dx[:, [1, 3]] = -pull, pull  # dH/dr_1, dH/dr_2
        dH_dx[:, [4, 6]], dH_dx[:, [5, 7]] = p1 / self.m1, p2 / self.m2
        return dH_dx

    def ode(self):
        """``(fun, (params,))`` with the jitted ``fun(t, y, params) -> dy_dt``, params = [m1, m2, k]."""
        return jitted(two_body_absolute_rhs), (np.array([self.m1, self.m2, self.k]),)

    def ode_inplace(self):
        """``(fun, (params,))`` with the jitted ``fun(t, y, dy_dt, params)``, params = [m1, m2, k]."""
        return jitted(two_body_absolute_rhs_into), (np.array([self.m1, self.m2, self.k]),)

    def centre_of_mass(self, x) -> np.ndarray:
        """(m_1 r_1 + m_2 r_2) / M; x (N, 8) -> (N, 2)."""
        r1, r2, *_ = self._split(x)
        return (self.m1 * r1 + self.m2 * r2) / self.M

    def total_momentum(self, x) -> np.ndarray:
        """P = p_1 + p_2 (conserved); x (N, 8) -> (N, 2)."""
        _, _, p1, p2, _ = self._split(x)
        return p1 + p2

    def angular_momentum(self, x) -> np.ndarray:
        """L = sum_i (x_i py_i - y_i px_i) (conserved); x (N, 8) -> (N,)."""
        r1, r2, p1, p2, _ = self._split(x)
        return (r1[:, 0] * p1[:, 1] - r1[:, 1] * p1[:, 0]) + (r2[:, 0] * p2[:, 1] - r2[:, 1] * p2[:, 0])

    def relative(self, x) -> np.ndarray:
        """The relative coordinates (q, p) = (d, mu (p_2 / m_2 - p_1 / m_1)) of :class:`TwoBody`; (N, 8) -> (N, 4)."""
        r1, r2, p1, p2, _ = self._split(x)
        return np.concatenate([r2 - r1, self.mu * (p2 / self.m2 - p1 / self.m1)], axis=1)


def two_body_absolute_rhs(t, y, params):
    """Compiled twin of :meth:`TwoBodyAbsolute.time_derivative` for one state y (8,); params = [m1, m2, k]."""
    dy_dt = np.empty_like(y)
    m1, m2, k = params[0], params[1], params[2]
    dx, dy = y[1] - y[0], y[3] - y[2]  # d = r_2 - r_1
    dist = np.hypot(dx, dy)
    c = k / (dist * dist * dist)
    dy_dt[0], dy_dt[1], dy_dt[2], dy_dt[3] = y[4] / m1, y[5] / m2, y[6] / m1, y[7] / m2  # p_i / m_i
    dy_dt[4], dy_dt[5], dy_dt[6], dy_dt[7] = c * dx, -c * dx, c * dy, -c * dy  # +-k d / |d|^3
    return dy_dt


def two_body_absolute_rhs_into(t, y, dy_dt, params):
    """:func:`two_body_absolute_rhs` in place; params = [m1, m2, k]."""
    m1, m2, k = params[0], params[1], params[2]
    dx, dy = y[1] - y[0], y[3] - y[2]  # d = r_2 - r_1
    dist = np.hypot(dx, dy)
    c = k / (dist * dist * dist)
    dy_dt[0] = y[4] / m1  # dr_1/dt = p_1 / m_1
    dy_dt[1] = y[5] / m2  # dr_2/dt = p_2 / m_2
    dy_dt[2] = y[6] / m1
    dy_dt[3] = y[7] / m2
    dy_dt[4] = c * dx  # dp_1/dt = k d / |d|^3
    dy_dt[5] = -c * dx  # dp_2/dt = -k d / |d|^3
    dy_dt[6] = c * dy
    dy_dt[7] = -c * dy
