r"""A tanh multilayer perceptron: forward pass, input gradient, input Hessian.

The network has ``n_layers = len(params)`` layers, layer ``l`` holding
``W[l]`` (n_l, n_{l+1}) and ``b[l]`` (n_{l+1},). Rows are examples, and
everything is 0-based so that code index equals math index::

    a[0]   = x                               (N, n_0)
    z[l]   = a[l] @ W[l] + b[l]              (N, n_{l+1})         l = 0 .. n_layers-1
    a[l+1] = tanh(z[l])                      (N, n_{l+1})         l = 0 .. n_layers-2
    H      = z[n_layers-1]                   (N, n_{n_layers})    the last layer is linear

For an HNN, ``n_{n_layers} = 1`` and output 0 is the learned energy H(x).

The input gradient dH/dx of output 0 is one backward sweep from the top,
with ``w = W[n_layers-1][:, 0]`` and ``s1[l] = 1 - a[l+1]**2 = tanh'(z[l])``::

    g[n_layers-1] = w                        (N, n_{n_layers-1})  dH/da[n_layers-1], the same row for all N
    d[l] = g[l+1] * s1[l]                    (N, n_{l+1})         dH/dz[l]    l = n_layers-2 .. 0
    g[l] = d[l] @ W[l].T                     (N, n_l)             dH/da[l]
    dH_dx = g[0]                             (N, n_0)

The Hessian d2H/dx2 differentiates that sweep once more along each input
direction e_k (forward mode; a dot marks a derivative along e_k and
``s2[l] = -2 a[l+1] s1[l] = tanh''(z[l])``)::

    a_dot[0] = e_k;   z_dot[l] = a_dot[l] @ W[l];   a_dot[l+1] = s1[l] * z_dot[l]
    g_dot[n_layers-1] = 0
    d_dot[l] = g_dot[l+1] * s1[l] + g[l+1] * s2[l] * z_dot[l]
    g_dot[l] = d_dot[l] @ W[l].T;                  Hessian[:, :, k] = g_dot[0]

:func:`input_hessian_loops` computes it as written, one row and one direction
e_k at a time; :func:`input_hessian` does all rows and directions at once
(the direction axis first, see :func:`forward_tangents`), and a test holds
the two equal.

The caches of both passes are explicit, immutable named tuples, reused by the
second-order backprop in :mod:`hnn_np.hnn`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import check_array, check_dtype, check_params, check_seed, check_sizes, finite_result

__all__ = [
    "init_params", "forward", "input_gradient", "input_hessian", "input_hessian_loops",
    "ForwardCache", "GradientCache", "forward_cache", "input_gradient_cache", "forward_tangents",
    "n_params",
]


def init_params(sizes, seed=0, dtype=np.float64):
    """Random parameters for an MLP with layer sizes ``sizes``.

    Every ``W[l]`` and ``b[l]`` is drawn from U(-1/sqrt(n_l), 1/sqrt(n_l)),
    with n_l the layer's fan-in: the default of PyTorch's ``nn.Linear``
    (He et al. 2015, "Delving deep into rectifiers", Sec. 2.2, with a = sqrt(5)),
    on which the paper's code was built. Random biases matter here: with zero
    biases a tanh network is an odd function of x plus a constant, and could
    not represent an even energy such as k q^2/2 + p^2/2m.

    Parameters
    ----------
    sizes : sequence of int
        ``(n_0, ..., n_{n_layers})``, e.g. the paper's ``(2, 400, 400, 400, 400, 400, 1)``.
    seed : int >= 0, or None
        Seed of ``numpy.random.default_rng``: the same seed gives the same
        numbers, bit for bit.
    dtype : float32 or float64

    Returns
    -------
    params : list of (W, b)
        ``W`` (n_l, n_{l+1}) and ``b`` (n_{l+1},), C-contiguous.
    """
    sizes = check_sizes(sizes)
    dtype = check_dtype(dtype)
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(n_in)
        W = rng.uniform(-bound, bound, size=(n_in, n_out)).astype(dtype)
        b = rng.uniform(-bound, bound, size=n_out).astype(dtype)
        params.append((W, b))
    return params


def n_params(params) -> int:
    """Total number of scalars in ``params``."""
    return sum(W.size + b.size for W, b in params)


class ForwardCache(NamedTuple):
    """What the forward pass keeps: ``a[l]`` for l = 0 .. n_layers-1 and the output.

    a : tuple of arrays, a[0] = x (N, n_0), a[l] (N, n_l)
    out : (N, n_{n_layers})
    """

    a: tuple
    out: np.ndarray


class GradientCache(NamedTuple):
    """What the input-gradient pass keeps: ``g[l] = dH/da[l]``, ``d[l] = dH/dz[l]``.

    g : tuple, g[l] (N, n_l) for l = 0 .. n_layers-1 (g[0] = dH/dx)
    d : tuple, d[l] (N, n_{l+1}) for l = 0 .. n_layers-2
    """

    g: tuple
    d: tuple


def forward_cache(params, x) -> ForwardCache:
    """The forward pass of the module docstring, keeping every activation."""
    a = [x]
    for W, b in params[:-1]:
        z = a[-1] @ W + b  # z[l] = a[l] @ W[l] + b[l]   (N, n_{l+1})
        a.append(np.tanh(z))  # a[l+1] = tanh(z[l])
    W, b = params[-1]
    out = a[-1] @ W + b  # H = a[n_layers-1] @ W[n_layers-1] + b[n_layers-1]  (N, n_{n_layers})
    return ForwardCache(tuple(a), out)


def input_gradient_cache(params, fwd: ForwardCache) -> GradientCache:
    """The input-gradient sweep of the module docstring, keeping g and d."""
    n_layers = len(params)
    a = fwd.a
    N = a[0].shape[0]
    w = params[n_layers - 1][0][:, 0]
    g = [None] * n_layers
    d = [None] * (n_layers - 1)
    g[n_layers - 1] = np.repeat(w[None, :], N, axis=0)  # g[n_layers-1] = w    (N, n_{n_layers-1})
    for l in range(n_layers - 2, -1, -1):
        s1 = 1 - a[l + 1] ** 2  # s1[l] = tanh'(z[l])            (N, n_{l+1})
        d[l] = g[l + 1] * s1  # d[l] = g[l+1] * s1[l]              (N, n_{l+1})
        g[l] = d[l] @ params[l][0].T  # g[l] = d[l] @ W[l].T                (N, n_l)
    return GradientCache(tuple(g), tuple(d))


def _check(params, x):
    dtype = check_params(params)
    x = check_array(x, "x", params[0][0].shape[0], dtype)
    return x


@finite_result
def forward(params, x):
    """Network output for a batch of inputs.

    Parameters
    ----------
    params : list of (W, b)
    x : array_like, shape (N, n_0)

    Returns
    -------
    out : ndarray, shape (N, n_{n_layers})
    """
    x = _check(params, x)
    return forward_cache(params, x).out


@finite_result
def input_gradient(params, x):
    """Gradient of output 0 with respect to the input, dH/dx.

    Parameters
    ----------
    params : list of (W, b)
    x : array_like, shape (N, n_0)

    Returns
    -------
    dH_dx : ndarray, shape (N, n_0)
    """
    x = _check(params, x)
    return input_gradient_cache(params, forward_cache(params, x)).g[0]


@finite_result
def input_hessian(params, x):
    """Hessian of output 0 with respect to the input, d2H/dx2.

    Forward-mode differentiation of the input-gradient sweep along each of
    the n_0 input directions at once (see the module docstring): every array
    of the sweep's derivative carries the direction k as its first axis,
    ``g_dot`` (n_0, N, n_l), and the last line moves it to the end. The same
    numbers, one row and one direction at a time: :func:`input_hessian_loops`.

    Parameters
    ----------
    params : list of (W, b)
    x : array_like, shape (N, n_0)

    Returns
    -------
    d2H_dx2 : ndarray, shape (N, n_0, n_0), symmetric in its last two axes
    """
    x = _check(params, x)
    fwd = forward_cache(params, x)
    grad = input_gradient_cache(params, fwd)
    n_layers = len(params)
    N, n0 = x.shape
    a, g = fwd.a, grad.g
    if n_layers == 1:  # a linear model has no curvature
        return np.zeros((N, n0, n0), dtype=x.dtype)
    z_dot = forward_tangents(params, fwd)  # z_dot[l][k] = dz[l]/dx_k    (n0, N, n_{l+1})
    g_dot = np.zeros_like(z_dot[-1])  # g_dot[n_layers-1] = 0    (n0, N, n_{n_layers-1})
    for l in range(n_layers - 2, -1, -1):
        s1 = 1 - a[l + 1] ** 2  # (N, n_{l+1}): broadcasts over the direction axis k
        s2 = -2 * a[l + 1] * s1
        d_dot = g_dot * s1 + g[l + 1] * s2 * z_dot[l]  # d_dot[l]    (n0, N, n_{l+1})
        g_dot = _matmul_k(d_dot, params[l][0].T)  # g_dot[l] = d_dot[l] @ W[l].T    (n0, N, n_l)
    # g_dot[0][k, i, j] = d2H/dx_j dx_k at row i; axes (k, i, j) -> (i, j, k)
    return np.ascontiguousarray(g_dot.transpose(1, 2, 0))  # (N, n0, n0)


@finite_result
def input_hessian_loops(params, x):
    """:func:`input_hessian` as the module docstring writes it: one row, one direction e_k at a time.

    The same numbers (to rounding) as the vectorised version; slow, for
    reading. Every array here is a vector of one row, ``a[l]`` (n_l,).

    Returns
    -------
    d2H_dx2 : ndarray, shape (N, n_0, n_0)
    """
    x = _check(params, x)
    n_layers = len(params)
    W = [Wl for Wl, _ in params]
    N, n0 = x.shape
    hessian = np.zeros((N, n0, n0), dtype=x.dtype)
    for i in range(N):
        a = [x[i]]  # a[0] = x_i    (n_0,)
        for l in range(n_layers - 1):
            a.append(np.tanh(a[l] @ W[l] + params[l][1]))  # a[l+1] = tanh(z[l])    (n_{l+1},)
        g = [None] * n_layers
        g[n_layers - 1] = W[n_layers - 1][:, 0]  # g[n_layers-1] = w
        for l in range(n_layers - 2, -1, -1):
            g[l] = (g[l + 1] * (1 - a[l + 1] ** 2)) @ W[l].T  # g[l] = (g[l+1] * s1[l]) @ W[l].T
        for k in range(n0):
            a_dot = np.zeros(n0, dtype=x.dtype)
            a_dot[k] = 1  # a_dot[0] = e_k
            z_dot = []
            for l in range(n_layers - 1):
                z_dot.append(a_dot @ W[l])  # z_dot[l] = a_dot[l] @ W[l]
                a_dot = (1 - a[l + 1] ** 2) * z_dot[l]  # a_dot[l+1] = s1[l] * z_dot[l]
            g_dot = np.zeros_like(g[n_layers - 1])  # g_dot[n_layers-1] = 0
            for l in range(n_layers - 2, -1, -1):
                s1 = 1 - a[l + 1] ** 2  # tanh'(z[l])
                s2 = -2 * a[l + 1] * s1  # tanh''(z[l])
                d_dot = g_dot * s1 + g[l + 1] * s2 * z_dot[l]  # d_dot[l]
                g_dot = d_dot @ W[l].T  # g_dot[l]
            hessian[i, :, k] = g_dot  # column k: d(dH/dx)/dx_k
    return hessian


def forward_tangents(params, fwd: ForwardCache):
    """Pre-activation tangents along every input direction e_k at once.

    a_dot[0] = e_k;  z_dot[l] = a_dot[l] @ W[l];  a_dot[l+1] = s1[l] * z_dot[l]

    The direction axis k comes first, shape (n0, N, n), so that each product
    with W[l] is one GEMM over all n0 * N rows (:func:`_matmul_k`). The seed
    ``a_dot[0][k, i, :] = e_k`` for every row i is set by indexing the pairs
    (k, k) of the first and last axes at once.

    Returns
    -------
    z_dot : list of ndarray, z_dot[l] (n0, N, n_{l+1}) for l = 0 .. n_layers-2
    """
    a = fwd.a
    N, n0 = a[0].shape
    a_dot = np.zeros((n0, N, n0), dtype=a[0].dtype)
    a_dot[np.arange(n0), :, np.arange(n0)] = 1  # a_dot[0][k, :, k] = 1 for k = 0 .. n0-1: e_k
    z_dot = []
    for l in range(len(params) - 1):
        z_dot.append(_matmul_k(a_dot, params[l][0]))  # z_dot[l] = a_dot[l] @ W[l]
        a_dot = (1 - a[l + 1] ** 2) * z_dot[l]  # a_dot[l+1] = s1[l] * z_dot[l]
    return z_dot


def _matmul_k(t, M):
    """(k, N, n) @ (n, m) -> (k, N, m) as one GEMM: the k * N rows stacked, multiplied, unstacked."""
    k, N, n = t.shape
    return (t.reshape(k * N, n) @ M).reshape(k, N, M.shape[1])
