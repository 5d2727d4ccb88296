"""The step of DOP853 and of RK45 written out term by term, generated from the tableau.

:mod:`.rk` and :mod:`.dense` compute every stage as a loop over a row of the
tableau: read the coefficient, test it for zero, add its term. That is the
version to read, but compiled it costs more than the arithmetic it does: a
DOP853 step of a small system is some 400 loop iterations with a load, a test
and a branch each. Hairer's Fortran instead writes every stage out with its
nonzero coefficients as constants. So does the driver here, with code
generated from the tableau at import (the numbers are typed in once, in the
coefficient modules). For one tableau :func:`step_source` writes::

    {name}_step(fun, t, y, h, K, y_stage, y_new, tab, args) -> n_evals   as rk.rk_step
    {name}_error(K, y, y_new, h, tab, atol, rtol) -> err                 as rk.error_norm
    {name}_dense(fun, t, y, y_new, h, K, y_stage, Q, tab, args) -> n_evals
                                                                    as dense.dense_coefficients
    {name}_interpolate(out, t_eval, first, last, t_old, h, Q)        as dense.dense_eval, at many times

for example DOP853's stage 3 (0-based)::

    for i in range(n):
        y_stage[i] = y[i] + h * (0.02958758547680685 * K[0, i] + 0.08876275643042054 * K[2, i])
    fun(t + 0.1183503419072274 * h, y_stage, K[3], *args)

Every coefficient is printed by ``repr``, which round-trips a float exactly,
and the terms of each sum come in the order j = 0, 1, ... as in the loops, so
the results are bit for bit those of :mod:`.rk` (a test holds them equal).
``print(step_source(DOP853, "dop853"))`` shows the code the compiler sees.
With every coefficient a constant and every stage in one straight block, the
compiler keeps the stages of a small system in registers: the compiled
integration runs several times faster than with the loops (see
``benchmarks/README.md``).

They take the arguments of the loops they replace (``tab`` read only by the error's
fallback for overflowing sums, :func:`..rk.error_norm_in_logs`), so that
:mod:`.driver` compiles one driver per method with them in place of
:func:`..rk.rk_step`, :func:`..rk.error_norm`,
:func:`..dense.dense_coefficients` and :func:`..dense.interpolate`
(:data:`KERNELS`), inlined: the compiled code then holds only the method it
runs. :data:`INTERPRETED` holds the same controller with the written-out
kernels as plain Python (what a Python ``fun`` runs: the same numbers,
several times faster than the loops). :func:`step`, :func:`error`,
:func:`dense` and :func:`interpolate` dispatch on ``tab.key`` (1: DOP853,
2: RK45) or on the rows of the interpolant (8 or 5). Like :mod:`..rk`,
everything here is marked ``jitable``: compiled with its caller, or run as
plain Python.
"""

from __future__ import annotations

import math
import types

from .. import controller
from ..dense import dense_eval
from ..dop853_coefficients import DOP853
from ..jitable import jitable
from ..record import record_step
from ..rk import error_from_sums, error_norm_in_logs
from ..rk45_coefficients import RK45

__all__ = ["step_source", "step", "error", "dense", "interpolate", "KERNELS", "with_globals", "INTERPRETED"]


def _written_out(weights, n_terms) -> str:
    """``w_0 * K[0, i] + w_1 * K[1, i] + ...`` over the nonzero w_j, j < n_terms."""
    text = ""
    for j, w in enumerate(weights[:n_terms]):
        if w != 0.0:  # a + (-c) k and a - c k round the same: print the sign as an operator
            sign = ("-" if w < 0 else "") if not text else (" - " if w < 0 else " + ")
            text += f"{sign}{abs(float(w))!r} * K[{j}, i]"
    return text or "0.0"


