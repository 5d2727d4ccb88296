r"""L-BFGS, written out: a quasi-Newton minimizer for a smooth deterministic loss (a full batch).

Limited-memory BFGS (Nocedal 1980; Nocedal & Wright, *Numerical
Optimization*, 2nd ed. 2006, Algorithms 7.4 and 7.5). From x_k with
gradient g_k, and the last m pairs s_i = x_{i+1} - x_i, y_i = g_{i+1} - g_i::

    direction   p_k = -H_k g_k                      H_k: the inverse-Hessian estimate of the pairs,
                                                     applied by the two-loop recursion (:func:`two_loop`)
    step        x_{k+1} = x_k + t p_k               t = 1, halved until the Armijo condition holds:
                                                     f(x_k + t p_k) <= f(x_k) + c1 t g_k . p_k
    memory      keep (s_k, y_k) if s_k . y_k > eps_curv |s_k| |y_k|   (H stays positive definite)

The first step, with no pairs, is steepest descent scaled to a unit step,
p_0 = -g_0 / |g_0|. A direction that is not one of descent (g . p >= 0, by
rounding) resets the memory. Only the Armijo condition is enforced (no
curvature condition of Wolfe): the pairs are then filtered instead, as above.

Every vector is float64 whatever the dtype of the loss's parameters
(:func:`flatten` and :func:`unflatten` carry them to and from the arrays).
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import check_int, check_real

__all__ = ["minimize", "two_loop", "flatten", "unflatten"]


def flatten(arrays) -> np.ndarray:
    """The arrays, raveled and concatenated into one float64 vector."""
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])


def unflatten(z, like):
    """Arrays shaped and typed like ``like`` from the vector z (the inverse of :func:`flatten`)."""
    total = sum(a.size for a in like)
    if total != len(z):
        raise ValueError(f"the vector has {len(z)} numbers; the arrays hold {total}")
    out, i = [], 0
    for a in like:
        out.append(z[i:i + a.size].reshape(a.shape).astype(a.dtype))
        i += a.size
    return out


def two_loop(g, pairs):
    """H g for the inverse-Hessian estimate of the pairs (s_i, y_i), oldest first (Algorithm 7.4).

    ::

        q = g
        for i = newest .. oldest:  rho_i = 1 / (y_i . s_i);  alpha_i = rho_i s_i . q;  q -= alpha_i y_i
        r = gamma q,               gamma = s . y / y . y of the newest pair (H_0 = gamma I)
        for i = oldest .. newest:  beta = rho_i y_i . r;    r += (alpha_i - beta) s_i
        return r
    """
    q = np.array(g, dtype=np.float64)
    if not pairs:
        return q
    alpha = [0.0] * len(pairs)
    for i in range(len(pairs) - 1, -1, -1):
        s, y = pairs[i]
        alpha[i] = float(s @ q) / float(y @ s)
        q -= alpha[i] * y
    s, y = pairs[-1]
    r = (float(s @ y) / float(y @ y)) * q
    for i, (s, y) in enumerate(pairs):
        beta = float(y @ r) / float(y @ s)
        r += (alpha[i] - beta) * s
    return r


def minimize(fun, x0, steps, memory=20, c1=1e-4, eps_curv=1e-10, max_halvings=40):
    """Minimize ``fun(x) -> (f, g)`` from x0 by ``steps`` L-BFGS iterations (module docstring).

    Parameters
    ----------
    fun : callable
        x (n,) float64 -> (f float, g (n,)): the loss and its gradient.
    x0 : ndarray, shape (n,)
    steps : int >= 0
        Iterations; each calls ``fun`` once, more if the step is halved.
    memory : int >= 1
        m, the pairs kept.
    c1 : float in (0, 1)
        Armijo's constant.

    Returns
    -------
    x : ndarray, shape (n,)
        The last accepted point (x0 if no step decreased f).
    losses : ndarray, shape (steps + 1,)
        f at x0 and after each iteration (NaN after an early stop: no step of
        2**-max_halvings decreased f, i.e. f is at its minimum to rounding).
    """
    check_int(steps, "steps", 0)
    check_int(memory, "memory", 1)
    check_real(c1, "c1", positive=True, maximum=1.0)
    x = np.array(x0, dtype=np.float64)
    f, g = fun(x)
    g = np.asarray(g, dtype=np.float64)
    if not math.isfinite(f) or not np.all(np.isfinite(g)):
        raise ValueError(f"the loss or its gradient is not finite at x0 (loss {f})")
    losses = np.full(steps + 1, np.nan)
    losses[0] = f
    pairs = []
    for k in range(steps):
        p = -two_loop(g, pairs)  # p_k = -H_k g_k
        slope = float(g @ p)
        if not pairs or slope >= 0:  # no memory yet, or not a descent direction: steepest descent
            pairs = []
            p = -g / max(float(np.linalg.norm(g)), np.finfo(np.float64).tiny)
            slope = float(g @ p)
        t = 1.0
        for _ in range(max_halvings):
            x_new = x + t * p
            f_new, g_new = fun(x_new)
            if math.isfinite(f_new) and f_new <= f + c1 * t * slope:  # Armijo
                break
            t *= 0.5
        else:
            return x, losses  # no decrease: at the minimum to rounding
        g_new = np.asarray(g_new, dtype=np.float64)
        s, y = x_new - x, g_new - g
        if float(s @ y) > eps_curv * float(np.linalg.norm(s) * np.linalg.norm(y)):  # curvature s . y > 0
            pairs = (pairs + [(s, y)])[-memory:]
        x, f, g = x_new, float(f_new), g_new
        losses[k + 1] = f
    return x, losses
