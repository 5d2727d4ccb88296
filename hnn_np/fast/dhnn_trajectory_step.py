r"""The RK4 trajectory loss of a D-HNN in buffers allocated once: the twin of trajectory.loss_and_grad.

:class:`DHNNRK4Workspace` computes what ``trajectory.loss_and_grad(params,
X, dt, "rk4", substeps, "dhnn", x0=x0)`` computes -- the same stages in the
same order (``docs/derivation.md``, Section 10) -- for a fixed number of
windows N, K intervals and m substeps, to rounding. It is
:class:`hnn_np.fast.RK4Workspace` with the two seeds of a D-HNN stacked in
rows, as :class:`hnn_np.fast.DHNNWorkspace` stacks them:

* Each of the S = 4 K m field evaluations (a *slot*) keeps ``a[l]``
  (N, n_l) and ``g[l]``, ``d[l]`` (2N, .), rows ``:N`` the seed of H and
  ``N:`` that of D; S = J g[0][:N] + g[0][N:].
* Its backward pass leaves ``g_bar[l]`` (2N, n_l) and ``z_bar[l]``
  (N, n_{l+1}) in stacked buffers, ``P[l] = [g_bar; a]`` and
  ``Q[l] = [d; z_bar]`` (3 S N rows), and at the end

      dL_dW[l] = P[l].T @ Q[l] = sum over slots and seeds of (g_bar.T @ d + a.T @ z_bar)

  is one product per layer; the bias gradients are the column sums of the
  ``z_bar`` blocks; the top layer's columns, sum_k g_bar[L-1][k], are summed
  slot by slot (:func:`hnn_np.fast.dhnn_step.seeded_top_adjoints`).

The stage combinations and the loss are the readable lines. The returned
gradients are views into the workspace, overwritten by the next call; it
reads the ``(W, b)`` it was built with at every call (update them in place).
"""

from __future__ import annotations

import numpy as np

from .. import trajectory
from .._checks import check_int, check_params, finite_result
from ..symplectic import apply_J, apply_J_T
from .dhnn_step import seeded_mul_tanh_prime, seeded_second_adjoint_sum, seeded_top_adjoints, \
    seeded_top_mul_tanh_prime
from .kernels import add_bias

__all__ = ["DHNNRK4Workspace"]


