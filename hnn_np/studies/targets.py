"""Targets and their floors: the relative loss, the noise floor, the stencil bias.

The closed forms the spring studies (:mod:`hnn_np.studies.spring`) measure
their models against.
"""

from __future__ import annotations

import numpy as np

from ..data import CENTRAL_WEIGHTS
from ..systems import as_states

__all__ = ["relative_mse", "noise_floor", "stencil_bias", "target_errors"]


def relative_mse(pred, target):
    """The training loss with relative weights: (1/(N D)) sum_i ||pred_i - y_i||^2 / ||y_i||^2.

    The same number in physical and in scaled units (both sides scale by s).
    pred, target : (N, D) -> float
    """
    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    if pred.shape != target.shape or pred.ndim != 2:
        raise ValueError(f"pred and target must both have shape (N, D); got {pred.shape}, {target.shape}")
    norm2 = np.sum(target**2, axis=1)  # (N,)
    if np.any(norm2 == 0):
        raise ValueError("target has an all-zero row: relative weights 1/||y||^2 are undefined")
    return float(np.mean(np.sum((pred - target) ** 2, axis=1) / norm2) / target.shape[1])


def noise_floor(system, x_noisy, dx_dt):
    """The loss the true field gets on noisy inputs: relative_mse(S(x~), y); -> float.

    x_noisy, dx_dt : (N, 2n), the observed (noisy) states and their targets.
    """
    x_noisy = as_states(x_noisy, system.n_dof, "x_noisy")
    return relative_mse(system.time_derivative(x_noisy), dx_dt)


def stencil_bias(order, theta):
    """|1 - rho(theta)|, rho = (2/theta) sum_s c_s sin(s theta): the relative error of
    central differences of ``order`` on a harmonic oscillator at theta = omega dt.

    theta : float or ndarray -> same shape
    """
    if order not in CENTRAL_WEIGHTS:
        raise ValueError(f"order must be one of {tuple(CENTRAL_WEIGHTS)}; got {order!r}")
    theta = np.asarray(theta, dtype=np.float64)
    if np.any(~np.isfinite(theta)) or np.any(theta <= 0):
        raise ValueError("theta must be positive and finite")
    rho = 2.0 / theta * sum(c * np.sin(s * theta) for s, c in enumerate(CENTRAL_WEIGHTS[order], 1))
    return np.abs(1.0 - rho)


def target_errors(system, ds):
    """||dx_dt_i - S(x_i)|| / ||S(x_i)|| of a dataset's targets; -> (N,)."""
    S = system.time_derivative(ds.x)
    return np.linalg.norm(ds.dx_dt - S, axis=1) / np.linalg.norm(S, axis=1)
