"""A trained network's field on one state, in Numba: what a compiled rollout integrates.

:func:`hnn_field`, :func:`dhnn_field` and :func:`baseline_field` evaluate a
trained network on one state ``y`` (2n,) inside Numba, with the weights passed
as tuples of arrays through the integrator's ``args`` (:func:`field_args`).
The integrator then runs a whole rollout in compiled code
(:func:`hnn_np.rollout.rollout`). All three are twins of
:meth:`hnn_np.model.Model.time_derivative` (a test holds them equal); the math
is that of :mod:`hnn_np.mlp`, one row at a time, with ``n_layers = len(Ws)``::

    a[0] = y / s;   a[l+1] = tanh(a[l] @ W[l] + b[l])
    g = W[n_layers-1][:, 0];   g <- W[l] @ (g * (1 - a[l+1]**2))   for l = n_layers-2 .. 0
    dy/dt = s * (g_p, -g_q)

and for a D-HNN the same sweep from both output columns, ``g`` from
``W[n_layers-1][:, 0]`` (H) and ``h`` from ``W[n_layers-1][:, 1]`` (D)::

    dy/dt = s * ((g_p, -g_q) + h)
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["hnn_field", "dhnn_field", "baseline_field", "field_args"]


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
    n_layers = len(Ws)
    g = Ws[n_layers - 1][:, 0].copy()  # g[n_layers-1] = w
    for l in range(n_layers - 2, -1, -1):
        a = acts[l + 1]
        g = np.dot(Ws[l], g * (1 - a * a))  # g[l] = W[l] @ (g[l+1] * s1[l])
    n = y.shape[0] // 2
    dy_dt = np.empty_like(y)
    dy_dt[:n] = scale * g[n:]  # dq/dt =  dH/dp
    dy_dt[n:] = -scale * g[:n]  # dp/dt = -dH/dq
    return dy_dt


@njit(cache=True)
def dhnn_field(t, y, Ws, bs, scale):
    """dy/dt = s (J grad H~ + grad D~)(y / s) for one state y (2n,)."""
    acts = _hidden_activations(y, Ws, bs, scale)
    n_layers = len(Ws)
    g = Ws[n_layers - 1][:, 0].copy()  # seed (1, 0): g[n_layers-1] = W[n_layers-1][:, 0]
    h = Ws[n_layers - 1][:, 1].copy()  # seed (0, 1): h[n_layers-1] = W[n_layers-1][:, 1]
    for l in range(n_layers - 2, -1, -1):
        a = acts[l + 1]
        s1 = 1 - a * a
        g = np.dot(Ws[l], g * s1)  # dH~/da[l]
        h = np.dot(Ws[l], h * s1)  # dD~/da[l]
    n = y.shape[0] // 2
    dy_dt = np.empty_like(y)
    dy_dt[:n] = scale * (g[n:] + h[:n])  # dq/dt =  dH/dp + dD/dq
    dy_dt[n:] = scale * (-g[:n] + h[n:])  # dp/dt = -dH/dq + dD/dp
    return dy_dt


@njit(cache=True)
def baseline_field(t, y, Ws, bs, scale):
    """dy/dt = s f(y / s) for one state y (2n,), f the baseline MLP."""
    acts = _hidden_activations(y, Ws, bs, scale)
    n_layers = len(Ws)
    return scale * (np.dot(acts[n_layers - 1], Ws[n_layers - 1]) + bs[n_layers - 1])


FIELDS = {"hnn": hnn_field, "dhnn": dhnn_field, "baseline": baseline_field}


def field_args(model):
    """The ``args`` tuple that :func:`hnn_field`, :func:`dhnn_field` and :func:`baseline_field` take."""
    Ws = tuple(np.ascontiguousarray(W, dtype=np.float64) for W, _ in model.params)
    bs = tuple(np.ascontiguousarray(b, dtype=np.float64) for _, b in model.params)
    return Ws, bs, float(model.scale)
