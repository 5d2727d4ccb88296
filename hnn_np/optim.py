"""Adam (Kingma & Ba 2015), written out, and learning-rate schedules.

For each parameter tensor p with gradient g, at step t = 1, 2, ...::

    g     <- g + weight_decay * p              coupled L2 decay (as torch.optim.Adam)
    m     <- beta1 * m + (1 - beta1) * g       first moment   (Algorithm 1, line 7)
    v     <- beta2 * v + (1 - beta2) * g**2    second moment  (line 8)
    m_hat  = m / (1 - beta1**t)                bias corrections (lines 9-10)
    v_hat  = v / (1 - beta2**t)
    p     <- p - lr * m_hat / (sqrt(v_hat) + eps)

eps is added after the square root of the bias-corrected second moment, as
PyTorch does (the paper's Algorithm 1 writes the same). The defaults
lr = 1e-3, betas = (0.9, 0.999), eps = 1e-8 are the paper's recommended ones
(Kingma & Ba 2015, Sec. 2).

:func:`adam_update` is those six lines for one tensor, in NumPy;
:class:`hnn_np.fast.Adam` runs the same update as one fused Numba loop.
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import check_params

__all__ = ["Adam", "adam_update", "cosine_lr"]


def adam_update(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step):
    """One Adam step on one tensor, in place on ``p``, ``m`` and ``v``.

    p, g, m, v : arrays of one shape and dtype; step : t >= 1. The bias
    corrections are computed in float64 (as torch does) and enter as Python
    floats, so a float32 tensor is updated in float32.
    """
    if weight_decay != 0:
        g = g + weight_decay * p  # coupled L2 decay
    m *= beta1
    m += (1 - beta1) * g  # m <- beta1 m + (1 - beta1) g
    v *= beta2
    v += (1 - beta2) * g * g  # v <- beta2 v + (1 - beta2) g**2
    step_size = lr / (1 - beta1**step)  # lr / (1 - beta1**t): m_hat = m / (1 - beta1**t)
    sqrt_bc2 = math.sqrt(1 - beta2**step)  # sqrt(v_hat) = sqrt(v) / sqrt(1 - beta2**t)
    p -= step_size * m / (np.sqrt(v) / sqrt_bc2 + eps)


class Adam:
    """Adam optimizer updating a list of ``(W, b)`` parameters in place.

    Parameters
    ----------
    params : list of (W, b)
        Updated in place by :meth:`step`.
    lr : float
        Step size; may be changed between steps (``opt.lr = ...``).
    betas : (float, float)
        Decay rates of the first and second moment, each in [0, 1).
    eps : float
        Added to sqrt(v_hat) in the denominator.
    weight_decay : float
        Coupled L2 penalty coefficient (added to the gradient).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        check_params(params)
        for l, (W, b) in enumerate(params):
            for name, arr in (("W", W), ("b", b)):
                if not arr.flags.c_contiguous or not arr.flags.writeable:
                    raise ValueError(f"params[{l}] {name} must be a writeable C-contiguous array")
        if not (len(betas) == 2 and all(0.0 <= beta < 1.0 for beta in betas)):
            raise ValueError(f"betas must be two numbers in [0, 1); got {betas!r}")
        if not eps >= 0.0:
            raise ValueError(f"eps must be >= 0; got {eps!r}")
        if not weight_decay >= 0.0:
            raise ValueError(f"weight_decay must be >= 0; got {weight_decay!r}")
        self.params = params
        self.lr = lr
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.t = 0  # number of steps taken
        self.m = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
        self.v = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value):
        value = float(value)
        if not (math.isfinite(value) and value > 0.0):
            raise ValueError(f"lr must be a positive finite number; got {value!r}")
        self._lr = value

    def step(self, grads):
        """Apply one Adam update with ``grads`` (shaped like ``params``)."""
        if len(grads) != len(self.params):
            raise ValueError(f"grads has {len(grads)} layers but params has {len(self.params)}")
        for l, ((W, b), (dW, db)) in enumerate(zip(self.params, grads)):
            if dW.shape != W.shape or db.shape != b.shape:
                raise ValueError(
                    f"grads[{l}] has shapes {dW.shape}, {db.shape}; params[{l}] has {W.shape}, {b.shape}"
                )
            if dW.dtype != W.dtype or db.dtype != b.dtype:
                raise ValueError(f"grads[{l}] dtype {dW.dtype} does not match params dtype {W.dtype}")
        self.t += 1
        for (W, b), (dW, db), (mW, mb), (vW, vb) in zip(self.params, grads, self.m, self.v):
            for p, g, m, v in ((W, dW, mW, vW), (b, db, mb, vb)):
                self._update(p, np.ascontiguousarray(g), m, v)

    def _update(self, p, g, m, v):
        """The update of one tensor at step ``self.t``; :class:`hnn_np.fast.Adam` replaces it."""
        adam_update(p, g, m, v, self._lr, *self.betas, self.eps, self.weight_decay, self.t)

    def state_dict(self) -> dict:
        """Everything needed to resume: step count, moments and hyper-parameters."""
        return {"t": self.t, "m": self.m, "v": self.v, "lr": self._lr, "betas": self.betas,
                "eps": self.eps, "weight_decay": self.weight_decay}

    def load_state_dict(self, state: dict):
        """Restore what :meth:`state_dict` returned (moments are copied in place)."""
        for mine, theirs in ((self.m, state["m"]), (self.v, state["v"])):
            for (a, b), (c, d) in zip(mine, theirs):
                a[...] = c
                b[...] = d
        self.t = int(state["t"])
        self.lr = state["lr"]
        self.betas = tuple(state["betas"])
        self.eps = float(state["eps"])
        self.weight_decay = float(state["weight_decay"])


def cosine_lr(step: int, total: int, lr_max: float, lr_min: float = 0.0) -> float:
    """Cosine decay from lr_max at step 0 to lr_min at step ``total``.

    lr(t) = lr_min + (lr_max - lr_min) * (1 + cos(pi * t / total)) / 2
    (Loshchilov & Hutter 2017, SGDR, Eq. 5, without restarts).
    """
    frac = min(max(step / max(total, 1), 0.0), 1.0)
    return lr_min + (lr_max - lr_min) * 0.5 * (1.0 + math.cos(math.pi * frac))
