"""The learned vector field as a compiled ODE right-hand side, for rollouts.

:func:`hnn_field` and :func:`baseline_field` evaluate a trained network on one
state ``y`` (2n,) inside Numba, with the weights passed as tuples of arrays
through the integrator's ``args``. The integrator then runs a whole rollout in
compiled code. Both are twins of :meth:`hnn_np.model.Model.time_derivative`
(a test holds them equal); the math is that of :mod:`hnn_np.mlp`, one row at
a time::

    a[0] = y / s;   a[l+1] = tanh(a[l] @ W[l] + b[l])
    g = W[L-1][:, 0];   g <- W[l] @ (g * (1 - a[l+1]**2))   for l = L-2 .. 0
    dy/dt = s * (g_p, -g_q)
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["hnn_field", "baseline_field", "rollout"]


@njit(cache=True)
def _hidden_activations(y, Ws, bs, scale):
    acts = [y / scale]  # a[0] = x~ = y / s
    for l in range(len(Ws) - 1):
        acts.append(np.tanh(np.dot(acts[l], Ws[l]) + bs[l]))  # a[l+1]
    return acts


@njit(cache=True)
def hnn_field(t, y, Ws, bs, scale):
    """dy/dt = s J grad H~(y / s) for one state y (2n,)."""
    acts = _hidden_activations(y, Ws, bs, scale)
    L = len(Ws)
    g = Ws[L - 1][:, 0].copy()  # g[L-1] = w
    for l in range(L - 2, -1, -1):
        a = acts[l + 1]
        g = np.dot(Ws[l], g * (1 - a * a))  # g[l] = W[l] @ (g[l+1] * s1[l])
    n = y.shape[0] // 2
    dy_dt = np.empty_like(y)
    dy_dt[:n] = scale * g[n:]  # dq/dt =  dH/dp
    dy_dt[n:] = -scale * g[:n]  # dp/dt = -dH/dq
    return dy_dt


@njit(cache=True)
def baseline_field(t, y, Ws, bs, scale):
    """dy/dt = s f(y / s) for one state y (2n,), f the baseline MLP."""
    acts = _hidden_activations(y, Ws, bs, scale)
    L = len(Ws)
    return scale * (np.dot(acts[L - 1], Ws[L - 1]) + bs[L - 1])


def field_args(model):
    """The ``args`` tuple that :func:`hnn_field` / :func:`baseline_field` take."""
    Ws = tuple(np.ascontiguousarray(W, dtype=np.float64) for W, _ in model.params)
    bs = tuple(np.ascontiguousarray(b, dtype=np.float64) for _, b in model.params)
    return Ws, bs, float(model.scale)


def rollout(model, x0, t_eval, method="DOP853", rtol=1e-10, atol=1e-10):
    """Integrate the learned field from states x0 over ``t_eval``; -> (B, T, 2n).

    The field is evaluated in float64 whatever the model's dtype (the
    integrator's error control needs it at tight tolerances).
    """
    from .integrate import solve_ivp_batch

    x0 = np.atleast_2d(np.asarray(x0, dtype=np.float64))
    if x0.shape[1] != 2 * model.n_dof:
        raise ValueError(f"x0 must have shape (B, {2 * model.n_dof}); got {x0.shape}")
    t_eval = np.asarray(t_eval, dtype=np.float64)
    fun = hnn_field if model.kind == "hnn" else baseline_field
    res = solve_ivp_batch(fun, (t_eval[0], t_eval[-1]), x0, t_eval, method=method,
                          rtol=rtol, atol=atol, args=field_args(model))
    if np.any(res.status != 0):
        bad = int(np.argmax(res.status != 0))
        raise RuntimeError(f"rollout of trajectory {bad} failed (status {res.status[bad]})")
    return np.transpose(res.y, (0, 2, 1))  # (B, n, T) -> (B, T, n)
