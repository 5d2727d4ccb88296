"""The Hénon–Heiles system: a star in a galaxy with a cubic potential, regular and chaotic.

H(x, y, p_x, p_y) = (p_x^2 + p_y^2) / 2 + V(x, y),  V = (x^2 + y^2) / 2 + x^2 y - y^3 / 3

(Hénon & Heiles 1964, Astron. J. 69, 73). Hamilton's equations, with the state
(q_0, q_1, p_0, p_1) = (x, y, p_x, p_y)::

    dx/dt = p_x,          dp_x/dt = -dV/dx = -x - 2 x y
    dy/dt = p_y,          dp_y/dt = -dV/dy = -y - x^2 + y^2

The escape energy. V has a minimum at the origin and three saddles, at
(0, 1) and (+-sqrt(3) / 2, -1/2), all at V = 1/6 (:data:`ESCAPE_ENERGY`).
The level set V = 1/6 is the triangle through them, since

    V - 1/6 = -(1/3) (y + 1/2) ((y - 1)^2 - 3 x^2),

and V < 1/6 inside it: below the escape energy a state inside the triangle is
bound forever. Hénon and Heiles found the motion mostly regular at E = 1/12
and mostly chaotic at E = 1/8 (their Figs. 2-5).

Sampling. For two degrees of freedom with p^2 / 2 kinetic energy, the
microcanonical measure on a shell H = E projects onto configuration space as
the uniform law on the allowed region {V(q) < E}, with the direction of p
uniform: ∫ delta(E - |p|^2 / 2 - V) d^2p = 2 pi whatever E - V > 0.
:meth:`HenonHeiles.shell_states` draws from it by rejection in the triangle.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_pair
from .base import System, as_states, jitted

__all__ = ["HenonHeiles", "ESCAPE_ENERGY", "henon_heiles_rhs", "henon_heiles_rhs_into"]

ESCAPE_ENERGY = 1.0 / 6.0  # V at the three saddles (0, 1), (+-sqrt(3)/2, -1/2)
_SQRT3 = float(np.sqrt(3.0))


class HenonHeiles(System):
    """The Hénon–Heiles system (no parameters; see the module docstring).

    States are rows (x, y, p_x, p_y), n_dof = 2. Energies at or above
    :data:`ESCAPE_ENERGY` = 1/6 are refused by the samplers: their orbits
    may leave through the saddles.
    """

    n_dof = 2
    name = "henon-heiles"
    escape_energy = ESCAPE_ENERGY

    def __repr__(self) -> str:
        return "HenonHeiles()"

    @staticmethod
    def potential(x, y):
        """V = (x^2 + y^2) / 2 + x^2 y - y^3 / 3, elementwise."""
        x, y = np.asarray(x), np.asarray(y)
        return 0.5 * (x * x + y * y) + x * x * y - y * y * y / 3.0

    def energy(self, x) -> np.ndarray:
        """H = |p|^2 / 2 + V(q); x (N, 4) -> (N,)."""
        x = as_states(x, 2)
        return 0.5 * (x[:, 2] ** 2 + x[:, 3] ** 2) + self.potential(x[:, 0], x[:, 1])

    def hamiltonian_gradient(self, x) -> np.ndarray:
        """dH_dx = (x + 2 x y, y + x^2 - y^2, p_x, p_y); x (N, 4) -> (N, 4)."""
        x = as_states(x, 2)
        qx, qy = x[:, 0], x[:, 1]
        dH_dx = np.empty_like(x)
        dH_dx[:, 0] = qx + 2.0 * qx * qy  # dV/dx
        dH_dx[:, 1] = qy + qx * qx - qy * qy  # dV/dy
        dH_dx[:, 2:] = x[:, 2:]  # dH/dp = p
        return dH_dx

    def ode(self):
        """``(fun, ())`` with the jitted ``fun(t, y) -> dy_dt`` (no parameters)."""
        return jitted(henon_heiles_rhs), ()

    def ode_inplace(self):
        """``(fun, (params,))`` with the jitted ``fun(t, y, dy_dt, params)``; params is empty."""
        return jitted(henon_heiles_rhs_into), (np.zeros(0),)

    # --- states on energy shells -----------------------------------------------------

    def inside(self, x, y) -> np.ndarray:
        """True where (x, y) lies strictly inside the triangle V < 1/6 (the bound region)."""
        x, y = np.asarray(x), np.asarray(y)
        return (y > -0.5) & (y < 1.0 - _SQRT3 * np.abs(x))

    def section_bounds(self, energy: float):
        """(y_min, y_max): the bound region's extent in y on the section x = 0 at energy E.

        The roots of V(0, y) = y^2 / 2 - y^3 / 3 = E in (-1/2, 0) and (0, 1);
        the section's region is p_y^2 + 2 V(0, y) <= 2 E between them.
        """
        E = _check_energy(energy, "energy")
        roots = np.sort(np.roots([-1.0 / 3.0, 0.5, 0.0, -E]).real)  # three real roots for 0 < E < 1/6
        return float(roots[0]), float(roots[1])

    def section_state(self, energy, y, p_y) -> np.ndarray:
        """States on the section x = 0 with p_x >= 0 at energy E, from (y, p_y); -> (m, 4).

        p_x = sqrt(2 E - p_y^2 - 2 V(0, y)): the usual construction of the
        initial states of a Poincaré section on x = 0 (Hénon & Heiles 1964).

        Raises
        ------
        ValueError
            If a point (y, p_y) is outside the bound region of the section
            (2 E - p_y^2 - 2 V(0, y) < 0, or y outside (-1/2, 1)).
        """
        E = _check_energy(energy, "energy")
        y, p_y = np.broadcast_arrays(np.atleast_1d(np.asarray(y, dtype=np.float64)),
                                     np.atleast_1d(np.asarray(p_y, dtype=np.float64)))
        if y.ndim != 1 or not (np.isfinite(y).all() and np.isfinite(p_y).all()):
            raise ValueError("y and p_y must be finite scalars or 1-D arrays")
        kinetic_x = 2.0 * E - p_y**2 - 2.0 * self.potential(0.0, y)  # p_x^2
        bad = (kinetic_x < 0) | ~self.inside(0.0, y)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"(y, p_y) = ({y[i]!r}, {p_y[i]!r}) is outside the section's bound region "
                             f"at energy {E!r} (p_y^2 + y^2 - 2 y^3 / 3 <= 2 E with -1/2 < y < 1)")
        zeros = np.zeros_like(y)
        return np.stack([zeros, y, np.sqrt(kinetic_x), p_y], axis=1)

    def shell_states(self, energies, rng: np.random.Generator) -> np.ndarray:
        """One state on each shell H = E_i, from the microcanonical law; (n,) -> (n, 4).

        q uniform in {V(q) < E_i} inside the triangle (rejection from its
        bounding box [-sqrt(3)/2, sqrt(3)/2] x [-1/2, 1]), then
        |p| = sqrt(2 (E_i - V(q))) in a direction uniform on [0, 2 pi).
        """
        E = np.atleast_1d(np.asarray(energies, dtype=np.float64))
        if E.ndim != 1 or not np.isfinite(E).all() or np.any(E <= 0) or np.any(E >= ESCAPE_ENERGY):
            raise ValueError(f"energies must be a 1-D array in (0, 1/6) (bound orbits); got {energies!r:.80}")
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
        q = np.empty((len(E), 2))
        todo = np.arange(len(E))
        while todo.size:
            cx = rng.uniform(-_SQRT3 / 2, _SQRT3 / 2, todo.size)
            cy = rng.uniform(-0.5, 1.0, todo.size)
            ok = self.inside(cx, cy) & (self.potential(cx, cy) < E[todo])
            q[todo[ok]] = np.stack([cx[ok], cy[ok]], axis=1)
            todo = todo[~ok]
        speed = np.sqrt(2.0 * (E - self.potential(q[:, 0], q[:, 1])))  # |p|
        angle = rng.uniform(0.0, 2 * np.pi, len(E))
        return np.concatenate([q, np.stack([speed * np.cos(angle), speed * np.sin(angle)], axis=1)], axis=1)

    def sample_initial_states(self, n: int, rng: np.random.Generator, radius: float = 0.5,
                              energy_range=(0.1, 1.0), log_energy: bool = False):
        """States for :func:`hnn_np.data.sample_initial_states` (its hook).

        E_max = :meth:`radius_to_energy` (R) = R^2 / 2 (default R = 0.5:
        E_max = 1/8), E / E_max ~ U[lo, hi] (log-uniform if ``log_energy``),
        which must stay below the escape energy 1/6; then
        :meth:`shell_states`.

        Returns
        -------
        x0s : ndarray, shape (n, 4)
        energies : ndarray, shape (n,)
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be an integer >= 1; got {n!r}")
        lo, hi = check_pair(energy_range, "energy_range")
        E_max = self.radius_to_energy(radius)
        if not (0 < lo <= hi and hi * E_max < ESCAPE_ENERGY):
            raise ValueError(f"energy_range must be fractions 0 < lo <= hi of E_max = {E_max!r} with "
                             f"hi E_max below the escape energy 1/6; got {(lo, hi)}")
        f = np.exp(rng.uniform(np.log(lo), np.log(hi), n)) if log_energy else rng.uniform(lo, hi, n)
        energies = f * E_max
        return self.shell_states(energies, rng), energies


