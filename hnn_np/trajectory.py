r"""Learning from trajectories: a loss on integrated states, and its gradient by the discrete adjoint.

Observed states ``X`` (K+1, N, d) at spacing dt: N windows of K+1
consecutive states each. The learned field is integrated from each window's
start, ``substeps`` steps of size h = dt / substeps per interval::

    X_hat[0]   = X[0]          (or the given starts x0)               (N, d)
    X_hat[k+1] = Phi_h^substeps(X_hat[k])                             k = 0 .. K-1
    loss       = mean over k = 1..K, N and the observed columns of (X_hat[k] - X[k])**2

Phi_h is one step of classic RK4 on S = ``vjp.field(kind, ...)`` (kinds hnn,
dhnn, baseline, separable), or one kick-drift-kick leapfrog step of a
separable H = V(q) + T(p) (Stormer-Verlet; the SRNN of Chen et al. 2020)::

    RK4 (Kutta 1901; Hairer, Norsett & Wanner I, Table II.1.1)    leapfrog
    k1 = S(x)                                                     p_half = p - (h/2) dV/dq(q)
    k2 = S(x + (h/2) k1)                                          q'     = q + h dT/dp(p_half)
    k3 = S(x + (h/2) k2)                                          p'     = p_half - (h/2) dV/dq(q')
    k4 = S(x + h k3)
    x' = x + (h/6) (k1 + 2 k2 + 2 k3 + k4)

The gradient is the exact derivative of that discrete loss: each step is
run backwards (its *adjoint*, from the caches its forward run kept), each
field call through :func:`hnn_np.vjp.field_vjp`, the steps in reverse
order, substeps within intervals, intervals from K down to 1, and the
loss's adjoint ``2 r / M`` added where an X_hat[k] enters the loss::

    X_hat_bar[K] = 2 r[K] / M
    X_hat_bar[k] = adjoint of Phi_h^substeps (X_hat_bar[k+1])  +  2 r[k] / M     (k >= 1)
    grad_X0      = X_hat_bar[0] = adjoint of Phi_h^substeps (X_hat_bar[1])

``docs/derivation.md``, Section 10, derives every line. Positions only: if
X has d/2 columns, they are the positions q, the loss is on q, and ``x0``
(N, d) gives the starts (q and an estimate of p; its gradient is grad_X0).
"""

from __future__ import annotations

import numpy as np

from ._checks import check_choice, check_int, check_params, check_real, finite_result, in_params_dtype
from .vjp import KINDS, field, field_vjp, gradient, gradient_vjp

__all__ = ["METHODS", "KINDS", "loss_and_grad", "rollout", "rk4_step", "rk4_step_adjoint",
           "leapfrog_step", "leapfrog_step_adjoint", "merge_separable"]

METHODS = ("rk4", "leapfrog")


# --- one step and its adjoint -----------------------------------------------------------------

def rk4_step(kind, params, x, h):
    """One classic RK4 step of the field of ``kind``; x (N, d) -> (x_next (N, d), caches of the 4 stages)."""
    k1, c1 = field(kind, params, x)  # k1 = S(x)
    k2, c2 = field(kind, params, x + (h / 2) * k1)  # k2 = S(y2), y2 = x + (h/2) k1
    k3, c3 = field(kind, params, x + (h / 2) * k2)  # k3 = S(y3), y3 = x + (h/2) k2
    k4, c4 = field(kind, params, x + h * k3)  # k4 = S(y4), y4 = x + h k3
    x_next = x + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
    return x_next, (c1, c2, c3, c4)


