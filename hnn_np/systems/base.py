"""The base class of the physical systems, and the check of a batch of states.

States are rows ``x`` of shape ``(N, 2n)`` with columns ``(q_0..q_{n-1},
p_0..p_{n-1})``. Hamilton's equations give the time derivative

    dq_dt =  dH/dp,        dp_dt = -dH/dq,          (Greydanus et al. 2019, Eq. 2)

that is dx_dt = J dH_dx with J = [[0, I], [-I, 0]] (:mod:`hnn_np.symplectic`),
which every :class:`System` returns from :meth:`System.time_derivative`.

Each system also gives its vector field as a Numba-jitted function of one
state (:meth:`System.ode`, :meth:`System.ode_inplace`) for the compiled
integrator. :func:`jitted` compiles such a function on first use (Numba is
imported then, not when the systems are), with ``cache=True``; inside
``with hnn_np.readable():`` it returns the plain Python function, which the
integrator then runs as Python.
"""

from __future__ import annotations

import numpy as np

from ..mode import is_readable
from ..symplectic import apply_J

__all__ = ["System", "as_states", "jitted"]

_JITTED: dict = {}  # plain function -> its Numba-compiled version


def jitted(function):
    """``numba.njit(cache=True)(function)``, made once and kept (Numba imported on first use).

    Inside ``with hnn_np.readable():`` ``function`` itself, uncompiled.
    """
    if is_readable():
        return function
    compiled = _JITTED.get(function)
    if compiled is None:
        from numba import njit

        compiled = _JITTED[function] = njit(cache=True)(function)
    return compiled


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
        """dx_dt = J dH_dx = (dH/dp, -dH/dq), shape (N, 2n) (:func:`hnn_np.symplectic.apply_J`)."""
        x = as_states(x, self.n_dof)
        return apply_J(self.hamiltonian_gradient(x))

    def rhs(self, t, y):
        """``fun(t, y)`` for an ODE solver: 1-D state in, 1-D derivative out."""
        return self.time_derivative(np.asarray(y)[None, :])[0]

    def ode(self):
        """``(fun, args)`` for the compiled integrator: ``fun(t, y, *args) -> dy_dt``.

        ``fun`` is a Numba-jitted function of a 1-D state, so that
        :func:`hnn_np.integrate.solve_ivp_batch` runs without a Python call
        per step; its parameters come through ``args`` (floats), so that its
        compiled code does not depend on the instance and is cached on disk.
        Subclasses override this; the default wraps :meth:`rhs` (plain
        Python, slower, always correct).
        """
        return self.rhs, ()

    def ode_inplace(self):
        """``(fun, args)`` with ``fun(t, y, dy_dt, *args)`` writing the derivative into dy_dt.

        The in-place convention of :mod:`hnn_np.integrate.calling`
        (``solve_ivp(..., inplace=True)``): no array is allocated per call.
        Subclasses give ``args = (params,)``, one float64 vector, which the
        compiled integrator passes to ``fun`` without any adapter (its fastest
        form). The default adapts :meth:`rhs` (plain Python).
        """
        from ..integrate.calling import as_inplace

        return as_inplace(self.rhs), ()

    def radius_to_energy(self, radius: float) -> float:
        """The energy of a state at distance ``radius`` along q with p = 0."""
        x = np.zeros((1, 2 * self.n_dof))
        x[0, 0] = radius
        return float(self.energy(x)[0])
