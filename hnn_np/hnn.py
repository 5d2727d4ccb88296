r"""Hamiltonian Neural Network: the vector field and the second-order backprop.

The network ``H = mlp(params, x)`` (see :mod:`hnn_np.mlp`) is read as an
energy. Its symplectic gradient is the predicted time derivative

    S(x) = J dH/dx = (dH/dp, -dH/dq),     J = [[0, I], [-I, 0]]     (N, 2n)

and training matches S to observed derivatives ``dxdt`` with the mean squared
error over all N * 2n entries (Greydanus et al. 2019; the paper's Eq. 3):

    loss = mean((S - dxdt)**2)

The loss depends on the weights only through the *input gradient* dH/dx, so
its weight gradient needs the derivative of a derivative. Autograd libraries
get it by differentiating their own backward pass ("double backprop"). Here it
is written out by hand.

Derivation
----------
Notation as in :mod:`hnn_np.mlp`: ``a[l]`` (N, n_l) the activations with
``a[0] = x``; ``s1[l] = 1 - a[l+1]**2`` and ``s2[l] = -2 a[l+1] s1[l]`` the
first and second derivative of tanh at ``z[l]``; ``g[l] = dH/da[l]`` and
``d[l] = dH/dz[l]`` the input-gradient sweep. A ``_bar`` suffix is an adjoint,
dloss/d(that quantity), with the same shape as the quantity.

*Step 0, the loss.* With ``r = S - dxdt`` and ``M = N * 2n``::

    S_bar = 2 r / M                                      (N, 2n)

and, since ``S_q = dH/dp`` and ``S_p = -dH/dq``::

    g_bar[0] = dH_dx_bar = (-S_bar_p, S_bar_q)          (N, 2n)

*Step 1, backwards through the input-gradient sweep.* The sweep ran from
l = n_layers-2 down to 0; its adjoint runs l = 0 up to n_layers-2. Each
sweep line is followed by its adjoint lines::

    sweep    g[l] = d[l] @ W[l].T
    adjoint  d_bar[l]   = g_bar[l] @ W[l]                (N, n_{l+1})
             dL_dW[l]  += g_bar[l].T @ d[l]              (n_l, n_{l+1})

    sweep    d[l] = g[l+1] * s1[l]
    adjoint  g_bar[l+1] = d_bar[l] * s1[l]               (N, n_{l+1})
             s1_bar[l]  = d_bar[l] * g[l+1]              (N, n_{l+1})

and at the top of the sweep, where every row starts from the same vector
``w = W[n_layers-1][:, 0]``::

    sweep    g[n_layers-1] = w
    adjoint  dL_dW[n_layers-1][:, 0] = sum over rows of g_bar[n_layers-1]

*Step 2, backwards through the forward pass* (l = n_layers-1 down to 0).
The output H itself does not enter the loss, so ``dL_db[n_layers-1] = 0``
and the last layer's only weight gradient is the one of Step 1. For a hidden layer, ``a[l+1]``
reaches the loss twice: through ``s1[l] = 1 - a[l+1]**2`` (the derivative
used in the sweep) and through the next layer's pre-activation ``z[l+1]``::

    forward  a[l+1] = tanh(z[l]),   s1[l] = 1 - a[l+1]**2
    adjoint  a_bar[l+1] = -2 a[l+1] * s1_bar[l]  +  z_bar[l+1] @ W[l+1].T
             z_bar[l]   = a_bar[l+1] * s1[l]
                        = s2[l] * g[l+1] * d_bar[l]  +  s1[l] * (z_bar[l+1] @ W[l+1].T)

    forward  z[l] = a[l] @ W[l] + b[l]
    adjoint  dL_dW[l]  += a[l].T @ z_bar[l]              (n_l, n_{l+1})
             dL_db[l]   = sum over rows of z_bar[l]      (n_{l+1},)

For the last hidden layer (l = n_layers-2) the term
``z_bar[n_layers-1] @ W[n_layers-1].T`` is absent (H_bar = 0). The first term, ``-2 a[l+1] * s1_bar[l]``, becomes
``s2 * g * d_bar`` in ``z_bar``: the tanh'' term. It is what a second-order
backprop that only reuses first derivatives misses, and what the tests on
tanh catch. (A ReLU network has s2 = 0 almost everywhere: the term
vanishes, its biases get no gradient at all, and its weights only the
``g_bar.T @ d`` of Step 1.)

Each ``W[l]`` so collects two gradients: one from its use in the sweep
(``g_bar.T @ d``) and one from its use in the forward pass (``a.T @ z_bar``).
The biases appear only in the forward pass.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_array, check_params, check_weights, finite_result
from .losses import mse_and_adjoint
from .mlp import forward_cache, input_gradient_cache
from .symplectic import apply_J, apply_J_T

__all__ = ["vector_field", "loss_and_grad"]


def _check(params, x, dxdt=None):
    dtype = check_params(params)
    n_in = params[0][0].shape[0]
    if n_in % 2:
        raise ValueError(f"an HNN needs an even input size (q, p); params take {n_in} inputs")
    x = check_array(x, "x", n_in, dtype)
    if dxdt is None:
        return x
    return x, check_array(dxdt, "dxdt", n_in, dtype, n_rows=x.shape[0])


@finite_result
def vector_field(params, x):
    """The learned vector field S = (dH/dp, -dH/dq).

    Parameters
    ----------
    params : list of (W, b)
        An MLP with an even input size 2n; output 0 is the energy H.
    x : array_like, shape (N, 2n)
        States, columns (q_1..q_n, p_1..p_n).

    Returns
    -------
    S : ndarray, shape (N, 2n)
    """
    x = _check(params, x)
    fwd = forward_cache(params, x)
    return apply_J(input_gradient_cache(params, fwd).g[0])  # S = J dH_dx


@finite_result
def loss_and_grad(params, x, dxdt, weights=None):
    """HNN loss mean((S - dxdt)**2) and its gradient for every parameter.

    The second-order backprop of the module docstring, line by line. Its
    arrays, with ``n_layers = len(params)`` layers of sizes n_0 .. n_{n_layers},
    N rows and 2n = n_0 (lists are indexed by the layer l; Step 1 fills them
    upwards, l = 0 .. n_layers-2, Step 2 downwards, l = n_layers-2 .. 0)::

        array               index l               shape
        a[l]                0 .. n_layers-1       (N, n_l)           a[0] = x
        W[l], dL_dW[l]      0 .. n_layers-1       (n_l, n_{l+1})
        dL_db[l]            0 .. n_layers-1       (n_{l+1},)         dL_db[n_layers-1] = 0
        g[l], g_bar[l]      0 .. n_layers-1       (N, n_l)           g[0] = dH/dx
        d[l], d_bar[l]      0 .. n_layers-2       (N, n_{l+1})
        s1_bar[l]           0 .. n_layers-2       (N, n_{l+1})
        z_bar[l]            0 .. n_layers-2       (N, n_{l+1})       z_bar[n_layers-1] = H_bar = 0: None
        s1, a_bar           the current l         (N, n_{l+1})       in the loops
        S, S_bar, dxdt      -                     (N, 2n)

    Parameters
    ----------
    params : list of (W, b)
    x : array_like, shape (N, 2n)
        States.
    dxdt : array_like, shape (N, 2n)
        Observed time derivatives (dq/dt, dp/dt).
    weights : array_like, shape (N,), optional
        Per-row weights w_i >= 0: loss = sum_ij w_i r_ij**2 / (N * 2n).
        None means all ones, the plain mean.

    Returns
    -------
    loss : float
    grads : list of (dL_dW, dL_db), shaped like ``params``
    """
    x, dxdt = _check(params, x, dxdt)
    w_row = check_weights(weights, x)
    n_layers = len(params)
    W = [Wl for Wl, _ in params]

    fwd = forward_cache(params, x)
    a = fwd.a  # a[l] (N, n_l)
    g, d = input_gradient_cache(params, fwd)  # g[l] (N, n_l), d[l] (N, n_{l+1})
    S = apply_J(g[0])  # S = J dH_dx  (N, 2n)

    # Step 0: the loss.
    loss, S_bar = mse_and_adjoint(S, dxdt, w_row)  # S_bar = 2 w r / M  (N, 2n)
    g_bar = [None] * n_layers
    g_bar[0] = apply_J_T(S_bar)  # dH_dx_bar = J.T S_bar  (N, 2n)

    # Step 1: backwards through the input-gradient sweep, l = 0 .. n_layers-2.
    dL_dW = [None] * n_layers
    dL_db = [None] * n_layers
    d_bar = [None] * (n_layers - 1)
    s1_bar = [None] * (n_layers - 1)
    for l in range(n_layers - 1):
        s1 = 1 - a[l + 1] ** 2  # s1[l] = tanh'(z[l])  (N, n_{l+1})
        d_bar[l] = g_bar[l] @ W[l]  # (N, n_{l+1})
        dL_dW[l] = g_bar[l].T @ d[l]  # (n_l, n_{l+1})
        g_bar[l + 1] = d_bar[l] * s1  # (N, n_{l+1})
        s1_bar[l] = d_bar[l] * g[l + 1]  # (N, n_{l+1})
    dL_dW[n_layers - 1] = np.zeros_like(W[n_layers - 1])
    dL_dW[n_layers - 1][:, 0] = g_bar[n_layers - 1].sum(axis=0)  # from g[n_layers-1] = w
    dL_db[n_layers - 1] = np.zeros_like(params[n_layers - 1][1])  # H does not enter the loss

    # Step 2: backwards through the forward pass, l = n_layers-2 .. 0.
    z_bar = [None] * n_layers  # z_bar[n_layers-1] = H_bar = 0
    for l in range(n_layers - 2, -1, -1):
        s1 = 1 - a[l + 1] ** 2  # s1[l]  (N, n_{l+1})
        a_bar = -2 * a[l + 1] * s1_bar[l]  # through s1[l] = 1 - a[l+1]**2: the tanh'' term
        if l < n_layers - 2:
            a_bar = a_bar + z_bar[l + 1] @ W[l + 1].T  # through z[l+1] = a[l+1] @ W[l+1] + b[l+1]
        z_bar[l] = a_bar * s1  # (N, n_{l+1})
        dL_dW[l] += a[l].T @ z_bar[l]  # (n_l, n_{l+1})
        dL_db[l] = z_bar[l].sum(axis=0)  # (n_{l+1},)

    return loss, list(zip(dL_dW, dL_db))
