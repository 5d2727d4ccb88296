"""Physical systems: a Hamiltonian H(q, p) and its exact vector field.

States are rows ``x`` of shape ``(N, 2n)`` with columns ``(q_0..q_{n-1},
p_0..p_{n-1})``. Hamilton's equations give the time derivative

    dq_dt =  dH/dp,        dp_dt = -dH/dq,          (Greydanus et al. 2019, Eq. 2)

which every :class:`System` returns from :meth:`System.time_derivative`.

Systems (issue 6, "beyond the paper", adds the last three):

=====================  =====  ==================================================
class                  n_dof  H(q, p)
=====================  =====  ==================================================
:class:`MassSpring`    1      k q^2 / 2 + p^2 / (2 m)            (the paper)
:class:`IdealPendulum` 1      2 m g l (1 - cos q) + l^2 p^2 / (2 m)
:class:`DampedPendulum` 1     the same H, observed with friction -gamma p in
                              dp/dt: *not* Hamiltonian
:class:`TwoBody`       2      |p|^2 / (2 mu) - G m1 m2 / |q|, relative coords
=====================  =====  ==================================================

Each has a Numba-jitted right-hand side (:meth:`System.ode`) for the compiled
integrator, and a way to place initial states on a chosen energy level for
:func:`hnn_np.data.sample_initial_states`: ``sample_state(energies, phases)``
(the pendulums) or its own ``sample_initial_states(n, rng, radius,
energy_range, log_energy)`` (the two-body problem, whose bound energies are
negative).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["System", "MassSpring", "IdealPendulum", "DampedPendulum", "TwoBody", "as_states"]


def as_states(x, n_dof: int, name: str = "x") -> np.ndarray:
    """Validate a batch of states and return it as a 2-D floating array.

    Parameters
    ----------
    x : array_like, shape (N, 2 * n_dof) or (2 * n_dof,)
        One state or a batch of states. A 1-D input is treated as one row.
    n_dof : int
        Degrees of freedom n; a state has 2n columns.
    name : str
        The argument's name, used in error messages.

    Raises
    ------
    ValueError
        If the shape is wrong or any entry is not finite.
    """
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != 2 * n_dof:
        raise ValueError(
            f"{name} must have shape (N, {2 * n_dof}) with columns (q, p); got {np.shape(x)}"
        )
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise ValueError(f"{name} has non-finite values in row {int(np.argmax(bad))}")
    return x


class System:
    """A Hamiltonian system with ``n_dof`` degrees of freedom.

    Subclasses implement :meth:`hamiltonian_gradient` (returning ``dH_dx`` of
    shape (N, 2n)) and :meth:`energy`; :meth:`time_derivative` follows from
    Hamilton's equations and need not be overridden.
    """

    n_dof: int = 1
    name: str = "system"

    def energy(self, x) -> np.ndarray:
        """Total energy H(x), shape (N,)."""
        raise NotImplementedError

    def hamiltonian_gradient(self, x) -> np.ndarray:
        """dH/dx = (dH/dq, dH/dp), shape (N, 2n)."""
        raise NotImplementedError

    def time_derivative(self, x) -> np.ndarray:
        """S(x) = (dH/dp, -dH/dq), shape (N, 2n)."""
        x = as_states(x, self.n_dof)
        n = self.n_dof
        dH_dx = self.hamiltonian_gradient(x)
        dx_dt = np.empty_like(dH_dx)
        dx_dt[:, :n] = dH_dx[:, n:]  # dq_dt =  dH/dp
        dx_dt[:, n:] = -dH_dx[:, :n]  # dp_dt = -dH/dq
        return dx_dt

    def rhs(self, t, y):
        """``fun(t, y)`` for an ODE solver: 1-D state in, 1-D derivative out."""
        return self.time_derivative(np.asarray(y)[None, :])[0]

    def ode(self):
        """``(fun, args)`` for the compiled integrator: ``fun(t, y, *args)``.

        ``fun`` is a Numba-jitted function of a 1-D state, so that
        :func:`hnn_np.integrate.solve_ivp_batch` runs without a Python call
        per step. Subclasses override this; the default wraps :meth:`rhs`
        (plain Python, slower, always correct).
        """
        return self.rhs, ()

    def ode_inplace(self):
        """``(fun, args)`` with ``fun(t, y, dy_dt, *args)`` writing the derivative into dy_dt.

        The in-place convention of :mod:`hnn_np.integrate.calling`
        (``solve_ivp(..., inplace=True)``): no array is allocated per call.
        The default adapts :meth:`ode`; a system may override it with its own
        kernel.
        """
        from .integrate.calling import as_inplace

        fun, args = self.ode()
        return as_inplace(fun), args

    def radius_to_energy(self, radius: float) -> float:
        """The energy of a state at distance ``radius`` along q with p = 0."""
        x = np.zeros((1, 2 * self.n_dof))
        x[0, 0] = radius
        return float(self.energy(x)[0])


class MassSpring(System):
    """The ideal mass-spring: H = k q^2 / 2 + p^2 / (2 m)   (paper, Eq. 4).

    Parameters
    ----------
    k : float
        Spring constant (> 0). The paper uses k = 2.
    m : float
        Mass (> 0). The paper uses m = 2.

    Notes
    -----
    The motion is q(t) = A cos(w t + phi), p(t) = -m A w sin(w t + phi) with
    w = sqrt(k / m); :meth:`exact_solution` gives it in closed form so that
    integrators and datasets can be checked against it.
    """

    n_dof = 1
    name = "mass-spring"

    def __init__(self, k: float = 2.0, m: float = 2.0):
        if not (np.isfinite(k) and k > 0):
            raise ValueError(f"k must be a positive finite number; got {k!r}")
        if not (np.isfinite(m) and m > 0):
            raise ValueError(f"m must be a positive finite number; got {m!r}")
        self.k = float(k)
        self.m = float(m)
        self.omega = float(np.sqrt(self.k / self.m))

    def __repr__(self) -> str:
        return f"MassSpring(k={self.k}, m={self.m})"

    def energy(self, x) -> np.ndarray:
        x = as_states(x, 1)
        q, p = x[:, 0], x[:, 1]
        return 0.5 * self.k * q**2 + p**2 / (2.0 * self.m)  # (N,)

    def hamiltonian_gradient(self, x) -> np.ndarray:
        x = as_states(x, 1)
        dH_dx = np.empty_like(x)
        dH_dx[:, 0] = self.k * x[:, 0]  # dH/dq = k q
        dH_dx[:, 1] = x[:, 1] / self.m  # dH/dp = p / m
        return dH_dx

    def ode(self):
        return _mass_spring_rhs, (self.k, self.m)

    def ode_inplace(self):
        return _mass_spring_rhs_into, (self.k, self.m)

    def exact_solution(self, x0, t) -> np.ndarray:
        """Closed-form states at times ``t`` from initial states ``x0``.

        Parameters
        ----------
        x0 : array_like, shape (B, 2)
        t : array_like, shape (T,)

        Returns
        -------
        x : ndarray, shape (B, T, 2)
        """
        x0 = as_states(x0, 1, "x0")
        t = np.asarray(t, dtype=x0.dtype)
        w, m = self.omega, self.m
        c, s = np.cos(w * t)[None, :], np.sin(w * t)[None, :]
        q0, p0 = x0[:, :1], x0[:, 1:]
        q = q0 * c + p0 / (m * w) * s
        p = p0 * c - m * w * q0 * s
        return np.stack([q, p], axis=-1)


@njit(cache=True)
def _mass_spring_rhs(t, y, k, m):
    """Compiled twin of :meth:`MassSpring.time_derivative` for one state y = (q, p)."""
    dy_dt = np.empty_like(y)
    dy_dt[0] = y[1] / m  # dq_dt =  dH/dp = p / m
    dy_dt[1] = -k * y[0]  # dp_dt = -dH/dq = -k q
    return dy_dt


@njit(cache=True)
def _mass_spring_rhs_into(t, y, dy_dt, k, m):
    """:func:`_mass_spring_rhs` in place: writes dy_dt (2,) (``solve_ivp(..., inplace=True)``)."""
    dy_dt[0] = y[1] / m  # dq_dt =  dH/dp = p / m
    dy_dt[1] = -k * y[0]  # dp_dt = -dH/dq = -k q


# --- issue 6: beyond the paper ------------------------------------------------

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

    This is the form of issue 6 and of the HNN paper's pendulum task
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
        return _pendulum_rhs, (self.m, self.l, self.g, 0.0)  # gamma = 0: no friction

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
        return _pendulum_rhs, (self.m, self.l, self.g, self.friction)

    def energy_rate(self, x) -> np.ndarray:
        """dH/dt = -gamma p dH/dp = -gamma l^2 p^2 / m along the damped flow; (N, 2) -> (N,)."""
        x = as_states(x, 1)
        return -self.friction * self.l**2 * x[:, 1] ** 2 / self.m

    def conservative(self) -> IdealPendulum:
        """The pendulum without friction: the field an HNN can represent."""
        return IdealPendulum(self.m, self.l, self.g)


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
        return _two_body_rhs, (self.mu, self.k)

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
        try:
            lo, hi = (float(v) for v in energy_range)
        except (TypeError, ValueError):
            raise ValueError(f"energy_range must be a pair of numbers; got {energy_range!r}") from None
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


@njit(cache=True)
def _pendulum_rhs(t, y, m, l, g, gamma):
    """Compiled twin of the pendulums' time_derivative for one state y = (q, p).

    dq_dt = dH/dp = l^2 p / m,  dp_dt = -dH/dq - gamma p = -2 m g l sin q - gamma p.
    :class:`IdealPendulum` passes gamma = 0, :class:`DampedPendulum` its friction:
    one kernel for both, because the integrator is compiled anew (~10 s, not
    cached on disk) for every distinct ``fun`` it is given.
    """
    dy_dt = np.empty_like(y)
    dy_dt[0] = l * l * y[1] / m  # dq_dt = dH/dp
    dy_dt[1] = -2.0 * m * g * l * np.sin(y[0]) - gamma * y[1]  # dp_dt = -dH/dq - gamma p
    return dy_dt


@njit(cache=True)
def _two_body_rhs(t, y, mu, k):
    """Compiled twin of :meth:`TwoBody.time_derivative` for y = (q_x, q_y, p_x, p_y)."""
    dy_dt = np.empty_like(y)
    r = np.hypot(y[0], y[1])
    r3 = r * r * r
    dy_dt[0] = y[2] / mu  # dq_dt = p / mu
    dy_dt[1] = y[3] / mu
    dy_dt[2] = -k * y[0] / r3  # dp_dt = -k q / |q|^3
    dy_dt[3] = -k * y[1] / r3
    return dy_dt
