"""The (weighted) mean squared error shared by the HNN and the baseline.

With the residual ``r = pred - target`` (N, D), optional row weights w_i >= 0
and ``M = N * D``::

    loss     = sum_ij w_i r_ij**2 / M           (w = 1: the plain mean)
    pred_bar = 2 w_i r_ij / M                    (N, D), dloss/dpred
"""

from __future__ import annotations

import numpy as np

__all__ = ["mse_and_adjoint"]


def mse_and_adjoint(pred, target, w_row=None):
    """Loss (a float) and its adjoint with respect to ``pred`` (N, D)."""
    r = pred - target
    wr = r if w_row is None else w_row[:, None] * r  # w_i r_ij
    loss = float(np.mean(wr * r))
    return loss, (2.0 / r.size) * wr
