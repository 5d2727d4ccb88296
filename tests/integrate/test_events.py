"""Events with scipy's interface: zeros against closed forms, against scipy, on the dense output, in every path.

* the harmonic oscillator q = cos t crosses zero at pi/2 + k pi: every zero,
  the upward ones only (``direction``), the run ended at the k-th
  (``terminal`` = k, scipy's status 1), forwards and backwards;
* a falling body, y = h0 - g t^2 / 2, hits the ground at sqrt(2 h0 / g): a
  quadratic, which both methods integrate to round-off;
* random linear systems with random linear event functions, against
  scipy's DOP853 (which takes other steps: equal to the tolerance);
* each zero is a zero of the event function on the interpolant, to round-off;
* the same zeros, to the bit, from a Python fun, a jitted one compiled, and
  inside ``hnn_np.readable()``; solve_ivp_batch gives each trajectory's own;
* an event that never changes sign changes no step.
"""

import math

import numpy as np
import pytest
import scipy.integrate
from numba import njit

import hnn_np
from hnn_np.integrate import solve_ivp, solve_ivp_batch

METHODS = ["DOP853", "RK45"]
PATHS = ["python", "jitted", "readable"]
GRAVITY = 9.81


@njit(cache=True)
def oscillator(t, y):
    return np.array([y[1], -y[0]])


@njit(cache=True)
def oscillator_into(t, y, dy_dt):
    dy_dt[0] = y[1]
    dy_dt[1] = -y[0]


@njit(cache=True)
def position(t, y):
    return y[0]


@njit(cache=True)
def falling(t, y, g):
    return np.array([y[1], -g])


@njit(cache=True)
def height(t, y, g):
    return y[0]


@njit(cache=True)
def speed_five(t, y, g):
    return y[1] + 5.0


def with_attributes(function, **attributes):
    """A fresh copy of an event function (a jitted one stays jitted) with the attributes of scipy's events."""
    if hasattr(function, "py_func"):
        function = njit(cache=True)(function.py_func)
    else:
        original = function

        def function(*a):
            return original(*a)

    for name, value in attributes.items():
        setattr(function, name, value)
    return function


def run(path, fun, *call, events, **options):
    """solve_ivp in ``path``: plain Python functions, jitted ones, or jitted ones inside readable()."""
    if path == "python":
        fun = fun.py_func
        events = [with_attributes(g.py_func, **{k: getattr(g, k) for k in ("terminal", "direction") if hasattr(g, k)})
                  for g in events]  # fmt: skip
    with hnn_np.readable(path == "readable"):
        return solve_ivp(fun, *call, events=events, **options)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("backwards", [False, True])
