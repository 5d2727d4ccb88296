"""Rollouts: a learned (or any) vector field integrated from initial states with our DOP853.

Three ways, one result shape ``(B, T, 2n)``:

* :func:`rollout` with ``how="compiled"`` (default): the model's field in
  Numba (:func:`hnn_field`, :func:`dhnn_field`, :func:`baseline_field`), the
  whole rollout in compiled code;
* ``how="python"``: the same integrator calling :meth:`Model.time_derivative`
  once per state and stage (no compilation; slow per step);
* :func:`rollout_stacked`: the B states as one system of 2nB equations with
  a NumPy field evaluated on all rows per call, one step sequence for all.

:func:`hnn_field`, :func:`dhnn_field` and :func:`baseline_field` evaluate a trained network on one
state ``y`` (2n,) inside Numba, with the weights passed as tuples of arrays
through the integrator's ``args``. The integrator then runs a whole rollout in
compiled code. All three are twins of :meth:`hnn_np.model.Model.time_derivative`
(a test holds them equal); the math is that of :mod:`hnn_np.mlp`, one row at
a time::

    a[0] = y / s;   a[l+1] = tanh(a[l] @ W[l] + b[l])
    g = W[L-1][:, 0];   g <- W[l] @ (g * (1 - a[l+1]**2))   for l = L-2 .. 0
    dy/dt = s * (g_p, -g_q)

and for a D-HNN the same sweep from both output columns, ``g`` from
``W[L-1][:, 0]`` (H) and ``h`` from ``W[L-1][:, 1]`` (D)::

    dy/dt = s * ((g_p, -g_q) + h)
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["hnn_field", "dhnn_field", "baseline_field", "field_args", "rollout", "rollout_stacked"]


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
def dhnn_field(t, y, Ws, bs, scale):
    """dy/dt = s (J grad H~ + grad D~)(y / s) for one state y (2n,)."""
    acts = _hidden_activations(y, Ws, bs, scale)
    L = len(Ws)
    g = Ws[L - 1][:, 0].copy()  # seed (1, 0): g[L-1] = W[L-1][:, 0]
    h = Ws[L - 1][:, 1].copy()  # seed (0, 1): h[L-1] = W[L-1][:, 1]
    for l in range(L - 2, -1, -1):
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
    L = len(Ws)
    return scale * (np.dot(acts[L - 1], Ws[L - 1]) + bs[L - 1])


def field_args(model):
    """The ``args`` tuple that :func:`hnn_field`, :func:`dhnn_field` and :func:`baseline_field` take."""
    Ws = tuple(np.ascontiguousarray(W, dtype=np.float64) for W, _ in model.params)
    bs = tuple(np.ascontiguousarray(b, dtype=np.float64) for _, b in model.params)
    return Ws, bs, float(model.scale)


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
    ``"compiled"`` or ``"python"`` (see the module docstring).
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
    if how == "compiled":
        fields = {"hnn": hnn_field, "dhnn": dhnn_field, "baseline": baseline_field}
        fun, args = fields[model.kind], field_args(model)
    else:
        fun, args = (lambda _t, y: model.time_derivative(y[None, :])[0]), ()
    res = solve_ivp_batch(fun, (t_eval[0], t_eval[-1]), x0, t_eval, method=method,
                          rtol=rtol, atol=atol, args=args)
    if np.any(res.status != 0):
        bad = int(np.argmax(res.status != 0))
        raise RuntimeError(f"rollout of trajectory {bad} failed (status {res.status[bad]})")
    return np.transpose(res.y, (0, 2, 1))  # (B, n, T) -> (B, T, n)


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
