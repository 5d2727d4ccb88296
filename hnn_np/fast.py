r"""The training step without allocation: preallocated buffers, fused kernels, fast Adam.

:class:`StepWorkspace` computes what :func:`hnn_np.hnn.loss_and_grad` (or
:func:`hnn_np.baseline.loss_and_grad`) computes -- the same equations in the
same order, derived line by line in the docstring of :mod:`hnn_np.hnn` (and
of :mod:`hnn_np.baseline`) -- into buffers allocated once, at construction.
:class:`Adam` is :class:`hnn_np.optim.Adam` with a vectorised update kernel.
Both return the reference's numbers to rounding.

What differs from the reference, line by line, and why
------------------------------------------------------
Notation of :mod:`hnn_np.hnn`; ``n`` is the rows of this batch, ``N`` the
workspace's ``batch_size``.

* ``a[0] = x``: x, dxdt and the weights are copied into the workspace (checked
  as the reference checks them, without temporaries). Every later array is a
  view of a buffer, sliced to the first ``n`` rows, so a short last batch
  (``n < N``) needs no new memory; the views of each ``n`` are made once and
  kept.
* ``a[l+1] = tanh(a[l] @ W[l] + b[l])``: ``np.matmul(a, W, out=a_next)``, then
  ``+ b`` in place (:func:`add_bias`; NumPy's broadcast add allocates a
  buffer each call) and ``np.tanh(a_next, out=a_next)``. NumPy's tanh is SIMD,
  several times faster than the libm tanh that the Numba loop of
  :func:`hnn_np.kernels.tanh_bias` calls; the two may differ in the last bit.
* The output ``H = a[L-1] @ W[L-1] + b[L-1]`` is not computed: the HNN loss
  does not use it.
* ``g[L-1] = w`` is never materialised (the reference repeats ``w`` into N
  rows): the two kernels that read it, ``d[L-2] = w * s1[L-2]`` and
  ``z_bar[L-2] = s2[L-2] * w * d_bar[L-2]``, take the row ``w`` itself
  (:func:`top_mul_tanh_prime`, :func:`top_adjoints`).
* The loss, ``S = J g[0]``, ``r = S - dxdt``, ``S_bar`` and
  ``g_bar[0] = J.T S_bar`` are one pass (:func:`loss_adjoint`); the sum of
  the loss is accumulated in float64.
* ``g_bar[L-1]`` is only ever summed over rows (into ``dL_dW[L-1][:, 0]``), so
  it is not stored. That sum, ``z_bar[L-2]`` and its row sum ``dL_db[L-2]``
  read the same two arrays and are one pass (:func:`top_adjoints`).
* Each bias gradient ``dL_db[l]`` (a sum over rows of ``z_bar[l]``) is taken
  in the pass that writes ``z_bar[l]`` (:func:`second_adjoint_sum`; in the
  baseline :func:`mul_tanh_prime_sum`): at small N a step is dominated by
  passes over memory between the products, not by arithmetic.
* ``dL_dW[l] = g_bar[l].T @ d[l] + a[l].T @ z_bar[l]`` is ONE matrix product
  with an inner dimension of 2n: ``[g_bar; a].T @ [d; z_bar]``. The buffers
  are laid out so that ``g_bar[l]`` sits right above ``a[l]`` (rows ``:n``
  and ``n:2n`` of one ``(2N, n_l)`` array) and ``d[l]`` right above
  ``z_bar[l]``; the stacked operands are plain views, and the transpose is a
  view (BLAS reads it transposed). One product with K = 2n instead of two
  with K = n and an addition: fewer calls, no temporary, and BLAS is more
  efficient on the longer inner dimension (see ``benchmarks/bench_step.py``).
  It sums in another order than the reference, hence "to rounding".
* All other products write into their buffers with ``out=``; transposes
  (``W[l].T``) are views.
* Elementwise kernels are the serial Numba kernels of :mod:`hnn_np.kernels`
  plus the few above. No ``parallel=True``: on this 2-core machine a Numba
  thread pool fights OpenBLAS's threads (which spin for a while after each
  product) for the cores; a 2-way parallel kernel run between products was
  slower than the serial one at every percentile measured, with the machine
  quiet or shared.

A linear HNN (no hidden layer) is a toy: it calls :func:`hnn_np.hnn.loss_and_grad`
(which allocates) and copies the result into the workspace.

The baseline path (``kind="baseline"``) is plain backprop, with the same
``out=`` products and ``z_bar[l] = a_bar[l+1] * s1[l]`` computed in place.

Sums over rows run in row order in every kernel, so a call gives the same
bits every time (BLAS is deterministic for a fixed thread count).

The returned gradients are views into the workspace: the next call overwrites
them. Copy them (``[(dW.copy(), db.copy()) for dW, db in grads]``) to keep them.
The workspace reads the ``(W, b)`` arrays it was built with at every call,
so update them in place (as :class:`hnn_np.optim.Adam` does), never rebind.

Adam
----
:class:`Adam` changes only the update kernel of :class:`hnn_np.optim.Adam`
(Kingma & Ba 2015, Algorithm 1, as there):

* the reference kernel checks every division for a zero divisor (Numba's
  default Python error model), which keeps LLVM from vectorising the loop;
  with ``error_model="numpy"`` the loop runs in SIMD lanes (2-3x faster);
* ``sqrt(v) / sqrt(1 - beta2**t)`` becomes ``sqrt(v) * (1 / sqrt(1 - beta2**t))``:
  one division per element instead of two, a quarter off the float64 update,
  whose time is the divider's (square root and division);
* the per-step constants are computed once, in float64, and cast to the
  parameters' dtype, so a float32 run does float32 arithmetic (the reference
  promotes every element to float64 and back).

The update streams p, g, m, v (7 arrays' worth of memory traffic, 18 MB for
the paper's network in float32) and is bound by memory bandwidth; splitting
it over the two cores after OpenBLAS's threads ran was slower, as above, and
running it layer by layer right after each weight gradient (while that is
in cache) gained nothing measurable.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import hnn, optim
from . import kernels as K
from ._checks import check_params
from .hnn import symplectic, symplectic_adjoint

__all__ = [
    "StepWorkspace", "Adam",
    "loss_adjoint", "loss_adjoint_np", "add_bias", "add_bias_np",
    "top_mul_tanh_prime", "top_mul_tanh_prime_np",
    "top_adjoints", "top_adjoints_np", "second_adjoint_sum", "second_adjoint_sum_np",
    "mul_tanh_prime_sum", "mul_tanh_prime_sum_np",
    "adam_update", "warm_up",
]


# --- kernels, each beside its NumPy twin ---------------------------------------

def loss_adjoint_np(pred, dxdt, w_row=None, symplectic_=False):
    """loss = mean(w * (S - dxdt)**2) and its adjoint with respect to ``pred``.

    ``S = J pred`` (HNN: ``pred = dH/dx``) if ``symplectic_`` else ``S = pred``
    (baseline). Returns ``(loss, pred_bar)`` with ``S_bar = 2 w r / (N D)`` and
    ``pred_bar = J.T S_bar`` or ``S_bar``. pred, dxdt (N, D); w_row (N,) or None.
    """
    N, D = pred.shape
    S = symplectic(pred) if symplectic_ else pred
    r = S - dxdt
    w = np.ones((N, 1), pred.dtype) if w_row is None else w_row[:, None]
    loss = float(np.mean(w * r * r))
    S_bar = (2.0 / (N * D)) * (w * r)
    return loss, (symplectic_adjoint(S_bar) if symplectic_ else S_bar)


@njit(cache=True)
def _loss_adjoint_nb(pred, dxdt, w_row, has_w, symplectic_, out):
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
    return float(_loss_adjoint_nb(pred, dxdt, w_row, has_w, symplectic_, out)), out


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
    z_bar = K.tanh_second_adjoint_np(a, g, d_bar, zW_bar)
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
    z_bar = K.mul_tanh_prime_np(u, a)
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
def _first_bad_row(x, nonneg):
    """Index of the first row of x with a non-finite (or, if nonneg, negative) entry; -1 if none."""
    N, n = x.shape
    for i in range(N):
        for j in range(n):
            if not np.isfinite(x[i, j]) or (nonneg and x[i, j] < 0):
                return i
    return -1


@njit(cache=True, error_model="numpy")  # no zero-divisor checks: the loop vectorises
def _adam_update_nb(p, g, m, v, beta1, beta2, one_m_beta1, one_m_beta2, eps, weight_decay,
                    step_size, inv_sqrt_bc2):
    p1, g1, m1, v1 = p.ravel(), g.ravel(), m.ravel(), v.ravel()
    for i in range(p1.size):
        gi = g1[i]
        if weight_decay != 0:
            gi = gi + weight_decay * p1[i]
        mi = beta1 * m1[i] + one_m_beta1 * gi  # m <- beta1 m + (1 - beta1) g
        vi = beta2 * v1[i] + one_m_beta2 * gi * gi  # v <- beta2 v + (1 - beta2) g**2
        m1[i] = mi
        v1[i] = vi
        p1[i] = p1[i] - step_size * mi / (np.sqrt(vi) * inv_sqrt_bc2 + eps)


def _adam_constants(lr, beta1, beta2, step, dtype):
    """The scalars of one step, computed in float64 and cast to ``dtype``:
    beta1, beta2, 1 - beta1, 1 - beta2, lr / (1 - beta1**t), 1 / sqrt(1 - beta2**t)."""
    t = np.dtype(dtype).type
    step_size = lr / (1.0 - beta1**step)
    inv_sqrt_bc2 = 1.0 / np.sqrt(1.0 - beta2**step)
    return t(beta1), t(beta2), t(1.0 - beta1), t(1.0 - beta2), t(step_size), t(inv_sqrt_bc2)


def adam_update(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step):
    """The update of :func:`hnn_np.kernels.adam_update_np` (its NumPy twin), vectorised.

    All arrays C-contiguous of one dtype. ``sqrt(v) / sqrt(1 - beta2**t)`` is
    computed as ``sqrt(v) * (1 / sqrt(1 - beta2**t))``: one division per
    element instead of two (a quarter faster in float64), equal to rounding.
    """
    b1, b2, omb1, omb2, step_size, inv_sqrt_bc2 = _adam_constants(lr, beta1, beta2, step, p.dtype)
    t = p.dtype.type
    _adam_update_nb(p, g, m, v, b1, b2, omb1, omb2, t(eps), t(weight_decay), step_size, inv_sqrt_bc2)


def warm_up():
    """Compile (or load from the on-disk cache) every kernel of this module, float32 and float64."""
    for dtype in (np.float32, np.float64):
        a = np.zeros((2, 4), dtype)
        b = np.zeros(4, dtype)
        w = np.ones(2, dtype)
        W_top = np.zeros((4, 1), dtype)
        for has_w in (False, True):
            for symp in (False, True):
                loss_adjoint(a, a, w if has_w else None, symp)
        add_bias(a, b, a.copy())
        top_mul_tanh_prime(W_top, a, a.copy())
        top_adjoints(a, W_top, a, W_top.copy(), a.copy(), b.copy())
        second_adjoint_sum(a, a, a, a, a.copy(), b.copy())
        mul_tanh_prime_sum(a, a, a.copy(), b.copy())
        _first_bad_row(a, False)
        _first_bad_row(a[:, :1], True)
        for p in (a, w):  # a W and a b
            adam_update(p.copy(), p, p.copy(), p.copy(), 1e-3, 0.9, 0.999, 1e-8, 0.0, 1)
    K.warm_up()


# --- the workspace ----------------------------------------------------------------

class StepWorkspace:
    """Preallocated buffers for the loss and gradient of one kind of network.

    Parameters
    ----------
    params : list of (W, b)
        The network; read at every call, so update it in place (never rebind).
        float32 or float64: the buffers take its dtype.
    batch_size : int
        The largest number of rows a batch may have; smaller batches (a short
        last batch) use the first rows of the same buffers.
    kind : "hnn" or "baseline"
        Which loss: :func:`hnn_np.hnn.loss_and_grad` (at least one hidden
        layer) or :func:`hnn_np.baseline.loss_and_grad`.

    Attributes
    ----------
    flat_grad : ndarray (n_params,)
        Every gradient, W[0], b[0], W[1], ... in one vector; the ``grads``
        returned by :meth:`loss_and_grad` are views of it.
    nbytes : int
        Memory held by the buffers.
    """

    def __init__(self, params, batch_size, kind="hnn"):
        dtype = check_params(params)
        if kind not in ("hnn", "baseline"):
            raise ValueError(f"kind must be 'hnn' or 'baseline'; got {kind!r}")
        batch_size = int(batch_size)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        sizes = [params[0][0].shape[0]] + [W.shape[1] for W, _ in params]
        L = len(params)
        if kind == "hnn" and sizes[0] % 2:
            raise ValueError(f"an HNN needs an even input size (q, p); params take {sizes[0]} inputs")
        if kind == "baseline" and sizes[-1] != sizes[0]:
            raise ValueError(f"a baseline's output size must equal its input size {sizes[0]}; "
                             f"got {sizes[-1]}")
        self.kind, self.dtype, self.sizes, self.batch_size = kind, dtype, tuple(sizes), batch_size
        self._W = [W for W, _ in params]
        self._b = [b for _, b in params]
        N, D = batch_size, sizes[0]

        def new(*shape):
            return np.zeros(shape, dtype)

        # Gradients: one flat vector, layer by layer, W then b.
        self.flat_grad = new(sum(W.size + b.size for W, b in params))
        self._grads, k = [], 0
        for W, b in params:
            dW = self.flat_grad[k:k + W.size].reshape(W.shape)
            db = self.flat_grad[k + W.size:k + W.size + b.size]
            self._grads.append((dW, db))
            k += W.size + b.size

        self._dxdt, self._w_row = new(N, D), new(N, 1)
        if kind == "hnn":
            # P[l] = [g_bar[l]; a[l]] and Q[l] = [d[l]; z_bar[l]], stacked for dL_dW[l] (module docstring).
            self._P = [new(2 * N, sizes[l]) for l in range(L - 1)]
            self._Q = [new(2 * N, sizes[l + 1]) for l in range(L - 1)]
            self._a_top = new(N, sizes[L - 1])  # a[L-1]
            self._g = [new(N, sizes[l]) for l in range(L - 1)]  # g[l], l < L-1 (g[L-1] = w)
            self._d_bar = [new(N, sizes[l + 1]) for l in range(L - 1)]
            self._zW_bar = [new(N, sizes[l + 1]) for l in range(L - 2)]  # z_bar[l+1] @ W[l+1].T
            bufs = self._P + self._Q + [self._a_top] + self._g + self._d_bar + self._zW_bar
        else:
            self._a = [new(N, sizes[l]) for l in range(L)]  # a[0] = x, ..., a[L-1]
            self._z_bar = [new(N, sizes[l + 1]) for l in range(L)]  # z_bar[L-1] = out_bar
            self._out = new(N, sizes[L])
            bufs = self._a + self._z_bar + [self._out]
        self.nbytes = sum(buf.nbytes for buf in bufs + [self.flat_grad, self._dxdt, self._w_row])
        self._views = {}

    def _views_for(self, n):
        """The buffers' first-n-row views, made once per batch size n."""
        v = self._views.get(n)
        if v is not None:
            return v
        if len(self._views) >= 8:  # bounded: a loader uses one or two sizes
            self._views.clear()
        v = {"dxdt": self._dxdt[:n], "w_row": self._w_row[:n, 0]}
        if self.kind == "hnn":
            v["g_bar"] = [P[:n] for P in self._P]
            v["a"] = [P[n:2 * n] for P in self._P] + [self._a_top[:n]]
            v["d"] = [Q[:n] for Q in self._Q]
            v["z_bar"] = [Q[n:2 * n] for Q in self._Q]
            v["PT"] = [P[:2 * n].T for P in self._P]  # [g_bar; a].T, a view
            v["Q"] = [Q[:2 * n] for Q in self._Q]  # [d; z_bar]
            v["g"] = [g[:n] for g in self._g]
            v["d_bar"] = [d_bar[:n] for d_bar in self._d_bar]
            v["zW_bar"] = [zW[:n] for zW in self._zW_bar]
        else:
            v["a"] = [a[:n] for a in self._a]
            v["z_bar"] = [z[:n] for z in self._z_bar]
            v["out"] = self._out[:n]
        self._views[n] = v
        return v

    def _load(self, x, dxdt, weights):
        """Copy and check one batch, as hnn._check / baseline._check do; returns (views, has_w)."""
        D = self.sizes[0]
        x, dxdt = np.asarray(x), np.asarray(dxdt)
        for name, arr in (("x", x), ("dxdt", dxdt)):
            if np.issubdtype(arr.dtype, np.floating) and arr.dtype != self.dtype:
                raise ValueError(f"{name} has dtype {arr.dtype} but params are {self.dtype}; "
                                 f"cast one of them")
            if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
                raise ValueError(f"{name} must be a numeric array; got dtype {arr.dtype}")
        if x.ndim != 2 or x.shape[1] != D:
            raise ValueError(f"x must have shape (N, {D}); got {x.shape}")
        n = x.shape[0]
        if not 1 <= n <= self.batch_size:
            raise ValueError(f"x has {n} rows; this workspace takes 1 to {self.batch_size}")
        if dxdt.shape != x.shape:
            raise ValueError(f"dxdt must have shape {x.shape}, like x; got {dxdt.shape}")
        v = self._views_for(n)
        np.copyto(v["a"][0], x)
        np.copyto(v["dxdt"], dxdt)
        for name, arr in (("x", v["a"][0]), ("dxdt", v["dxdt"])):
            bad = _first_bad_row(arr, False)
            if bad >= 0:
                raise ValueError(f"{name} has non-finite values in row {bad}")
        if weights is None:
            return v, False
        weights = np.asarray(weights)
        if weights.shape != (n,):
            raise ValueError(f"weights must have shape ({n},), one per row of x; got {weights.shape}")
        if np.issubdtype(weights.dtype, np.floating) and weights.dtype != self.dtype:
            raise ValueError(f"weights has dtype {weights.dtype} but params are {self.dtype}")
        np.copyto(v["w_row"], weights)
        bad = _first_bad_row(self._w_row[:n], True)
        if bad >= 0:
            raise ValueError(f"weights must be finite and >= 0; row {bad} is {weights[bad]}")
        return v, True

    def loss_and_grad(self, x, dxdt, weights=None):
        """Loss and gradient of the workspace's kind, as the reference returns them.

        Parameters
        ----------
        x, dxdt : array_like, shape (n, 2n_dof), 1 <= n <= batch_size
        weights : array_like, shape (n,), optional
            Per-row weights w_i >= 0 (see :func:`hnn_np.hnn.loss_and_grad`).

        Returns
        -------
        loss : float
        grads : list of (dL_dW, dL_db), shaped like ``params``: views into this
            workspace (the same arrays at every call), overwritten by the next call.
        """
        v, has_w = self._load(x, dxdt, weights)
        loss = self._hnn(v, has_w) if self.kind == "hnn" else self._baseline(v, has_w)
        return float(loss), list(self._grads)

    def _hnn(self, v, has_w):
        """hnn.loss_and_grad, line by line (the module docstring says what differs)."""
        W, b, grads = self._W, self._b, self._grads
        a, g, d, g_bar, d_bar = v["a"], v["g"], v["d"], v["g_bar"], v["d_bar"]
        z_bar, zW_bar, PT, Q = v["z_bar"], v["zW_bar"], v["PT"], v["Q"]
        L = len(W)
        matmul, tanh = np.matmul, np.tanh
        if L == 1:  # a linear H, a toy: the reference's numbers, copied into the buffers
            loss, ref = hnn.loss_and_grad(list(zip(W, b)), a[0], v["dxdt"], v["w_row"] if has_w else None)
            for (dW, db), (ref_dW, ref_db) in zip(grads, ref):
                dW[...], db[...] = ref_dW, ref_db
            return loss

        # Forward pass: a[l+1] = tanh(a[l] @ W[l] + b[l]), l = 0 .. L-2.
        for l in range(L - 1):
            matmul(a[l], W[l], out=a[l + 1])  # (n, n_{l+1})
            add_bias(a[l + 1], b[l], a[l + 1])
            tanh(a[l + 1], out=a[l + 1])

        # Input-gradient sweep, l = L-2 .. 0.
        top_mul_tanh_prime(W[L - 1], a[L - 1], d[L - 2])  # d[L-2] = w * s1[L-2]
        for l in range(L - 2, -1, -1):
            if l < L - 2:
                K.mul_tanh_prime(g[l + 1], a[l + 1], out=d[l])  # d[l] = g[l+1] * s1[l]
            matmul(d[l], W[l].T, out=g[l])  # g[l] = d[l] @ W[l].T   (n, n_l)

        # Step 0: the loss; g_bar[0] = J.T S_bar.
        loss = _loss_adjoint_nb(g[0], v["dxdt"], v["w_row"], has_w, True, g_bar[0])

        # Step 1: backwards through the sweep, l = 0 .. L-2.
        for l in range(L - 1):
            matmul(g_bar[l], W[l], out=d_bar[l])  # d_bar[l] = g_bar[l] @ W[l]   (n, n_{l+1})
            if l < L - 2:
                K.mul_tanh_prime(d_bar[l], a[l + 1], out=g_bar[l + 1])  # g_bar[l+1] = d_bar[l] * s1[l]
        grads[L - 1][1].fill(0)  # dL_db[L-1] = 0: H does not enter the loss
        # dL_dW[L-1][:, 0] = sum of g_bar[L-1]; and Step 2 on top: z_bar[L-2], dL_db[L-2]
        top_adjoints(a[L - 1], W[L - 1], d_bar[L - 2], grads[L - 1][0], z_bar[L - 2], grads[L - 2][1])

        # Step 2: backwards through the forward pass, l = L-2 .. 0.
        for l in range(L - 2, -1, -1):
            if l < L - 2:  # z_bar[l] = s2 * g[l+1] * d_bar[l] + s1 * zW_bar[l];  dL_db[l]
                second_adjoint_sum(a[l + 1], g[l + 1], d_bar[l], zW_bar[l], z_bar[l], grads[l][1])
            matmul(PT[l], Q[l], out=grads[l][0])  # dL_dW[l] = g_bar.T @ d + a.T @ z_bar
            if l > 0:
                matmul(z_bar[l], W[l].T, out=zW_bar[l - 1])  # (n, n_l)
        return loss

    def _baseline(self, v, has_w):
        """baseline.loss_and_grad, line by line, into the workspace's buffers."""
        W, b, grads = self._W, self._b, self._grads
        a, z_bar, out = v["a"], v["z_bar"], v["out"]
        L = len(W)
        matmul, tanh = np.matmul, np.tanh

        for l in range(L - 1):  # a[l+1] = tanh(a[l] @ W[l] + b[l])
            matmul(a[l], W[l], out=a[l + 1])
            add_bias(a[l + 1], b[l], a[l + 1])
            tanh(a[l + 1], out=a[l + 1])
        matmul(a[L - 1], W[L - 1], out=out)  # out = a[L-1] @ W[L-1] + b[L-1]
        add_bias(out, b[L - 1], out)

        # out_bar = 2 w r / (n D), written as z_bar[L-1] (the last layer is linear)
        loss = _loss_adjoint_nb(out, v["dxdt"], v["w_row"], has_w, False, z_bar[L - 1])
        for l in range(L - 1, -1, -1):
            if l < L - 1:  # z_bar[l] = a_bar[l+1] * s1[l] (in place over a_bar[l+1]);  dL_db[l]
                mul_tanh_prime_sum(z_bar[l], a[l + 1], z_bar[l], grads[l][1])
            else:
                np.sum(z_bar[l], axis=0, out=grads[l][1])  # dL_db[L-1] = sum of out_bar
            matmul(a[l].T, z_bar[l], out=grads[l][0])  # dL_dW[l] = a[l].T @ z_bar[l]
            if l > 0:
                matmul(z_bar[l], W[l].T, out=z_bar[l - 1])  # a_bar[l] = z_bar[l] @ W[l].T
        return loss


