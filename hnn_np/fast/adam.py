"""Adam with its update as one fused Numba loop: :class:`hnn_np.optim.Adam`, faster.

:class:`Adam` changes only the per-tensor update of :class:`hnn_np.optim.Adam`
(Kingma & Ba 2015, Algorithm 1, as written out there); its NumPy twin is
:func:`hnn_np.optim.adam_update`, and a test holds the two equal to rounding.

* With ``error_model="numpy"`` Numba does not check each division for a zero
  divisor, so LLVM vectorises the loop.
* ``sqrt(v) / sqrt(1 - beta2**t)`` becomes ``sqrt(v) * (1 / sqrt(1 - beta2**t))``:
  one division per element instead of two; the update's time is the divider's
  and memory's (see ``benchmarks/README.md``).
* The step's constants are computed in float64 and cast to the parameters'
  dtype, so a float32 run does float32 arithmetic.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import optim

__all__ = ["Adam", "adam_update"]


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


def adam_update(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step):
    """:func:`hnn_np.optim.adam_update` as one loop; all arrays C-contiguous, one dtype."""
    t = p.dtype.type
    step_size = lr / (1.0 - beta1**step)
    inv_sqrt_bc2 = 1.0 / np.sqrt(1.0 - beta2**step)
    _adam_update_nb(p, g, m, v, t(beta1), t(beta2), t(1.0 - beta1), t(1.0 - beta2),
                    t(eps), t(weight_decay), t(step_size), t(inv_sqrt_bc2))


class Adam(optim.Adam):
    """:class:`hnn_np.optim.Adam` with the fused :func:`adam_update`.

    Same constructor, state and checks; the same numbers to rounding.
    """

    def _update(self, p, g, m, v):
        adam_update(p, g, m, v, self._lr, *self.betas, self.eps, self.weight_decay, self.t)


def warm_up():
    """Compile (or load from the on-disk cache) the update for float32 and float64."""
    for dtype in (np.float32, np.float64):
        for shape in ((2, 3), (3,)):
            p = np.zeros(shape, dtype)
            adam_update(p, p.copy(), p.copy(), p.copy(), 1e-3, 0.9, 0.999, 1e-8, 0.0, 1)
