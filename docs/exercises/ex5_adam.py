r"""Exercise 5: one Adam step with its bias corrections (docs/derivation.md, Section 5).

Kingma & Ba (2015), Algorithm 1, for a parameter tensor p with gradient g at
step t = 1, 2, ... and moments m, v that start at 0::

    m_t   = beta1 m_{t-1} + (1 - beta1) g_t
    v_t   = beta2 v_{t-1} + (1 - beta2) g_t**2
    m_hat = m_t / (1 - beta1**t)
    v_hat = v_t / (1 - beta2**t)
    p_t   = p_{t-1} - lr m_hat / (sqrt(v_hat) + eps)

Run ``make exercises`` (or ``.venv/bin/python -m pytest -q docs/exercises/test_ex5_adam.py``).
"""

import numpy as np


def adam_step(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    r"""One Adam step: the new parameters and moments, from the old ones and the gradient.

    Parameters
    ----------
    p, g, m, v : ndarray, all of one shape and dtype
        Parameters, their gradient g_t, and the moments m_{t-1}, v_{t-1}
        (zeros before the first step). They are left as they are.
    t : int >= 1
        The step number, 1 for the first step.
    lr, beta1, beta2, eps : float
        Step size alpha, the two decay rates, and the denominator's guard.

    Returns
    -------
    p_new, m_new, v_new : ndarray, the shape and dtype of p
        p_t, m_t and v_t.

    Hints
    -----
    * Return new arrays (``beta1 * m + ...``), do not update m or v in place:
      the caller's arrays must stay as they were.
    * The bias corrections use t, not t - 1: at t = 1 they make m_hat = g and
      v_hat = g**2, so the first step is -lr g / (|g| + eps), about -lr sign(g).
    * eps is added after the square root, so a zero gradient gives a zero step.
    """
    raise NotImplementedError("exercise 5: adam_step, m and v, bias corrections, p - lr m_hat / (sqrt(v_hat) + eps)")
