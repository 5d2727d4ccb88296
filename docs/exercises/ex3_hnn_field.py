r"""Exercise 3: the HNN's vector field S = J dH/dx (docs/derivation.md, Section 1).

A state is a row ``x = (q_1..q_n, p_1..p_n)``. Hamilton's equations
``dq/dt = dH/dp``, ``dp/dt = -dH/dq`` read ``dx/dt = J dH/dx`` with the
symplectic matrix::

    J = [[ 0, I_n],          J v = (v_p, -v_q)
         [-I_n, 0 ]]

An HNN takes H from a network and predicts, for each row::

    S = J dH/dx = (dH/dp, -dH/dq)           (N, 2n)

Run ``make exercises`` (or ``.venv/bin/python -m pytest -q docs/exercises/test_ex3_hnn_field.py``).
"""

import numpy as np


def hnn_field(params, x):
    r"""The learned field S = J dH/dx = (dH/dp, -dH/dq), one row per state.

    Parameters
    ----------
    params : list of (W, b)
        An MLP with 2n inputs; output 0 is the energy H.
    x : ndarray, shape (N, 2n)
        Columns (q_1..q_n, p_1..p_n).

    Returns
    -------
    S : ndarray, shape (N, 2n)

    Hints
    -----
    * dH/dx is your ``input_gradient`` of exercise 2, or ``hnn_np.mlp.input_gradient``.
    * J acts on the two halves of each row; with ``n = x.shape[1] // 2``,
      ``np.concatenate([..., ...], axis=1)`` builds S from them.
    * Which half goes first, and which one gets the minus sign? The test on
      a linear H = x . w tells: its S must be (w_p, -w_q).
    """
    raise NotImplementedError("exercise 3: hnn_field(params, x), S = J dH/dx = (dH/dp, -dH/dq)")
