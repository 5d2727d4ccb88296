"""The step, error, dense output and interpolant of RK45 (DOPRI5), written out from its tableau.

Written by ``python -m hnn_np.integrate._compiled.write_kernels`` (:mod:`.write_kernels`
says why and how); do not edit: a test regenerates this file and compares.
"""

import math

from ..controller import Kernels
from ..jitable import jitable
from ..rk import error_from_sums, error_norm_in_logs

__all__ = ["rk45_step", "rk45_error", "rk45_dense", "rk45_interpolate", "KERNELS"]


@jitable(inline='always')
def rk45_step(fun, t, y, h, K, y_stage, y_new, tab, args):
    """:func:`..rk.rk_step`, written out."""
    n = y.shape[0]
    for i in range(n):
        y_stage[i] = y[i] + h * (0.2 * K[0, i])
    fun(t + 0.2 * h, y_stage, K[1], *args)
    for i in range(n):
        y_stage[i] = y[i] + h * (0.075 * K[0, i] + 0.225 * K[1, i])
    fun(t + 0.3 * h, y_stage, K[2], *args)
    for i in range(n):
        y_stage[i] = y[i] + h * (0.9777777777777777 * K[0, i] - 3.7333333333333334 * K[1, i]
            + 3.5555555555555554 * K[2, i])
    fun(t + 0.8 * h, y_stage, K[3], *args)
    for i in range(n):
        y_stage[i] = y[i] + h * (2.9525986892242035 * K[0, i] - 11.595793324188385 * K[1, i]
            + 9.822892851699436 * K[2, i] - 0.2908093278463649 * K[3, i])
    fun(t + 0.8888888888888888 * h, y_stage, K[4], *args)
    for i in range(n):
        y_stage[i] = y[i] + h * (2.8462752525252526 * K[0, i] - 10.757575757575758 * K[1, i]
            + 8.906422717743473 * K[2, i] + 0.2784090909090909 * K[3, i] - 0.2735313036020583 * K[4, i])
    fun(t + 1.0 * h, y_stage, K[5], *args)
    for i in range(n):
        y_new[i] = y[i] + h * (0.09114583333333333 * K[0, i] + 0.44923629829290207 * K[2, i]
            + 0.6510416666666666 * K[3, i] - 0.322376179245283 * K[4, i] + 0.13095238095238096 * K[5, i])
    fun(t + h, y_new, K[6], *args)
    return 6


@jitable(inline='always')
def rk45_error(K, y, y_new, h, tab, atol, rtol):
    """:func:`..rk.error_norm`, written out."""
    n = y.shape[0]
    s5 = 0.0
    s3 = 0.0
    for i in range(n):
        sk = atol[i] + rtol[i] * max(abs(y[i]), abs(y_new[i]))
        e5 = h * (0.0012326388888888888 * K[0, i] - 0.0042527702905061394 * K[2, i] + 0.03697916666666667 * K[3, i]
            - 0.05086379716981132 * K[4, i] + 0.0419047619047619 * K[5, i] - 0.025 * K[6, i]) / sk
        s5 += e5 * e5
    if not s5 + s3 < math.inf:  # a square overflowed, or a stage is not finite
        return error_norm_in_logs(K, y, y_new, h, tab, atol, rtol)
    return error_from_sums(s5, s3, h, n, False)


@jitable(inline='always')
def rk45_dense(fun, t, y, y_new, h, K, y_stage, Q, tab, args):
    """:func:`..dense.dense_coefficients`, written out."""
    n = y.shape[0]
    for i in range(n):
        y_diff = y_new[i] - y[i]
        bspl = h * K[0, i] - y_diff
        Q[0, i] = y[i]
        Q[1, i] = y_diff
        Q[2, i] = bspl
        Q[3, i] = y_diff - h * K[6, i] - bspl
        Q[4, i] = h * (-1.1270175653862835 * K[0, i] + 2.675424484351598 * K[2, i] - 5.685526961588504 * K[3, i]
            + 3.5219323679207912 * K[4, i] - 1.7672812570757455 * K[5, i] + 2.382468931778144 * K[6, i])
    return 0


@jitable(inline='always')
def rk45_interpolate(out, t_eval, first, last, t_old, h, Q):
    """:func:`..dense.interpolate`, written out (a component's Q held for all times of the step)."""
    for i in range(Q.shape[1]):
        q0, q1, q2, q3, q4 = Q[0, i], Q[1, i], Q[2, i], Q[3, i], Q[4, i]
        for j in range(first, last):
            theta = (t_eval[j] - t_old) / h
            theta1 = 1.0 - theta
            out[j, i] = q0 + theta * (q1 + theta1 * (q2 + theta * (q3 + theta1 * (q4))))


KERNELS = Kernels(rk45_step, rk45_error, rk45_dense, rk45_interpolate)