def rk4_step_adjoint(kind, params, caches, h, x_next_bar, grads):
    """The reverse of :func:`rk4_step`: x_bar (N, d) from x_next_bar; adds theta_bar into ``grads``.

    Each forward line of the step, last first, and its adjoint lines::

        x' = x + (h/6)(k1 + 2 k2 + 2 k3 + k4)   x_bar = x'_bar;  k1_bar = k4_bar = (h/6) x'_bar
                                                k2_bar = k3_bar = (h/3) x'_bar
        k4 = S(y4), y4 = x + h k3               y4_bar = S_x^T k4_bar;  x_bar += y4_bar;  k3_bar += h y4_bar
        k3 = S(y3), y3 = x + (h/2) k2           y3_bar = S_x^T k3_bar;  x_bar += y3_bar;  k2_bar += (h/2) y3_bar
        k2 = S(y2), y2 = x + (h/2) k1           y2_bar = S_x^T k2_bar;  x_bar += y2_bar;  k1_bar += (h/2) y2_bar
        k1 = S(x)                               x_bar += S_x^T k1_bar

    where ``S_x^T k_bar`` and ``theta_bar += S_theta^T k_bar`` are one
    :func:`hnn_np.vjp.field_vjp` at that stage's cache.
    """
    c1, c2, c3, c4 = caches
    x_bar = x_next_bar
    k1_bar = (h / 6) * x_next_bar
    k2_bar = (h / 3) * x_next_bar
    k3_bar = (h / 3) * x_next_bar
    k4_bar = (h / 6) * x_next_bar
    y4_bar = _vjp_into(grads, kind, params, c4, k4_bar)
    x_bar = x_bar + y4_bar
    k3_bar = k3_bar + h * y4_bar
    y3_bar = _vjp_into(grads, kind, params, c3, k3_bar)
    x_bar = x_bar + y3_bar
    k2_bar = k2_bar + (h / 2) * y3_bar
    y2_bar = _vjp_into(grads, kind, params, c2, k2_bar)
    x_bar = x_bar + y2_bar
    k1_bar = k1_bar + (h / 2) * y2_bar
    x_bar = x_bar + _vjp_into(grads, kind, params, c1, k1_bar)
    return x_bar


def leapfrog_step(params, x, h):
    """One kick-drift-kick step of H = V(q) + T(p), params = (params_V, params_T); x (N, 2n) -> (x', caches)."""
    params_V, params_T = params
    n = x.shape[1] // 2
    q, p = x[:, :n], x[:, n:]
    dV_dq, c1 = gradient(params_V, q)  # (1, N, n)
    p_half = p - (h / 2) * dV_dq[0]  # kick
    dT_dp, c2 = gradient(params_T, p_half)
    q_next = q + h * dT_dp[0]  # drift
    dV_dq_next, c3 = gradient(params_V, q_next)
    p_next = p_half - (h / 2) * dV_dq_next[0]  # kick
    return np.concatenate([q_next, p_next], axis=1), (c1, c2, c3)


def leapfrog_step_adjoint(params, caches, h, x_next_bar, grads):
    """The reverse of :func:`leapfrog_step`: x_bar (N, 2n) from x_next_bar; adds into ``grads`` = (V's, T's).

    Each forward line, last first, and its adjoint lines (``V_qq``, ``T_pp``
    the Hessians, applied by :func:`hnn_np.vjp.gradient_vjp`)::

        p' = p_half - (h/2) dV/dq(q')    p_half_bar = p'_bar;   q'_bar -= (h/2) V_qq(q') p'_bar
        q' = q + h dT/dp(p_half)         q_bar = q'_bar;        p_half_bar += h T_pp(p_half) q'_bar
        p_half = p - (h/2) dV/dq(q)      p_bar = p_half_bar;    q_bar -= (h/2) V_qq(q) p_half_bar

    itself a kick, a drift and a kick, on the adjoint (q_bar, p_bar) with
    the roles of q and p exchanged: the transposed tangent map M^T, symplectic as M is.
    """
    params_V, params_T = params
    grads_V, grads_T = grads
    c1, c2, c3 = caches
    n = x_next_bar.shape[1] // 2
    q_next_bar, p_next_bar = x_next_bar[:, :n], x_next_bar[:, n:]
    p_half_bar = p_next_bar
    q_next_bar = q_next_bar + _gradient_vjp_into(grads_V, params_V, c3, -(h / 2) * p_next_bar)  # kick
    q_bar = q_next_bar
    p_half_bar = p_half_bar + _gradient_vjp_into(grads_T, params_T, c2, h * q_next_bar)  # drift
    p_bar = p_half_bar
    q_bar = q_bar + _gradient_vjp_into(grads_V, params_V, c1, -(h / 2) * p_half_bar)  # kick
    return np.concatenate([q_bar, p_bar], axis=1)


def _vjp_into(grads, kind, params, cache, S_bar):
    """x_bar of one field call; its theta_bar is added into ``grads``."""
    x_bar, theta_bar = field_vjp(kind, params, cache, S_bar)
    _accumulate(grads, theta_bar)
    return x_bar


def _gradient_vjp_into(grads, params, cache, g_bar):
    """x_bar of one potential gradient dF/dx given its adjoint g_bar (N, n); theta_bar added into ``grads``."""
    x_bar, theta_bar = gradient_vjp(params, *cache, g_bar[None])
    _accumulate(grads, theta_bar)
    return x_bar


