"""Physical systems: a Hamiltonian H(q, p) and its exact vector field.

States are rows ``x`` of shape ``(N, 2n)`` with columns ``(q_0..q_{n-1},
p_0..p_{n-1})``. Hamilton's equations give the time derivative

    dq_dt =  dH/dp,        dp_dt = -dH/dq,          (Greydanus et al. 2019, Eq. 2)

which every :class:`System` returns from :meth:`System.time_derivative`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["System", "MassSpring", "as_states"]


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
