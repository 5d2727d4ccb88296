"""The Butcher tableau of an embedded explicit Runge-Kutta pair, with its controller.

Stages are numbered from 0. One step of size h from (t, y) computes

    k_i = f(t + C_i h,  y + h sum_{j<i} A_ij k_j),        i = 0 .. s-1
    y_new = y + h sum_{j<s} B_j k_j

and three kinds of extra stages share the same A and C:

* stage s is the "first same as last" (FSAL) stage k_s = f(t + h, y_new)
  (row A_s = B, C_s = 1); it becomes k_0 of the next step;
* stages s+1 .. S-1 exist only for dense output (DOP853 has three, RK45 none).

The local error estimate uses the weights E (and E3 for DOP853) over stages
0..s; the dense output uses the rows D over all S stages (see :mod:`.rk`).

Every number lives in :mod:`.dop853_coefficients` or :mod:`.rk45_coefficients`
with its source; this module only fixes the layout, so one step routine and one
controller serve both methods.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Tableau", "frozen"]


class Tableau(NamedTuple):
    """Coefficients and step-size controller constants of one method.

    Attributes
    ----------
    A : ndarray, shape (S, S)
        Strictly lower-triangular stage coefficients of all S stages.
    B : ndarray, shape (s,)
        Weights of the propagated solution (order ``order``).
    C : ndarray, shape (S,)
        Nodes; ``C[i] = sum_j A[i, j]``.
    E : ndarray, shape (s + 1,)
        Principal error weights: ``h * sum_j E_j k_j`` estimates the local error
        (RK45: y5 - y4; DOP853: its 5th-order estimate err5). Index s is the
        FSAL stage.
    E3 : ndarray, shape (s + 1,) or (0,)
        DOP853's 3rd-order error weights (B minus the 3rd-order weights); empty
        for a method with a single estimator.
    D : ndarray, shape (R, S)
        Dense-output rows: the interpolant's coefficients 4 .. 3+R are
        ``h * sum_j D_rj k_j`` (see :func:`.rk.dense_coefficients`).
    n_stages : int
        s, the number of stages of one step (not counting FSAL or dense stages).
    order : int
        Order q of B; also the exponent used by the initial step guess.
    fsal_in_error : bool
        True when the error estimate needs the FSAL stage (RK45), which is then
        evaluated in every step; False when it is evaluated only after an
        accepted step (DOP853).
    safe, fac1, fac2, beta, expo1 : float
        Step-size controller constants of Hairer's code: safety factor, bounds
        ``fac1 <= h_new / h <= fac2``, the Lund stabilisation beta and the
        exponent ``expo1`` of err (see :func:`.controller.integrate`).
    key : int
        Names the method: 1 DOP853, 2 RK45, 0 any other tableau (whose steps
        only the loops of :mod:`.rk` take; the written-out kernels are looked
        up by the method's name, ``_compiled.KERNELS``).
    """

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    E: np.ndarray
    E3: np.ndarray
    D: np.ndarray
    n_stages: int
    order: int
    fsal_in_error: bool
    safe: float
    fac1: float
    fac2: float
    beta: float
    expo1: float
    key: int = 0


def frozen(values) -> np.ndarray:
    """A read-only float64 C-contiguous copy: tableau entries are constants."""
    array = np.ascontiguousarray(values, dtype=np.float64).copy()
    array.flags.writeable = False
    return array
