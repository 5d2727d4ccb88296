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

from ._checks import check_int, check_params, check_real

__all__ = ["Adam", "RowAdam", "adam_update", "cosine_lr"]


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
        self.params = params
        self.lr = lr
        self.betas, self.eps, self.weight_decay = _check_hyper(betas, eps, weight_decay)
        self.t = 0  # number of steps taken
        self.m = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
        self.v = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = check_real(value, "lr", positive=True)

    def step(self, grads):
        """Apply one Adam update with ``grads`` (shaped like ``params``, finite)."""
        if not isinstance(grads, (list, tuple)):
            raise ValueError(f"grads must be a list of (dL_dW, dL_db) pairs; got {type(grads).__name__}")
        if len(grads) != len(self.params):
            raise ValueError(f"grads has {len(grads)} layers but params has {len(self.params)}")
        for l, ((W, b), layer) in enumerate(zip(self.params, grads)):
            if not isinstance(layer, (list, tuple)) or len(layer) != 2 or \
                    not all(type(g) is np.ndarray for g in layer):
                raise ValueError(f"grads[{l}] must be a pair of numpy arrays (dL_dW, dL_db)")
            dW, db = layer
            if dW.shape != W.shape or db.shape != b.shape:
                raise ValueError(
                    f"grads[{l}] has shapes {dW.shape}, {db.shape}; params[{l}] has {W.shape}, {b.shape}"
                )
            if dW.dtype != W.dtype or db.dtype != b.dtype:
                raise ValueError(f"grads[{l}] dtype {dW.dtype} does not match params dtype {W.dtype}")
            limit = np.sqrt(np.finfo(W.dtype).max)  # beyond it, g**2 in the second moment overflows
            if not all(-limit <= g.min() and g.max() <= limit for g in (dW, db)):  # NaN fails; no temporaries
                raise ValueError(f"grads[{l}] has non-finite values or entries beyond {limit:.3g}, whose "
                                 f"square overflows {W.dtype}; expected finite gradients of moderate size")
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
        """Restore what :meth:`state_dict` returned (moments are copied in place).

        The state is checked whole before anything changes: moments shaped
        like ``params``, finite, v >= 0; t an integer >= 0; the
        hyper-parameters as the constructor checks them.
        """
        if not isinstance(state, dict):
            raise ValueError(f"state must be a dict from state_dict(); got {type(state).__name__}")
        missing = sorted({"t", "m", "v", "lr", "betas", "eps", "weight_decay"} - set(state))
        if missing:
            raise ValueError(f"state lacks the keys {missing}")
        for key in ("m", "v"):
            check_params(state[key], f"state[{key!r}]")
            if len(state[key]) != len(self.params):
                raise ValueError(f"state[{key!r}] has {len(state[key])} layers; params has {len(self.params)}")
            for l, ((W, b), (mW, mb)) in enumerate(zip(self.params, state[key])):
                if (mW.shape, mb.shape, mW.dtype) != (W.shape, b.shape, W.dtype):
                    raise ValueError(f"state[{key!r}][{l}] is {mW.dtype} {mW.shape}, {mb.shape}; "
                                     f"params[{l}] is {W.dtype} {W.shape}, {b.shape}")
                if key == "v" and ((mW < 0).any() or (mb < 0).any()):
                    raise ValueError(f"state['v'][{l}] has negative entries; a second moment is >= 0")
        t = check_int(state["t"], "state['t']", 0)
        lr = check_real(state["lr"], "state['lr']", positive=True)
        hyper = _check_hyper(state["betas"], state["eps"], state["weight_decay"])
        for mine, theirs in ((self.m, state["m"]), (self.v, state["v"])):
            for (a, b), (c, d) in zip(mine, theirs):
                a[...] = c
                b[...] = d
        self.t = t
        self.lr = lr
        self.betas, self.eps, self.weight_decay = hyper


def _check_hyper(betas, eps, weight_decay):
    """(betas, eps, weight_decay) as floats: betas two numbers in [0, 1), eps and weight_decay finite >= 0."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2) of numbers in [0, 1); got {betas!r}")
    checked = []
    for i, beta in enumerate(betas):
        beta = check_real(beta, f"betas[{i}]", 0.0)
        if not beta < 1.0:
            raise ValueError(f"betas[{i}] must be in [0, 1); got {beta!r}")
        checked.append(beta)
    return tuple(checked), check_real(eps, "eps", 0.0), check_real(weight_decay, "weight_decay", 0.0)

def cosine_lr(step: int, total: int, lr_max: float, lr_min: float = 0.0) -> float:
    """Cosine decay from lr_max at step 0 to lr_min at step ``total``.

    lr(t) = lr_min + (lr_max - lr_min) * (1 + cos(pi * t / total)) / 2
    (Loshchilov & Hutter 2017, SGDR, Eq. 5, without restarts).
    """
    frac = min(max(step / max(total, 1), 0.0), 1.0)
    return lr_min + (lr_max - lr_min) * 0.5 * (1.0 + math.cos(math.pi * frac))


class RowAdam:
    """Adam on the rows of one array, each row with its own step count t_i.

    For the rows ``rows`` of a minibatch, with gradient g (B, d)::

        t_i <- t_i + 1;   m_i <- beta1 m_i + (1 - beta1) g_i;   v_i <- beta2 v_i + (1 - beta2) g_i**2
        x_i <- x_i - lr (m_i / (1 - beta1**t_i)) / (sqrt(v_i / (1 - beta2**t_i)) + eps)
    """

    def __init__(self, x, betas=(0.9, 0.999), eps=1e-8):
        self.x, self.betas, self.eps = x, betas, eps
        self.m, self.v = np.zeros_like(x), np.zeros_like(x)
        self.t = np.zeros(len(x), dtype=np.int64)

    def step(self, rows, g, lr):
        beta1, beta2 = self.betas
        t = self.t[rows] + 1  # (B,)
        self.t[rows] = t
        m = beta1 * self.m[rows] + (1 - beta1) * g
        v = beta2 * self.v[rows] + (1 - beta2) * g * g
        self.m[rows], self.v[rows] = m, v
        m_hat = m / (1 - beta1 ** t)[:, None]  # bias corrections in float64, as adam_update
        v_hat = v / (1 - beta2 ** t)[:, None]
        self.x[rows] = self.x[rows] - (lr * m_hat / (np.sqrt(v_hat) + self.eps)).astype(self.x.dtype)
