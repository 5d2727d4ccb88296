r"""Training on windows of observed trajectories, for the studies' trajectory recipes.

A window is K+1 consecutive observed states of one trajectory at spacing dt.
The loss of a batch of windows X (K+1, N, d) is that of
:func:`hnn_np.trajectory.loss_and_grad`: the prediction X_hat[0] = X[0],
X_hat[k+1] = ``substeps`` steps of ``method`` from X_hat[k], and

    loss = mean_{k = 1..K, n, c} (X_hat[k] - X[k])^2

(multiple shooting: every window starts again from an observation). With
``learn_starts`` each window's first state is a free variable, initialised
at its observation and moved by its own Adam step along ``grad_X0`` (the
remedy of Chen et al. 2020, SRNN, for noisy starts).

Units. The network learns in x~ = x / s with the same dt (the scaled motion
is again Hamiltonian, H~(x~) = H(s x~) / s^2), so the returned
:class:`~hnn_np.model.Model` has scale s.

A separable Hamiltonian H(q, p) = V(q) + T(p) of two MLPs of equal depth,
``params = (params_V, params_T)``, is one MLP on x = (q, p)
(:func:`separable_as_hnn`): the first layer sends q to V's units and p to
T's, the hidden layers are block-diagonal, and the output adds the two. So
an SRNN is saved, rolled out and evaluated as an HNN.

This module needs :mod:`hnn_np.trajectory`; :func:`trajectory_module`
returns None, and the studies skip their trajectory recipes with
:data:`MISSING`, where the package has no trajectory training.
"""

from __future__ import annotations

import time
from importlib import import_module

import numpy as np

from .. import mlp
from ..model import Model
from ..optim import adam_update, cosine_lr

__all__ = ["MISSING", "trajectory_module", "make_windows", "separable_as_hnn", "fit_windows"]

MISSING = ("skipped: needs trajectory training (hnn_np.trajectory.loss_and_grad through the "
           "integrator), which this build of hnn_np does not have")


def trajectory_module():
    """:mod:`hnn_np.trajectory` if this build has it (with ``loss_and_grad``), else None."""
    try:
        trajectory = import_module("..trajectory", __package__)
    except ModuleNotFoundError as e:
        if e.name != "hnn_np.trajectory":  # the module exists but fails to import: say so
            raise
        return None
    return trajectory if callable(getattr(trajectory, "loss_and_grad", None)) else None


def make_windows(orbits, K, stride=None):
    """Every window of K+1 consecutive states, starting every ``stride`` samples (default K); (B, T, d) -> (M, K+1, d)."""
    orbits = np.asarray(orbits)
    if orbits.ndim != 3:
        raise ValueError(f"orbits must have shape (B, T, d); got {orbits.shape}")
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or not 1 <= K < orbits.shape[1]:
        raise ValueError(f"K must be an integer in [1, T - 1] = [1, {orbits.shape[1] - 1}]; got {K!r}")
    stride = K if stride is None else stride
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride must be a positive integer; got {stride!r}")
    starts = np.arange(0, orbits.shape[1] - K, stride)  # (S,)
    idx = starts[:, None] + np.arange(K + 1)[None, :]  # (S, K+1)
    return orbits[:, idx].reshape(-1, K + 1, orbits.shape[2])  # (B S, K+1, d)


def separable_as_hnn(params_V, params_T):
    """One MLP on x = (q, p) whose output is V(q) + T(p); two MLPs of input d/2, equal depth -> list of (W, b)."""
    if len(params_V) != len(params_T):
        raise ValueError(f"params_V and params_T must have the same depth; got {len(params_V)} and {len(params_T)}")
    out = []
    n = len(params_V)
    for l, ((W_V, b_V), (W_T, b_T)) in enumerate(zip(params_V, params_T)):
        if l == n - 1:  # the output adds V and T
            W, b = np.concatenate([W_V, W_T], axis=0), b_V + b_T
        else:  # q -> V's units, p -> T's units; then block-diagonal
            W = np.zeros((W_V.shape[0] + W_T.shape[0], W_V.shape[1] + W_T.shape[1]), dtype=W_V.dtype)
            W[:W_V.shape[0], :W_V.shape[1]], W[W_V.shape[0]:, W_V.shape[1]:] = W_V, W_T
            b = np.concatenate([b_V, b_T])
        out.append((np.ascontiguousarray(W), np.ascontiguousarray(b)))
    return out


def _flat(params, kind):
    return list(params[0]) + list(params[1]) if kind == "separable" else list(params)


