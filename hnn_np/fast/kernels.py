"""Fused elementwise kernels, each a Numba twin of a one-line NumPy formula.

The matrix products of the network go through BLAS (``@``); everything in
between is elementwise and is done here in one pass over memory. Every kernel
``name`` comes in two versions that a test holds equal:

* ``name_np``  -- the plain NumPy formula, the one to read;
* ``_name_nb`` -- a ``numba.njit(cache=True)`` loop that computes the same
  thing without temporaries, writing into a caller-supplied ``out``.

The public ``name(...)`` calls the Numba version. The tanh itself stays with
NumPy (``np.tanh(z, out=z)``): its vectorised loop beats a Numba loop, which
calls libm's scalar tanh. With ``a = tanh(z)`` cached
from the forward pass, the tanh derivatives are

    s1 = tanh'(z)  = 1 - a**2
    s2 = tanh''(z) = -2 * a * s1

Shapes: ``(N, n)`` arrays are a batch of N rows of one layer's n units;
``(n,)`` arrays are per-unit (biases).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..symplectic import apply_J, apply_J_T

__all__ = [
    "mul_tanh_prime", "mul_tanh_prime_np",
    "tanh_second_adjoint", "tanh_second_adjoint_np",
    "loss_adjoint", "loss_adjoint_np", "loss_adjoint_into", "add_bias", "add_bias_np",
    "top_mul_tanh_prime", "top_mul_tanh_prime_np",
    "top_adjoints", "top_adjoints_np", "second_adjoint_sum", "second_adjoint_sum_np",
    "mul_tanh_prime_sum", "mul_tanh_prime_sum_np",
    "first_bad_row", "warm_up",
]  # fmt: skip

# --- first derivative: u * tanh'(z) = u * (1 - a**2) -------------------------

def mul_tanh_prime_np(u, a):
    """u * s1 with s1 = 1 - a**2; u, a (N, n) -> (N, n).

    This one product appears three times: d = g * s1 (input gradient),
    g_bar = d_bar * s1 (its adjoint) and z_bar = a_bar * s1 (plain backprop).
    """
    return u * (1 - a * a)


@njit(cache=True)
def _mul_tanh_prime_nb(u, a, out):
    N, n = a.shape
    for i in range(N):
        for j in range(n):
            aij = a[i, j]
            out[i, j] = u[i, j] * (1 - aij * aij)


def mul_tanh_prime(u, a, out=None):
    """Numba twin of :func:`mul_tanh_prime_np`; ``out`` may be ``u``."""
    out = np.empty_like(a) if out is None else out
    _mul_tanh_prime_nb(u, a, out)
    return out


# --- second order: z_bar = s1 * a_bar_next + s2 * g * d_bar ------------------

def tanh_second_adjoint_np(a, g, d_bar, zW_bar=None):
    """z_bar = s2 * g * d_bar + s1 * zW_bar, with s1 = 1 - a**2, s2 = -2 a s1.

    The adjoint of a hidden pre-activation z in the second-order backprop
    (see :mod:`hnn_np.hnn`): the first term is the tanh'' path through
    ``d = g * tanh'(z)``, the second the ordinary path through ``a = tanh(z)``
    carrying ``zW_bar = z_bar_next @ W_next.T`` from the layer above (absent,
    i.e. zero, for the last hidden layer).

    a, g, d_bar, zW_bar : (N, n) -> z_bar (N, n)
    """
    s1 = 1 - a * a
    s2 = -2 * a * s1
    z_bar = s2 * g * d_bar
    if zW_bar is not None:
        z_bar = z_bar + s1 * zW_bar
    return z_bar


@njit(cache=True)
def _tanh_second_adjoint_nb(a, g, d_bar, zW_bar, has_zW, out):
    N, n = a.shape
    for i in range(N):
        for j in range(n):
            aij = a[i, j]
            s1 = 1 - aij * aij
            s2 = -2 * aij * s1
            acc = s2 * g[i, j] * d_bar[i, j]
            if has_zW:
                acc = acc + s1 * zW_bar[i, j]
            out[i, j] = acc


def tanh_second_adjoint(a, g, d_bar, zW_bar=None, out=None):
    """Numba twin of :func:`tanh_second_adjoint_np`."""
    out = np.empty_like(a) if out is None else out
    has_zW = zW_bar is not None
    _tanh_second_adjoint_nb(a, g, d_bar, zW_bar if has_zW else a, has_zW, out)
    return out



def loss_adjoint_np(pred, dxdt, w_row=None, symplectic_=False):
    """loss = mean(w * (S - dxdt)**2) and its adjoint with respect to ``pred``.

    ``S = J pred`` (HNN: ``pred = dH/dx``) if ``symplectic_`` else ``S = pred``
    (baseline). Returns ``(loss, pred_bar)`` with ``S_bar = 2 w r / (N D)`` and
    ``pred_bar = J.T S_bar`` or ``S_bar``. pred, dxdt (N, D); w_row (N,) or None.
    """
    N, D = pred.shape
    S = apply_J(pred) if symplectic_ else pred
    r = S - dxdt
    w = np.ones((N, 1), pred.dtype) if w_row is None else w_row[:, None]
    loss = float(np.mean(w * r * r))
    S_bar = (2.0 / (N * D)) * (w * r)
    return loss, (apply_J_T(S_bar) if symplectic_ else S_bar)


@njit(cache=True)
def loss_adjoint_into(pred, dxdt, w_row, has_w, symplectic_, out):
    N, D = pred.shape
    n = D // 2
    scale = 2.0 / (N * D)
    total = 0.0
    for i in range(N):
        wi = w_row[i] if has_w else 1.0
        for j in range(D):
            if symplectic_:  # S = (dH/dp, -dH/dq)
                S = pred[i, j + n] if j < n else -pred[i, j - n]
            else:
                S = pred[i, j]
            wr = wi * (S - dxdt[i, j])
            total += wr * (S - dxdt[i, j])
            S_bar = scale * wr
            if not symplectic_:
                out[i, j] = S_bar
            elif j < n:  # pred_bar = J.T S_bar = (-S_bar_p, S_bar_q)
                out[i, j + n] = S_bar
            else:
                out[i, j - n] = -S_bar
    return total / (N * D)


def loss_adjoint(pred, dxdt, w_row=None, symplectic_=False, out=None):
    """Numba twin of :func:`loss_adjoint_np`: returns ``(loss, pred_bar)``, pred_bar in ``out``."""
    out = np.empty_like(pred) if out is None else out
    has_w = w_row is not None
    w_row = w_row if has_w else np.ones(pred.shape[0], pred.dtype)
    return float(loss_adjoint_into(pred, dxdt, w_row, has_w, symplectic_, out)), out


def add_bias_np(z, b):
    """z + b; z (N, n), b (n,) -> (N, n)."""
    return z + b


@njit(cache=True)
def _add_bias_nb(z, b, out):
    N, n = z.shape
    for i in range(N):
        for j in range(n):
            out[i, j] = z[i, j] + b[j]


def add_bias(z, b, out):
    """Numba twin of :func:`add_bias_np`; ``out`` may be ``z``.

    ``np.add(z, b, out=z)`` would do, but it allocates an iteration buffer
    (64 KiB) at every call to broadcast ``b``.
    """
    _add_bias_nb(z, b, out)
    return out


def top_mul_tanh_prime_np(W_top, a):
    """d[L-2] = w * s1[L-2], with w = W[L-1][:, 0] and s1 = 1 - a**2; a (N, n) -> (N, n)."""
    return W_top[:, 0] * (1 - a * a)


@njit(cache=True)
def _top_mul_tanh_prime_nb(W_top, a, out):
    N, n = a.shape
    for i in range(N):
        for j in range(n):
            out[i, j] = W_top[j, 0] * (1 - a[i, j] * a[i, j])


def top_mul_tanh_prime(W_top, a, out):
    """Numba twin of :func:`top_mul_tanh_prime_np`."""
    _top_mul_tanh_prime_nb(W_top, a, out)
    return out


def top_adjoints_np(a, W_top, d_bar):
    """The three top-of-network lines that read ``a[L-1]`` and ``d_bar[L-2]``, in one pass.

    With ``w = W[L-1][:, 0]``, ``s1 = 1 - a**2``, ``s2 = -2 a s1``::

        dL_dW[L-1][:, 0] = sum over rows of g_bar[L-1] = d_bar * s1   (Step 1, top)
        z_bar[L-2]       = s2 * w * d_bar                            (Step 2, no zW_bar on top)
        dL_db[L-2]       = sum over rows of z_bar[L-2]

    a, d_bar (N, n); W_top (n, n_L) -> (dW_top (n, n_L), zero but for column 0; z_bar (N, n); db (n,)).
    ``z_bar`` is :func:`hnn_np.kernels.tanh_second_adjoint_np` with g = w and no zW_bar.
    """
    s1 = 1 - a * a
    s2 = -2 * a * s1
    dW_top = np.zeros_like(W_top)
    dW_top[:, 0] = (d_bar * s1).sum(axis=0)
    z_bar = s2 * W_top[:, 0] * d_bar
    return dW_top, z_bar, z_bar.sum(axis=0)


@njit(cache=True)
def _top_adjoints_nb(a, W_top, d_bar, dW_top, z_bar, db):
    N, n = a.shape
    dW_top[:, :] = 0  # columns 1.. of W[L-1] do not enter the loss
    db[:] = 0
    for i in range(N):  # rows in order: the same sums at every call
        for j in range(n):
            aij = a[i, j]
            s1 = 1 - aij * aij
            s2 = -2 * aij * s1
            dW_top[j, 0] += d_bar[i, j] * s1
            z_bar[i, j] = s2 * W_top[j, 0] * d_bar[i, j]
            db[j] += z_bar[i, j]


def top_adjoints(a, W_top, d_bar, dW_top, z_bar, db):
    """Numba twin of :func:`top_adjoints_np`, into ``dW_top``, ``z_bar`` and ``db``."""
    _top_adjoints_nb(a, W_top, d_bar, dW_top, z_bar, db)
    return dW_top, z_bar, db


def second_adjoint_sum_np(a, g, d_bar, zW_bar):
    """z_bar = s2 * g * d_bar + s1 * zW_bar and dL_db = its sum over rows.

    :func:`hnn_np.kernels.tanh_second_adjoint_np` with the bias gradient taken
    in the same pass. a, g, d_bar, zW_bar (N, n) -> (z_bar (N, n), db (n,)).
    """
    z_bar = tanh_second_adjoint_np(a, g, d_bar, zW_bar)
    return z_bar, z_bar.sum(axis=0)


@njit(cache=True)
def _second_adjoint_sum_nb(a, g, d_bar, zW_bar, z_bar, db):
    N, n = a.shape
    db[:] = 0
    for i in range(N):
        for j in range(n):
            aij = a[i, j]
            s1 = 1 - aij * aij
            s2 = -2 * aij * s1
            z_bar[i, j] = s2 * g[i, j] * d_bar[i, j] + s1 * zW_bar[i, j]
            db[j] += z_bar[i, j]


def second_adjoint_sum(a, g, d_bar, zW_bar, z_bar, db):
    """Numba twin of :func:`second_adjoint_sum_np`, into ``z_bar`` and ``db``."""
    _second_adjoint_sum_nb(a, g, d_bar, zW_bar, z_bar, db)
    return z_bar, db


def mul_tanh_prime_sum_np(u, a):
    """z_bar = u * s1 and dL_db = its sum over rows (plain backprop); u, a (N, n) -> ((N, n), (n,))."""
    z_bar = mul_tanh_prime_np(u, a)
    return z_bar, z_bar.sum(axis=0)


@njit(cache=True)
def _mul_tanh_prime_sum_nb(u, a, z_bar, db):
    N, n = a.shape
    db[:] = 0
    for i in range(N):
        for j in range(n):
            z_bar[i, j] = u[i, j] * (1 - a[i, j] * a[i, j])
            db[j] += z_bar[i, j]


def mul_tanh_prime_sum(u, a, z_bar, db):
    """Numba twin of :func:`mul_tanh_prime_sum_np`, into ``z_bar`` (may be ``u``) and ``db``."""
    _mul_tanh_prime_sum_nb(u, a, z_bar, db)
    return z_bar, db


@njit(cache=True)
def first_bad_row(x, nonneg):
    """Index of the first row of x with a non-finite (or, if nonneg, negative) entry; -1 if none."""
    N, n = x.shape
    for i in range(N):
        for j in range(n):
            if not np.isfinite(x[i, j]) or (nonneg and x[i, j] < 0):
                return i
    return -1


def warm_up():
    """Compile (or load from the on-disk cache) every kernel of this module, float32 and float64."""
    for dtype in (np.float32, np.float64):
        a = np.zeros((2, 4), dtype)
        b = np.zeros(4, dtype)
        w = np.ones(2, dtype)
        W_top = np.zeros((4, 1), dtype)
        mul_tanh_prime(a, a)
        tanh_second_adjoint(a, a, a, a)
        tanh_second_adjoint(a, a, a)
        for has_w in (False, True):
            for symp in (False, True):
                loss_adjoint(a, a, w if has_w else None, symp)
        add_bias(a, b, a.copy())
        top_mul_tanh_prime(W_top, a, a.copy())
        top_adjoints(a, W_top, a, W_top.copy(), a.copy(), b.copy())
        second_adjoint_sum(a, a, a, a, a.copy(), b.copy())
        mul_tanh_prime_sum(a, a, a.copy(), b.copy())
        first_bad_row(a, False)
        first_bad_row(a[:, :1], True)