def _accumulate(total, part):
    """total += part, in place, for gradients shaped like params (lists of (dW, db), or a pair of them).

    An empty list takes the arrays of ``part`` itself (the first field call's
    gradient, fresh arrays): no zeros to allocate and add to.
    """
    if isinstance(total, tuple):
        for t, p in zip(total, part):
            _accumulate(t, p)
        return
    if not total:
        total.extend(part)
        return
    for (dW, db), (pW, pb) in zip(total, part):
        dW += pW
        db += pb


# --- the rollout and the loss -----------------------------------------------------------------

def _check(params, kind, method, dt, substeps):
    """The dtype and state size d of ``params`` for ``kind``; checks method, dt and substeps."""
    check_choice(kind, "kind", KINDS)
    check_choice(method, "method", METHODS)
    if method == "leapfrog" and kind != "separable":
        raise ValueError(f"method='leapfrog' needs kind='separable' (H = V(q) + T(p)); got kind={kind!r}")
    check_real(dt, "dt", positive=True)
    check_int(substeps, "substeps", 1)
    if kind == "separable":
        if not isinstance(params, (list, tuple)) or len(params) != 2 or not all(
                isinstance(p, (list, tuple)) and p and isinstance(p[0], (list, tuple)) for p in params):
            raise ValueError("a separable model's params must be a pair (params_V, params_T) of (W, b) lists")
        dtypes = [check_params(params[0], "params_V"), check_params(params[1], "params_T")]
        if dtypes[0] != dtypes[1]:
            raise ValueError(f"params_V is {dtypes[0]} but params_T is {dtypes[1]}; cast one of them")
        n_V, n_T = params[0][0][0].shape[0], params[1][0][0].shape[0]
        if n_V != n_T:
            raise ValueError(f"V(q) and T(p) must take the same number n of inputs; got {n_V} and {n_T}")
        for name, p in (("params_V", params[0]), ("params_T", params[1])):
            if p[-1][0].shape[1] != 1:
                raise ValueError(f"{name} must end in one output (a potential); got {p[-1][0].shape[1]}")
        return dtypes[0], 2 * n_V
    dtype = check_params(params)
    d, n_out = params[0][0].shape[0], params[-1][0].shape[1]
    if d % 2 and kind != "baseline":
        raise ValueError(f"an {kind.upper()} needs an even input size (q, p); params take {d} inputs")
    expected, what = {"hnn": (1, "the energy H"), "dhnn": (2, "H and D"), "baseline": (d, "dx/dt")}[kind]
    if n_out != expected:
        raise ValueError(f"kind={kind!r} needs params with {expected} output(s), {what}; params give {n_out}")
    return dtype, d


def _as_states(x, name, dtype, shape_text):
    """x as a C-contiguous finite array of ``dtype`` (floats must already be of it, integers are converted)."""
    try:
        x = np.asarray(x)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be a rectangular numeric array {shape_text}; {e}") from None
    x = in_params_dtype(x, name, dtype, f"a real numeric array {shape_text}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} has non-finite values")
    return np.ascontiguousarray(x)


def _step(method, kind, params, x, h):
    if method == "rk4":
        return rk4_step(kind, params, x, h)
    return leapfrog_step(params, x, h)


@finite_result
def rollout(params, x0, dt, K, method="rk4", substeps=1, kind="hnn"):
    """The predicted states X_hat (K+1, N, d) from starts x0 (N, d): ``substeps`` steps per interval dt.

    Parameters as for :func:`loss_and_grad`; K >= 0 intervals. Nothing is
    kept for a backward pass.
    """
    dtype, d = _check(params, kind, method, dt, substeps)
    K = check_int(K, "K", 0)
    x = _as_states(x0, "x0", dtype, f"(N, {d})")
    if x.ndim != 2 or x.shape[1] != d or not len(x):
        raise ValueError(f"x0 must have shape (N, {d}) with N >= 1; got {x.shape}")
    h = dt / substeps
    X_hat = [x]
    for _ in range(K):
        for _ in range(substeps):
            x, _caches = _step(method, kind, params, x, h)
        X_hat.append(x)
    return np.stack(X_hat)