def fit_windows(windows, dt, *, kind="hnn", sizes, method="rk4", substeps=1, steps=1000, batch_size=64,
                lr=1e-3, lr_min=0.0, scale=1.0, learn_starts=False, seed=0, dtype="float64",
                loss_and_grad=None):
    """Adam on the window loss; -> (Model, dict of ``train_loss`` (steps,), ``seconds``, ``starts`` (M, d)).

    Parameters
    ----------
    windows : ndarray, shape (M, K+1, d)
        Observed windows (:func:`make_windows`), physical units.
    dt : float
        Spacing of the observations.
    kind : "hnn", "baseline" or "separable"
        The model; ``sizes`` are its layer sizes (for "separable" those of V
        and of T, each starting at d/2).
    method, substeps
        Passed to ``loss_and_grad`` ("rk4" or "leapfrog"; steps per interval).
    steps, batch_size, lr, lr_min
        Adam's steps on batches of windows, the learning rate decaying from
        ``lr`` to ``lr_min`` on a cosine.
    scale : float
        The network learns x~ = x / s.
    learn_starts : bool
        Learn each window's first state (its own Adam moments), from ``grad_X0``.
    loss_and_grad : callable, optional
        ``(params, X, dt, method=, substeps=, kind=) -> (loss, grads, grad_X0)``;
        default :func:`hnn_np.trajectory.loss_and_grad`.
    """
    if loss_and_grad is None:
        module = trajectory_module()
        if module is None:
            raise RuntimeError(MISSING)
        loss_and_grad = module.loss_and_grad
    windows = np.asarray(windows, dtype=np.float64)
    M, K1, d = windows.shape
    dtype = np.dtype(dtype)
    X_all = (windows / scale).astype(dtype)  # x~ = x / s
    if kind == "separable":
        half = tuple(sizes)
        params = (mlp.init_params(half, seed=seed, dtype=dtype), mlp.init_params(half, seed=seed + 1, dtype=dtype))
    else:
        params = mlp.init_params(tuple(sizes), seed=seed, dtype=dtype)
    flat = _flat(params, kind)
    moments = [[np.zeros_like(a) for a in pair] for pair in flat], [[np.zeros_like(a) for a in pair] for pair in flat]
    starts = X_all[:, 0].copy()  # (M, d), learned if learn_starts
    s_m, s_v, seen = np.zeros_like(starts), np.zeros_like(starts), np.zeros(M)
    rng = np.random.default_rng([seed, 1])
    B = min(batch_size, M)
    losses = np.empty(steps)
    t0 = time.perf_counter()
    for step in range(steps):
        idx = rng.choice(M, B, replace=False)
        X = X_all[idx].transpose(1, 0, 2).copy()  # (K+1, B, d)
        if learn_starts:
            X[0] = starts[idx]
        loss, grads, grad_X0 = loss_and_grad(params, X, dt, method=method, substeps=substeps, kind=kind)
        if not np.isfinite(loss):
            raise FloatingPointError(f"the window loss became {loss} at step {step}")
        rate = cosine_lr(step, steps, lr, lr_min)
        for (p_W, p_b), (g_W, g_b), (m_W, m_b), (v_W, v_b) in zip(flat, _flat(grads, kind), *moments):
            adam_update(p_W, g_W, m_W, v_W, rate, 0.9, 0.999, 1e-8, 0.0, step + 1)
            adam_update(p_b, g_b, m_b, v_b, rate, 0.9, 0.999, 1e-8, 0.0, step + 1)
        if learn_starts:  # Adam on each window's start, its moments and step count its own
            seen[idx] += 1
            t = seen[idx][:, None]  # (B, 1)
            s_m[idx] = 0.9 * s_m[idx] + 0.1 * grad_X0
            s_v[idx] = 0.999 * s_v[idx] + 0.001 * grad_X0**2
            m_hat, v_hat = s_m[idx] / (1 - 0.9**t), s_v[idx] / (1 - 0.999**t)
            starts[idx] -= rate * m_hat / (np.sqrt(v_hat) + 1e-8)
        losses[step] = loss
    seconds = time.perf_counter() - t0
    starts = starts.astype(np.float64) * scale  # physical units
    net = separable_as_hnn(*params) if kind == "separable" else params
    net = [(W.astype(np.float64), b.astype(np.float64)) for W, b in net]
    model = Model("baseline" if kind == "baseline" else "hnn", net, float(scale),
                  config=dict(target="trajectory", kind=kind, sizes=list(sizes), method=method,
                              substeps=int(substeps), window=K1 - 1, steps=int(steps), batch_size=int(B),
                              lr=lr, lr_min=lr_min, learn_starts=bool(learn_starts), seed=int(seed)))
    return model, dict(train_loss=losses, seconds=seconds, starts=starts)
