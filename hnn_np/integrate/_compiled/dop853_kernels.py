"""The step, error, dense output and interpolant of DOP853, written out from its tableau.

Written by ``python -m hnn_np.integrate._compiled.write_kernels`` (:mod:`.write_kernels`
says why and how); do not edit: a test regenerates this file and compares.
"""

import math

from ..controller import Kernels
from ..jitable import jitable
from ..rk import error_from_sums, error_norm_in_logs

__all__ = ["dop853_step", "dop853_error", "dop853_dense", "dop853_interpolate", "KERNELS"]


@jitable(inline='always')
def dop853_step(fun, t, y, h, K, y_stage, y_new, tab, args):
    """:func:`..rk.rk_step`, written out."""
    n = y.shape[0]
    for i in range(n):
        y_stage[i] = y[i] + h * (0.05260015195876773 * K[0, i])
    fun(t + 0.05260015195876773 * h, y_stage, K[1], *args)
    for i in range(n):
        y_stage[i] = y[i] + h * (0.0197250569845379 * K[0, i] + 0.0591751709536137 * K[1, i])
    fun(t + 0.0789002279381516 * h, y_stage, K[2], *args)
    for i in range(n):
        y_stage[i] = y[i] + h * (0.02958758547680685 * K[0, i] + 0.08876275643042054 * K[2, i])
    fun(t + 0.1183503419072274 * h, y_stage, K[3], *args)
    for i in range(n):
        y_stage[i] = y[i] + h * (0.2413651341592667 * K[0, i] - 0.8845494793282861 * K[2, i]
            + 0.924834003261792 * K[3, i])
    fun(t + 0.2816496580927726 * h, y_stage, K[4], *args)
    for i in range(n):
        y_stage[i] = y[i] + h * (0.037037037037037035 * K[0, i] + 0.17082860872947386 * K[3, i]
            + 0.12546768756682242 * K[4, i])
    fun(t + 0.3333333333333333 * h, y_stage, K[5], *args)
    for i in range(n):
        y_stage[i] = y[i] + h * (0.037109375 * K[0, i] + 0.17025221101954405 * K[3, i]
            + 0.06021653898045596 * K[4, i] - 0.017578125 * K[5, i])
    fun(t + 0.25 * h, y_stage, K[6], *args)
    for i in range(n):
        y_stage[i] = y[i] + h * (0.03709200011850479 * K[0, i] + 0.17038392571223998 * K[3, i]
            + 0.10726203044637328 * K[4, i] - 0.015319437748624402 * K[5, i] + 0.008273789163814023 * K[6, i])
    fun(t + 0.3076923076923077 * h, y_stage, K[7], *args)
    for i in range(n):
        y_stage[i] = y[i] + h * (0.6241109587160757 * K[0, i] - 3.3608926294469414 * K[3, i]
            - 0.868219346841726 * K[4, i] + 27.59209969944671 * K[5, i] + 20.154067550477894 * K[6, i]
            - 43.48988418106996 * K[7, i])
    fun(t + 0.6512820512820513 * h, y_stage, K[8], *args)
    for i in range(n):
        y_stage[i] = y[i] + h * (0.47766253643826434 * K[0, i] - 2.4881146199716677 * K[3, i]
            - 0.590290826836843 * K[4, i] + 21.230051448181193 * K[5, i] + 15.279233632882423 * K[6, i]
            - 33.28821096898486 * K[7, i] - 0.020331201708508627 * K[8, i])
    fun(t + 0.6 * h, y_stage, K[9], *args)
    for i in range(n):
        y_stage[i] = y[i] + h * (-0.9371424300859873 * K[0, i] + 5.186372428844064 * K[3, i]
            + 1.0914373489967295 * K[4, i] - 8.149787010746927 * K[5, i] - 18.52006565999696 * K[6, i]
            + 22.739487099350505 * K[7, i] + 2.4936055526796523 * K[8, i] - 3.0467644718982196 * K[9, i])
    fun(t + 0.8571428571428571 * h, y_stage, K[10], *args)
    for i in range(n):
        y_stage[i] = y[i] + h * (2.273310147516538 * K[0, i] - 10.53449546673725 * K[3, i]
            - 2.0008720582248625 * K[4, i] - 17.9589318631188 * K[5, i] + 27.94888452941996 * K[6, i]
            - 2.8589982771350235 * K[7, i] - 8.87285693353063 * K[8, i] + 12.360567175794303 * K[9, i]
            + 0.6433927460157636 * K[10, i])
    fun(t + 1.0 * h, y_stage, K[11], *args)
    for i in range(n):
        y_new[i] = y[i] + h * (0.054293734116568765 * K[0, i] + 4.450312892752409 * K[5, i]
            + 1.8915178993145003 * K[6, i] - 5.801203960010585 * K[7, i] + 0.3111643669578199 * K[8, i]
            - 0.1521609496625161 * K[9, i] + 0.20136540080403034 * K[10, i] + 0.04471061572777259 * K[11, i])
    return 11


@jitable(inline='always')
def dop853_error(K, y, y_new, h, tab, atol, rtol):
    """:func:`..rk.error_norm`, written out."""
    n = y.shape[0]
    s5 = 0.0
    s3 = 0.0
    for i in range(n):
        sk = atol[i] + rtol[i] * max(abs(y[i]), abs(y_new[i]))
        e3 = (-0.18980075407240762 * K[0, i] + 4.450312892752409 * K[5, i] + 1.8915178993145003 * K[6, i]
            - 5.801203960010585 * K[7, i] - 0.4226823213237919 * K[8, i] - 0.1521609496625161 * K[9, i]
            + 0.20136540080403034 * K[10, i] + 0.02265179219836082 * K[11, i]) / sk
        s3 += e3 * e3
        e5 = (0.01312004499419488 * K[0, i] - 1.2251564463762044 * K[5, i] - 0.4957589496572502 * K[6, i]
            + 1.6643771824549864 * K[7, i] - 0.35032884874997366 * K[8, i] + 0.3341791187130175 * K[9, i]
            + 0.08192320648511571 * K[10, i] - 0.022355307863886294 * K[11, i]) / sk
        s5 += e5 * e5
    if not s5 + s3 < math.inf:  # a square overflowed, or a stage is not finite
        return error_norm_in_logs(K, y, y_new, h, tab, atol, rtol)
    return error_from_sums(s5, s3, h, n, True)


