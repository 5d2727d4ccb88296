"""The pendulum, H = 2 m g l (1 - cos q) + l^2 p^2 / (2 m), without and with friction."""

from __future__ import annotations

import numpy as np

from .base import System, as_states, jitted

__all__ = ["IdealPendulum", "DampedPendulum", "pendulum_rhs", "pendulum_rhs_into"]


def _positive(value, name: str) -> float:
    """``value`` as a float, or ValueError unless it is positive and finite."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive finite number; got {value!r}") from None
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive finite number; got {value!r}")
    return v


def _energies_and_phases(energies, phases):
    """Validate the arguments of a ``sample_state``: two finite 1-D arrays of one length."""
    E = np.asarray(energies, dtype=np.float64)
    phi = np.asarray(phases, dtype=np.float64)
    if E.ndim != 1 or phi.shape != E.shape:
        raise ValueError(f"energies and phases must be 1-D arrays of one length; "
                         f"got shapes {E.shape} and {phi.shape}")
    if not (np.isfinite(E).all() and np.isfinite(phi).all()):
        raise ValueError("energies and phases must be finite")
    return E, phi


def _agm(a, b):
    """Arithmetic-geometric mean of arrays a, b > 0 (converges quadratically)."""
    a, b = np.asarray(a, dtype=np.float64).copy(), np.asarray(b, dtype=np.float64).copy()
    for _ in range(64):
        a, b = 0.5 * (a + b), np.sqrt(a * b)
        if np.all(np.abs(a - b) <= 4 * np.finfo(np.float64).eps * a):
            break
    return 0.5 * (a + b)


class IdealPendulum(System):
    """A frictionless pendulum, H = 2 m g l (1 - cos q) + l^2 p^2 / (2 m).

    This is the form of the HNN paper's pendulum task
    (Greydanus et al. 2019 use m = l = 1, g = 3, hence the defaults). Note it
    is *not* the textbook pendulum m g l (1 - cos q) + p^2 / (2 m l^2); only
    the constants differ. Hamilton's equations::

        dq_dt =  dH/dp = l^2 p / m
        dp_dt = -dH/dq = -2 m g l sin q

    so d2q/dt2 = -w0^2 sin q with w0^2 = (d2H/dq2)(d2H/dp2) at the origin
    = (2 m g l)(l^2 / m) = 2 g l^3 (w0 = sqrt(6) with the defaults).

    The energy is evaluated as 4 m g l sin^2(q / 2) + l^2 p^2 / (2 m), the
    same function without the cancellation of 1 - cos q at small q (which
    would cost ~1e-8 relative accuracy at q = 1e-4).

    Libration (closed orbits around q = 0) needs E < E_sep = 4 m g l, the
    energy of the separatrix (the pendulum upright, q = pi, p = 0). The
    samplers are restricted to it: :meth:`radius_to_energy` takes radii
    0 < R < pi, :meth:`sample_state` energies 0 <= E < E_sep.

    Parameters
    ----------
    m, l, g : float
        Mass, length and gravity (> 0).
    """

    n_dof = 1
    name = "ideal-pendulum"

    def __init__(self, m: float = 1.0, l: float = 1.0, g: float = 3.0):
        self.m = _positive(m, "m")
        self.l = _positive(l, "l")
        self.g = _positive(g, "g")
        self.omega0 = float(np.sqrt(2.0 * self.g * self.l**3))  # small-angle frequency
        self.separatrix_energy = 4.0 * self.m * self.g * self.l  # H(pi, 0)

    def __repr__(self) -> str:
        return f"IdealPendulum(m={self.m}, l={self.l}, g={self.g})"

    def energy(self, x) -> np.ndarray:
        """H(q, p) = 4 m g l sin^2(q/2) + l^2 p^2 / (2 m); x (N, 2) -> (N,)."""
        x = as_states(x, 1)
        q, p = x[:, 0], x[:, 1]
        return self.separatrix_energy * np.sin(0.5 * q) ** 2 + self.l**2 * p**2 / (2.0 * self.m)

    def hamiltonian_gradient(self, x) -> np.ndarray:
        """dH_dx = (2 m g l sin q, l^2 p / m); x (N, 2) -> (N, 2)."""
        x = as_states(x, 1)
        dH_dx = np.empty_like(x)
        dH_dx[:, 0] = 2.0 * self.m * self.g * self.l * np.sin(x[:, 0])  # dH/dq
        dH_dx[:, 1] = self.l**2 * x[:, 1] / self.m  # dH/dp
        return dH_dx

    def ode(self):
        """``(fun, (m, l, g, 0.0))`` with the jitted ``fun(t, y, m, l, g, gamma) -> dy_dt`` (gamma = 0)."""
        return jitted(pendulum_rhs), (self.m, self.l, self.g, 0.0)

    def ode_inplace(self):
        """``(fun, (params,))`` with the jitted ``fun(t, y, dy_dt, params)``, params = [m, l, g, 0]."""
        return jitted(pendulum_rhs_into), (np.array([self.m, self.l, self.g, 0.0]),)

    def radius_to_energy(self, radius: float) -> float:
        """E = H(R, 0) = 4 m g l sin^2(R / 2), for an amplitude 0 < R < pi."""
        R = _positive(radius, "radius")
        if not R < np.pi:
            raise ValueError(f"radius must be an amplitude in (0, pi) for a librating pendulum "
                             f"(q = pi is the separatrix); got {radius!r}")
        return float(self.energy(np.array([[R, 0.0]]))[0])

    def sample_state(self, energies, phases) -> np.ndarray:
        """States on the level sets H = E, placed by the phase phi.

        The energy is split between the two terms as cos^2(phi) : sin^2(phi)::

            4 m g l sin^2(q/2) = E cos^2(phi)   ->  q = 2 arcsin(sqrt(E / E_sep) cos phi)
            l^2 p^2 / (2 m)    = E sin^2(phi)   ->  p = sqrt(2 m E) / l * sin phi

        so H = E exactly (to rounding), without iteration; as E -> 0 this is
        the spring's ellipse q = sqrt(2E/a) cos phi, p = sqrt(2E/b) sin phi.
        phi -> (q, p) runs once around the closed level curve.

        Parameters
        ----------
        energies : array_like, shape (n,)
            Libration energies 0 <= E < E_sep = 4 m g l.
        phases : array_like, shape (n,)

        Returns
        -------
        x0 : ndarray, shape (n, 2)
        """
        E, phi = _energies_and_phases(energies, phases)
        if not (np.all(E >= 0) and np.all(E < self.separatrix_energy)):
            raise ValueError(f"energies must be libration energies in [0, 4 m g l = "
                             f"{self.separatrix_energy:g}); got values in [{E.min():g}, {E.max():g}]")
        q = 2.0 * np.arcsin(np.sqrt(E / self.separatrix_energy) * np.cos(phi))
        p = np.sqrt(2.0 * self.m * E) / self.l * np.sin(phi)
        return np.stack([q, p], axis=1)

    def period(self, energies) -> np.ndarray:
        """Exact libration period T(E) = 2 pi / (w0 AGM(1, cos(q_max / 2))).

        With amplitude sin(q_max / 2) = sqrt(E / E_sep) this is the classical
        T = 4 K(k) / w0, k = sin(q_max / 2), written with the
        arithmetic-geometric mean (K(k) = pi / (2 AGM(1, sqrt(1 - k^2)))).
        energies (n,) in [0, E_sep) -> (n,); T(0) = 2 pi / w0.
        """
        E = np.asarray(energies, dtype=np.float64)
        if not (np.all(np.isfinite(E)) and np.all(E >= 0) and np.all(E < self.separatrix_energy)):
            raise ValueError(f"energies must be in [0, 4 m g l = {self.separatrix_energy:g}); got {E!r}")
        return 2 * np.pi / (self.omega0 * _agm(1.0, np.sqrt(1.0 - E / self.separatrix_energy)))


class DampedPendulum(IdealPendulum):
    """The pendulum of :class:`IdealPendulum` observed with friction: not Hamiltonian.

    A stand-in for the HNN paper's "real pendulum" (measured data, which
    loses energy). The dynamics are::

        dq_dt =  dH/dp              = l^2 p / m
        dp_dt = -dH/dq - gamma p    = -2 m g l sin q - gamma p

    with the same H, so the energy decays at the rate

        dH/dt = dH/dq dq_dt + dH/dp dp_dt = -gamma p dH/dp = -gamma l^2 p^2 / m  <= 0

    (:meth:`energy_rate`). :meth:`energy` and :meth:`hamiltonian_gradient`
    are those of H (and :meth:`radius_to_energy`, :meth:`sample_state`,
    :meth:`period` those of the ideal pendulum: a dataset's energy is its
    initial energy); :meth:`time_derivative` and :meth:`ode` give the
    *damped* field, which is what a dataset observes. An HNN's field J grad H_theta
    conserves H_theta by construction, so it can only learn a conservative
    field: at best it recovers the conservative part J grad H and misses the
    friction, and its rollouts keep their energy while the truth decays.
    A baseline MLP can learn the dissipation.

    Parameters
    ----------
    m, l, g : float
        As for :class:`IdealPendulum`.
    friction : float
        gamma >= 0, the friction coefficient (gamma = 0 is the ideal pendulum).
    """

    name = "damped-pendulum"

    def __init__(self, m: float = 1.0, l: float = 1.0, g: float = 3.0, friction: float = 0.1):
        super().__init__(m, l, g)
        try:
            gamma = float(friction)
        except (TypeError, ValueError):
            gamma = np.nan
        if not (np.isfinite(gamma) and gamma >= 0):
            raise ValueError(f"friction must be a finite number >= 0; got {friction!r}")
        self.friction = gamma

    def __repr__(self) -> str:
        return f"DampedPendulum(m={self.m}, l={self.l}, g={self.g}, friction={self.friction})"

    def time_derivative(self, x) -> np.ndarray:
        """The damped field (dH/dp, -dH/dq - gamma p); x (N, 2) -> (N, 2)."""
        x = as_states(x, 1)
        dx_dt = super().time_derivative(x)
        dx_dt[:, 1] -= self.friction * x[:, 1]  # dp_dt = -dH/dq - gamma p
        return dx_dt

    def ode(self):
        """``(fun, (m, l, g, friction))`` with the jitted ``fun(t, y, m, l, g, gamma) -> dy_dt``."""
        return jitted(pendulum_rhs), (self.m, self.l, self.g, self.friction)

    def ode_inplace(self):
        """``(fun, (params,))`` with the jitted ``fun(t, y, dy_dt, params)``, params = [m, l, g, friction]."""
        return jitted(pendulum_rhs_into), (np.array([self.m, self.l, self.g, self.friction]),)

    def energy_rate(self, x) -> np.ndarray:
        """dH/dt = -gamma p dH/dp = -gamma l^2 p^2 / m along the damped flow; (N, 2) -> (N,)."""
        x = as_states(x, 1)
        return -self.friction * self.l**2 * x[:, 1] ** 2 / self.m

    def conservative(self) -> IdealPendulum:
        """The pendulum without friction: the field an HNN can represent."""
        return IdealPendulum(self.m, self.l, self.g)


def pendulum_rhs(t, y, m, l, g, gamma):
    """Compiled twin of the pendulums' time_derivative for one state y = (q, p).

    dq_dt = dH/dp = l^2 p / m,  dp_dt = -dH/dq - gamma p = -2 m g l sin q - gamma p.
    :class:`IdealPendulum` passes gamma = 0, :class:`DampedPendulum` its friction:
    one kernel for both.
    """
    dy_dt = np.empty_like(y)
    dy_dt[0] = l * l * y[1] / m  # dq_dt = dH/dp
    dy_dt[1] = -2.0 * m * g * l * np.sin(y[0]) - gamma * y[1]  # dp_dt = -dH/dq - gamma p
    return dy_dt




def pendulum_rhs_into(t, y, dy_dt, params):
    """:func:`pendulum_rhs` in place; params = [m, l, g, gamma]."""
    m, l, g, gamma = params[0], params[1], params[2], params[3]
    dy_dt[0] = l * l * y[1] / m  # dq_dt = dH/dp
    dy_dt[1] = -2.0 * m * g * l * np.sin(y[0]) - gamma * y[1]  # dp_dt = -dH/dq - gamma p