def _stages(tab, first, last):
    """Stages first .. last-1: the stage state, then k_i = f(t + C_i h, y_stage) into K[i]."""
    lines = []
    for row in range(first, last):
        lines += [
            "    for i in range(n):",
            f"        y_stage[i] = y[i] + h * ({_written_out(tab.A[row], row)})",
            f"    fun(t + {float(tab.C[row])!r} * h, y_stage, K[{row}], *args)",
        ]  # fmt: skip
    return lines


def step_source(tab, name) -> str:
    """Python source of ``{name}_step``, ``{name}_error`` and ``{name}_dense`` for ``tab``."""
    s, n_ext = tab.n_stages, tab.A.shape[0]
    two = tab.E3.shape[0] > 0
    lines = [f"def {name}_step(fun, t, y, h, K, y_stage, y_new, tab, args):", "    n = y.shape[0]"]
    lines += _stages(tab, 1, s)
    lines += ["    for i in range(n):", f"        y_new[i] = y[i] + h * ({_written_out(tab.A[s], s)})"]
    if tab.fsal_in_error:
        lines += [f"    fun(t + h, y_new, K[{s}], *args)", f"    return {s}"]
    else:
        lines += [f"    return {s - 1}"]

    lines += ["", "", f"def {name}_error(K, y, y_new, h, tab, atol, rtol):", "    n = y.shape[0]", "    s5 = 0.0",
              "    s3 = 0.0", "    for i in range(n):",
              "        sk = atol[i] + rtol[i] * max(abs(y[i]), abs(y_new[i]))"]  # fmt: skip
    if two:
        lines += [f"        e3 = ({_written_out(tab.E3, s + 1)}) / sk", "        s3 += e3 * e3",
                  f"        e5 = ({_written_out(tab.E, s + 1)}) / sk"]  # fmt: skip
    else:
        lines += [f"        e5 = h * ({_written_out(tab.E, s + 1)}) / sk"]
    lines += ["        s5 += e5 * e5", "    if not s5 + s3 < math.inf:",
              "        return error_norm_in_logs(K, y, y_new, h, tab, atol, rtol)",
              f"    return error_from_sums(s5, s3, h, n, {two})"]  # fmt: skip

    lines += ["", "", f"def {name}_dense(fun, t, y, y_new, h, K, y_stage, Q, tab, args):", "    n = y.shape[0]"]
    lines += _stages(tab, s + 1, n_ext)
    lines += ["    for i in range(n):", "        y_diff = y_new[i] - y[i]", "        bspl = h * K[0, i] - y_diff",
              "        Q[0, i] = y[i]", "        Q[1, i] = y_diff", "        Q[2, i] = bspl",
              f"        Q[3, i] = y_diff - h * K[{s}, i] - bspl"]  # fmt: skip
    lines += [f"        Q[{4 + r}, i] = h * ({_written_out(tab.D[r], n_ext)})" for r in range(tab.D.shape[0])]
    lines += [f"    return {n_ext - s - 1}", ""]

    rows = 4 + tab.D.shape[0]
    nested = f"q{rows - 1}"
    for r in range(rows - 2, -1, -1):  # innermost first, the factors alternating theta, 1 - theta
        nested = f"q{r} + {'theta' if r % 2 == 0 else 'theta1'} * ({nested})"
    lines += ["", f"def {name}_interpolate(out, t_eval, first, last, t_old, h, Q):", "    for i in range(Q.shape[1]):",
              "        " + ", ".join(f"q{r}" for r in range(rows)) + " = " + ", ".join(f"Q[{r}, i]" for r in range(rows)),
              "        for j in range(first, last):", "            theta = (t_eval[j] - t_old) / h",
              "            theta1 = 1.0 - theta", f"            out[j, i] = {nested}", ""]  # fmt: skip
    return "\n".join(lines)


def _compile(tab, name):
    """Run the generated source; its four functions, marked jitable."""
    namespace = {"error_from_sums": error_from_sums, "error_norm_in_logs": error_norm_in_logs, "math": math}
    exec(compile(step_source(tab, name), f"<hnn_np.integrate._compiled.unrolled: {name}>", "exec"), namespace)  # noqa: S102
    parts = ("step", "error", "dense", "interpolate")
    return tuple(jitable(namespace[f"{name}_{part}"]) for part in parts)


