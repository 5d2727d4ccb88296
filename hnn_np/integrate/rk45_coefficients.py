"""Dormand-Prince 5(4): the tableau of DOPRI5 ("RK45") and its controller constants.

Source of every number: J. R. Dormand and P. J. Prince, "A family of embedded
Runge-Kutta formulae", J. Comput. Appl. Math. 6 (1980) 19-26, as printed in
E. Hairer, S. P. Norsett and G. Wanner, *Solving Ordinary Differential
Equations I*, 2nd ed., Springer 1993, Table II.5.2, and as set by the
subroutine CDOPRI of Hairer's Fortran code ``dopri5.f``. The dense output is
Shampine's (L. F. Shampine, "Some practical Runge-Kutta formulas", Math. Comp.
46 (1986) 135-150), dopri5.f's D1..D7. The fractions are evaluated in double
precision exactly as the Fortran's ``p.D0/q.D0``.

Stages are 0-based (Fortran's K_i is stage i-1):

* stages 0..5  one step of order 5; B are its weights;
* stage 6      FSAL stage f(t + h, y_new) (row ``A[6] = B``); the error
               estimate needs it, so it is evaluated in every step.

The error estimate is ``err_i = h sum_j E_j k_j`` with E = B - B_hat (B_hat the
embedded 4th-order weights), scaled as in dopri5.f:
``err = sqrt(mean((err_i / sk_i)^2))``.
"""

import numpy as np

from .tableau import Tableau, frozen

N_STAGES = 6  # s: stages of one step
N_STAGES_EXTENDED = 7  # S: with the FSAL stage

# Nodes c_i (CDOPRI: C2..C5; c1 = 0, c6 = c7 = 1).
C = np.array([0.0, 0.2, 0.3, 0.8, 8.0 / 9.0, 1.0, 1.0])

# Weights of the 5th-order solution (CDOPRI: A71, A73..A76; b2 = 0).
B = np.array([35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0])

# Stage coefficients a_ij, one row per stage (CDOPRI: A21 .. A65).
A = np.zeros((N_STAGES_EXTENDED, N_STAGES_EXTENDED))
A[1, :1] = [0.2]
A[2, :2] = [3.0 / 40.0, 9.0 / 40.0]
A[3, :3] = [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0]
A[4, :4] = [19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0]
A[5, :5] = [9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0]
A[6, :6] = B  # FSAL: k_6 = f(t + h, y_new)

# Error weights E = B - B_hat over stages 0..6 (CDOPRI: E1, E3..E7; E2 = 0).
E = np.array([
    71.0 / 57600.0, 0.0, -71.0 / 16695.0, 71.0 / 1920.0,
    -17253.0 / 339200.0, 22.0 / 525.0, -1.0 / 40.0,
])  # fmt: skip

# Dense output row over stages 0..6 (CDOPRI: D1, D3..D7; D2 = 0).
D = np.array([[
    -12715105075.0 / 11282082432.0, 0.0, 87487479700.0 / 32700410799.0,
    -10690763975.0 / 1880347072.0, 701980252875.0 / 199316789632.0,
    -1453857185.0 / 822651844.0, 69997945.0 / 29380423.0,
]])  # fmt: skip

# Controller defaults of dopri5.f (its WORK(2)..WORK(5) = 0 branch):
SAFE = 0.9  # safety factor in the step-size prediction
FAC1 = 0.2  # lower bound of h_new / h
FAC2 = 10.0  # upper bound of h_new / h
BETA = 0.04  # Lund stabilisation (Hairer, Norsett & Wanner, Section IV.2)
EXPO1 = 0.2 - BETA * 0.75  # dopri5.f: EXPO1 = 0.2 - 0.75 BETA

RK45 = Tableau(
    A=frozen(A), B=frozen(B), C=frozen(C), E=frozen(E), E3=frozen(np.zeros(0)), D=frozen(D),
    n_stages=N_STAGES, order=5, fsal_in_error=True,
    safe=SAFE, fac1=FAC1, fac2=FAC2, beta=BETA, expo1=EXPO1, key=2,
)  # fmt: skip
