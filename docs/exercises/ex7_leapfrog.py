r"""Exercise 7: leapfrog (Stormer-Verlet) and its symplecticity (docs/derivation.md, Section 8).

For a separable H(q, p) = T(p) + V(q), one step of size h is kick, drift, kick::

    p_half = p - (h/2) dV/dq(q)
    q_new  = q + h dT/dp(p_half)
    p_new  = p_half - (h/2) dV/dq(q_new)

The map (q, p) -> (q_new, p_new) is symplectic: its Jacobian M satisfies
``M^T J M = J`` with ``J = [[0, I], [-I, 0]]``, for any h. On the spring,
H = k q**2 / 2 + p**2 / (2 m), the step is linear, x_new = M x with
x = (q, p) and M a 2 x 2 matrix.

Run ``make exercises`` (or ``.venv/bin/python -m pytest -q docs/exercises/test_ex7_leapfrog.py``).
"""

import numpy as np


def leapfrog_step(dV_dq, dT_dp, q, p, h):
    r"""One Stormer-Verlet step of size h for H = T(p) + V(q).

    Parameters
    ----------
    dV_dq, dT_dp : callable
        ``dV_dq(q)`` and ``dT_dp(p)``, shape (d,) -> (d,).
    q, p : ndarray, shape (d,)
    h : float
        The step; a negative h steps backwards in time.

    Returns
    -------
    q_new, p_new : ndarray, shape (d,)

    Hints
    -----
    * Each kick is half a step, h/2; the drift between them a whole one.
    * The second kick uses the force at the *new* position q_new.
    * One step forwards and one with -h from where it ended must give back
      (q, p): leapfrog is time-reversible.
    """
    raise NotImplementedError("exercise 7: leapfrog_step, kick h/2, drift h, kick h/2")


def spring_step_matrix(h, k, m):
    r"""The 2 x 2 matrix M of one leapfrog step on the spring: (q_new, p_new) = M (q, p).

    Parameters
    ----------
    h : float
        Step size.
    k, m : float > 0
        Spring constant and mass: dV/dq = k q, dT/dp = p / m.

    Returns
    -------
    M : ndarray, shape (2, 2)

    Hints
    -----
    * Write each substep as a matrix: the kick (q, p) -> (q, p - (h/2) k q) is
      [[1, 0], [-h k / 2, 1]]; the drift moves q alike.
    * M is the product of the three; the substep applied first stands rightmost.
    * Check by hand: det M = 1 and trace M = 2 - h**2 k / m.
    """
    raise NotImplementedError("exercise 7: spring_step_matrix(h, k, m), the product of the three substeps' matrices")
