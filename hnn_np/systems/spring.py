"""The ideal mass-spring of the HNN paper: H = k q^2 / 2 + p^2 / (2 m)."""

from __future__ import annotations

import numpy as np

from .base import System, as_states, jitted

__all__ = ["MassSpring", "mass_spring_rhs", "mass_spring_rhs_into"]


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
        """``(fun, (k, m))`` with the jitted ``fun(t, y, k, m) -> dy_dt``."""
        return jitted(mass_spring_rhs), (self.k, self.m)

    def ode_inplace(self):
        """``(fun, (params,))`` with the jitted ``fun(t, y, dy_dt, params)``, params = [k, m]."""
        return jitted(mass_spring_rhs_into), (np.array([self.k, self.m]),)

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


def mass_spring_rhs(t, y, k, m):
    """Compiled twin of :meth:`MassSpring.time_derivative` for one state y = (q, p)."""
    dy_dt = np.empty_like(y)
    dy_dt[0] = y[1] / m  # dq_dt =  dH/dp = p / m
    dy_dt[1] = -k * y[0]  # dp_dt = -dH/dq = -k q
    return dy_dt


def mass_spring_rhs_into(t, y, dy_dt, params):
    """:func:`mass_spring_rhs` in place: writes dy_dt (2,); params = [k, m] (``solve_ivp(..., inplace=True)``)."""
    k, m = params[0], params[1]
    dy_dt[0] = y[1] / m  # dq_dt =  dH/dp = p / m
    dy_dt[1] = -k * y[0]  # dp_dt = -dH/dq = -k q
