"""The integrator on odd input: huge states, overflowing trial steps, a fun that changes its output, t0 == t_end.

* |y| up to 1e305: the initial step and the error norm, whose sums of
  squares overflow there, are evaluated in logarithms; checked against the
  closed form of the oscillator, against the same formulas in 50-digit
  decimal arithmetic, and by scaling a problem by powers of two;
* a trial step with non-finite values is rejected and retried with h fac1,
  as Hairer's controller shrinks a rejected step; only a step size below the
  resolution of t ends the run (Robertson's problem, scipy's DOP853 as the
  oracle);
* a Python fun's output is checked at every call, a jitted one's length too;
* a zero-length t_span returns y0, as scipy does.

Every case runs through the Python path, the compiled one and the readable
loop (``hnn_np.readable()``).
"""

import math
import warnings
from decimal import Decimal, getcontext

import numpy as np
import pytest
import scipy.integrate
from hypothesis import given
from hypothesis import strategies as st
from numba import njit

import hnn_np
from hnn_np.integrate import METHODS, solve_ivp, solve_ivp_batch
from hnn_np.integrate._compiled import KERNELS
from hnn_np.integrate.rk import error_norm, initial_step

getcontext().prec = 50
METHOD_NAMES = ["DOP853", "RK45"]


@njit(cache=True)
def spring(t, y):
    return np.array([y[1], -y[0]])


@njit(cache=True)
def robertson(t, y):
    """Robertson's chemical kinetics (Hairer & Wanner, Solving ODEs II, Section IV.1): stiff."""
    return np.array([-0.04 * y[0] + 1e4 * y[1] * y[2], 0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] ** 2,
                     3e7 * y[1] ** 2])  # fmt: skip


@njit(cache=True)
def square(t, y):
    """y' = y^2: y(t) = y0 / (1 - y0 t)."""
    return y * y


PATHS = ["python", "jitted", "readable"]  # a Python fun; a jitted one, compiled; a jitted one inside readable()


@pytest.fixture
def path(request):
    """The test runs inside ``hnn_np.readable()`` for the path "readable"."""
    with hnn_np.readable(request.param == "readable"):
        yield request.param


def funs(path):
    """(spring, robertson, square): plain Python for the path "python", else jitted."""
    return (spring.py_func, robertson.py_func, square.py_func) if path == "python" else (spring, robertson, square)


# --- huge states ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1e200, 1e305])
@pytest.mark.parametrize("path", PATHS, indirect=True)
@pytest.mark.parametrize("method", METHOD_NAMES)
def test_a_huge_state_is_integrated_to_the_closed_form(method, path, scale):
    """From (c, 0), |c| up to 1e305, the oscillator reaches c (cos 1, -sin 1); solve_ivp and the batch."""
    fun = funs(path)[0]
    y0 = np.array([scale, 0.0])
    exact = scale * np.array([math.cos(1.0), -math.sin(1.0)])
    one = solve_ivp(fun, (0.0, 1.0), y0, method=method)
    assert one.success, one.message
    np.testing.assert_allclose(one.y[:, -1], exact, rtol=1e-4)
    batch = solve_ivp_batch(fun, (0.0, 1.0), np.array([y0, -y0]), [0.0, 1.0], method=method)
    assert batch.success, batch.message
    np.testing.assert_allclose(batch.y[:, :, -1], [exact, -exact], rtol=1e-4)
    at_times = solve_ivp(fun, (0.0, 1.0), y0, method=method, t_eval=[0.0, 1.0])
    assert batch.nfev[0] == at_times.nfev and np.array_equal(batch.y[0], at_times.y)


@pytest.mark.parametrize("method", METHOD_NAMES)
@pytest.mark.parametrize("k", [-900, -300, 300, 900])
def test_scaling_a_linear_problem_and_atol_by_a_power_of_two_scales_every_step_exactly(method, k):
    """Scale-invariance: y -> 2^k y, atol -> 2^k atol gives the same steps and y 2^k, bit for bit."""
    c = 2.0**k
    y0 = np.array([0.7, -0.2])
    base = solve_ivp(spring.py_func, (0.0, 3.0), y0, method=method, rtol=1e-7, atol=1e-9, dense_output=True)
    scaled = solve_ivp(spring.py_func, (0.0, 3.0), c * y0, method=method, rtol=1e-7, atol=c * 1e-9,
                       dense_output=True)  # fmt: skip
    assert (scaled.nfev, scaled.naccepted, scaled.nrejected) == (base.nfev, base.naccepted, base.nrejected)
    np.testing.assert_array_equal(scaled.t, base.t)
    np.testing.assert_array_equal(scaled.y, c * base.y)


