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
``(W[L-1], b[L-1])`` with design matrix ``[a[L-1], 1]``, and for a D-HNN,
whose field is linear in both output columns ``w_H = W[L-1][:, 0]`` and
``w_D = W[L-1][:, 1]``::

    S(x) = sum_j w_H,j J da[L-1]_j/dx + sum_j w_D,j da[L-1]_j/dx

so both are fitted jointly, with the design matrix ``[J da/dx | da/dx]``
(N * 2n, 2m).
"""

from __future__ import annotations

import numpy as np

from ._checks import check_array, check_params, check_weights
from .mlp import forward_cache, forward_tangents
from .symplectic import apply_J

__all__ = ["hidden_jacobian", "fit_output_layer", "KINDS"]

KINDS = ("hnn", "dhnn", "baseline")


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


def _check(kind, params, x, dxdt, weights):
    """Validate the arguments of :func:`fit_output_layer`; return (x, dxdt, v) in float64."""
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    dtype = check_params(params)
    n_in, n_out = params[0][0].shape[0], params[-1][0].shape[1]
    want = {"hnn": 1, "dhnn": 2, "baseline": n_in}[kind]
    if n_out != want or n_in % 2:
        raise ValueError(f"params of sizes ({n_in}, ..., {n_out}) are not a {kind!r} network: it needs "
                         f"an even input size and {want} output(s)")
    x = check_array(x, "x", n_in, dtype)
    dxdt = check_array(dxdt, "dxdt", n_in, dtype, n_rows=x.shape[0])
    w = check_weights(weights, x)
    v = np.ones(x.shape[0]) if w is None else w.astype(np.float64)
    return x, dxdt, v


def fit_output_layer(kind, params, x, dxdt, weights=None, rcond=1e-10):
    """Replace the output layer by its least-squares optimum, in place.

    Parameters
    ----------
    kind : {"hnn", "dhnn", "baseline"}
    params : list of (W, b)
        Updated in place: ``W[L-1][:, 0]`` for an HNN, both columns of
        ``W[L-1]`` for a D-HNN (their output biases do not affect the field
        and are left alone), ``W[L-1]`` and ``b[L-1]`` for a baseline.
    x, dxdt : ndarray, shape (N, 2n)
        Training data in the units the network sees (already scaled), finite,
        in the dtype of ``params``.
    weights : ndarray, shape (N,), optional
        Row weights v_i >= 0 of the loss.
    rcond : float
        Relative cut-off for small singular values of Phi.

    Returns
    -------
    loss_before, loss_after : float
        The (weighted) training loss before and after.

    Raises
    ------
    ValueError
        For an unknown ``kind``, params that are not of that kind, or ``x``,
        ``dxdt``, ``weights`` that are mis-shaped, of another dtype, or not finite.
    """
    x, dxdt, v = _check(kind, params, x, dxdt, weights)
    N, D = x.shape
    sqrt_v = np.sqrt(v)
    W_out, b_out = params[-1]
    if kind in ("hnn", "dhnn"):
        jac = hidden_jacobian(params, x).astype(np.float64)  # (N, m, 2n)
        blocks = [apply_J(jac)] if kind == "hnn" else [apply_J(jac), jac]  # J da/dx [, da/dx]
        cols = [(B * sqrt_v[:, None, None]).transpose(0, 2, 1).reshape(N * D, -1) for B in blocks]
        Phi = np.concatenate(cols, axis=1)  # (N*2n, m) or (N*2n, 2m): [w_H | w_D]
        y = (dxdt * sqrt_v[:, None]).reshape(-1)
        k = len(blocks)
        w_old = W_out[:, :k].T.reshape(-1).astype(np.float64)  # (w_H [, w_D])
        before = float(np.sum((Phi @ w_old - y) ** 2) / (N * D))
        w = _lstsq(Phi, y, rcond)
        W_out[:, :k] = w.reshape(k, -1).T
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
