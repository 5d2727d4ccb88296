"""Dense output: the continuous extension of an accepted step and its evaluation.

On an accepted step [t, t + h] Hairer's codes build coefficients Q (8 rows for
DOP853, order 7; 5 rows for RK45, order 4, Shampine's) and evaluate

    y(t + theta h) = Q_0 + theta (Q_1 + (1 - theta) (Q_2 + theta (Q_3
                     + (1 - theta) (Q_4 + theta (Q_5 + ...))))),

the factors alternating theta, 1 - theta (dop853.f's CONTD8, dopri5.f's
CONTD5). :func:`dense_eval` is the compiled-friendly version for one time;
:func:`dense_eval_many` is its NumPy twin for many times at once (same
operations in the same order, so the same numbers).
"""

from __future__ import annotations

from .jitable import jitable

from .rk import stage_state

__all__ = ["dense_coefficients", "dense_eval", "interpolate", "dense_eval_many"]


@jitable
def dense_coefficients(fun, t, y, y_new, h, K, y_stage, Q, tab, args):
    """Coefficients Q of the continuous extension on an accepted step [t, t + h].

        Q_0 = y,    Q_1 = y_new - y,    Q_2 = h k_0 - Q_1,
        Q_3 = Q_1 - h k_s - Q_2,        Q_{4+r} = h sum_j D_rj k_j,

    (dop853.f, labels 62 and 63; dopri5.f, labels 40 and 43), evaluated by
    :func:`dense_eval`. First computes the extra stages s+1 .. S-1 (DOP853's
    14, 15, 16) from the same A and C.

    Parameters
    ----------
    fun : callable
        ``fun(t, y, dy_dt, *args)``, writing into dy_dt (see :func:`.rk.rk_step`).
    t, h : float
    y, y_new : ndarray, shape (n,)
    K : ndarray, shape (S, n)
        Stages 0..s of the step (k_0 = f(t, y), k_s = f(t + h, y_new)); the
        dense stages are written into rows s+1 .. S-1.
    y_stage : ndarray, shape (n,)
        Work array for the stage states.
    Q : ndarray, shape (4 + R, n)
        Output.
    tab : Tableau
    args : tuple

    Returns
    -------
    n_evals : int
        Calls of ``fun`` made (S - s - 1).
    """
    n_ext = tab.A.shape[0]
    s = tab.n_stages
    for i in range(s + 1, n_ext):
        stage_state(y_stage, y, h, tab.A, i, K, i)
        fun(t + tab.C[i] * h, y_stage, K[i], *args)  # k_i, written into K[i]
    for i in range(y.shape[0]):
        y_diff = y_new[i] - y[i]
        bspl = h * K[0, i] - y_diff
        Q[0, i] = y[i]
        Q[1, i] = y_diff
        Q[2, i] = bspl
        Q[3, i] = y_diff - h * K[s, i] - bspl
        for r in range(tab.D.shape[0]):  # h sum_j D[r, j] k_j (stage_sum of the row, without a view)
            total = 0.0
            for j in range(n_ext):
                if tab.D[r, j] != 0.0:
                    total += tab.D[r, j] * K[j, i]
            Q[4 + r, i] = h * total
    return n_ext - s - 1


@jitable
def dense_eval(out, row, Q, theta):
    """The interpolant at t + theta h, in Hairer's nested form (CONTD8, CONTD5).

        y(theta) = Q_0 + theta (Q_1 + (1 - theta) (Q_2 + theta (Q_3
                   + (1 - theta) (Q_4 + theta (Q_5 + ...)))))

    (the factors alternate theta, 1 - theta).

    Parameters
    ----------
    out : ndarray, shape (m, n)
        Output: written into the row out[row, :].
    row : int
    Q : ndarray, shape (4 + R, n)
    theta : float
        (t - t_step) / h, in [0, 1] inside the step.
    """
    theta1 = 1.0 - theta
    last = Q.shape[0] - 1
    for i in range(Q.shape[1]):
        value = Q[last, i]
        for r in range(last - 1, -1, -1):
            value = Q[r, i] + (theta if r % 2 == 0 else theta1) * value
        out[row, i] = value


@jitable
def interpolate(out, t_eval, first, last, t_old, h, Q):
    """out[j] = the interpolant Q of the step [t_old, t_old + h] at t_eval[j], for first <= j < last.

    :func:`dense_eval` at ``theta = (t_eval[j] - t_old) / h`` for each j. (Outside
    ``hnn_np.readable()`` the same arithmetic runs written out for each method:
    ``_compiled/dop853_kernels.py``, ``_compiled/rk45_kernels.py``.)
    """
    for j in range(first, last):
        dense_eval(out, j, Q, (t_eval[j] - t_old) / h)


def dense_eval_many(Q, theta):
    """:func:`dense_eval` for m times at once, each in its own step.

    Parameters
    ----------
    Q : ndarray, shape (m, 4 + R, n)
        The coefficients of the step that holds each time.
    theta : ndarray, shape (m,)

    Returns
    -------
    y : ndarray, shape (n, m)
    """
    theta = theta[:, None]  # (m, 1)
    last = Q.shape[1] - 1
    value = Q[:, last]  # (m, n)
    for r in range(last - 1, -1, -1):
        value = Q[:, r] + (theta if r % 2 == 0 else 1.0 - theta) * value
    return value.T