def decimal_norm(x, sk):
    """sqrt(sum_i (x_i / sk_i)^2) in 50-digit decimal arithmetic (no overflow)."""
    return sum((Decimal(float(a)) / Decimal(float(b))) ** 2 for a, b in zip(x, sk)).sqrt()


@given(exponent=st.integers(-300, 300), x=st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=5))
def test_log_scaled_norm_is_the_log_of_the_norm(exponent, x):
    from hnn_np.integrate.rk import log_scaled_norm

    x = np.array(x) * 10.0**exponent
    y = np.linspace(-3e100, 2.0, x.size)
    atol, rtol = np.full(x.size, 1e-6), np.full(x.size, 1e-3)
    sk = atol + rtol * np.abs(y)
    got = log_scaled_norm(x, y, y, atol, rtol)
    norm = decimal_norm(x, sk)
    if norm == 0:
        assert got == -math.inf
    else:
        assert abs(got - float(norm.ln())) <= 1e-13 * max(1.0, abs(float(norm.ln())))


@pytest.mark.parametrize("method", METHOD_NAMES)
@given(size=st.integers(150, 305), seed=st.integers(0, 10**6), h=st.floats(1e-300, 1.0))
def test_error_norm_of_overflowing_sums_is_hairers_formula_in_decimals(method, size, seed, h):
    """Stages of size 10^size: the error norm (loops and written out, bit for bit) against 50 digits."""
    tab = METHODS[method]
    rng = np.random.default_rng(seed)
    n = 3
    K = rng.normal(size=(tab.A.shape[0], n)) * 10.0**size / 20
    y, y_new = rng.normal(size=n), rng.normal(size=n)
    atol, rtol = np.full(n, 1e-6), np.full(n, 1e-3)
    sk = atol + rtol * np.maximum(np.abs(y), np.abs(y_new))
    s = tab.n_stages + 1
    e5 = [sum(float(w) * K[j, i] for j, w in enumerate(tab.E[:s]) if w != 0) for i in range(n)]  # as the code sums
    S5 = decimal_norm(e5, sk) ** 2
    if tab.E3.shape[0]:
        e3 = [sum(float(w) * K[j, i] for j, w in enumerate(tab.E3[:s]) if w != 0) for i in range(n)]
        S3 = decimal_norm(e3, sk) ** 2
        expected = Decimal(h) * S5 / (n * (S5 + Decimal("0.01") * S3)).sqrt()
    else:
        expected = Decimal(h) * (S5 / n).sqrt()
    loops = error_norm(K, y, y_new, h, tab, atol, rtol)
    assert KERNELS[method].error_norm(K, y, y_new, h, tab, atol, rtol) == loops
    if expected > Decimal("1.7e308"):
        assert loops == math.inf
    else:
        assert abs(Decimal(loops) - expected) <= Decimal("1e-12") * expected


@pytest.mark.parametrize("method", METHOD_NAMES)
@pytest.mark.parametrize("scale", [1e160, 1e200, 1e305])
def test_the_initial_step_of_a_huge_state_is_hinit_in_decimals(method, scale):
    """Hairer's HINIT for the oscillator from (c, 0), computed in 50-digit decimals."""
    tab = METHODS[method]
    y0 = np.array([scale, 0.0])
    f0 = spring.py_func(0.0, y0)
    atol, rtol = np.full(2, 1e-6), np.full(2, 1e-3)
    sk = atol + rtol * np.abs(y0)
    hmax = 1.0

    def fun(t, y, dy_dt):
        dy_dt[:] = spring.py_func(t, y)

    got = initial_step(fun, 0.0, y0, f0, 1.0, hmax, tab, atol, rtol, (), np.empty(2), np.empty(2))
    h0 = Decimal("0.01") * decimal_norm(y0, sk) / decimal_norm(f0, sk)  # d0, d1 > 1e-10 here
    f1 = spring.py_func(0.0, y0 + float(h0) * f0)  # the Euler step as the code takes it
    d2 = decimal_norm(f1 - f0, sk) / h0
    d12 = max(d2, decimal_norm(f0, sk))
    h1 = (Decimal("0.01") / d12) ** (Decimal(1) / tab.order)
    expected = min(100 * h0, h1, Decimal(hmax))
    assert abs(Decimal(got) - expected) <= Decimal("1e-12") * expected


