r"""The RK4 trajectory loss of a D-HNN in buffers allocated once: the twin of trajectory.loss_and_grad.

:class:`DHNNRK4Workspace` computes what ``trajectory.loss_and_grad(params,
X, dt, "rk4", substeps, "dhnn", x0=x0)`` computes -- the same stages in the
same order (``docs/derivation.md``, Section 10) -- for a fixed number of
windows N, K intervals and m substeps, to rounding. It is
:class:`hnn_np.fast.RK4Workspace` (whose buffers, rollout and adjoint sweep
it inherits) with its own field and field adjoint, the two seeds of a D-HNN
stacked in rows, as :class:`hnn_np.fast.DHNNWorkspace` stacks them:

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

from ..symplectic import apply_J, apply_J_T
from .dhnn_step import seeded_mul_tanh_prime, seeded_second_adjoint_sum, seeded_top_adjoints, \
    seeded_top_mul_tanh_prime
from .kernels import add_bias
from .trajectory_step import RK4Workspace

__all__ = ["DHNNRK4Workspace"]


class DHNNRK4Workspace(RK4Workspace):
    """Buffers for the RK4 trajectory loss of a D-HNN (sizes (d, ..., 2)) with at least one hidden layer.

    Parameters
    ----------
    params : list of (W, b)
        The D-HNN; read at every call.
    n_windows, K, substeps : int
        N windows, K intervals per window and RK4 steps per interval of every call.
    """

    KIND, NETWORK, SEEDS = "dhnn", "a D-HNN", 2

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
