"""Writes dop853_kernels.py and rk45_kernels.py: the step of each method written out from its tableau.

Run ``python -m hnn_np.integrate._compiled.write_kernels`` after a change to
a tableau or to this generator; ``tests/integrate/test_written_out_kernels.py``
regenerates the text and compares it with the committed files.

Why written out. :mod:`..rk` and :mod:`..dense` compute every stage as a loop
over a row of the tableau: read the coefficient, test it for zero, add its
term. That is the version to read; compiled, it costs more than the arithmetic
it does (a DOP853 step of a small system is some 400 loop iterations with a
load, a test and a branch each). Hairer's Fortran writes every stage out with
its nonzero coefficients as constants, and so do the written files, for
example DOP853's stage 3 (0-based)::

    for i in range(n):
        y_stage[i] = y[i] + h * (0.02958758547680685 * K[0, i] + 0.08876275643042054 * K[2, i])
    fun(t + 0.1183503419072274 * h, y_stage, K[3], *args)

Every coefficient is printed by ``repr``, which round-trips a float exactly,
and the terms of each sum come in the order j = 0, 1, ... as in the loops, so
the results are bit for bit those of :mod:`..rk` and :mod:`..dense` (a test
holds them equal). Each file defines, for its method ``m``::

    m_step(fun, t, y, h, K, y_stage, y_new, tab, args) -> n_evals        as rk.rk_step
    m_error(K, y, y_new, h, tab, atol, rtol) -> err                      as rk.error_norm
    m_dense(fun, t, y, y_new, h, K, y_stage, Q, tab, args) -> n_evals    as dense.dense_coefficients
    m_interpolate(out, t_eval, first, last, t_old, h, Q)                 as dense.interpolate

and ``KERNELS``, the four as a :class:`..controller.Kernels`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..dop853_coefficients import DOP853
from ..rk45_coefficients import RK45

__all__ = ["METHODS", "kernels_source", "path_of", "main"]

METHODS = {"dop853": DOP853, "rk45": RK45}  # file stem -> tableau
WIDTH = 116  # longest line written


def _sum(weights, n_terms) -> list[str]:
    """The terms ``w_0 * K[0, i]``, ``+ w_1 * K[1, i]``, ... of the nonzero w_j, j < n_terms, signs as operators."""
    terms = []
    for j, w in enumerate(weights[:n_terms]):
        if w != 0.0:  # a + (-c) k and a - c k round the same: the sign printed as an operator
            sign = ("-" if w < 0 else "") if not terms else ("- " if w < 0 else "+ ")
            terms.append(f"{sign}{abs(float(w))!r} * K[{j}, i]")
    return terms or ["0.0"]


def _wrapped(head: str, terms: list[str], tail: str, indent: str) -> list[str]:
    """``head + (term term ...) + tail`` in lines of at most WIDTH characters, continued inside the parenthesis."""
    lines, line = [], indent + head + "("
    for term in terms:
        piece = term if line.endswith("(") else " " + term
        if len(line) + len(piece) > WIDTH:
            lines.append(line)
            line, piece = indent + "    ", term
        line += piece
    return lines + [line + ")" + tail]


def _stages(tab, first, last) -> list[str]:
    """Stages first .. last-1: the stage state, then k_i = f(t + C_i h, y_stage) into K[i]."""
    lines = []
    for row in range(first, last):
        lines += ["    for i in range(n):"]
        lines += _wrapped("y_stage[i] = y[i] + h * ", _sum(tab.A[row], row), "", "        ")
        lines += [f"    fun(t + {float(tab.C[row])!r} * h, y_stage, K[{row}], *args)"]
    return lines


def _step(tab, name) -> list[str]:
    s = tab.n_stages
    lines = ["@jitable(inline='always')", f"def {name}_step(fun, t, y, h, K, y_stage, y_new, tab, args):",
             '    """:func:`..rk.rk_step`, written out."""', "    n = y.shape[0]"]  # fmt: skip
    lines += _stages(tab, 1, s)
    lines += ["    for i in range(n):"] + _wrapped("y_new[i] = y[i] + h * ", _sum(tab.A[s], s), "", "        ")
    if tab.fsal_in_error:
        return lines + [f"    fun(t + h, y_new, K[{s}], *args)", f"    return {s}"]
    return lines + [f"    return {s - 1}"]


def _error(tab, name) -> list[str]:
    s = tab.n_stages
    two = tab.E3.shape[0] > 0
    lines = ["@jitable(inline='always')", f"def {name}_error(K, y, y_new, h, tab, atol, rtol):",
             '    """:func:`..rk.error_norm`, written out."""', "    n = y.shape[0]", "    s5 = 0.0", "    s3 = 0.0",
             "    for i in range(n):", "        sk = atol[i] + rtol[i] * max(abs(y[i]), abs(y_new[i]))"]  # fmt: skip
    if two:
        lines += _wrapped("e3 = ", _sum(tab.E3, s + 1), " / sk", "        ") + ["        s3 += e3 * e3"]
        lines += _wrapped("e5 = ", _sum(tab.E, s + 1), " / sk", "        ")
    else:
        lines += _wrapped("e5 = h * ", _sum(tab.E, s + 1), " / sk", "        ")
    return lines + ["        s5 += e5 * e5", "    if not s5 + s3 < math.inf:  # a square overflowed, or a stage is not finite",
                    "        return error_norm_in_logs(K, y, y_new, h, tab, atol, rtol)",
                    f"    return error_from_sums(s5, s3, h, n, {two})"]  # fmt: skip


def _dense(tab, name) -> list[str]:
    s, n_ext = tab.n_stages, tab.A.shape[0]
    lines = ["@jitable(inline='always')", f"def {name}_dense(fun, t, y, y_new, h, K, y_stage, Q, tab, args):",
             '    """:func:`..dense.dense_coefficients`, written out."""', "    n = y.shape[0]"]  # fmt: skip
    lines += _stages(tab, s + 1, n_ext)
    lines += ["    for i in range(n):", "        y_diff = y_new[i] - y[i]", "        bspl = h * K[0, i] - y_diff",
              "        Q[0, i] = y[i]", "        Q[1, i] = y_diff", "        Q[2, i] = bspl",
              f"        Q[3, i] = y_diff - h * K[{s}, i] - bspl"]  # fmt: skip
    for r in range(tab.D.shape[0]):
        lines += _wrapped(f"Q[{4 + r}, i] = h * ", _sum(tab.D[r], n_ext), "", "        ")
    return lines + [f"    return {n_ext - s - 1}"]


def _interpolate(tab, name) -> list[str]:
    rows = 4 + tab.D.shape[0]
    nested = f"q{rows - 1}"
    for r in range(rows - 2, -1, -1):  # innermost first, the factors alternating theta, 1 - theta
        nested = f"q{r} + {'theta' if r % 2 == 0 else 'theta1'} * ({nested})"
    return ["@jitable(inline='always')", f"def {name}_interpolate(out, t_eval, first, last, t_old, h, Q):",
            '    """:func:`..dense.interpolate`, written out (a component\'s Q held for all times of the step)."""',
            "    for i in range(Q.shape[1]):",
            "        " + ", ".join(f"q{r}" for r in range(rows)) + " = " + ", ".join(f"Q[{r}, i]" for r in range(rows)),
            "        for j in range(first, last):", "            theta = (t_eval[j] - t_old) / h",
            "            theta1 = 1.0 - theta", f"            out[j, i] = {nested}"]  # fmt: skip