@finite_result
def loss_and_grad(params, X, dt, method="rk4", substeps=1, kind="hnn", *, x0=None):
    """The trajectory loss of the module docstring, its parameter gradient and its gradient in the starts.

    Parameters
    ----------
    params : list of (W, b), or (params_V, params_T) for ``kind="separable"``
        hnn: sizes (d, ..., 1); dhnn: (d, ..., 2); baseline: (d, ..., d);
        separable: two MLPs (n, ..., 1), n = d / 2, the potentials V(q) and T(p).
    X : array_like, shape (K+1, N, d), or (K+1, N, d/2) for positions only
        N windows of K+1 observed states at spacing dt, K >= 1; of the
        parameters' dtype. With d/2 columns they are the positions q and
        ``x0`` is required.
    dt : float > 0
        The spacing of the observations.
    method : {"rk4", "leapfrog"}
        leapfrog needs ``kind="separable"``; rk4 takes every kind.
    substeps : int >= 1
        Integrator steps of size h = dt / substeps per interval.
    kind : {"hnn", "dhnn", "baseline", "separable"}
    x0 : array_like, shape (N, d), optional
        The starts X_hat[0]; None means X[0] (which then must be full states).

    Returns
    -------
    loss : float
    grads : shaped like ``params``: a list of (dL_dW, dL_db), or a pair of them for separable
    grad_X0 : ndarray, shape (N, d)
        dloss/dX_hat[0], the gradient in the window starts (X[0], or x0).

    Notes
    -----
    The caches of every stage of every step are kept until the backward
    pass: about 4 K substeps (RK4) or 3 K substeps (leapfrog) field
    evaluations of N rows, each ~3 arrays (N, width) per layer.
    """
    dtype, d = _check(params, kind, method, dt, substeps)
    X = _as_states(X, "X", dtype, f"(K+1, N, {d})")
    if X.ndim != 3 or X.shape[0] < 2 or X.shape[1] < 1 or X.shape[2] not in (d, d // 2):
        raise ValueError(f"X must have shape (K+1, N, {d}) (or (K+1, N, {d // 2}), positions only) "
                         f"with K >= 1 and N >= 1; got {X.shape}")
    K, N, n_obs = X.shape[0] - 1, X.shape[1], X.shape[2]
    if x0 is None:
        if n_obs != d:
            raise ValueError(f"X holds positions only ({n_obs} of {d} columns): give the starts x0 (N, {d})")
        x0 = X[0]
    else:
        x0 = _as_states(x0, "x0", dtype, f"(N, {d})")
        if x0.shape != (N, d):
            raise ValueError(f"x0 must have shape ({N}, {d}), one start per window of X; got {x0.shape}")
    h = dt / substeps

    # Forward: every step, keeping the caches of its stages.
    x = x0
    X_hat = [x]
    caches = []  # caches[k][s]: substep s of interval k
    for k in range(K):
        interval = []
        for s in range(substeps):
            x, cache = _step(method, kind, params, x, h)
            interval.append(cache)
        caches.append(interval)
        X_hat.append(x)
    r = np.stack(X_hat[1:])[:, :, :n_obs] - X[1:]  # r[k-1] = X_hat[k] - X[k] on the observed columns
    M = r.size  # K N n_obs
    loss = float(np.sum(r * r) / M)
    r_bar = (2.0 / M) * r  # dloss/dX_hat[k], k = 1 .. K   (K, N, n_obs)

    # Backward: intervals K .. 1, substeps last to first.
    grads = ([], []) if kind == "separable" else []  # filled by the first field call's gradient
    x_bar = np.zeros_like(x0)  # X_hat_bar[K+1] = 0: nothing after the last state
    for k in range(K - 1, -1, -1):
        x_bar[:, :n_obs] += r_bar[k]  # X_hat[k+1] enters the loss
        for s in range(substeps - 1, -1, -1):
            if method == "rk4":
                x_bar = rk4_step_adjoint(kind, params, caches[k][s], h, x_bar, grads)
            else:
                x_bar = leapfrog_step_adjoint(params, caches[k][s], h, x_bar, grads)
    return loss, grads, x_bar


def merge_separable(params):
    """One HNN with H(q, p) = V(q) + T(p) from a separable pair of equal depth, exactly.

    Layer by layer, the weights of V and T sit in diagonal blocks (V's hidden
    units first), so the tanh units of the two never mix, and the output
    layer adds the two potentials: sizes (2n, hV_1 + hT_1, ..., 1).
    """
    params_V, params_T = params
    if len(params_V) != len(params_T):
        raise ValueError(f"V and T must have the same number of layers to merge; got {len(params_V)} "
                         f"and {len(params_T)}")
    merged = []
    for l, ((WV, bV), (WT, bT)) in enumerate(zip(params_V, params_T)):
        last = l == len(params_V) - 1
        W = np.zeros((WV.shape[0] + WT.shape[0], 1 if last else WV.shape[1] + WT.shape[1]), dtype=WV.dtype)
        W[:WV.shape[0], :WV.shape[1]] = WV  # V's block (its last column is the output)
        W[WV.shape[0]:, W.shape[1] - WT.shape[1]:] = WT  # T's block
        b = bV + bT if last else np.concatenate([bV, bT])
        merged.append((W, np.ascontiguousarray(b)))
    return merged
