"""Rollouts: a learned (or any) vector field integrated from initial states with our DOP853.

Three ways, one result shape ``(B, T, 2n)``:

* :func:`rollout` with ``how="compiled"`` (default): the model's field in Numba
  (:mod:`hnn_np.fast.fields`), the whole rollout in compiled code;
* ``how="python"`` (always inside :func:`hnn_np.readable`): the same
  integrator calling :meth:`Model.time_derivative` -- :mod:`hnn_np.mlp`,
  :mod:`hnn_np.hnn` -- once per state and stage (no compilation; slow per step);
* :func:`rollout_stacked`: the B states as one system of 2nB equations with
  a NumPy field evaluated on all rows per call, one step sequence for all.
"""

from __future__ import annotations

import numpy as np

from .mode import is_readable

__all__ = ["rollout", "rollout_stacked"]


def _check_times(t_eval):
    t_eval = np.asarray(t_eval)
    if t_eval.dtype.kind not in "fiu" or t_eval.ndim != 1 or len(t_eval) < 2:
        raise ValueError(f"t_eval must be a 1-D array of at least 2 real times; got {t_eval!r:.80}")
    t_eval = t_eval.astype(np.float64)
    if not (np.isfinite(t_eval).all() and (np.diff(t_eval) > 0).all()):
        raise ValueError("t_eval must be finite and strictly increasing")
    return t_eval


def rollout(model, x0, t_eval, method="DOP853", rtol=1e-10, atol=1e-10, how="compiled"):
    """Integrate the learned field from states x0 over ``t_eval``; -> (B, T, 2n).

    The field is evaluated in float64 whatever the model's dtype (the
    integrator's error control needs it at tight tolerances). ``how`` is
    ``"compiled"`` or ``"python"`` (see the module docstring). Inside :func:`hnn_np.readable` the rollout is always
    ``"python"``, whatever ``how`` says.
    """
    from .integrate import solve_ivp_batch

    if how not in ("compiled", "python"):
        raise ValueError(f"how must be 'compiled' or 'python'; got {how!r}")
    x0 = np.atleast_2d(np.asarray(x0))
    if x0.dtype.kind not in "fiu" or x0.ndim != 2 or x0.shape[1] != 2 * model.n_dof or not len(x0):
        raise ValueError(f"x0 must be real states of shape (B, {2 * model.n_dof}); got {x0.dtype} {x0.shape}")
    x0 = x0.astype(np.float64)
    if not np.isfinite(x0).all():
        raise ValueError("x0 has non-finite values")
    t_eval = _check_times(t_eval)
    if how == "compiled" and not is_readable():
        from .fast.fields import FIELDS, field_args

        fun, args = FIELDS[model.kind], field_args(model)
    else:
        fun, args = (lambda _t, y: model.time_derivative(y[None, :])[0]), ()
    res = solve_ivp_batch(fun, (t_eval[0], t_eval[-1]), x0, t_eval, method=method,
                          rtol=rtol, atol=atol, args=args)
    if np.any(res.status != 0):
        bad = int(np.argmax(res.status != 0))
        raise RuntimeError(f"rollout of trajectory {bad} failed (status {res.status[bad]})")
    return res.states  # (B, T, 2n)


def rollout_stacked(field, x0, t_eval, rtol=1e-10, atol=None):
    """Integrate dx/dt = field(x) from B states at once with DOP853.

    The B states are one system of 2nB equations, y = (x_0, ..., x_{B-1})
    flattened, with ``field`` evaluated on all rows per call::

        dy/dt = field(y.reshape(B, 2n)).reshape(-1)

    Parameters
    ----------
    field : callable
        (B, 2n) -> (B, 2n): ``model.time_derivative`` or
        ``system.time_derivative`` (the exact field).
    x0 : array_like, shape (B, 2n)
    t_eval : array_like, shape (T,)
        Increasing output times; the integration starts at ``t_eval[0]``.
    rtol, atol : float
        DOP853 tolerances; ``atol`` defaults to rtol times the smallest
        ||x0_b||, so that every state is held to about rtol of its own size.

    Returns
    -------
    x : ndarray, shape (B, T, 2n)
    nfev : int
    """
    from .integrate import solve_ivp

    if not callable(field):
        raise ValueError(f"field must be a callable (B, 2n) -> (B, 2n); got {field!r}")
    x0 = np.asarray(x0)
    if x0.dtype.kind not in "fiu" or x0.ndim != 2 or x0.shape[1] % 2 or not len(x0):
        raise ValueError(f"x0 must be real states of shape (B, 2n); got {x0.dtype} {x0.shape}")
    x0 = x0.astype(np.float64)
    if not np.isfinite(x0).all():
        raise ValueError("x0 has non-finite values")
    t_eval = _check_times(t_eval)
    if not 0 < rtol < 1:
        raise ValueError(f"rtol must be in (0, 1); got {rtol!r}")
    B, d = x0.shape
    if atol is None:
        size = np.linalg.norm(x0, axis=1)  # (B,)
        atol = rtol * (size[size > 0].min() if size.any() else 1.0)

    def fun(t, y):
        return np.asarray(field(y.reshape(B, d)), dtype=np.float64).reshape(-1)  # (B * 2n,)

    res = solve_ivp(fun, (t_eval[0], t_eval[-1]), x0.reshape(-1), method="DOP853", t_eval=t_eval,
                    rtol=rtol, atol=atol, max_steps=10**7)
    if res.status != 0:
        raise RuntimeError(f"rollout failed: {res.message}")
    return res.y.reshape(B, d, -1).transpose(0, 2, 1), int(res.nfev)  # (B, 2n, T) -> (B, T, 2n)
