"""What the driver keeps of an integration: outputs at steps or at t_eval, and interpolants.

The controller (:func:`.controller.integrate`) calls :func:`record_step` after
every accepted step, with the method's interpolant (the loop of
:mod:`.dense` or the same written out); it copies with plain loops, which
Numba compiles fast. :func:`new_record` makes the buffers before a run; the
outputs at t_eval go straight into the caller's array. :func:`grow`, called
rarely, never calls ``fun``, so it can use NumPy's array assignments, slow as
those are to compile.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from .jitable import jitable

from .rk import set_row

__all__ = ["Record", "new_record", "record_step", "grow"]


class Record(NamedTuple):
    """Output buffers of one integration (rows beyond ``n`` / ``n_dense`` are unused).

    Attributes
    ----------
    t : ndarray, shape (capacity,)
        Output times: t_eval, or t0 and every accepted step.
    y : ndarray, shape (capacity, n)
    n : int
        Rows of t and y filled.
    dense_t, dense_h : ndarray, shape (capacity_d,)
        Start and (signed) size of each accepted step, when dense output is kept.
    dense_Q : ndarray, shape (capacity_d, 4 + R, n)
        The interpolant coefficients of each accepted step.
    n_dense : int
    """

    t: np.ndarray
    y: np.ndarray
    n: int
    dense_t: np.ndarray
    dense_h: np.ndarray
    dense_Q: np.ndarray
    n_dense: int


@jitable(cache=True)
def grow(buffer):
    """A buffer with twice as many rows whose first rows are a copy of ``buffer``."""
    bigger = np.empty((2 * buffer.shape[0],) + buffer.shape[1:])
    bigger[: buffer.shape[0]] = buffer
    return bigger


@jitable
def new_record(t0, y0, t_eval, y_eval, n_coefficients, dense):
    """Empty buffers; without t_eval the first output is (t0, y0).

    Parameters
    ----------
    t0 : float
    y0 : ndarray, shape (n,)
    t_eval : ndarray, shape (m,)
        Empty: output every accepted step.
    y_eval : ndarray, shape (m, n)
        Where the outputs at t_eval go (unused when t_eval is empty).
    n_coefficients : int
        Rows 4 + R of an interpolant.
    dense : bool
        Keep the interpolant of every accepted step.
    """
    n = y0.shape[0]
    capacity_d = 64 if dense else 1
    dense_t = np.empty(capacity_d)
    dense_h = np.empty(capacity_d)
    dense_Q = np.empty((capacity_d, n_coefficients, n))
    if t_eval.shape[0] > 0:
        return Record(t_eval, y_eval, 0, dense_t, dense_h, dense_Q, 0)
    t_out = np.empty(64)
    y_out = np.empty((64, n))
    t_out[0] = t0
    y_out[0] = y0
    return Record(t_out, y_out, 1, dense_t, dense_h, dense_Q, 0)


@jitable(inline="always")  # inlined into the controller: its arguments are some 60 words
def record_step(record, t_eval, t_old, t, h, y, Q, dense, interpolate):
    """Record the accepted step from t_old to t = t_old + h that ended at y.

    With dense output its interpolant Q is kept; with t_eval the values at
    the t_eval times in (t_old, t] (t_old too, for the first step) are read off
    Q; otherwise (t, y) is appended.

    Parameters
    ----------
    record : Record
    t_eval : ndarray, shape (m,)
    t_old, t, h : float
    y : ndarray, shape (n,)
    Q : ndarray, shape (4 + R, n)
        The step's interpolant (unused unless ``dense`` or t_eval).
    dense : bool
    interpolate : callable
        :func:`.dense.interpolate`, or the same written out.

    Returns
    -------
    Record
    """
    t_out, y_out, n_out = record.t, record.y, record.n
    dense_t, dense_h, dense_Q, n_dense = record.dense_t, record.dense_h, record.dense_Q, record.n_dense
    if dense:
        if n_dense == dense_t.shape[0]:
            dense_t, dense_h, dense_Q = grow(dense_t), grow(dense_h), grow(dense_Q)
        dense_t[n_dense] = t_old
        dense_h[n_dense] = h
        for r in range(Q.shape[0]):
            for i in range(Q.shape[1]):
                dense_Q[n_dense, r, i] = Q[r, i]
        n_dense += 1
    if t_eval.shape[0] > 0:
        direction = 1.0 if h > 0 else -1.0
        first = n_out
        while n_out < t_eval.shape[0] and (t_eval[n_out] - t) * direction <= 0.0:
            n_out += 1
        interpolate(y_out, t_eval, first, n_out, t_old, h, Q)  # dense.dense_eval at each time
    else:
        if n_out == t_out.shape[0]:
            t_out, y_out = grow(t_out), grow(y_out)
        t_out[n_out] = t
        set_row(y_out, n_out, y)
        n_out += 1
    return Record(t_out, y_out, n_out, dense_t, dense_h, dense_Q, n_dense)
