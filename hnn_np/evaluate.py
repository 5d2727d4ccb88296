"""How well a trained model knows the system: along trajectories and on a grid.

Two families of metrics, following the paper (Secs. 4.2-4.4):

* **Energy along test trajectories** (Fig. 4). An HNN learns H only up to an
  additive constant (the loss sees dH/dx alone), so the constant is fixed by
  matching the truth at the origin, H_hat(0) = H(0)::

      H_cal(x)  = H_hat(x) - H_hat(0) + H(0)
      err_E(x)  = |H_cal(x) - H(x)| / |H(x)|

* **A meshgrid over [-R, R]^2** (Figs. 5, 6, 8, 9), 201 x 201 points by
  default, of the energy error above and of the field::

      err_S(x)    = ||S_hat(x) - S(x)|| / ||S(x)||             (norm error)
      err_S_i(x)  = (S_hat_i(x) - S_i(x)) / ||S(x)||           (signed, per component)

  The origin, where S = 0 and H = 0, is excluded. We report the fraction of
  grid points with err_S within 1e-3 and within 5e-4 (the paper's two
  tolerances), the median, the 99th percentile and the maximum.

For any system (:func:`field_errors`, :func:`rollout_metrics`): relative
field errors on test states, and the energy and state errors of rollouts
against the true trajectories.

All metrics are plain floats in a dict, saved as JSON beside the model.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_int, check_memory

__all__ = ["calibrated_energy", "trajectory_energy_error", "grid", "grid_errors",
           "evaluate_model", "field_errors", "rollout_metrics", "grid_bytes", "TOLERANCES"]

TOLERANCES = (1e-3, 5e-4)


def calibrated_energy(model, system, x):
    """H_hat(x) - H_hat(0) + H(0); x (N, 2n) -> (N,)."""
    zero = np.zeros((1, 2 * system.n_dof))
    return model.energy(x) - model.energy(zero)[0] + system.energy(zero)[0]


def trajectory_energy_error(model, system, x_traj):
    """Relative energy error |H_cal - H| / |H| at every observation.

    Parameters
    ----------
    x_traj : array_like, shape (B, T, 2n)
        States along B trajectories (observed, or a rollout of the model).

    Returns
    -------
    err : ndarray, shape (B, T)
    """
    x_traj = np.asarray(x_traj, dtype=np.float64)
    B, T, D = x_traj.shape
    flat = x_traj.reshape(-1, D)
    H = system.energy(flat)
    return (np.abs(calibrated_energy(model, system, flat) - H) / np.abs(H)).reshape(B, T)


def grid_bytes(model, n) -> int:
    """An upper bound of the memory :func:`grid_errors` takes on an n x n grid (measured: 0.6-0.8 of it).

    Per grid point, 8 bytes times: 64 for the states, fields and errors, and
    for the network's caches 4 per hidden unit plus 2 per unit of its widest layer.
    """
    widths = tuple(getattr(model, "sizes", (2, 1)))[1:-1]
    return n * n * 8 * (64 + 4 * sum(widths) + 2 * max(widths, default=0))


def grid(radius=100.0, n=201):
    """The meshgrid over [-R, R]^2: Q, P of shape (n, n) (``indexing="xy"``: rows are p)."""
    axis = np.linspace(-radius, radius, n)
    if n % 2:
        axis[n // 2] = 0.0  # linspace may leave the centre at +-1e-16; the origin is excluded by ==
    return np.meshgrid(axis, axis)


def grid_errors(model, system, radius=100.0, n=201):
    """Energy and field errors of a one-degree-of-freedom model on the meshgrid.

    Returns
    -------
    dict of ndarray, each (n, n), NaN at the origin:
        ``q``, ``p`` the grid; ``energy`` the relative energy error (HNN only);
        ``field`` the norm error err_S; ``field_q``, ``field_p`` the signed
        per-component errors.
    """
    if system.n_dof != 1:
        raise ValueError(f"the meshgrid is 2-D: it needs a one-degree-of-freedom system; "
                         f"got n_dof = {system.n_dof}")
    n = check_int(n, "n", 3)
    check_memory(grid_bytes(model, n), f"the {n} x {n} grid (n = {n})")
    Q, P = grid(radius, n)
    x = np.stack([Q.ravel(), P.ravel()], axis=1)  # (n*n, 2)
    origin = np.all(x == 0, axis=1)
    S = system.time_derivative(x)
    S_hat = model.time_derivative(x).astype(np.float64)
    norm = np.linalg.norm(S, axis=1)
    norm[origin] = np.nan
    out = dict(q=Q, p=P)
    out["field"] = (np.linalg.norm(S_hat - S, axis=1) / norm).reshape(n, n)
    out["field_q"] = ((S_hat[:, 0] - S[:, 0]) / norm).reshape(n, n)
    out["field_p"] = ((S_hat[:, 1] - S[:, 1]) / norm).reshape(n, n)
    if model.kind != "baseline":
        H = system.energy(x)
        H[origin] = np.nan
        out["energy"] = (np.abs(calibrated_energy(model, system, x) - H) / np.abs(H)).reshape(n, n)
    return out


def _summary(err, prefix):
    e = err[np.isfinite(err)]
    stats = {f"{prefix}_median": float(np.median(e)), f"{prefix}_p99": float(np.percentile(e, 99)),
             f"{prefix}_max": float(e.max())}
    for tol in TOLERANCES:
        stats[f"{prefix}_within_{tol:g}"] = float(np.mean(e <= tol))
    return stats


def evaluate_model(model, system, x_test_traj=None, radius=100.0, n=201, return_grid=False):
    """All metrics of a model as a flat dict of floats (see the module docstring).

    With ``return_grid=True`` also returns the arrays of :func:`grid_errors`.
    """
    metrics = {}
    errs = grid_errors(model, system, radius, n)
    metrics.update(_summary(errs["field"], "grid_field"))
    if "energy" in errs:
        metrics.update(_summary(errs["energy"], "grid_energy"))
    if x_test_traj is not None and model.kind != "baseline":
        e = trajectory_energy_error(model, system, x_test_traj)
        metrics["traj_energy_median"] = float(np.median(e))
        metrics["traj_energy_max"] = float(e.max())
        metrics["traj_energy_within_0.001"] = float(np.mean(e <= 1e-3))
    metrics["grid_points"] = int(np.isfinite(errs["field"]).sum())
    return (metrics, errs) if return_grid else metrics


def field_errors(S_hat, S):
    """Relative field errors ||S_hat_i - S_i|| / ||S_i||; (N, 2n), (N, 2n) -> dict of floats.

    ``median``, ``p99`` of the per-row errors and ``aggregate``
    ||S_hat - S||_F / ||S||_F.
    """
    rel = np.linalg.norm(S_hat - S, axis=1) / np.linalg.norm(S, axis=1)
    return dict(median=float(np.median(rel)), p99=float(np.percentile(rel, 99)),
                aggregate=float(np.linalg.norm(S_hat - S) / np.linalg.norm(S)))


def rollout_metrics(system, x_hat, x_true, t):
    """Energy and state errors of a rollout against the truth.

    Parameters
    ----------
    x_hat, x_true : ndarray, shape (B, T, 2n)
    t : ndarray, shape (T,)

    Returns
    -------
    dict of float: ``energy_mse`` mean (H(x_hat) - H_b)^2 with H_b = H(x_true[:, 0]);
    ``rel_energy_mse`` mean ((H(x_hat) - H_b) / H_b)^2; ``rel_energy_max`` max
    |H(x_hat) - H_b| / H_b; ``rel_energy_first``, ``rel_energy_last`` its mean
    over the first and the last 10 % of the times (bounded: equal; drift:
    last >> first); ``state_mse`` mean ||x_hat - x_true||^2; ``rel_state_last``
    max_b ||x_hat_b(t_end) - x_b(t_end)|| / ||x_b(0)||.
    """
    x_hat, x_true = np.asarray(x_hat, np.float64), np.asarray(x_true, np.float64)
    if x_hat.shape != x_true.shape or x_hat.ndim != 3:
        raise ValueError(f"x_hat and x_true must both have shape (B, T, 2n); got {x_hat.shape}, "
                         f"{x_true.shape}")
    B, T, d = x_hat.shape
    H = system.energy(x_hat.reshape(-1, d)).reshape(B, T)  # (B, T)
    H_b = system.energy(x_true[:, 0])[:, None]  # (B, 1)
    rel = np.abs(H - H_b) / H_b  # (B, T)
    k = max(1, T // 10)
    size = np.linalg.norm(x_true[:, 0], axis=1)  # (B,)
    return dict(energy_mse=float(np.mean((H - H_b) ** 2)), rel_energy_mse=float(np.mean(rel**2)),
                rel_energy_max=float(rel.max()), rel_energy_first=float(rel[:, :k].mean()),
                rel_energy_last=float(rel[:, -k:].mean()),
                state_mse=float(np.mean(np.sum((x_hat - x_true) ** 2, axis=2))),
                rel_state_last=float(np.max(np.linalg.norm(x_hat[:, -1] - x_true[:, -1], axis=1) / size)),
                t_end=float(t[-1]))