dop853_step, dop853_error, dop853_dense, dop853_interpolate = _compile(DOP853, "dop853")
rk45_step, rk45_error, rk45_dense, rk45_interpolate = _compile(RK45, "rk45")
KERNELS = {  # tab.key -> the written-out step, error, dense output and interpolant of that method, by the loops' names
    DOP853.key: dict(rk_step=dop853_step, error_norm=dop853_error, dense_coefficients=dop853_dense,
                     interpolate=dop853_interpolate),
    RK45.key: dict(rk_step=rk45_step, error_norm=rk45_error, dense_coefficients=rk45_dense,
                   interpolate=rk45_interpolate),
}  # fmt: skip
DOP853_ROWS = 4 + DOP853.D.shape[0]  # rows of an interpolant: 8 (DOP853), 5 (RK45)
RK45_ROWS = 4 + RK45.D.shape[0]


@jitable
def step(fun, t, y, h, K, y_stage, y_new, tab, args):
    """:func:`.rk.rk_step` of DOP853 (``tab.key == 1``) or RK45, written out."""
    if tab.key == 1:
        return dop853_step(fun, t, y, h, K, y_stage, y_new, tab, args)
    return rk45_step(fun, t, y, h, K, y_stage, y_new, tab, args)


@jitable
def error(K, y, y_new, h, tab, atol, rtol):
    """:func:`.rk.error_norm` of DOP853 (``tab.key == 1``) or RK45, written out."""
    if tab.key == 1:
        return dop853_error(K, y, y_new, h, tab, atol, rtol)
    return rk45_error(K, y, y_new, h, tab, atol, rtol)


@jitable
def dense(fun, t, y, y_new, h, K, y_stage, Q, tab, args):
    """:func:`.dense.dense_coefficients` of DOP853 (``tab.key == 1``) or RK45, written out."""
    if tab.key == 1:
        return dop853_dense(fun, t, y, y_new, h, K, y_stage, Q, tab, args)
    return rk45_dense(fun, t, y, y_new, h, K, y_stage, Q, tab, args)


@jitable
def interpolate(out, t_eval, first, last, t_old, h, Q):
    """out[j] = the interpolant Q of the step [t_old, t_old + h] at t_eval[j], for first <= j < last.

    :func:`.dense.dense_eval` at ``theta = (t_eval[j] - t_old) / h`` for each j,
    written out for the interpolants of DOP853 and RK45 (told apart by their
    rows), with the coefficients of each component held in local variables
    while all the times of the step are evaluated (several times faster).
    """
    if Q.shape[0] == DOP853_ROWS:
        dop853_interpolate(out, t_eval, first, last, t_old, h, Q)
    elif Q.shape[0] == RK45_ROWS:
        rk45_interpolate(out, t_eval, first, last, t_old, h, Q)
    else:
        for j in range(first, last):
            dense_eval(out, j, Q, (t_eval[j] - t_old) / h)


def with_globals(function, **names):
    """A copy of ``function`` whose globals ``names`` are replaced (same code, same file, same line)."""
    namespace = {**function.__globals__, **names}
    return types.FunctionType(function.__code__, namespace, function.__name__, function.__defaults__,
                              function.__closure__)  # fmt: skip


def _controller(kernels, key):
    """:func:`..controller.integrate` of one method with its written-out kernels, as plain Python."""
    record = with_globals(record_step, interpolate=kernels["interpolate"])
    return with_globals(controller.integrate, rk_step=kernels["rk_step"], error_norm=kernels["error_norm"],
                        dense_coefficients=kernels["dense_coefficients"], record_step=record)  # fmt: skip


INTERPRETED = {key: _controller(kernels, key) for key, kernels in KERNELS.items()}  # tab.key -> integrate
