"""The steps are Hairer's: accepted/rejected counts equal those of dop853.f and dopri5.f.

The reference counts in ``_ivp_problems.FORTRAN_COUNTS`` come from the Fortran
itself (built in scipy 1.11.4; how they were confirmed and how to rerun that
check is written beside the table). scipy's ``scipy.integrate.ode("dopri5")``
(a faithful C translation of dopri5.f in recent scipy, the Fortran in older
ones) is an independent oracle for RK45 on random problems; its "dop853" is
used only where it reproduces the Fortran: scipy >= 1.15's dop853 is a C
translation that changes the step after a rejection.
"""

import warnings

import numpy as np
import pytest
from _ivp_problems import ARENSTORF_T, ARENSTORF_Y0, FORTRAN_COUNTS, PROBLEMS, arenstorf, lotka_volterra, van_der_pol
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.integrate import ode

from hnn_np.integrate import solve_ivp

FORTRAN_NAME = {"DOP853": "dop853", "RK45": "dopri5"}


def hairer_fortran_counts(fun, t_span, y0, method, rtol, atol):
    """(NFCN, NSTEP, NACCPT, NREJCT) of scipy.integrate.ode's dop853/dopri5 with Hairer's defaults."""
    name = FORTRAN_NAME[method]
    defaults = {"dop853": dict(dfactor=0.333, ifactor=6.0), "dopri5": dict(dfactor=0.2, ifactor=10.0)}[name]
    solver = ode(fun).set_integrator(name, rtol=rtol, atol=atol, nsteps=10**6, **defaults)
    solver.set_initial_value(y0, t_span[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        solver.integrate(t_span[1])
    return tuple(int(c) for c in solver._integrator.iwork[16:20])


SCIPY_DOP853_SKIP = ("scipy's ode('dop853') is not Hairer's Fortran here (scipy >= 1.15 replaced dop853.f by a C "
                     "translation that shrinks a rejected step by fac1): the cross-check needs scipy 1.11.4")


def scipy_dop853_is_hairers():
    """True when this scipy's ode("dop853") reproduces the Fortran's counts."""
    expected = next(c[-1] for c in FORTRAN_COUNTS if c[:2] == ("arenstorf", "DOP853") and c[3] == 1e-6)
    got = hairer_fortran_counts(arenstorf.py_func, (0.0, ARENSTORF_T), ARENSTORF_Y0, "DOP853", 1e-6, 1e-6)
    return got == expected


@pytest.mark.parametrize(
    "problem, method, t_span, rtol, atol, options, counts",
    FORTRAN_COUNTS,
    ids=[f"{c[0]}-{c[1]}-{c[3]:g}-{'-'.join(c[5]) or 'default'}-{'back' if c[2][0] else 'fwd'}" for c in FORTRAN_COUNTS],
)
def test_counts_equal_hairers_fortran(problem, method, t_span, rtol, atol, options, counts):
    fun, y0 = PROBLEMS[problem]
    result = solve_ivp(fun.py_func, t_span, y0, method=method, rtol=rtol, atol=atol, **options)
    assert result.success
    nfcn, nstep, naccpt, nrejct = counts
    if "first_step" in options:
        nfcn -= 1  # dop853.f / dopri5.f count HINIT's evaluation even when it is skipped
    assert (result.nfev, result.nsteps, result.naccepted, result.nrejected) == (nfcn, nstep, naccpt, nrejct)


@pytest.mark.parametrize(
    "problem, method, t_span, rtol, atol, options, counts",
    FORTRAN_COUNTS,
    ids=[f"{c[0]}-{c[1]}-{c[3]:g}-{'-'.join(c[5]) or 'default'}-{'back' if c[2][0] else 'fwd'}" for c in FORTRAN_COUNTS],
)
def test_fortran_table_equals_scipys_fortran(problem, method, t_span, rtol, atol, options, counts):
    """Each row of the table against the Fortran itself, where this scipy still ships it (scipy 1.11.4)."""
    if method == "DOP853" and not scipy_dop853_is_hairers():
        pytest.skip(SCIPY_DOP853_SKIP)
    fun, y0 = PROBLEMS[problem]
    name = FORTRAN_NAME[method]
    defaults = {"dop853": dict(dfactor=0.333, ifactor=6.0), "dopri5": dict(dfactor=0.2, ifactor=10.0)}[name]
    extra = {"max_step": "max_step", "first_step": "first_step"}
    solver = ode(fun.py_func).set_integrator(name, rtol=rtol, atol=atol, nsteps=10**6, **defaults,
                                             **{extra[k]: v for k, v in options.items()})  # fmt: skip
    if not np.isscalar(atol) and not scipy_dop853_is_hairers():
        pytest.skip("this scipy's ode('dopri5') (a C translation) takes a scalar atol only; scipy 1.11.4's takes both")
    solver.set_initial_value(y0, t_span[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        solver.integrate(t_span[1])
    assert tuple(int(c) for c in solver._integrator.iwork[16:20]) == counts


def test_arenstorf_orbit_closes():
    """After one period the orbit returns to its start (Hairer, Norsett & Wanner, Fig. II.0.1)."""
    result = solve_ivp(arenstorf.py_func, (0.0, ARENSTORF_T), ARENSTORF_Y0, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result.y[:, -1], ARENSTORF_Y0, atol=2e-8)


tolerances = st.integers(min_value=3, max_value=9).map(lambda k: 10.0**-k)
ends = st.floats(0.5, 6.0) | st.floats(-6.0, -0.5)
positive_starts = st.tuples(st.floats(0.3, 3.0), st.floats(0.3, 3.0))


@given(y0=positive_starts, rtol=tolerances, atol=tolerances, t_end=ends)
@pytest.mark.parametrize("method", ["DOP853", "RK45"])
def test_counts_equal_scipys_ode_where_it_is_hairers(method, y0, rtol, atol, t_end):
    """Random Lotka-Volterra problems, forward and backward, against scipy.integrate.ode."""
    if method == "DOP853" and not scipy_dop853_is_hairers():
        pytest.skip(SCIPY_DOP853_SKIP)
    fun = lotka_volterra.py_func
    ours = solve_ivp(fun, (0.0, t_end), y0, method=method, rtol=rtol, atol=atol)
    assume(ours.success)
    fortran = hairer_fortran_counts(fun, (0.0, t_end), y0, method, rtol, atol)
    assert (ours.nfev, ours.nsteps, ours.naccepted, ours.nrejected) == fortran


def test_step_size_underflow_as_in_the_fortran():
    """Van der Pol backwards from (0, 3) blows up; dop853.f/dopri5.f stop with "step size too small"
    after (NFCN, NSTEP, NACCPT, NREJCT) = (1221, 106, 53, 53) and (698, 116, 59, 57)."""
    for method, counts in [("DOP853", (1221, 106, 53, 53)), ("RK45", (698, 116, 59, 57))]:
        result = solve_ivp(van_der_pol.py_func, (0.0, -2.0), [0.0, 3.0], method=method, rtol=1e-3, atol=1e-3)
        assert result.status == -1 and "too small" in result.message
        assert (result.nfev, result.nsteps, result.naccepted, result.nrejected) == counts


@given(y0=positive_starts, rtol=tolerances, t_end=ends, dense=st.booleans())
@pytest.mark.parametrize("method", ["DOP853", "RK45"])
def test_nfev_is_hairers_count(method, y0, rtol, t_end, dense):
    """2 at the start; DOP853: 11 per step + 1 per accepted (+ 3 with dense output); RK45: 6 per step."""
    result = solve_ivp(lotka_volterra.py_func, (0.0, t_end), y0, method=method, rtol=rtol, atol=rtol, dense_output=dense)
    if method == "DOP853":
        expected = 2 + 11 * result.nsteps + (4 if dense else 1) * result.naccepted
    else:
        expected = 2 + 6 * result.nsteps
    assert result.nfev == expected
    assert result.nsteps >= result.naccepted + result.nrejected
    assert result.t.shape == (result.naccepted + 1,)
