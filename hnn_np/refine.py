r"""An exact last step: the best output layer by linear least squares.

The HNN's field is *linear* in the output weights. With ``w = W[L-1][:, 0]``
and the last hidden layer ``a[L-1](x)`` (N, m)::

    H(x) = a[L-1](x) @ w + b[L-1]
    S(x) = J dH/dx = sum_j w_j J da[L-1]_j/dx          (N, 2n)

so for fixed hidden layers the best ``w`` under the (weighted) loss
``sum_i v_i ||S(x_i) - dxdt_i||^2`` is the solution of a linear least-squares
problem with the design matrix

    Phi[(i, c), j] = sqrt(v_i) * (J da[L-1]_j/dx (x_i))_c       (N * 2n, m)
    y[(i, c)]      = sqrt(v_i) * dxdt[i, c]

The Jacobian ``da[L-1]/dx`` (N, m, 2n) comes from forward-mode tangents, as in
:func:`hnn_np.mlp.input_hessian`::

    a_dot[0] = e_k;   a_dot[l+1] = s1[l] * (a_dot[l] @ W[l])

Adam leaves the output layer wherever its noisy steps stopped; this step puts
it at the exact optimum for the features Adam has learned (an SVD solve that
drops singular values below ``rcond`` times the largest keeps it well posed:
the tanh features are strongly correlated). The same holds for the
baseline, whose output ``a[L-1] @ W[L-1] + b[L-1]`` is linear in
``(W[L-1], b[L-1])`` with design matrix ``[a[L-1], 1]``.
"""

from __future__ import annotations

import numpy as np

from .mlp import forward_cache, forward_tangents
from .symplectic import apply_J

__all__ = ["hidden_jacobian", "fit_output_layer"]


def hidden_jacobian(params, x):
    """d a[L-1] / dx of the last hidden layer; x (N, n_0) -> (N, m, n_0)."""
    fwd = forward_cache(params, x)
    if len(params) == 1:  # no hidden layer: a[L-1] = x
        return np.broadcast_to(np.eye(x.shape[1], dtype=x.dtype), (x.shape[0],) + (x.shape[1],) * 2)
    z_dot = forward_tangents(params, fwd)[-1]  # (n0, N, m)
    a_dot = (1 - fwd.a[-1] ** 2) * z_dot  # a_dot[L-1] = s1[L-2] * z_dot[L-2]
    return a_dot.transpose(1, 2, 0)  # (N, m, n0)


def _lstsq(Phi, y, rcond):
    """argmin_w ||Phi w - y||^2 by SVD, singular values below rcond * max dropped."""
    return np.linalg.lstsq(Phi.astype(np.float64), y.astype(np.float64), rcond=rcond)[0]


def fit_output_layer(kind, params, x, dxdt, weights=None, rcond=1e-10):
    """Replace the output layer by its least-squares optimum, in place.

    Parameters
    ----------
    kind : {"hnn", "baseline"}
    params : list of (W, b)
        Updated in place: ``W[L-1][:, 0]`` for an HNN (its output bias does
        not affect the field and is left alone), ``W[L-1]`` and ``b[L-1]``
        for a baseline.
    x, dxdt : ndarray, shape (N, 2n)
        Training data in the units the network sees (already scaled).
    weights : ndarray, shape (N,), optional
        Row weights v_i of the loss.
    rcond : float
        Relative cut-off for small singular values of Phi.

    Returns
    -------
    loss_before, loss_after : float
        The (weighted) training loss before and after.
    """
    N, D = x.shape
    v = np.ones(N) if weights is None else np.asarray(weights, dtype=np.float64)
    sqrt_v = np.sqrt(v)
    W_out, b_out = params[-1]
    if kind == "hnn":
        jac = hidden_jacobian(params, x).astype(np.float64)  # (N, m, 2n)
        J_jac = apply_J(jac)  # J da/dx, (N, m, 2n)
        Phi = (J_jac * sqrt_v[:, None, None]).transpose(0, 2, 1).reshape(N * D, -1)  # (N*2n, m)
        y = (dxdt * sqrt_v[:, None]).reshape(-1)
        w_old = W_out[:, 0].astype(np.float64)
        before = float(np.sum((Phi @ w_old - y) ** 2) / (N * D))
        w = _lstsq(Phi, y, rcond)
        W_out[:, 0] = w
        after = float(np.sum((Phi @ w - y) ** 2) / (N * D))
    else:
        a_last = forward_cache(params, x).a[-1].astype(np.float64)
        Phi = np.concatenate([a_last, np.ones((N, 1))], axis=1) * sqrt_v[:, None]  # (N, m+1)
        Y = dxdt * sqrt_v[:, None]
        theta_old = np.concatenate([W_out, b_out[None, :]]).astype(np.float64)
        before = float(np.sum((Phi @ theta_old - Y) ** 2) / (N * D))
        theta = _lstsq(Phi, Y, rcond)
        W_out[...] = theta[:-1]
        b_out[...] = theta[-1]
        after = float(np.sum((Phi @ theta - Y) ** 2) / (N * D))
    return before, after