@jitable(inline='always')
def dop853_dense(fun, t, y, y_new, h, K, y_stage, Q, tab, args):
    """:func:`..dense.dense_coefficients`, written out."""
    n = y.shape[0]
    for i in range(n):
        y_stage[i] = y[i] + h * (0.056167502283047954 * K[0, i] + 0.25350021021662483 * K[6, i]
            - 0.2462390374708025 * K[7, i] - 0.12419142326381637 * K[8, i] + 0.15329179827876568 * K[9, i]
            + 0.00820105229563469 * K[10, i] + 0.007567897660545699 * K[11, i] - 0.008298 * K[12, i])
    fun(t + 0.1 * h, y_stage, K[13], *args)
    for i in range(n):
        y_stage[i] = y[i] + h * (0.03183464816350214 * K[0, i] + 0.028300909672366776 * K[5, i]
            + 0.053541988307438566 * K[6, i] - 0.05492374857139099 * K[7, i] - 0.00010834732869724932 * K[10, i]
            + 0.0003825710908356584 * K[11, i] - 0.00034046500868740456 * K[12, i] + 0.1413124436746325 * K[13, i])
    fun(t + 0.2 * h, y_stage, K[14], *args)
    for i in range(n):
        y_stage[i] = y[i] + h * (-0.42889630158379194 * K[0, i] - 4.697621415361164 * K[5, i]
            + 7.683421196062599 * K[6, i] + 4.06898981839711 * K[7, i] + 0.3567271874552811 * K[8, i]
            - 0.0013990241651590145 * K[12, i] + 2.9475147891527724 * K[13, i] - 9.15095847217987 * K[14, i])
    fun(t + 0.7777777777777778 * h, y_stage, K[15], *args)
    for i in range(n):
        y_diff = y_new[i] - y[i]
        bspl = h * K[0, i] - y_diff
        Q[0, i] = y[i]
        Q[1, i] = y_diff
        Q[2, i] = bspl
        Q[3, i] = y_diff - h * K[12, i] - bspl
        Q[4, i] = h * (-8.428938276109013 * K[0, i] + 0.5667149535193777 * K[5, i] - 3.0689499459498917 * K[6, i]
            + 2.38466765651207 * K[7, i] + 2.117034582445028 * K[8, i] - 0.871391583777973 * K[9, i]
            + 2.2404374302607883 * K[10, i] + 0.6315787787694688 * K[11, i] - 0.08899033645133331 * K[12, i]
            + 18.148505520854727 * K[13, i] - 9.194632392478356 * K[14, i] - 4.436036387594894 * K[15, i])
        Q[5, i] = h * (10.427508642579134 * K[0, i] + 242.28349177525817 * K[5, i] + 165.20045171727028 * K[6, i]
            - 374.5467547226902 * K[7, i] - 22.113666853125306 * K[8, i] + 7.733432668472264 * K[9, i]
            - 30.674084731089398 * K[10, i] - 9.332130526430229 * K[11, i] + 15.697238121770845 * K[12, i]
            - 31.139403219565178 * K[13, i] - 9.35292435884448 * K[14, i] + 35.81684148639408 * K[15, i])
        Q[6, i] = h * (19.985053242002433 * K[0, i] - 387.0373087493518 * K[5, i] - 189.17813819516758 * K[6, i]
            + 527.8081592054236 * K[7, i] - 11.57390253995963 * K[8, i] + 6.8812326946963 * K[9, i]
            - 1.0006050966910838 * K[10, i] + 0.7777137798053443 * K[11, i] - 2.778205752353508 * K[12, i]
            - 60.19669523126412 * K[13, i] + 84.32040550667716 * K[14, i] + 11.99229113618279 * K[15, i])
        Q[7, i] = h * (-25.69393346270375 * K[0, i] - 154.18974869023643 * K[5, i] - 231.5293791760455 * K[6, i]
            + 357.6391179106141 * K[7, i] + 93.40532418362432 * K[8, i] - 37.45832313645163 * K[9, i]
            + 104.0996495089623 * K[10, i] + 29.8402934266605 * K[11, i] - 43.53345659001114 * K[12, i]
            + 96.32455395918828 * K[13, i] - 39.17726167561544 * K[14, i] - 149.72683625798564 * K[15, i])
    return 3


@jitable(inline='always')
def dop853_interpolate(out, t_eval, first, last, t_old, h, Q):
    """:func:`..dense.interpolate`, written out (a component's Q held for all times of the step)."""
    for i in range(Q.shape[1]):
        q0, q1, q2, q3, q4, q5, q6, q7 = Q[0, i], Q[1, i], Q[2, i], Q[3, i], Q[4, i], Q[5, i], Q[6, i], Q[7, i]
        for j in range(first, last):
            theta = (t_eval[j] - t_old) / h
            theta1 = 1.0 - theta
            out[j, i] = q0 + theta * (q1 + theta1 * (q2 + theta * (q3 + theta1 * (q4 + theta * (q5 + theta1 * (q6 + theta * (q7)))))))


KERNELS = Kernels(dop853_step, dop853_error, dop853_dense, dop853_interpolate)