class DHNNRK4Workspace:
    """Buffers for the RK4 trajectory loss of a D-HNN (sizes (d, ..., 2)) with at least one hidden layer.

    Parameters
    ----------
    params : list of (W, b)
        The D-HNN; read at every call.
    n_windows, K, substeps : int
        N windows, K intervals per window and RK4 steps per interval of every call.
    """

    def __init__(self, params, n_windows, K=1, substeps=1):
        dtype = check_params(params)
        trajectory._check(params, "dhnn", "rk4", 1.0, 1)
        if len(params) < 2:
            raise ValueError("DHNNRK4Workspace needs a D-HNN with at least one hidden layer")
        N, K, m = check_int(n_windows, "n_windows", 1), check_int(K, "K", 1), check_int(substeps, "substeps", 1)
        self.N, self.K, self.substeps, self.dtype = N, K, m, dtype
        self._W = [W for W, _ in params]
        self._b = [b for _, b in params]
        sizes = [params[0][0].shape[0]] + [W.shape[1] for W in self._W]
        L, S = len(params), 4 * K * m
        self.sizes, self.n_slots = tuple(sizes), S
        new = lambda *shape: np.zeros(shape, dtype)  # noqa: E731
        self.flat_grad = new(sum(W.size + b.size for W, b in params))
        self._grads, k = [], 0
        for W, b in params:
            self._grads.append((self.flat_grad[k:k + W.size].reshape(W.shape),
                                self.flat_grad[k + W.size:k + W.size + b.size]))
            k += W.size + b.size
        self._P = [new(3 * S * N, sizes[l]) for l in range(L - 1)]  # slot s: rows 3sN.. [g_bar_H; g_bar_D; a]
        self._Q = [new(3 * S * N, sizes[l + 1]) for l in range(L - 1)]  # slot s: rows 3sN.. [d_H; d_D; z_bar]
        self._a_top = new(S, N, sizes[L - 1])  # a[L-1] of each slot
        self._g = [new(S, 2 * N, sizes[l]) for l in range(L - 1)]  # g[l] of each slot, l < L-1
        self._d_bar = [new(2 * N, sizes[l + 1]) for l in range(L - 1)]  # scratch of one backward pass
        self._zW_bar = [new(N, sizes[l + 1]) for l in range(L - 2)]
        self._dW_top, self._db = new(*self._W[L - 1].shape), new(max(sizes[1:L]))
        self.nbytes = sum(x.nbytes for x in self._P + self._Q + self._g + self._d_bar + self._zW_bar) \
            + self._a_top.nbytes + self.flat_grad.nbytes
        self._slots = [self._views(s) for s in range(S)]

    def _views(self, s):
        N = self.N
        seeds, rows = slice(3 * s * N, 3 * s * N + 2 * N), slice(3 * s * N + 2 * N, 3 * s * N + 3 * N)
        return dict(g_bar=[P[seeds] for P in self._P], a=[P[rows] for P in self._P] + [self._a_top[s]],
                    d=[Q[seeds] for Q in self._Q], z_bar=[Q[rows] for Q in self._Q], g=[g[s] for g in self._g])

    def _field(self, s, y):
        """k = S(y) = J dH/dx + dD/dx at the stage state y (N, d), keeping slot s's arrays."""
        W, b, v, L, N = self._W, self._b, self._slots[s], len(self._W), self.N
        a, g, d = v["a"], v["g"], v["d"]
        np.copyto(a[0], y)
        for l in range(L - 1):  # a[l+1] = tanh(a[l] @ W[l] + b[l])
            np.matmul(a[l], W[l], out=a[l + 1])
            add_bias(a[l + 1], b[l], a[l + 1])
            np.tanh(a[l + 1], out=a[l + 1])
        seeded_top_mul_tanh_prime(W[L - 1], a[L - 1], d[L - 2])  # d[L-2][k] = W[L-1][:, k] * s1
        for l in range(L - 2, -1, -1):
            if l < L - 2:
                seeded_mul_tanh_prime(g[l + 1], a[l + 1], d[l])  # d[l] = g[l+1] * s1[l]
            np.matmul(d[l], W[l].T, out=g[l])  # g[l] = d[l] @ W[l].T   (2N, n_l)
        return apply_J(g[0][:N]) + g[0][N:]  # S = J dH/dx + dD/dx

    def _field_vjp(self, s, S_bar):
        """y_bar = S_x^T S_bar at slot s; leaves g_bar[l], z_bar[l] in the stacked buffers for the end."""
        W, v, L, N = self._W, self._slots[s], len(self._W), self.N
        a, g, g_bar, z_bar = v["a"], v["g"], v["g_bar"], v["z_bar"]
        d_bar, zW_bar, db = self._d_bar, self._zW_bar, self._db
        g_bar[0][:N] = apply_J_T(S_bar)  # dH_dx_bar = J^T S_bar
        g_bar[0][N:] = S_bar  # dD_dx_bar = S_bar
        for l in range(L - 1):  # Step 1
            np.matmul(g_bar[l], W[l], out=d_bar[l])  # d_bar[l] = g_bar[l] @ W[l]   (2N, n_{l+1})
            if l < L - 2:
                seeded_mul_tanh_prime(d_bar[l], a[l + 1], g_bar[l + 1])  # g_bar[l+1] = d_bar[l] * s1
        # dL_dW[L-1][:, k] += sum of g_bar[L-1][k]; z_bar[L-2] = s2 * sum_k W[L-1][:, k] * d_bar[k]
        seeded_top_adjoints(a[L - 1], W[L - 1], d_bar[L - 2], self._dW_top, z_bar[L - 2], db[:W[L - 1].shape[0]])
        self._grads[L - 1][0][...] += self._dW_top
        for l in range(L - 2, -1, -1):  # Step 2
            if l < L - 2:  # z_bar[l] = s2 * sum_k g[l+1][k] * d_bar[l][k] + s1 * zW_bar[l]
                seeded_second_adjoint_sum(a[l + 1], g[l + 1], d_bar[l], zW_bar[l], z_bar[l], db[:z_bar[l].shape[1]])
            if l > 0:
                np.matmul(z_bar[l], W[l].T, out=zW_bar[l - 1])  # z_bar[l] @ W[l].T
        return z_bar[0] @ W[0].T  # x_bar = z_bar[0] @ W[0].T

    @finite_result
    def loss_and_grad(self, X, dt, x0=None):
        """``trajectory.loss_and_grad(params, X, dt, "rk4", substeps, "dhnn", x0=x0)``, to rounding.

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

        L, N, S = len(self._W), self.N, self.n_slots
        for l in range(L - 1):  # the weight and bias gradients of every slot at once
            np.matmul(self._P[l].T, self._Q[l], out=self._grads[l][0])  # sum_s g_bar.T @ d + a.T @ z_bar
            np.sum(self._Q[l].reshape(S, 3, N, -1)[:, 2], axis=(0, 1), out=self._grads[l][1])
        return loss, list(self._grads), x_bar
