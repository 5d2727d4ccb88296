r"""The RK4 trajectory loss of an HNN in buffers allocated once: the twin of trajectory.loss_and_grad.

:class:`RK4Workspace` computes what ``trajectory.loss_and_grad(params, X,
dt, "rk4", substeps, "hnn", x0=x0)`` computes -- the same stages in the same
order, derived in ``docs/derivation.md``, Section 10 -- for a fixed number
of windows N, K intervals and m substeps, to rounding. What differs:

* Every one of the S = 4 K m field evaluations (a *slot*) keeps its forward
  arrays in the workspace: ``a[l]``, ``g[l]``, ``d[l]`` of
  :func:`hnn_np.vjp.gradient_vjp`, written with ``out=`` products and the
  fused kernels of :mod:`hnn_np.fast.kernels` (as :class:`~hnn_np.fast.StepWorkspace`).
* The backward pass of a slot leaves its ``g_bar[l]`` and ``z_bar[l]`` in
  place and computes no weight gradient. The buffers are stacked so that
  ``P[l] = [g_bar; a]`` and ``Q[l] = [d; z_bar]`` hold every slot, one above
  the other, and at the end

      dL_dW[l] = P[l].T @ Q[l] = sum over slots of (g_bar.T @ d + a.T @ z_bar)

  is ONE matrix product per layer, with an inner dimension of 2 S N, instead
  of 2 S products and S - 1 additions of (n_l, n_{l+1}) matrices. At N = 64
  a product with the paper's 400 x 400 weights is bound by reading and
  writing those matrices; one long product reads them once.
* The bias gradients are the column sums of the stacked ``z_bar`` blocks,
  one reduction per layer at the end.

The stage combinations (``x + (h/2) k1``, ...) and the loss are the
readable lines, on (N, d) arrays. The returned gradients are views into the
workspace, overwritten by the next call; the workspace reads the ``(W, b)``
it was built with at every call (update them in place, as Adam does).
Memory: about 2 S N (n_l + n_{l+1}) numbers per layer (``nbytes``).
"""

from __future__ import annotations

import numpy as np

from .. import trajectory
from .._checks import check_int, check_params, finite_result
from ..symplectic import apply_J, apply_J_T
from . import kernels as K
from .step import gradient_buffers

__all__ = ["RK4Workspace"]


