r"""Dissipative HNN: a field with a rotational and an irrotational part, and its backprop.

One MLP with two outputs ``(H, D) = mlp(params, x)`` (see :mod:`hnn_np.mlp`)
is read as an energy H and a dissipation potential D. The predicted time
derivative is their Helmholtz sum (Sosanya & Greydanus 2022, "Dissipative
Hamiltonian Neural Networks", arXiv 2201.10085, Eq. 4)::

    S(x) = J dH/dx + dD/dx                                          (N, 2n)

for one degree of freedom ``S = (dH/dp + dD/dq, -dH/dq + dD/dp)``. The first
term is divergence free and conserves H, the second is a gradient; H stays an
energy one can read off. Training matches S to observed derivatives with the
mean squared error over all N * 2n entries, as for the HNN::

    loss = mean((S - dxdt)**2)          (row weights w_i as in hnn.loss_and_grad)

Derivation
----------
Notation of :mod:`hnn_np.hnn`. The input-gradient sweep of :mod:`hnn_np.mlp`
runs once per output, from a *seed* vector ``c`` on the outputs: the
gradient of ``out @ c`` starts at ``g[n_layers-1] = W[n_layers-1] @ c``. The
seed ``c = (1, 0)`` gives dH/dx, the seed ``c = (0, 1)`` gives dD/dx. Both sweeps
read the same activations, so they run together with a leading seed axis
``k`` (k = 0: H, k = 1: D)::

    g[n_layers-1][k] = W[n_layers-1][:, k]     (2, N, n_{n_layers-1})  same row for all N
    d[l][k] = g[l+1][k] * s1[l]                (2, N, n_{l+1})         l = n_layers-2 .. 0
    g[l][k] = d[l][k] @ W[l].T                 (2, N, n_l)
    dH_dx = g[0][0],   dD_dx = g[0][1]

*Step 0, the loss.* With ``r = S - dxdt``, ``M = N * 2n``, and since S is
linear in both input gradients::

    S_bar = 2 w r / M                                      (N, 2n)
    g_bar[0][0] = dH_dx_bar = J.T S_bar                    (N, 2n)   seed (1, 0)
    g_bar[0][1] = dD_dx_bar = S_bar                        (N, 2n)   seed (0, 1)

*Step 1, backwards through both sweeps* (l = 0 up to n_layers-2). Each seed's sweep
is the HNN's, so each has the HNN's adjoint lines; the weights and ``s1``
are shared, so their adjoints are the sums over the two seeds::

    sweep    g[l][k] = d[l][k] @ W[l].T
    adjoint  d_bar[l][k] = g_bar[l][k] @ W[l]                       (2, N, n_{l+1})
             dL_dW[l]   += sum_k g_bar[l][k].T @ d[l][k]            (n_l, n_{l+1})

    sweep    d[l][k] = g[l+1][k] * s1[l]
    adjoint  g_bar[l+1][k] = d_bar[l][k] * s1[l]                    (2, N, n_{l+1})
             s1_bar[l]     = sum_k d_bar[l][k] * g[l+1][k]          (N, n_{l+1})

and at the top, where seed k starts from column k of the output weights::

    sweep    g[n_layers-1][k] = W[n_layers-1][:, k]
    adjoint  dL_dW[n_layers-1][:, k] = sum over rows of g_bar[n_layers-1][k]

*Step 2, backwards through the forward pass* (l = n_layers-2 down to 0): exactly
the HNN's, with ``s1_bar`` now carrying both seeds::

    adjoint  a_bar[l+1] = -2 a[l+1] * s1_bar[l]  +  z_bar[l+1] @ W[l+1].T
             z_bar[l]   = a_bar[l+1] * s1[l]
             dL_dW[l]  += a[l].T @ z_bar[l];     dL_db[l] = sum over rows of z_bar[l]

Neither output enters the loss itself, so ``dL_db[n_layers-1] = (0, 0)``: H and D
are each defined up to a constant. The first term of ``a_bar`` is the tanh''
term, here ``s2 * sum_k g[l+1][k] * d_bar[l][k]``.

What the data cannot decide
---------------------------
The split is unique only up to a field that is both a gradient and
Hamiltonian: ``grad F = J grad G`` for harmonic pairs such as
``F = q p`` and ``G = (p**2 - q**2) / 2`` (``grad(q p) = (p, q) =
J grad((p**2 - q**2)/2)``). Adding ``G`` to H and ``-F`` to D leaves S
unchanged; no loss on S can tell the two apart. See
:mod:`hnn_np.studies.dissipative` for how much of a learned D is such a part.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import check_array, check_params, check_weights
from .losses import mse_and_adjoint
from .mlp import forward_cache
from .symplectic import apply_J, apply_J_T

__all__ = ["vector_field", "input_gradients", "loss_and_grad", "SeededGradientCache",
           "seeded_gradient_cache"]


class SeededGradientCache(NamedTuple):
    """The two input-gradient sweeps: ``g[l]`` (2, N, n_l), ``d[l]`` (2, N, n_{l+1}); seed axis first."""

    g: tuple
    d: tuple


def _check(params, x, dxdt=None):
    dtype = check_params(params)
    n_in, n_out = params[0][0].shape[0], params[-1][0].shape[1]
    if n_in % 2:
        raise ValueError(f"a D-HNN needs an even input size (q, p); params take {n_in} inputs")
    if n_out != 2:
        raise ValueError(f"a D-HNN outputs (H, D): its last size must be 2; params give {n_out}")
    x = check_array(x, "x", n_in, dtype)
    if dxdt is None:
        return x
    return x, check_array(dxdt, "dxdt", n_in, dtype, n_rows=x.shape[0])


def seeded_gradient_cache(params, fwd) -> SeededGradientCache:
    """The two input-gradient sweeps of the module docstring, seeds (1, 0) and (0, 1)."""
    n_layers = len(params)
    a = fwd.a
    N = a[0].shape[0]
    W_top = params[n_layers - 1][0]  # (n_{n_layers-1}, 2)
    g = [None] * n_layers
    d = [None] * (n_layers - 1)
    g[n_layers - 1] = np.repeat(W_top.T[:, None, :], N, axis=1)  # g[top][k] = W[top][:, k], top = n_layers-1
    for l in range(n_layers - 2, -1, -1):
        s1 = 1 - a[l + 1] ** 2  # s1[l] = tanh'(z[l])                 (N, n_{l+1})
        d[l] = g[l + 1] * s1  # d[l][k] = g[l+1][k] * s1[l]            (2, N, n_{l+1})
        g[l] = d[l] @ params[l][0].T  # g[l][k] = d[l][k] @ W[l].T       (2, N, n_l)
    return SeededGradientCache(tuple(g), tuple(d))


def input_gradients(params, x):
    """dH/dx and dD/dx, the input gradients of the two outputs; x (N, 2n) -> ((N, 2n), (N, 2n))."""
    x = _check(params, x)
    g0 = seeded_gradient_cache(params, forward_cache(params, x)).g[0]
    return g0[0], g0[1]


def vector_field(params, x):
    """The learned field S = J dH/dx + dD/dx.

    Parameters
    ----------
    params : list of (W, b)
        An MLP with an even input size 2n and two outputs (H, D).
    x : array_like, shape (N, 2n)
        States, columns (q_1..q_n, p_1..p_n).

    Returns
    -------
    S : ndarray, shape (N, 2n)
    """
    dH_dx, dD_dx = input_gradients(params, x)
    return apply_J(dH_dx) + dD_dx


def loss_and_grad(params, x, dxdt, weights=None):
    """D-HNN loss mean((S - dxdt)**2) and its gradient for every parameter.

    The second-order backprop of the module docstring, line by line.

    Parameters
    ----------
    params : list of (W, b)
        Sizes (2n, ..., 2): outputs (H, D).
    x, dxdt : array_like, shape (N, 2n)
        States and observed time derivatives.
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
    W = [Wl for Wl, _ in params]

    fwd = forward_cache(params, x)
    a = fwd.a  # a[l] (N, n_l)
    g, d = seeded_gradient_cache(params, fwd)  # g[l] (2, N, n_l), d[l] (2, N, n_{l+1})
    S = apply_J(g[0][0]) + g[0][1]  # S = J dH_dx + dD_dx  (N, 2n)

    # Step 0: the loss.
    loss, S_bar = mse_and_adjoint(S, dxdt, w_row)  # S_bar = 2 w r / M  (N, 2n)
    g_bar = [None] * n_layers
    g_bar[0] = np.stack([apply_J_T(S_bar), S_bar])  # (dH_dx_bar, dD_dx_bar)  (2, N, 2n)

    # Step 1: backwards through both sweeps, l = 0 .. n_layers-2.
    dL_dW = [None] * n_layers
    dL_db = [None] * n_layers
    d_bar = [None] * (n_layers - 1)
    s1_bar = [None] * (n_layers - 1)
    for l in range(n_layers - 1):
        s1 = 1 - a[l + 1] ** 2  # s1[l] = tanh'(z[l])  (N, n_{l+1})
        d_bar[l] = g_bar[l] @ W[l]  # (2, N, n_{l+1})
        dL_dW[l] = np.tensordot(g_bar[l], d[l], axes=([0, 1], [0, 1]))  # sum_k g_bar.T @ d  (n_l, n_{l+1})
        g_bar[l + 1] = d_bar[l] * s1  # (2, N, n_{l+1})
        s1_bar[l] = (d_bar[l] * g[l + 1]).sum(axis=0)  # sum over seeds  (N, n_{l+1})
    dL_dW[n_layers - 1] = g_bar[n_layers - 1].sum(axis=1).T.copy()  # column k from g[top][k] = W[top][:, k]
    dL_db[n_layers - 1] = np.zeros_like(params[n_layers - 1][1])  # H and D do not enter the loss

    # Step 2: backwards through the forward pass, l = n_layers-2 .. 0.
    z_bar = [None] * n_layers  # z_bar[n_layers-1] = (H_bar, D_bar) = 0
    for l in range(n_layers - 2, -1, -1):
        s1 = 1 - a[l + 1] ** 2  # s1[l]  (N, n_{l+1})
        a_bar = -2 * a[l + 1] * s1_bar[l]  # through s1[l] = 1 - a[l+1]**2: the tanh'' term
        if l < n_layers - 2:
            a_bar = a_bar + z_bar[l + 1] @ W[l + 1].T  # through z[l+1] = a[l+1] @ W[l+1] + b[l+1]
        z_bar[l] = a_bar * s1  # (N, n_{l+1})
        dL_dW[l] += a[l].T @ z_bar[l]  # (n_l, n_{l+1})
        dL_db[l] = z_bar[l].sum(axis=0)  # (n_{l+1},)

    return loss, list(zip(dL_dW, dL_db))