def kernels_source(stem: str) -> str:
    """The text of ``{stem}_kernels.py`` (``stem`` a key of :data:`METHODS`)."""
    tab = METHODS[stem]
    title = {"dop853": "DOP853", "rk45": "RK45 (DOPRI5)"}[stem]
    head = [f'"""The step, error, dense output and interpolant of {title}, written out from its tableau.',
            "", "Written by ``python -m hnn_np.integrate._compiled.write_kernels`` (:mod:`.write_kernels`",
            "says why and how); do not edit: a test regenerates this file and compares.", '"""', "",
            "import math", "", "from ..controller import Kernels", "from ..jitable import jitable",
            "from ..rk import error_from_sums, error_norm_in_logs", "",
            f'__all__ = ["{stem}_step", "{stem}_error", "{stem}_dense", "{stem}_interpolate", "KERNELS"]']  # fmt: skip
    body = []
    for part in (_step, _error, _dense, _interpolate):
        body += ["", ""] + part(tab, stem)
    tail = ["", "", f"KERNELS = Kernels({stem}_step, {stem}_error, {stem}_dense, {stem}_interpolate)"]
    return "\n".join(head + body + tail) + "\n"


def path_of(stem: str) -> Path:
    return Path(__file__).with_name(f"{stem}_kernels.py")


def main() -> None:
    for stem in METHODS:
        path_of(stem).write_text(kernels_source(stem))
        print(f"written {path_of(stem)}", file=sys.stderr)


if __name__ == "__main__":
    main()