def test_the_oscillator_crosses_zero_at_pi_2_plus_k_pi(path, method, backwards):
    t_span = (20.0, 0.0) if backwards else (0.0, 20.0)
    y0 = np.array([math.cos(t_span[0]), -math.sin(t_span[0])])
    up = with_attributes(position, direction=1.0)
    third = with_attributes(position, terminal=3)
    options = dict(method=method, rtol=1e-10, atol=1e-10)
    every = run(path, oscillator, t_span, y0, events=[position, up], **options)
    zeros = np.pi / 2 + np.pi * np.arange(6)  # in [0, 20]
    expected = zeros[::-1] if backwards else zeros
    assert every.status == 0 and every.success and len(every.t_events) == 2
    np.testing.assert_allclose(every.t_events[0], expected, atol=1e-7)
    rising = zeros[1::2]  # q = cos t rises through 0 at 3 pi / 2 + 2 k pi (forwards in time)
    np.testing.assert_allclose(every.t_events[1], (zeros[::2])[::-1] if backwards else rising, atol=1e-7)
    assert every.y_events[0].shape == (6, 2)
    np.testing.assert_allclose(every.y_events[0][:, 1], -np.sin(expected), atol=1e-7)

    ended = run(path, oscillator, t_span, y0, events=[third], t_eval=np.linspace(*t_span, 41), **options)
    assert ended.status == 1 and ended.success and ended.message == "A termination event occurred."
    np.testing.assert_allclose(ended.t_events[0], expected[:3], atol=1e-7)
    assert (t_span[1] - ended.t[-1]) * (t_span[1] - t_span[0]) > 0  # outputs stop before the third zero
    assert np.all((ended.t - ended.t_events[0][-1]) * (t_span[1] - t_span[0]) <= 0)
    steps = run(path, oscillator, t_span, y0, events=[third], **options)  # outputs at every step: the last is the zero
    assert steps.t[-1] == steps.t_events[0][-1]
    np.testing.assert_array_equal(steps.y[:, -1], steps.y_events[0][-1])


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", METHODS)
def test_a_falling_body_hits_the_ground_at_sqrt_2_h0_over_g(path, method):
    h0 = 20.0
    ground = with_attributes(height, terminal=True, direction=-1)
    result = run(path, falling, (0.0, 10.0), np.array([h0, 0.0]), events=[speed_five, ground], args=(GRAVITY,),
                 method=method, rtol=1e-6, atol=1e-6)  # fmt: skip
    assert result.status == 1
    t_ground = math.sqrt(2 * h0 / GRAVITY)
    assert result.t_events[1] == pytest.approx([t_ground], rel=1e-13)
    assert result.t_events[0] == pytest.approx([5.0 / GRAVITY], rel=1e-13)  # speed 5 before the ground
    assert result.y_events[1][0] == pytest.approx([0.0, -GRAVITY * t_ground], abs=1e-12)
    assert result.t[-1] == result.t_events[1][0]


