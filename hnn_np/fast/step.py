r"""The training step without allocation: preallocated buffers and fused kernels.

:class:`StepWorkspace` computes what :func:`hnn_np.hnn.loss_and_grad` (or
:func:`hnn_np.baseline.loss_and_grad`) computes -- the same equations in the
same order, derived line by line in the docstring of :mod:`hnn_np.hnn` (and
of :mod:`hnn_np.baseline`) -- into buffers allocated once, at construction.
It returns the reference's numbers to rounding.

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
  several times faster than the libm tanh a Numba loop would call.
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
* Elementwise kernels are the serial Numba kernels of :mod:`hnn_np.fast.kernels`
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
"""

from __future__ import annotations

import numpy as np

from .. import hnn
from .._checks import check_params
from . import kernels as K

__all__ = ["StepWorkspace", "gradient_buffers"]


def gradient_buffers(params, dtype):
    """One flat vector for the gradients of ``params``, layer by layer, W then b, and its (dW, db) views."""
    flat = np.zeros(sum(W.size + b.size for W, b in params), dtype)
    grads, k = [], 0
    for W, b in params:
        grads.append((flat[k:k + W.size].reshape(W.shape), flat[k + W.size:k + W.size + b.size]))
        k += W.size + b.size
    return flat, grads


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

        self.flat_grad, self._grads = gradient_buffers(params, dtype)

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
            bad = K.first_bad_row(arr, False)
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
        bad = K.first_bad_row(self._w_row[:n], True)
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
            K.add_bias(a[l + 1], b[l], a[l + 1])
            tanh(a[l + 1], out=a[l + 1])

        # Input-gradient sweep, l = L-2 .. 0.
        K.top_mul_tanh_prime(W[L - 1], a[L - 1], d[L - 2])  # d[L-2] = w * s1[L-2]
        for l in range(L - 2, -1, -1):
            if l < L - 2:
                K.mul_tanh_prime(g[l + 1], a[l + 1], out=d[l])  # d[l] = g[l+1] * s1[l]
            matmul(d[l], W[l].T, out=g[l])  # g[l] = d[l] @ W[l].T   (n, n_l)

        # Step 0: the loss; g_bar[0] = J.T S_bar.
        loss = K.loss_adjoint_into(g[0], v["dxdt"], v["w_row"], has_w, True, g_bar[0])

        # Step 1: backwards through the sweep, l = 0 .. L-2.
        for l in range(L - 1):
            matmul(g_bar[l], W[l], out=d_bar[l])  # d_bar[l] = g_bar[l] @ W[l]   (n, n_{l+1})
            if l < L - 2:
                K.mul_tanh_prime(d_bar[l], a[l + 1], out=g_bar[l + 1])  # g_bar[l+1] = d_bar[l] * s1[l]
        grads[L - 1][1].fill(0)  # dL_db[L-1] = 0: H does not enter the loss
        # dL_dW[L-1][:, 0] = sum of g_bar[L-1]; and Step 2 on top: z_bar[L-2], dL_db[L-2]
        K.top_adjoints(a[L - 1], W[L - 1], d_bar[L - 2], grads[L - 1][0], z_bar[L - 2], grads[L - 2][1])

        # Step 2: backwards through the forward pass, l = L-2 .. 0.
        for l in range(L - 2, -1, -1):
            if l < L - 2:  # z_bar[l] = s2 * g[l+1] * d_bar[l] + s1 * zW_bar[l];  dL_db[l]
                K.second_adjoint_sum(a[l + 1], g[l + 1], d_bar[l], zW_bar[l], z_bar[l], grads[l][1])
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
            K.add_bias(a[l + 1], b[l], a[l + 1])
            tanh(a[l + 1], out=a[l + 1])
        matmul(a[L - 1], W[L - 1], out=out)  # out = a[L-1] @ W[L-1] + b[L-1]
        K.add_bias(out, b[L - 1], out)

        # out_bar = 2 w r / (n D), written as z_bar[L-1] (the last layer is linear)
        loss = K.loss_adjoint_into(out, v["dxdt"], v["w_row"], has_w, False, z_bar[L - 1])
        for l in range(L - 1, -1, -1):
            if l < L - 1:  # z_bar[l] = a_bar[l+1] * s1[l] (in place over a_bar[l+1]);  dL_db[l]
                K.mul_tanh_prime_sum(z_bar[l], a[l + 1], z_bar[l], grads[l][1])
            else:
                np.sum(z_bar[l], axis=0, out=grads[l][1])  # dL_db[L-1] = sum of out_bar
            matmul(a[l].T, z_bar[l], out=grads[l][0])  # dL_dW[l] = a[l].T @ z_bar[l]
            if l > 0:
                matmul(z_bar[l], W[l].T, out=z_bar[l - 1])  # a_bar[l] = z_bar[l] @ W[l].T
        return loss
