r"""The D-HNN training step without allocation, and its fused kernels beside their NumPy twins.

:class:`DHNNWorkspace` computes what :func:`hnn_np.dhnn.loss_and_grad`
computes, in the same order, into buffers allocated once. What differs from
the reference is what differs in :mod:`hnn_np.fast.step` for the HNN, plus:

* The seed axis k is stacked into rows: ``g[l]``, ``d[l]``, ``g_bar[l]``,
  ``d_bar[l]`` are ``(2n, m)`` arrays, rows ``:n`` for the seed (1, 0) (H)
  and ``n:2n`` for (0, 1) (D). Each product with ``W[l]`` is then one GEMM
  over both seeds.
* ``dL_dW[l] = sum_k g_bar[l][k].T @ d[l][k] + a[l].T @ z_bar[l]`` is one
  product with an inner dimension of 3n: ``P[l] = [g_bar_H; g_bar_D; a]``
  (3N, n_l) and ``Q[l] = [d_H; d_D; z_bar]`` (3N, n_{l+1}).
* ``g[L-1][k] = W[L-1][:, k]`` is never materialised, and ``g_bar[L-1]`` is
  only summed over rows (:func:`seeded_top_adjoints`).

Sums over rows run in row order, so a call gives the same bits every time.
The returned gradients are views into the workspace, overwritten by the next call.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import dhnn
from .._checks import check_params
from ..symplectic import apply_J, apply_J_T
from . import kernels as K
from .step import StepWorkspace, gradient_buffers

__all__ = ["DHNNWorkspace", "seeded_mul_tanh_prime", "seeded_mul_tanh_prime_np",
           "seeded_top_mul_tanh_prime", "seeded_top_mul_tanh_prime_np", "dhnn_loss_adjoint",
           "dhnn_loss_adjoint_np", "seeded_top_adjoints", "seeded_top_adjoints_np",
           "seeded_second_adjoint_sum", "seeded_second_adjoint_sum_np", "warm_up"]


# --- kernels: u (2n, m) stacked by seed, a (n, m) shared ----------------------------------

def seeded_mul_tanh_prime_np(u, a):
    """u[k] * s1 for both seeds: d = g * s1 and g_bar = d_bar * s1; u (2n, m), a (n, m) -> (2n, m)."""
    return u * np.concatenate([1 - a * a, 1 - a * a])


@njit(cache=True)
def _seeded_mul_tanh_prime_nb(u, a, out):
    n, m = a.shape
    for i in range(n):
        for j in range(m):
            s1 = 1 - a[i, j] * a[i, j]
            out[i, j] = u[i, j] * s1
            out[n + i, j] = u[n + i, j] * s1


def seeded_mul_tanh_prime(u, a, out):
    """Numba twin of :func:`seeded_mul_tanh_prime_np`; ``out`` may be ``u``."""
    _seeded_mul_tanh_prime_nb(u, a, out)
    return out


def seeded_top_mul_tanh_prime_np(W_top, a):
    """d[L-2][k] = W[L-1][:, k] * s1[L-2]; W_top (m, 2), a (n, m) -> (2n, m)."""
    s1 = 1 - a * a
    return np.concatenate([W_top[:, 0] * s1, W_top[:, 1] * s1])


@njit(cache=True)
def _seeded_top_mul_tanh_prime_nb(W_top, a, out):
    n, m = a.shape
    for i in range(n):
        for j in range(m):
            s1 = 1 - a[i, j] * a[i, j]
            out[i, j] = W_top[j, 0] * s1
            out[n + i, j] = W_top[j, 1] * s1


def seeded_top_mul_tanh_prime(W_top, a, out):
    """Numba twin of :func:`seeded_top_mul_tanh_prime_np`."""
    _seeded_top_mul_tanh_prime_nb(W_top, a, out)
    return out


def dhnn_loss_adjoint_np(g0, dxdt, w_row=None):
    """S = J dH_dx + dD_dx, loss = mean(w (S - dxdt)**2), and (dH_dx_bar; dD_dx_bar) = (J.T S_bar; S_bar).

    g0 (2n, D) = [dH_dx; dD_dx]; dxdt (n, D); w_row (n,) or None -> (loss, (2n, D)).
    """
    n, D = dxdt.shape
    S = apply_J(g0[:n]) + g0[n:]
    r = S - dxdt
    w = np.ones((n, 1), dxdt.dtype) if w_row is None else w_row[:, None]
    loss = float(np.mean(w * r * r))
    S_bar = (2.0 / (n * D)) * (w * r)
    return loss, np.concatenate([apply_J_T(S_bar), S_bar])


@njit(cache=True)
def _dhnn_loss_adjoint_nb(g0, dxdt, w_row, has_w, out):
    n, D = dxdt.shape
    h = D // 2
    scale = 2.0 / (n * D)
    total = 0.0
    for i in range(n):
        wi = w_row[i] if has_w else 1.0
        for j in range(D):
            JdH = g0[i, j + h] if j < h else -g0[i, j - h]  # (J dH_dx)_j
            r = JdH + g0[n + i, j] - dxdt[i, j]
            wr = wi * r
            total += wr * r
            S_bar = scale * wr
            out[n + i, j] = S_bar  # dD_dx_bar = S_bar
            if j < h:  # dH_dx_bar = J.T S_bar = (-S_bar_p, S_bar_q)
                out[i, j + h] = S_bar
            else:
                out[i, j - h] = -S_bar
    return total / (n * D)


def dhnn_loss_adjoint(g0, dxdt, w_row, has_w, out):
    """Numba twin of :func:`dhnn_loss_adjoint_np`; returns the loss, the adjoints in ``out`` (2n, D)."""
    return float(_dhnn_loss_adjoint_nb(g0, dxdt, w_row, has_w, out))


def seeded_top_adjoints_np(a, W_top, d_bar):
    """The top lines of both seeds, reading a[L-1] (n, m) and d_bar[L-2] (2n, m)::

        dL_dW[L-1][:, k] = sum over rows of g_bar[L-1][k] = d_bar[k] * s1     (m, 2)
        z_bar[L-2]       = s2 * sum_k W[L-1][:, k] * d_bar[k]                 (n, m)
        dL_db[L-2]       = sum over rows of z_bar[L-2]                        (m,)
    """
    n = a.shape[0]
    s1 = 1 - a * a
    s2 = -2 * a * s1
    dW_top = np.stack([(d_bar[:n] * s1).sum(axis=0), (d_bar[n:] * s1).sum(axis=0)], axis=1)
    z_bar = s2 * (W_top[:, 0] * d_bar[:n] + W_top[:, 1] * d_bar[n:])
    return dW_top, z_bar, z_bar.sum(axis=0)


@njit(cache=True)
def _seeded_top_adjoints_nb(a, W_top, d_bar, dW_top, z_bar, db):
    n, m = a.shape
    dW_top[:, :] = 0
    db[:] = 0
    for i in range(n):  # rows in order: the same sums at every call
        for j in range(m):
            aij = a[i, j]
            s1 = 1 - aij * aij
            s2 = -2 * aij * s1
            dW_top[j, 0] += d_bar[i, j] * s1
            dW_top[j, 1] += d_bar[n + i, j] * s1
            z_bar[i, j] = s2 * (W_top[j, 0] * d_bar[i, j] + W_top[j, 1] * d_bar[n + i, j])
            db[j] += z_bar[i, j]


def seeded_top_adjoints(a, W_top, d_bar, dW_top, z_bar, db):
    """Numba twin of :func:`seeded_top_adjoints_np`, into ``dW_top``, ``z_bar`` and ``db``."""
    _seeded_top_adjoints_nb(a, W_top, d_bar, dW_top, z_bar, db)
    return dW_top, z_bar, db


def seeded_second_adjoint_sum_np(a, g, d_bar, zW_bar):
    """z_bar = s2 * sum_k g[k] * d_bar[k] + s1 * zW_bar and its row sum; g, d_bar (2n, m) -> ((n, m), (m,))."""
    n = a.shape[0]
    s1 = 1 - a * a
    s2 = -2 * a * s1
    z_bar = s2 * (g[:n] * d_bar[:n] + g[n:] * d_bar[n:]) + s1 * zW_bar
    return z_bar, z_bar.sum(axis=0)


@njit(cache=True)
def _seeded_second_adjoint_sum_nb(a, g, d_bar, zW_bar, z_bar, db):
    n, m = a.shape
    db[:] = 0
    for i in range(n):
        for j in range(m):
            aij = a[i, j]
            s1 = 1 - aij * aij
            s2 = -2 * aij * s1
            z_bar[i, j] = s2 * (g[i, j] * d_bar[i, j] + g[n + i, j] * d_bar[n + i, j]) + s1 * zW_bar[i, j]
            db[j] += z_bar[i, j]


def seeded_second_adjoint_sum(a, g, d_bar, zW_bar, z_bar, db):
    """Numba twin of :func:`seeded_second_adjoint_sum_np`, into ``z_bar`` and ``db``."""
    _seeded_second_adjoint_sum_nb(a, g, d_bar, zW_bar, z_bar, db)
    return z_bar, db


# --- the workspace ------------------------------------------------------------------------

class DHNNWorkspace(StepWorkspace):
    """Preallocated buffers for :func:`hnn_np.dhnn.loss_and_grad` (sizes (2n, ..., 2)).

    The interface of :class:`hnn_np.fast.StepWorkspace` (``loss_and_grad``,
    ``flat_grad``, ``nbytes``); read its notes on views and in-place updates.
    """

    def __init__(self, params, batch_size):
        dtype = check_params(params)
        batch_size = int(batch_size)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        sizes = [params[0][0].shape[0]] + [W.shape[1] for W, _ in params]
        if sizes[0] % 2:
            raise ValueError(f"a D-HNN needs an even input size (q, p); params take {sizes[0]} inputs")
        if sizes[-1] != 2:
            raise ValueError(f"a D-HNN outputs (H, D): its last size must be 2; params give {sizes[-1]}")
        self.kind, self.dtype, self.sizes, self.batch_size = "dhnn", dtype, tuple(sizes), batch_size
        self._W = [W for W, _ in params]
        self._b = [b for _, b in params]
        N, D, L = batch_size, sizes[0], len(params)

        def new(*shape):
            return np.zeros(shape, dtype)

        self.flat_grad, self._grads = gradient_buffers(params, dtype)
        self._dxdt, self._w_row = new(N, D), new(N, 1)
        self._P = [new(3 * N, sizes[l]) for l in range(L)]  # [g_bar_H; g_bar_D; a[l]]
        self._Q = [new(3 * N, sizes[l + 1]) for l in range(L - 1)]  # [d_H; d_D; z_bar[l]]
        self._g = [new(2 * N, sizes[l]) for l in range(L - 1)]  # g[l], l < L-1
        self._d_bar = [new(2 * N, sizes[l + 1]) for l in range(L - 1)]
        self._zW_bar = [new(N, sizes[l + 1]) for l in range(L - 2)]
        bufs = self._P + self._Q + self._g + self._d_bar + self._zW_bar
        self.nbytes = sum(buf.nbytes for buf in bufs + [self.flat_grad, self._dxdt, self._w_row])
        self._views = {}

    def _views_for(self, n):
        v = self._views.get(n)
        if v is not None:
            return v
        if len(self._views) >= 8:
            self._views.clear()
        v = {"dxdt": self._dxdt[:n], "w_row": self._w_row[:n, 0],
             "g_bar": [P[:2 * n] for P in self._P], "a": [P[2 * n:3 * n] for P in self._P],
             "d": [Q[:2 * n] for Q in self._Q], "z_bar": [Q[2 * n:3 * n] for Q in self._Q],
             "PT": [P[:3 * n].T for P in self._P], "Q": [Q[:3 * n] for Q in self._Q],
             "g": [g[:2 * n] for g in self._g], "d_bar": [db[:2 * n] for db in self._d_bar],
             "zW_bar": [zW[:n] for zW in self._zW_bar]}
        self._views[n] = v
        return v

    def loss_and_grad(self, x, dxdt, weights=None):
        """Loss and gradient of :func:`hnn_np.dhnn.loss_and_grad`; the grads are views, overwritten next call."""
        v, has_w = self._load(x, dxdt, weights)
        return float(self._dhnn(v, has_w)), list(self._grads)

    def _dhnn(self, v, has_w):
        """dhnn.loss_and_grad, line by line (the module docstring says what differs)."""
        W, b, grads = self._W, self._b, self._grads
        a, g, d, g_bar, d_bar = v["a"], v["g"], v["d"], v["g_bar"], v["d_bar"]
        z_bar, zW_bar, PT, Q = v["z_bar"], v["zW_bar"], v["PT"], v["Q"]
        L = len(W)
        matmul, tanh = np.matmul, np.tanh
        if L == 1:  # a linear (H, D), a toy: the reference's numbers, copied
            loss, ref = dhnn.loss_and_grad(list(zip(W, b)), a[0], v["dxdt"], v["w_row"] if has_w else None)
            for (dW, db), (ref_dW, ref_db) in zip(grads, ref):
                dW[...], db[...] = ref_dW, ref_db
            return loss

        for l in range(L - 1):  # forward: a[l+1] = tanh(a[l] @ W[l] + b[l])
            matmul(a[l], W[l], out=a[l + 1])
            K.add_bias(a[l + 1], b[l], a[l + 1])
            tanh(a[l + 1], out=a[l + 1])

        # Both input-gradient sweeps, l = L-2 .. 0, seeds stacked in rows.
        seeded_top_mul_tanh_prime(W[L - 1], a[L - 1], d[L - 2])  # d[L-2][k] = W[L-1][:, k] * s1
        for l in range(L - 2, -1, -1):
            if l < L - 2:
                seeded_mul_tanh_prime(g[l + 1], a[l + 1], d[l])  # d[l] = g[l+1] * s1[l]
            matmul(d[l], W[l].T, out=g[l])  # g[l] = d[l] @ W[l].T   (2n, n_l)

        # Step 0: the loss; g_bar[0] = (J.T S_bar; S_bar).
        loss = dhnn_loss_adjoint(g[0], v["dxdt"], v["w_row"], has_w, g_bar[0])

        # Step 1: backwards through both sweeps, l = 0 .. L-2.
        for l in range(L - 1):
            matmul(g_bar[l], W[l], out=d_bar[l])  # d_bar[l] = g_bar[l] @ W[l]   (2n, n_{l+1})
            if l < L - 2:
                seeded_mul_tanh_prime(d_bar[l], a[l + 1], g_bar[l + 1])  # g_bar[l+1] = d_bar[l] * s1
        grads[L - 1][1].fill(0)  # dL_db[L-1] = 0: H and D do not enter the loss
        seeded_top_adjoints(a[L - 1], W[L - 1], d_bar[L - 2], grads[L - 1][0], z_bar[L - 2],
                            grads[L - 2][1])

        # Step 2: backwards through the forward pass, l = L-2 .. 0.
        for l in range(L - 2, -1, -1):
            if l < L - 2:
                seeded_second_adjoint_sum(a[l + 1], g[l + 1], d_bar[l], zW_bar[l], z_bar[l], grads[l][1])
            matmul(PT[l], Q[l], out=grads[l][0])  # dL_dW[l] = sum_k g_bar.T @ d + a.T @ z_bar
            if l > 0:
                matmul(z_bar[l], W[l].T, out=zW_bar[l - 1])
        return loss


def warm_up():
    """Compile (or load from Numba's cache) the kernels above, float32 and float64."""
    for dtype in (np.float32, np.float64):
        a, u = np.zeros((2, 4), dtype), np.zeros((4, 4), dtype)
        W_top, b, w = np.zeros((4, 2), dtype), np.zeros(4, dtype), np.ones(2, dtype)
        seeded_mul_tanh_prime(u, a, u.copy())
        seeded_top_mul_tanh_prime(W_top, a, u.copy())
        for has_w in (False, True):
            dhnn_loss_adjoint(u, a, w, has_w, u.copy())
        seeded_top_adjoints(a, W_top, u, W_top.copy(), a.copy(), b.copy())
        seeded_second_adjoint_sum(a, u, u, a, a.copy(), b.copy())
