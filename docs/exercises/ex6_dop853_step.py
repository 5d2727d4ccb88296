r"""Exercise 6: one DOP853 step from its tableau, with the error estimate (docs/derivation.md, Section 7).

An explicit Runge-Kutta step of size h from (t, y), stages i = 0 .. s-1
(DOP853: s = 12, 0-based), is::

    k_i   = f(t + C_i h, y + h sum_{j<i} A_ij k_j)
    y_new = y + h sum_{j<s} B_j k_j                      order 8

Two more weight vectors on the same stages estimate the error::

    e5 = sum_{j<s} E_j k_j,     e3 = sum_{j<s} E3_j k_j                 (n,)
    sk_i = atol + rtol max(|y_i|, |y_new_i|)
    S5 = sum_i (e5_i / sk_i)**2,   S3 = sum_i (e3_i / sk_i)**2
    err = |h| S5 / sqrt(n (S5 + 0.01 S3))                (1 if S5 + 0.01 S3 = 0 in the root)

and a step is accepted when err <= 1. The numbers are in
``hnn_np.integrate.dop853_coefficients`` (Hairer, Norsett & Wanner, *Solving
ODEs I*, Sec. II.10): ``A`` (16, 16), ``B`` (12,), ``C`` (16,), ``E`` and ``E3``
(13,), ``N_STAGES = 12``. Rows and entries past stage 11 belong to the FSAL and
dense-output stages, which this exercise does not need.

Run ``make exercises`` (or ``.venv/bin/python -m pytest -q docs/exercises/test_ex6_dop853_step.py``).
"""

import numpy as np

from hnn_np.integrate import dop853_coefficients as c  # noqa: F401  (A, B, C, E, E3, N_STAGES)


def dop853_step(f, t, y, h, atol, rtol):
    r"""One DOP853 step: the solution at t + h and Hairer's scaled error of the step.

    Parameters
    ----------
    f : callable
        ``f(t, y) -> dy/dt``, an array of shape (n,).
    t, h : float
        Start and (signed) size of the step.
    y : ndarray, shape (n,)
    atol, rtol : float
        Absolute and relative tolerance of the error scale sk.

    Returns
    -------
    y_new : ndarray, shape (n,)
    err : float
        Accept the step when err <= 1.

    Hints
    -----
    * Keep the stages in one array ``K = np.zeros((c.N_STAGES, n))``; stage i
      needs the row ``c.A[i, :i]`` and the stages before it, ``K[:i]``.
    * Sum B over the 12 stages only: ``c.B`` has 12 entries, ``c.E`` and
      ``c.E3`` 13, the last one (the FSAL stage) zero.
    * sum(B) = 1 and sum(E) = sum(E3) = 0: for f constant the step is
      y + h f and the error 0.
    """
    raise NotImplementedError("exercise 6: dop853_step, the 12 stages, y_new = y + h sum_j B_j k_j, and err")
