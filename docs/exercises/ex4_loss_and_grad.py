r"""Exercise 4: the second-order backprop of the HNN loss (docs/derivation.md, Section 3).

The loss depends on the weights only through dH/dx::

    S    = J dH/dx = (dH/dp, -dH/dq)                  (N, 2n)
    loss = mean((S - dxdt)**2)                         over all M = N * 2n entries

so its gradient differentiates the input-gradient sweep of exercise 2. With
``n_layers = len(params)``, ``W[l]`` (n_l, n_{l+1}), the forward pass ``a[l]``,
``s1[l] = 1 - a[l+1]**2`` and the sweep ``g[l] = dH/da[l]``, ``d[l] = dH/dz[l]``
(a bar is an adjoint, dloss/d of that quantity, shaped like it)::

    array       indices l             shape
    a[l]        0 .. n_layers-1       (N, n_l)        a[0] = x
    g[l]        0 .. n_layers-1       (N, n_l)        g[0] = dH/dx
    d[l], s1[l] 0 .. n_layers-2       (N, n_{l+1})
    dL_dW[l]    0 .. n_layers-1       (n_l, n_{l+1})
    dL_db[l]    0 .. n_layers-1       (n_{l+1},)

Step 0, the loss, with r = S - dxdt::

    S_bar    = 2 r / M                                 (N, 2n)
    g_bar[0] = J^T S_bar = (-S_bar_p, S_bar_q)         (N, 2n)

Step 1, backwards through the sweep, l = 0 up to n_layers-2::

    d_bar[l]    = g_bar[l] @ W[l]                      (N, n_{l+1})
    dL_dW[l]    = g_bar[l].T @ d[l]                    (n_l, n_{l+1})
    g_bar[l+1]  = d_bar[l] * s1[l]                     (N, n_{l+1})
    s1_bar[l]   = d_bar[l] * g[l+1]                    (N, n_{l+1})

then the top of the sweep, g[n_layers-1] = w = W[n_layers-1][:, 0] in every row::

    dL_dW[n_layers-1][:, 0] = sum over rows of g_bar[n_layers-1]   (other columns 0)
    dL_db[n_layers-1]       = 0                        (H itself is not in the loss)

Step 2, backwards through the forward pass, l = n_layers-2 down to 0::

    a_bar[l+1] = -2 a[l+1] * s1_bar[l]                 through s1[l] = 1 - a[l+1]**2 (the tanh'' term)
               + z_bar[l+1] @ W[l+1].T                 through z[l+1]; absent for l = n_layers-2
    z_bar[l]   = a_bar[l+1] * s1[l]                    (N, n_{l+1})
    dL_dW[l]  += a[l].T @ z_bar[l]                     (n_l, n_{l+1})
    dL_db[l]   = sum over rows of z_bar[l]             (n_{l+1},)

Run ``make exercises`` (or ``.venv/bin/python -m pytest -q docs/exercises/test_ex4_loss_and_grad.py``).
"""

import numpy as np


def loss_and_grad(params, x, dxdt):
    r"""The HNN loss mean((J dH/dx - dxdt)**2) and its gradient for every (W, b).

    Parameters
    ----------
    params : list of (W, b)
        An MLP with 2n inputs and output 0 the energy H.
    x, dxdt : ndarray, shape (N, 2n)
        States and their observed time derivatives.

    Returns
    -------
    loss : float
    grads : list of (dL_dW, dL_db), shaped like ``params``

    Hints
    -----
    * ``hnn_np.mlp.forward_cache(params, x).a`` gives every a[l], and
      ``hnn_np.mlp.input_gradient_cache(params, fwd)`` gives g and d (or
      keep them from your exercise 2).
    * S_bar goes back through J as J^T, not J: the adjoint of y = A u is
      u_bar = A^T y_bar. ``hnn_np.symplectic.apply_J_T`` applies it to rows.
    * Step 1 runs upwards while the sweep ran downwards; Step 2 runs downwards.
      Lists of length n_layers (or n_layers - 1) filled by index keep that straight.
    * The first term of a_bar is the one a double backprop that reuses only
      first derivatives forgets; the central-difference test catches it on tanh.
    """
    raise NotImplementedError("exercise 4: loss_and_grad(params, x, dxdt), Steps 0, 1 and 2 of the docstring")
