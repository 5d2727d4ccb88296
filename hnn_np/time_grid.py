"""Uniform time grids: is t_j = t_0 + j dt, up to the rounding of the stamps themselves?

Measured times are stamps, rounded twice: to the decimals they were written
with, and to the float they are stored in. Neither rounding is a gap in the
data, and both grow with the size of t rather than with dt: Unix times
1.7e9 + 0.01 j in float64 are resolved to 2.4e-7 s, times up to 20 s in
float32 to 1.9e-6 s. So a step may differ from the mean step

    dt = (t[T-1] - t[0]) / (T - 1)

by the float resolution of the stamps, 4 eps max|t| with eps that of the
column's own dtype, and, when the stamps are written to q = 10**-k with
q < dt / 2 (a 30 Hz camera's 0.0333... s to three decimals), by
q T / (T - 1) for the decimals (each stamp within q / 2 of its time, dt
within q / (T - 1) of the true step). A relative spread of 1e-6 dt is allowed
on top. A missing sample, a step near 2 dt, exceeds all of these.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["uniform_step", "decimal_quantum", "RELATIVE_SPREAD"]

RELATIVE_SPREAD = 1e-6  # of dt, allowed beyond the rounding of the stamps


def uniform_step(t, dtype, where: str, row: int = 0):
    """(dt, the uncertainty of dt) of times ``t`` (T,), float64 values of a ``dtype`` column.

    ``where`` starts every error (e.g. ``"data file 'd.csv': trajectory 3"``),
    and ``row`` is the data row of ``t[0]``. Raises ``ValueError`` if the
    times do not strictly increase, if their dtype cannot resolve their step
    at their magnitude, or if a step differs from dt by more than the
    rounding of the stamps (module docstring).
    """
    t = np.asarray(t, dtype=np.float64)
    step = np.diff(t)  # (T - 1,)
    if len(t) < 3 or not np.all(step > 0):
        raise ValueError(f"{where} needs at least 3 strictly increasing times; "
                         f"row {row + int(np.argmax(step <= 0)) + 1 if len(t) > 1 else row} breaks it")
    dt = (t[-1] - t[0]) / (len(t) - 1)
    dtype = np.dtype(dtype)
    eps = np.finfo(dtype if dtype.kind == "f" else np.float64).eps
    t_max = float(np.max(np.abs(t)))
    resolution = 4 * eps * t_max
    if resolution > dt / 4:
        ulp = float(np.spacing(dtype.type(t_max))) if dtype.kind == "f" else eps * t_max
        raise ValueError(f"{where} has times up to {t_max:g}, where {dtype} resolves only {ulp:.2g}, too coarse for "
                         f"their step {dt:.3g}; store the times as float64, or counted from the first")
    q = decimal_quantum(t, dt, resolution)
    tolerance = RELATIVE_SPREAD * dt + resolution + (q * len(t) / (len(t) - 1) if q < dt / 2 else 0.0)
    worst = int(np.argmax(np.abs(step - dt)))
    if abs(step[worst] - dt) > tolerance:
        raise ValueError(f"{where} must have one constant time step; the step to data row {row + worst + 1} is "
                         f"{step[worst]:.6g}, the mean step {dt:.6g} (steps range from {step.min():g} to "
                         f"{step.max():g}; the rounding of the stamps allows {tolerance:.3g})")
    return dt, tolerance / (len(t) - 1)


def decimal_quantum(t, dt, resolution) -> float:
    """The coarsest q = 10**k <= dt of which every stamp is a multiple, within ``resolution``; 0 if none is."""
    q = 10.0 ** math.floor(math.log10(dt))
    while q > resolution:
        if np.all(np.abs(t - np.round(t / q) * q) <= resolution):
            return q
        q /= 10
    return 0.0