def _check_energy(energy, name):
    try:
        E = float(energy)
    except (TypeError, ValueError):
        E = np.nan
    if not 0 < E < ESCAPE_ENERGY:
        raise ValueError(f"{name} must be in (0, 1/6), below the escape energy; got {energy!r}")
    return E


def henon_heiles_rhs(t, y):
    """Compiled twin of :meth:`HenonHeiles.time_derivative` for y = (x, y, p_x, p_y)."""
    dy_dt = np.empty_like(y)
    dy_dt[0] = y[2]  # dx/dt = p_x
    dy_dt[1] = y[3]  # dy/dt = p_y
    dy_dt[2] = -(y[0] + 2.0 * y[0] * y[1])  # dp_x/dt = -dV/dx = -(x + 2 x y)
    dy_dt[3] = -(y[1] + y[0] * y[0] - y[1] * y[1])  # dp_y/dt = -dV/dy = -(y + x^2 - y^2)
    return dy_dt


def henon_heiles_rhs_into(t, y, dy_dt, params):
    """:func:`henon_heiles_rhs` in place (``solve_ivp(..., inplace=True)``); params is empty."""
    dy_dt[0] = y[2]
    dy_dt[1] = y[3]
    dy_dt[2] = -(y[0] + 2.0 * y[0] * y[1])
    dy_dt[3] = -(y[1] + y[0] * y[0] - y[1] * y[1])
