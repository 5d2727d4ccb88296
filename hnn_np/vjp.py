r"""Vector-Jacobian products of a learned field: what backpropagation through an integrator needs.

An integrator step calls a field ``S(x; theta)`` (N, d) at a few stage
states. Its reverse sweep hands each call an adjoint ``S_bar`` (N, d),
dloss/dS, and needs the two products

    x_bar     = S_bar^T dS/dx            (N, d)        one row per state
    theta_bar = S_bar^T dS/dtheta        shaped like the parameters

For every field here they come out of one backward pass through the
network, with the caches of the forward evaluation (:func:`field`):

* ``"hnn"``: S = J dH/dx. theta_bar is the second-order backprop of
  :func:`hnn_np.hnn.loss_and_grad` with its residual adjoint ``2 r / M``
  replaced by ``S_bar``; x_bar = d2H/dx2 (J^T S_bar), a Hessian-vector
  product, is the same backward pass carried one line further, to the input:
  ``x_bar = z_bar[0] @ W[0].T``.
* ``"dhnn"``: S = J dH/dx + dD/dx, the same with the two seeds of
  :mod:`hnn_np.dhnn`: ``g_bar[0] = (J^T S_bar, S_bar)``.
* ``"baseline"``: S = mlp(x), plain backprop (:mod:`hnn_np.baseline`)
  carried to the input.
* ``"separable"``: params = (params_V, params_T), two MLPs of input n = d/2
  with one output each, H = V(q) + T(p) and S = (dT/dp, -dV/dq).

The backward pass of a potential's gradient, for any number k of outputs
(one seed per output, seed axis first as in :mod:`hnn_np.dhnn`): with
``g_bar[0]`` (k, N, n_0) the adjoint of ``g[0]`` = the k input gradients,
Steps 1 and 2 of :mod:`hnn_np.hnn` and then::

    forward  z[0] = a[0] @ W[0] + b[0],   a[0] = x
    adjoint  x_bar = z_bar[0] @ W[0].T                     (N, n_0)

(``a[0]`` enters the input gradient only through ``z[0]``; a network
without a hidden layer has a constant gradient, and x_bar = 0.)
:func:`gradient_vjp` is that pass; a test holds its weight gradients equal
to :func:`hnn_np.hnn.loss_and_grad`'s and :func:`hnn_np.dhnn.loss_and_grad`'s
when ``S_bar = 2 r / M``, and its x_bar to ``input_hessian``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .dhnn import seeded_gradient_cache
from .mlp import forward_cache
from .symplectic import apply_J, apply_J_T

__all__ = ["KINDS", "FieldCache", "field", "field_vjp", "gradient", "gradient_vjp", "zeros_like_params"]

KINDS = ("hnn", "dhnn", "baseline", "separable")


class FieldCache(NamedTuple):
    """What a field evaluation keeps for its backward pass.

    fwd : :class:`hnn_np.mlp.ForwardCache` (for ``"separable"`` a pair, of V at q and of T at p)
    grad : :class:`hnn_np.dhnn.SeededGradientCache`, a pair for ``"separable"``, None for a baseline
    """

    fwd: object
    grad: object


def gradient(params, x):
    """The input gradients of every output, and their caches: x (N, n_0) -> g0 (k, N, n_0), (fwd, grad)."""
    fwd = forward_cache(params, x)
    grad = seeded_gradient_cache(params, fwd)
    return grad.g[0], (fwd, grad)


def field(kind, params, x):
    """The field S(x) of a network of ``kind`` and the caches of its evaluation.

    Parameters
    ----------
    kind : {"hnn", "dhnn", "baseline", "separable"}
    params : list of (W, b); for ``"separable"`` a pair (params_V, params_T)
    x : ndarray, shape (N, d)
        Checked states of the parameters' dtype (:func:`hnn_np.trajectory.loss_and_grad` checks them).

    Returns
    -------
    S : ndarray, shape (N, d)
    cache : FieldCache
    """
    if kind == "baseline":
        fwd = forward_cache(params, x)
        return fwd.out, FieldCache(fwd, None)  # S = mlp(x)
    if kind == "separable":
        params_V, params_T = params
        n = x.shape[1] // 2
        dV_dq, (fwd_V, grad_V) = gradient(params_V, x[:, :n])  # (1, N, n)
        dT_dp, (fwd_T, grad_T) = gradient(params_T, x[:, n:])
        S = np.concatenate([dT_dp[0], -dV_dq[0]], axis=1)  # S = (dT/dp, -dV/dq)   (N, 2n)
        return S, FieldCache((fwd_V, fwd_T), (grad_V, grad_T))
    g0, (fwd, grad) = gradient(params, x)
    S = apply_J(g0[0])  # S = J dH/dx
    if kind == "dhnn":
        S = S + g0[1]  # S = J dH/dx + dD/dx
    return S, FieldCache(fwd, grad)


def field_vjp(kind, params, cache: FieldCache, S_bar):
    """(x_bar, theta_bar) = S_bar^T (dS/dx, dS/dtheta) at the evaluation ``cache`` holds.

    Parameters
    ----------
    kind, params : as for :func:`field`
    cache : FieldCache
        From ``field(kind, params, x)``.
    S_bar : ndarray, shape (N, d)

    Returns
    -------
    x_bar : ndarray, shape (N, d)
    grads : list of (dW, db) shaped like ``params`` (for ``"separable"`` a pair of such lists)
    """
    if kind == "baseline":
        return _baseline_vjp(params, cache.fwd, S_bar)
    if kind == "separable":
        params_V, params_T = params
        n = S_bar.shape[1] // 2
        # S_q = dT/dp(p): its adjoint seeds T's gradient; S_p = -dV/dq(q): -S_bar_p seeds V's
        p_bar, grads_T = gradient_vjp(params_T, cache.fwd[1], cache.grad[1], S_bar[None, :, :n])
        q_bar, grads_V = gradient_vjp(params_V, cache.fwd[0], cache.grad[0], -S_bar[None, :, n:])
        return np.concatenate([q_bar, p_bar], axis=1), (grads_V, grads_T)
    g0_bar = apply_J_T(S_bar)[None]  # dH_dx_bar = J^T S_bar   (1, N, d)
    if kind == "dhnn":
        g0_bar = np.concatenate([g0_bar, S_bar[None]])  # (dH_dx_bar, dD_dx_bar = S_bar)   (2, N, d)
    return gradient_vjp(params, cache.fwd, cache.grad, g0_bar)


def gradient_vjp(params, fwd, grad, g0_bar):
    """The backward pass of the k input gradients g[0] (k, N, n_0) given their adjoint g0_bar.

    Steps 1 and 2 of :func:`hnn_np.hnn.loss_and_grad` (there k = 1 and
    ``g0_bar = J^T S_bar``), then ``x_bar = z_bar[0] @ W[0].T``.

    Returns
    -------
    x_bar : ndarray, shape (N, n_0)
        sum_k d2F_k/dx2 g0_bar[k], the Hessian-vector products.
    grads : list of (dW, db) shaped like ``params``
    """
    n_layers = len(params)
    W = [Wl for Wl, _ in params]
    a = fwd.a  # a[l] (N, n_l)
    g, d = grad  # g[l] (k, N, n_l), d[l] (k, N, n_{l+1})

    # Step 1: backwards through the k sweeps, l = 0 .. n_layers-2.
    g_bar = [None] * n_layers
    g_bar[0] = g0_bar  # (k, N, n_0)
    dL_dW = [None] * n_layers
    dL_db = [None] * n_layers
    s1_bar = [None] * (n_layers - 1)
    for l in range(n_layers - 1):
        s1 = 1 - a[l + 1] ** 2  # s1[l] = tanh'(z[l])  (N, n_{l+1})
        d_bar = g_bar[l] @ W[l]  # d_bar[l] = g_bar[l] @ W[l]   (k, N, n_{l+1})
        dL_dW[l] = np.tensordot(g_bar[l], d[l], axes=([0, 1], [0, 1]))  # sum_k g_bar.T @ d  (n_l, n_{l+1})
        g_bar[l + 1] = d_bar * s1  # g_bar[l+1] = d_bar[l] * s1[l]   (k, N, n_{l+1})
        s1_bar[l] = (d_bar * g[l + 1]).sum(axis=0)  # s1_bar[l] = sum_k d_bar[l] * g[l+1]   (N, n_{l+1})
    dL_dW[n_layers - 1] = g_bar[n_layers - 1].sum(axis=1).T.copy()  # column k from g[top][k] = W[top][:, k]
    dL_db[n_layers - 1] = np.zeros_like(params[n_layers - 1][1])  # the outputs do not enter the field

    # Step 2: backwards through the forward pass, l = n_layers-2 .. 0.
    z_bar = None  # z_bar[l+1]; z_bar[n_layers-1] = 0: the outputs do not enter the field
    for l in range(n_layers - 2, -1, -1):
        s1 = 1 - a[l + 1] ** 2  # s1[l]  (N, n_{l+1})
        a_bar = -2 * a[l + 1] * s1_bar[l]  # through s1[l] = 1 - a[l+1]**2: the tanh'' term
        if z_bar is not None:
            a_bar = a_bar + z_bar @ W[l + 1].T  # through z[l+1] = a[l+1] @ W[l+1] + b[l+1]
        z_bar = a_bar * s1  # z_bar[l] = a_bar[l+1] * s1[l]   (N, n_{l+1})
        dL_dW[l] += a[l].T @ z_bar  # (n_l, n_{l+1})
        dL_db[l] = z_bar.sum(axis=0)  # (n_{l+1},)

    # The input: z[0] = x @ W[0] + b[0].
    if z_bar is None:  # no hidden layer: the gradient is constant in x
        x_bar = np.zeros_like(a[0])
    else:
        x_bar = z_bar @ W[0].T  # x_bar = z_bar[0] @ W[0].T   (N, n_0)
    return x_bar, list(zip(dL_dW, dL_db))


def _baseline_vjp(params, fwd, out_bar):
    """Plain backprop of ``out = mlp(x)`` given out_bar (N, d), carried to the input (:mod:`hnn_np.baseline`)."""
    n_layers = len(params)
    a = fwd.a
    grads = [None] * n_layers
    grads[n_layers - 1] = (a[n_layers - 1].T @ out_bar, out_bar.sum(axis=0))
    a_bar = out_bar @ params[n_layers - 1][0].T  # a_bar[n_layers-1]   (N, n_{n_layers-1})
    for l in range(n_layers - 2, -1, -1):
        s1 = 1 - a[l + 1] ** 2  # s1[l] = tanh'(z[l])
        z_bar = a_bar * s1  # z_bar[l] = a_bar[l+1] * s1[l]   (N, n_{l+1})
        grads[l] = (a[l].T @ z_bar, z_bar.sum(axis=0))
        a_bar = z_bar @ params[l][0].T  # a_bar[l] = z_bar[l] @ W[l].T   (N, n_l); a_bar[0] = x_bar
    return a_bar, grads


def zeros_like_params(kind, params):
    """Zero gradients shaped like ``params`` (a pair of lists for ``"separable"``), to accumulate into."""
    if kind == "separable":
        return tuple(zeros_like_params("hnn", p) for p in params)
    return [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
