r"""Baseline: an MLP that predicts the time derivative directly.

The network has 2n outputs and no physics in it::

    dxdt_hat = mlp(params, x)                            (N, 2n)
    loss     = mean((dxdt_hat - dxdt)**2)                over all N * 2n entries

Its gradient is ordinary backprop (notation of :mod:`hnn_np.mlp`; ``_bar``
marks an adjoint, dloss/d(that)), each forward line followed by its adjoint::

    loss      = mean(r**2),  r = out - dxdt
    out_bar   = 2 r / (N * 2n)                           (N, 2n)

    forward   out = a[n_layers-1] @ W[n_layers-1] + b[n_layers-1]
    adjoint   dL_dW[n_layers-1] = a[n_layers-1].T @ out_bar;   dL_db[n_layers-1] = sum over rows of out_bar
              a_bar[n_layers-1] = out_bar @ W[n_layers-1].T

    forward   a[l+1] = tanh(a[l] @ W[l] + b[l])          l = n_layers-2 .. 0
    adjoint   z_bar[l]  = a_bar[l+1] * s1[l]
              dL_dW[l]  = a[l].T @ z_bar[l];     dL_db[l] = sum over rows of z_bar[l]
              a_bar[l]  = z_bar[l] @ W[l].T              (not needed for l = 0)
"""

from __future__ import annotations

from ._checks import check_array, check_params, check_weights, finite_result
from .losses import mse_and_adjoint
from .mlp import forward_cache

__all__ = ["predict", "loss_and_grad"]


def _check(params, x, dxdt=None):
    dtype = check_params(params)
    n_in, n_out = params[0][0].shape[0], params[-1][0].shape[1]
    if n_out != n_in:
        raise ValueError(
            f"a baseline maps a state to its time derivative: output size must equal "
            f"input size {n_in}; got {n_out}"
        )
    x = check_array(x, "x", n_in, dtype)
    if dxdt is None:
        return x
    return x, check_array(dxdt, "dxdt", n_in, dtype, n_rows=x.shape[0])


@finite_result
def predict(params, x):
    """Predicted time derivative; x (N, 2n) -> (N, 2n)."""
    x = _check(params, x)
    return forward_cache(params, x).out


@finite_result
def loss_and_grad(params, x, dxdt, weights=None):
    """Baseline loss mean((out - dxdt)**2) and its gradient (plain backprop).

    Parameters
    ----------
    params : list of (W, b)
        An MLP whose output size equals its input size 2n.
    x, dxdt : array_like, shape (N, 2n)
    weights : array_like, shape (N,), optional
        Per-row weights w_i >= 0: loss = sum_ij w_i r_ij**2 / (N * 2n).

    Returns
    -------
    loss : float
    grads : list of (dL_dW, dL_db), shaped like ``params``
    """
    x, dxdt = _check(params, x, dxdt)
    w_row = check_weights(weights, x)
    n_layers = len(params)
    fwd = forward_cache(params, x)
    a = fwd.a
    loss, out_bar = mse_and_adjoint(fwd.out, dxdt, w_row)  # out_bar = 2 w r / M  (N, 2n)
    grads = [None] * n_layers
    grads[n_layers - 1] = (a[n_layers - 1].T @ out_bar, out_bar.sum(axis=0))
    a_bar = out_bar @ params[n_layers - 1][0].T  # (N, n_{n_layers-1})
    for l in range(n_layers - 2, -1, -1):
        s1 = 1 - a[l + 1] ** 2  # s1[l] = tanh'(z[l])
        z_bar = a_bar * s1  # z_bar[l] = a_bar[l+1] * s1[l]   (N, n_{l+1})
        grads[l] = (a[l].T @ z_bar, z_bar.sum(axis=0))
        if l > 0:
            a_bar = z_bar @ params[l][0].T  # (N, n_l)
    return loss, grads