class RK4Workspace:
    """Buffers for the RK4 trajectory loss of an HNN with at least one hidden layer.

    Parameters
    ----------
    params : list of (W, b)
        The HNN (sizes (d, ..., 1)); read at every call.
    n_windows : int
        N, the windows of every call.
    K, substeps : int
        Intervals per window and RK4 steps per interval of every call.
    """

    KIND, NETWORK = "hnn", "an HNN"  # trajectory.loss_and_grad's kind, and how an error names the network
    SEEDS = 1  # seeds of the field's backward pass: rows of N in g[l] and d[l] (a D-HNN: 2, of H and of D)

    def __init__(self, params, n_windows, K=1, substeps=1):
        dtype = check_params(params)
        trajectory._check(params, self.KIND, "rk4", 1.0, 1)
        if len(params) < 2:
            raise ValueError(f"{type(self).__name__} needs {self.NETWORK} with at least one hidden layer")
        N, K, m = check_int(n_windows, "n_windows", 1), check_int(K, "K", 1), check_int(substeps, "substeps", 1)
        self.N, self.K, self.substeps, self.dtype = N, K, m, dtype
        self._W = [W for W, _ in params]
        self._b = [b for _, b in params]
        sizes = [params[0][0].shape[0]] + [W.shape[1] for W in self._W]
        L, S, R = len(params), 4 * K * m, self.SEEDS + 1
        self.sizes, self.n_slots = tuple(sizes), S
        new = lambda *shape: np.zeros(shape, dtype)  # noqa: E731
        self.flat_grad, self._grads = gradient_buffers(params, dtype)
        self._P = [new(R * S * N, sizes[l]) for l in range(L - 1)]  # slot s: rows R s N.. [g_bar (seeds); a]
        self._Q = [new(R * S * N, sizes[l + 1]) for l in range(L - 1)]  # slot s: rows R s N.. [d (seeds); z_bar]
        self._a_top = new(S, N, sizes[L - 1])  # a[L-1] of each slot
        self._g = [new(S, self.SEEDS * N, sizes[l]) for l in range(L - 1)]  # g[l] of each slot, l < L-1
        self._d_bar = [new(self.SEEDS * N, sizes[l + 1]) for l in range(L - 1)]  # scratch of one backward pass
        self._zW_bar = [new(N, sizes[l + 1]) for l in range(L - 2)]
        self._dW_top, self._db = new(*self._W[L - 1].shape), new(max(sizes[1:L]))  # scratch of the top layer, sums
        self.nbytes = sum(x.nbytes for x in self._P + self._Q + self._g + self._d_bar + self._zW_bar) \
            + self._a_top.nbytes + self.flat_grad.nbytes
        self._slots = [self._views(s) for s in range(S)]

    def _views(self, s):
        """Slot s's arrays: rows R s N .. of the stacked buffers, the seeds' rows first (R = SEEDS + 1)."""
        N, R = self.N, self.SEEDS + 1
        seeds, rows = slice(R * s * N, (R * s + R - 1) * N), slice((R * s + R - 1) * N, R * (s + 1) * N)
        return dict(g_bar=[P[seeds] for P in self._P], a=[P[rows] for P in self._P] + [self._a_top[s]],
                    d=[Q[seeds] for Q in self._Q], z_bar=[Q[rows] for Q in self._Q], g=[g[s] for g in self._g])

    def _field(self, s, y):
        """k = S(y) = J dH/dx at the stage state y (N, d), keeping slot s's arrays."""
        W, b, v, L = self._W, self._b, self._slots[s], len(self._W)
        a, g, d = v["a"], v["g"], v["d"]
        np.copyto(a[0], y)
        for l in range(L - 1):  # a[l+1] = tanh(a[l] @ W[l] + b[l])
            np.matmul(a[l], W[l], out=a[l + 1])
            K.add_bias(a[l + 1], b[l], a[l + 1])
            np.tanh(a[l + 1], out=a[l + 1])
        K.top_mul_tanh_prime(W[L - 1], a[L - 1], d[L - 2])  # d[L-2] = w * s1[L-2]
        for l in range(L - 2, -1, -1):
            if l < L - 2:
                K.mul_tanh_prime(g[l + 1], a[l + 1], out=d[l])  # d[l] = g[l+1] * s1[l]
            np.matmul(d[l], W[l].T, out=g[l])  # g[l] = d[l] @ W[l].T
        return apply_J(g[0])

    def _field_vjp(self, s, S_bar):
        """y_bar = S_x^T S_bar at slot s; leaves g_bar[l], z_bar[l] in the stacked buffers for the end."""
        W, v, L = self._W, self._slots[s], len(self._W)
        a, g, g_bar, z_bar = v["a"], v["g"], v["g_bar"], v["z_bar"]
        d_bar, zW_bar = self._d_bar, self._zW_bar
        g_bar[0][...] = apply_J_T(S_bar)  # g_bar[0] = J^T S_bar
        for l in range(L - 1):  # Step 1
            np.matmul(g_bar[l], W[l], out=d_bar[l])  # d_bar[l] = g_bar[l] @ W[l]
            if l < L - 2:
                K.mul_tanh_prime(d_bar[l], a[l + 1], out=g_bar[l + 1])  # g_bar[l+1] = d_bar[l] * s1[l]
        # dL_dW[L-1][:, 0] += sum of g_bar[L-1]; z_bar[L-2] = s2 * w * d_bar[L-2]
        K.top_adjoints(a[L - 1], W[L - 1], d_bar[L - 2], self._dW_top, z_bar[L - 2], self._db[:W[L - 1].shape[0]])
        self._grads[L - 1][0][:, 0] += self._dW_top[:, 0]
        for l in range(L - 2, -1, -1):  # Step 2
            if l < L - 2:  # z_bar[l] = s2 * g[l+1] * d_bar[l] + s1 * zW_bar[l]
                K.tanh_second_adjoint(a[l + 1], g[l + 1], d_bar[l], zW_bar[l], out=z_bar[l])
            if l > 0:
                np.matmul(z_bar[l], W[l].T, out=zW_bar[l - 1])  # z_bar[l] @ W[l].T
        return z_bar[0] @ W[0].T  # x_bar = z_bar[0] @ W[0].T

    @finite_result
    def loss_and_grad(self, X, dt, x0=None):
        """``trajectory.loss_and_grad(params, X, dt, "rk4", substeps, KIND, x0=x0)``, to rounding.

        X (K+1, N, d) or (K+1, N, d/2) with the workspace's K and N; returns
        (loss, grads, grad_X0), grads views into the workspace.
        """
        d = self.sizes[0]
        X = trajectory._as_states(X, "X", self.dtype, f"(K+1, N, {d})")
        if X.shape[:2] != (self.K + 1, self.N) or X.shape[2] not in (d, d // 2):
            raise ValueError(f"X must have shape ({self.K + 1}, {self.N}, {d}) (or {d // 2} columns, positions "
                             f"only) for this workspace; got {X.shape}")
        n_obs = X.shape[2]
        if x0 is None:
            if n_obs != d:
                raise ValueError(f"X holds positions only ({n_obs} of {d} columns): give the starts x0")
            x0 = X[0]
        x0 = trajectory._as_states(x0, "x0", self.dtype, f"(N, {d})")
        if x0.shape != (self.N, d):
            raise ValueError(f"x0 must have shape ({self.N}, {d}); got {x0.shape}")
        h = dt / self.substeps
        for dW, db in self._grads:
            dW.fill(0)
            db.fill(0)

        x, X_hat, s = x0, [], 0  # forward: rk4_step, slot by slot
        for _ in range(self.K):
            for _ in range(self.substeps):
                k1 = self._field(s, x)
                k2 = self._field(s + 1, x + (h / 2) * k1)
                k3 = self._field(s + 2, x + (h / 2) * k2)
                k4 = self._field(s + 3, x + h * k3)
                x = x + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
                s += 4
            X_hat.append(x)
        r = np.stack(X_hat)[:, :, :n_obs] - X[1:]
        M = r.size
        loss = float(np.sum(r * r) / M)
        r_bar = (2.0 / M) * r

        x_bar = np.zeros_like(x0)  # backward: rk4_step_adjoint, slot by slot
        for k in range(self.K - 1, -1, -1):
            x_bar[:, :n_obs] += r_bar[k]
            for _ in range(self.substeps):
                s -= 4
                k1_bar = (h / 6) * x_bar
                k2_bar = (h / 3) * x_bar
                k3_bar = (h / 3) * x_bar
                k4_bar = (h / 6) * x_bar
                y4_bar = self._field_vjp(s + 3, k4_bar)
                k3_bar = k3_bar + h * y4_bar
                y3_bar = self._field_vjp(s + 2, k3_bar)
                k2_bar = k2_bar + (h / 2) * y3_bar
                y2_bar = self._field_vjp(s + 1, k2_bar)
                k1_bar = k1_bar + (h / 2) * y2_bar
                x_bar = x_bar + y4_bar + y3_bar + y2_bar + self._field_vjp(s, k1_bar)

        L, N, S, R = len(self._W), self.N, self.n_slots, self.SEEDS + 1
        for l in range(L - 1):  # the weight and bias gradients of every slot at once
            np.matmul(self._P[l].T, self._Q[l], out=self._grads[l][0])  # sum_s g_bar.T @ d + a.T @ z_bar
            np.sum(self._Q[l].reshape(S, R, N, -1)[:, R - 1], axis=(0, 1), out=self._grads[l][1])  # z_bar blocks
        return loss, list(self._grads), x_bar