def damped_rotation(seed):
    """A random linear system y' = M y (3 components, decaying, rotating) and a random event c . y + d."""
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(3, 3))
    M = M - M.T - 0.1 * np.eye(3)  # skew part rotates, -0.1 I decays
    c, d = rng.normal(size=3), 0.02 * rng.normal()  # c . y rotates around 0: it has zeros
    y0 = rng.normal(size=3)
    return M, c, d, y0


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("method", METHODS)
def test_zeros_equal_scipys_on_random_problems(seed, method):
    M, c, d, y0 = damped_rotation(seed)

    def fun(t, y):
        return M @ y

    def g(t, y):
        return c @ y + d

    def g_down(t, y):
        return c @ y + d

    g_down.direction = -1.0
    g_down.terminal = 2
    options = dict(method=method, rtol=1e-10, atol=1e-12, events=[g, g_down])
    ours = solve_ivp(fun, (0.0, 15.0), y0, **options)
    theirs = scipy.integrate.solve_ivp(fun, (0.0, 15.0), y0, **options)
    assert ours.status == theirs.status
    for mine, scipys in zip(ours.t_events + ours.y_events, theirs.t_events + theirs.y_events):
        assert np.shape(mine) == np.shape(scipys)
        np.testing.assert_allclose(mine, scipys, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("method", METHODS)
def test_each_zero_is_a_zero_of_the_event_on_the_interpolant(method):
    M, c, d, y0 = damped_rotation(9)

    def fun(t, y):
        return M @ y

    def g(t, y):
        return c @ y + d

    result = solve_ivp(fun, (0.0, 15.0), y0, method=method, rtol=1e-6, atol=1e-8, events=g, dense_output=True)
    assert result.t_events[0].size >= 3
    scale = np.abs(c) @ np.abs(result.y).max(axis=1) + abs(d)
    for t_zero, y_zero in zip(result.t_events[0], result.y_events[0]):
        np.testing.assert_allclose(result.sol(t_zero), y_zero, rtol=1e-14, atol=1e-15)  # the interpolant's state
        assert abs(g(t_zero, y_zero)) <= 64 * np.finfo(float).eps * scale
        delta = 1e3 * np.finfo(float).eps * (1 + abs(t_zero))
        assert g(t_zero - delta, result.sol(t_zero - delta)) * g(t_zero + delta, result.sol(t_zero + delta)) < 0


def test_compiled_python_and_readable_give_the_same_zeros_to_the_bit():
    third = with_attributes(position, terminal=3, direction=-1)
    results = [run(path, oscillator, (0.0, 30.0), np.array([0.3, 1.0]), events=[position, third], rtol=1e-9,
                   atol=1e-9, dense_output=True) for path in PATHS]  # fmt: skip
    for other in results[1:]:
        for a, b in zip(results[0].t_events + results[0].y_events, other.t_events + other.y_events):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(results[0].y, other.y)
        assert results[0].nfev == other.nfev


def test_an_event_without_zeros_changes_no_step():
    @njit(cache=True)
    def far(t, y):
        return y[0] + 10.0

    for path in PATHS:
        plain = run(path, oscillator, (0.0, 20.0), np.array([1.0, 0.0]), events=[], rtol=1e-8, atol=1e-8)
        with_event = run(path, oscillator, (0.0, 20.0), np.array([1.0, 0.0]), events=[far], rtol=1e-8, atol=1e-8)
        assert (plain.nfev, plain.nsteps) == (with_event.nfev, with_event.nsteps)
        np.testing.assert_array_equal(plain.y, with_event.y)
        assert with_event.t_events[0].shape == (0,) and with_event.y_events[0].shape == (0,)  # as scipy's


def test_a_zero_at_t0_counts_as_scipys():
    def f(t, y):
        return np.array([1.0, 0.0])

    def g(t, y):
        return y[0]

    ours = solve_ivp(f, (0.0, 1.0), [0.0, 0.0], events=g)
    theirs = scipy.integrate.solve_ivp(f, (0.0, 1.0), [0.0, 0.0], method="DOP853", events=g)
    np.testing.assert_array_equal(ours.t_events[0], theirs.t_events[0])


@pytest.mark.parametrize("jitted", [False, True])
@pytest.mark.parametrize("workers", [1, 2])
def test_the_batch_gives_each_trajectory_its_own_events(jitted, workers):
    third = with_attributes(position, terminal=3)
    events = [position, third] if jitted else [position.py_func, with_attributes(position.py_func, terminal=3)]
    fun = oscillator_into if jitted else oscillator_into.py_func
    y0s = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, -0.5], [-2.0, 0.1], [0.1, 0.2]])
    t_eval = np.linspace(0.0, 12.0, 25)
    batch = solve_ivp_batch(fun, (0.0, 12.0), y0s, t_eval, events=events, inplace=True, workers=workers, rtol=1e-9,
                            atol=1e-9)  # fmt: skip
    assert batch.status.tolist() == [1] * 5 and batch.success
    for b, y0 in enumerate(y0s):
        single = solve_ivp(fun, (0.0, 12.0), y0, events=events, inplace=True, t_eval=t_eval, rtol=1e-9, atol=1e-9)
        for a, s in zip(batch.t_events[b] + batch.y_events[b], single.t_events + single.y_events):
            np.testing.assert_array_equal(a, s)
        reached = t_eval <= single.t_events[1][-1]
        np.testing.assert_array_equal(batch.y[b][:, reached], single.y)
        assert np.isnan(batch.y[b][:, ~reached]).all()


@pytest.mark.parametrize("attributes, match", [
    (dict(terminal=-1), "terminal must be a bool or a positive integer"),
    (dict(terminal=1.5), "terminal must be a bool or a positive integer"),
    (dict(terminal="yes"), "terminal must be a bool or a positive integer"),
    (dict(direction="up"), "direction must be a finite real number"),
    (dict(direction=math.nan), "direction must be a finite real number"),
])  # fmt: skip
def test_bad_event_attributes_are_refused(attributes, match):
    with pytest.raises(ValueError, match=match):
        solve_ivp(oscillator.py_func, (0.0, 1.0), [1.0, 0.0], events=[with_attributes(position.py_func, **attributes)])


def test_bad_event_functions_are_refused():
    with pytest.raises(ValueError, match="events must be a callable"):
        solve_ivp(oscillator.py_func, (0.0, 1.0), [1.0, 0.0], events=3)
    with pytest.raises(ValueError, match=r"events\[0\]\(t0, y0, \*args\) must return one real number"):
        solve_ivp(oscillator.py_func, (0.0, 1.0), [1.0, 0.0], events=lambda t, y: y)