# --- Adam ---------------------------------------------------------------------------

class Adam(optim.Adam):
    """:class:`hnn_np.optim.Adam` with the vectorised :func:`adam_update`.

    Same constructor, state and results (float64: bit for bit; float32: to
    rounding, since the reference computes each element in float64).
    """

    def step(self, grads):
        """Apply one Adam update with ``grads`` (shaped like ``params``)."""
        if len(grads) != len(self.params):
            raise ValueError(f"grads has {len(grads)} layers but params has {len(self.params)}")
        for l, ((W, b), (dW, db)) in enumerate(zip(self.params, grads)):
            if dW.shape != W.shape or db.shape != b.shape:
                raise ValueError(f"grads[{l}] has shapes {dW.shape}, {db.shape}; "
                                 f"params[{l}] has {W.shape}, {b.shape}")
            if dW.dtype != W.dtype or db.dtype != b.dtype:
                raise ValueError(f"grads[{l}] dtype {dW.dtype} does not match params dtype {W.dtype}")
        self.t += 1
        dtype = self.params[0][0].dtype
        b1, b2, omb1, omb2, step_size, inv_sqrt_bc2 = _adam_constants(self._lr, *self.betas, self.t, dtype)
        consts = (b1, b2, omb1, omb2, dtype.type(self.eps), dtype.type(self.weight_decay),
                  step_size, inv_sqrt_bc2)
        for (W, b), (dW, db), (mW, mb), (vW, vb) in zip(self.params, grads, self.m, self.v):
            _adam_update_nb(W, np.ascontiguousarray(dW), mW, vW, *consts)
            _adam_update_nb(b, np.ascontiguousarray(db), mb, vb, *consts)
