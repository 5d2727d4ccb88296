r"""Exercise 2: the input gradient of the MLP, dH/dx (docs/derivation.md, Section 2).

The network has ``L = len(params)`` layers, ``params[l] = (W[l], b[l])`` with
``W[l]`` (n_l, n_{l+1}) and ``b[l]`` (n_{l+1},). Rows are examples::

    a[0]   = x                              (N, n_0)
    z[l]   = a[l] @ W[l] + b[l]             (N, n_{l+1})     l = 0 .. L-1
    a[l+1] = tanh(z[l])                     (N, n_{l+1})     l = 0 .. L-2
    H      = z[L-1][:, 0]                   (N,)             the last layer is linear

The gradient of H with respect to x is one backward sweep from the top, with
``w = W[L-1][:, 0]``, ``g[l] = dH/da[l]``, ``d[l] = dH/dz[l]`` and
``s1[l] = 1 - a[l+1]**2``::

    g[L-1] = w (the same row for all N)     (N, n_{L-1})
    d[l]   = g[l+1] * s1[l]                 (N, n_{l+1})     l = L-2 .. 0
    g[l]   = d[l] @ W[l].T                  (N, n_l)
    dH/dx  = g[0]                           (N, n_0)

Run ``make exercises`` (or ``.venv/bin/python -m pytest -q docs/exercises/test_ex2_input_gradient.py``).
"""

import numpy as np


def input_gradient(params, x):
    r"""dH/dx of output 0 of a tanh MLP, one row per state.

    Parameters
    ----------
    params : list of (W, b)
        ``W[l]`` (n_l, n_{l+1}), ``b[l]`` (n_{l+1},); the last layer may have
        several outputs, the gradient is that of output 0.
    x : ndarray, shape (N, n_0)

    Returns
    -------
    dH_dx : ndarray, shape (N, n_0), the dtype of x

    Hints
    -----
    * Run the forward pass first and keep every ``a[l]``: the sweep needs
      ``s1[l] = 1 - a[l+1]**2``, read from the activation *after* layer l.
    * ``np.repeat(w[None, :], N, axis=0)`` or broadcasting gives the rows of g[L-1].
    * A network with a single (linear) layer has no sweep: dH/dx = w in every row.
    * Check the shapes at every line: g[l] has as many columns as layer l has inputs.
    """
    raise NotImplementedError("exercise 2: input_gradient(params, x), the sweep g[l] = (g[l+1] * s1[l]) @ W[l].T")