# --- trial steps that overflow ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS, indirect=True)
@pytest.mark.parametrize("method", METHOD_NAMES)
def test_robertson_at_default_tolerances_is_solved_as_scipys_dop853_solves_it(method, path):
    """Its first trial steps overflow; rejected and shrunk, the run reaches t = 1 on the reference solution."""
    fun = funs(path)[1]
    y0 = np.array([1.0, 0.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        scipy_default = scipy.integrate.solve_ivp(robertson.py_func, (0.0, 1.0), y0, method="DOP853")
        reference = scipy.integrate.solve_ivp(robertson.py_func, (0.0, 1.0), y0, method="DOP853", rtol=1e-10,
                                              atol=1e-14)  # fmt: skip
    assert scipy_default.success and reference.success
    ours = solve_ivp(fun, (0.0, 1.0), y0, method=method)
    assert ours.success, ours.message
    scale = 1e-6 + 1e-3 * np.abs(reference.y[:, -1])  # the tolerances' sk
    assert np.all(np.abs(ours.y[:, -1] - reference.y[:, -1]) < 5 * scale)
    assert np.all(np.abs(scipy_default.y[:, -1] - reference.y[:, -1]) < 5 * scale)  # scipy's is as close
    batch = solve_ivp_batch(fun, (0.0, 1.0), y0[None], [0.0, 1.0], method=method)
    at_times = solve_ivp(fun, (0.0, 1.0), y0, method=method, t_eval=[0.0, 1.0])
    assert batch.success and batch.nfev[0] == at_times.nfev
    np.testing.assert_array_equal(batch.y[0], at_times.y)
    np.testing.assert_array_equal(at_times.y[:, -1], ours.y[:, -1])


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_a_non_finite_trial_step_is_retried_with_h_fac1(method):
    """y' = -50 y from 1, a field that is inf outside |y| <= 2 (as log or sqrt outside their domains).

    A first step of 1 takes the stages far outside; each retry is fac1 times
    the last (the largest decrease of Hairer's controller) until the stages
    stay inside. The trial step sizes are read off the times at which fun is
    called: a trial of size h from t0 = 0 calls fun last at C_last h.
    """
    tab = METHODS[method]
    calls = []

    def fun(t, y):
        calls.append(t)
        return -50.0 * y if abs(y[0]) <= 2.0 else np.array([np.inf])

    result = solve_ivp(fun, (0.0, 1.0), [1.0], method=method, first_step=1.0)
    assert result.success, result.message
    assert abs(result.y[0, -1]) < 1e-5  # exp(-50)
    last = tab.n_stages if tab.fsal_in_error else tab.n_stages - 1  # calls of fun per trial; C[last] = 1
    trials = [calls[2 + last * k + last - 1] / float(tab.C[last]) for k in range(3)]  # after check_fun, f(t0, y0)
    assert trials[0] == 1.0
    np.testing.assert_allclose(trials[1:], [tab.fac1, tab.fac1**2], rtol=1e-12)
    assert result.nsteps > result.naccepted  # the rejected trials are counted as steps


@pytest.mark.parametrize("path", PATHS, indirect=True)
@pytest.mark.parametrize("method", METHOD_NAMES)
def test_only_a_step_below_the_resolution_of_t_ends_a_run_of_non_finite_values(method, path):
    """y' = y^2 from 1 on (0, 2) blows up at t = 1: the run ends there, with the step too small, and says why."""
    fun = funs(path)[2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = solve_ivp(fun, (0.0, 2.0), [1.0], method=method, rtol=1e-8, atol=1e-8)
        batch = solve_ivp_batch(fun, (0.0, 2.0), [[1.0], [0.25]], [0.0, 0.5, 2.0], method=method)
    assert result.status == -1 and not result.success
    assert result.message.startswith("Step size too small at t = ")
    assert abs(result.t[-1] - 1.0) < 1e-6
    assert batch.status.tolist() == [-1, 0] and "Step size too small" in batch.messages[0]
    np.testing.assert_allclose(batch.y[1, 0], [0.25, 0.25 / 0.875, 0.5], rtol=1e-4)  # 0.25 / (1 - 0.25 t)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_a_fun_that_is_nan_beyond_a_time_ends_the_run_there_with_the_step_too_small(method):
    def fun(t, y):
        return np.array([np.nan]) if t > 0.5 else -y

    result = solve_ivp(fun, (0.0, 1.0), [1.0], method=method)
    assert result.status == -1
    assert "Step size too small" in result.message and "non-finite" in result.message
    assert 0.5 - 1e-12 < result.t[-1] <= 0.5
    np.testing.assert_allclose(result.y[0, -1], math.exp(-0.5), rtol=1e-4)


# --- fun's output, at every call ----------------------------------------------------------------------------------


def changes_after(n_calls, late):
    """-y for the first n_calls calls, then late(y)."""
    calls = []

    def fun(t, y):
        calls.append(t)
        return -y if len(calls) <= n_calls else late(y)

    return fun


LATE_OUTPUTS = {
    "shape (1,)": (lambda y: -y[:1], r"must return an array of the shape of y0 \(2,\); got shape \(1,\) at t = "),
    "a scalar": (lambda y: -1.0, r"must return an array of the shape of y0 \(2,\); got shape \(\) at t = "),
    "complex": (lambda y: -y + 1j, r"must return real numbers \(float or integer\); got dtype complex128"),
    "booleans": (lambda y: y > 0, r"must return real numbers \(float or integer\); got dtype bool"),
}


@pytest.mark.parametrize("late", list(LATE_OUTPUTS))
@pytest.mark.parametrize("batch", [False, True], ids=["solve_ivp", "batch"])
def test_a_python_fun_whose_output_changes_after_its_first_calls_is_refused(late, batch):
    make, match = LATE_OUTPUTS[late]
    with pytest.raises(ValueError, match=match):
        if batch:
            solve_ivp_batch(changes_after(4, make), (0.0, 1.0), [[1.0, 2.0]], [0.0, 1.0])
        else:
            solve_ivp(changes_after(4, make), (0.0, 1.0), [1.0, 2.0])


@njit(cache=True)
def shrinks_late(t, y, *args):
    """-y, then y[:1] once t > 0.5 (whatever args)."""
    return -y[:1] if t > 0.5 else -y


@pytest.mark.parametrize("readable", [False, True], ids=["compiled", "readable"])
@pytest.mark.parametrize("args", [(), (1.0,), (np.ones(3),), (np.ones((2, 2)),)],
                         ids=["no args", "a float", "a vector", "a matrix"])  # fmt: skip
def test_a_jitted_fun_that_returns_another_length_later_is_refused(args, readable):
    """Each adapter of a returning jitted fun checks the length it copies (no read past the array)."""
    with hnn_np.readable(readable), pytest.raises(ValueError, match="must return an array of the shape of y0"):
        solve_ivp(shrinks_late, (0.0, 1.0), np.array([1.0, 2.0]), args=args)
    with hnn_np.readable(readable), pytest.raises(ValueError, match="must return an array of the shape of y0"):
        solve_ivp_batch(shrinks_late, (0.0, 1.0), np.array([[1.0, 2.0]]), [0.0, 1.0], args=args)


# --- t0 == t_end ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS, indirect=True)
@pytest.mark.parametrize("method", METHOD_NAMES)
def test_a_zero_length_t_span_returns_y0_as_scipy_does(method, path):
    fun = funs(path)[0]
    y0 = np.array([1.0, -2.0])
    theirs = scipy.integrate.solve_ivp(spring.py_func, (1.5, 1.5), y0, method=method, dense_output=True)
    ours = solve_ivp(fun, (1.5, 1.5), y0, method=method, dense_output=True)
    assert ours.status == theirs.status == 0 and ours.success
    np.testing.assert_array_equal(ours.y[:, -1], theirs.y[:, -1])
    np.testing.assert_array_equal(ours.y[:, -1], y0)
    assert ours.t.tolist() == [1.5] and theirs.t.tolist() == [1.5, 1.5]  # scipy repeats t0
    times = np.array([-3.0, 1.5, 1.5 + 1e-9, 7.0])
    np.testing.assert_array_equal(ours.sol(times), theirs.sol(times))  # the constant y0
    np.testing.assert_array_equal(ours.sol(0.0), y0)
    at = solve_ivp(fun, (1.5, 1.5), y0, method=method, t_eval=[1.5])
    assert at.success and at.t.tolist() == [1.5] and at.y[:, 0].tolist() == y0.tolist()
    batch = solve_ivp_batch(fun, (1.5, 1.5), np.array([y0, 2 * y0]), [1.5], method=method)
    assert batch.success and batch.status.tolist() == [0, 0]
    np.testing.assert_array_equal(batch.y[:, :, 0], [y0, 2 * y0])
    with pytest.raises(ValueError, match="first_step"):  # as scipy: "first_step exceeds bounds"
        solve_ivp(fun, (1.5, 1.5), y0, method=method, first_step=0.1)
    with pytest.raises(ValueError, match="t_eval must lie inside t_span"):
        solve_ivp(fun, (1.5, 1.5), y0, method=method, t_eval=[1.5, 2.0])
    with pytest.raises(ValueError, match="fun"):  # fun is checked all the same
        solve_ivp(lambda t, y: y[:1], (1.5, 1.5), y0, method=method)
