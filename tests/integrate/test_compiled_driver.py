"""The compiled integrator equals its interpreted twin; solve_ivp_batch equals a loop of solve_ivp.

A Numba-jitted ``fun`` runs :func:`hnn_np.integrate.controller.integrate`
compiled (:mod:`hnn_np.integrate._compiled.driver`); its ``.py_func`` (the
same function as plain Python) runs the same controller interpreted. Both take
the same steps and round the same way, so the results are equal bit for bit.

A small tanh MLP whose weights come through ``args`` (as when rolling out a
learned vector field) has arrays in ``args``, packed as words for its adapter;
the user functions below it take their parameters as floats or as one vector.
Every kind of ``args`` reaches the same compiled driver.
"""

import math

import numpy as np
import pytest
from numba import njit

from hnn_np.integrate import solve_ivp, solve_ivp_batch

METHODS = ["DOP853", "RK45"]
Y0S = np.array([[1.0, 0.0], [0.2, -0.7], [-0.05, 0.01], [1.5, -1.0]])  # (B, n)
T_EVAL = np.linspace(0.0, 10.0, 31)


@njit(cache=True)
def mlp_field(t, y, W0, b0, W1, b1):
    """dy/dt = tanh(y W0 + b0) W1 + b1, shapes y (n,), W0 (n, d), W1 (d, n).

    Written with loops and math.tanh so that the compiled and the plain-Python
    versions round identically (a matrix product may sum in another order, and
    np.tanh differs from libm's tanh in the last bit).
    """
    n, d = W0.shape
    dy_dt = b1.copy()  # (n,)
    for j in range(d):
        z = b0[j]
        for i in range(n):
            z += y[i] * W0[i, j]
        a = math.tanh(z)  # libm's tanh in both versions (NumPy has its own)
        for i in range(n):
            dy_dt[i] += a * W1[j, i]
    return dy_dt


def mlp_weights(seed=0, hidden=16):
    """(W0, b0, W1, b1) of a field that rotates the plane with a nonlinear twist."""
    rng = np.random.default_rng(seed)
    W0 = rng.normal(size=(2, hidden))
    W1 = W0.T @ np.array([[0.0, -1.0], [1.0, 0.0]]) / hidden  # (hidden, 2)
    return W0, 0.1 * rng.normal(size=hidden), W1, np.zeros(2)


ARGS = mlp_weights()


def assert_same_run(a, b):
    assert (a.nfev, a.nsteps, a.naccepted, a.nrejected, a.status) == (b.nfev, b.nsteps, b.naccepted, b.nrejected, b.status)
    np.testing.assert_array_equal(a.t, b.t)
    np.testing.assert_array_equal(a.y, b.y)


@pytest.mark.parametrize("method", METHODS)
def test_compiled_equals_interpreted_bit_for_bit(method):
    options = dict(method=method, rtol=1e-9, atol=1e-9, args=ARGS)
    for extra in ({"dense_output": True}, {"t_eval": T_EVAL}):
        compiled = solve_ivp(mlp_field, (0.0, 10.0), Y0S[1], **options, **extra)
        interpreted = solve_ivp(mlp_field.py_func, (0.0, 10.0), Y0S[1], **options, **extra)
        assert_same_run(compiled, interpreted)
    np.testing.assert_array_equal(compiled.y[:, -1], interpreted.y[:, -1])
    backward_c = solve_ivp(mlp_field, (10.0, 0.0), Y0S[0], dense_output=True, **options)
    backward_i = solve_ivp(mlp_field.py_func, (10.0, 0.0), Y0S[0], dense_output=True, **options)
    assert_same_run(backward_c, backward_i)
    np.testing.assert_array_equal(backward_c.sol.Q, backward_i.sol.Q)


@pytest.mark.parametrize("method", METHODS)
def test_batch_equals_a_loop_of_solve_ivp(method):
    options = dict(method=method, rtol=1e-8, atol=1e-10, args=ARGS)
    batch = solve_ivp_batch(mlp_field, (0.0, 10.0), Y0S, T_EVAL, **options)
    assert batch.success and batch.y.shape == (4, 2, 31)
    np.testing.assert_array_equal(batch.t, T_EVAL)
    for b, y0 in enumerate(Y0S):
        single = solve_ivp(mlp_field, (0.0, 10.0), y0, t_eval=T_EVAL, **options)
        np.testing.assert_array_equal(batch.y[b], single.y)
        assert (batch.nfev[b], batch.naccepted[b], batch.nrejected[b], batch.nsteps[b]) == (
            single.nfev, single.naccepted, single.nrejected, single.nsteps)  # fmt: skip
    interpreted = solve_ivp_batch(mlp_field.py_func, (0.0, 10.0), Y0S, T_EVAL, **options)
    np.testing.assert_array_equal(interpreted.y, batch.y)
    np.testing.assert_array_equal(interpreted.nfev, batch.nfev)


def test_batch_reports_failures_per_trajectory():
    def blows_up_above_two(t, y):
        return np.array([y[0] ** 2, 0.0])

    y0s = np.array([[0.1, 0.0], [1.0, 0.0]])  # the second explodes at t = 1
    batch = solve_ivp_batch(blows_up_above_two, (0.0, 2.0), y0s, np.linspace(0.0, 2.0, 9))
    assert batch.status.tolist() == [0, -1] and not batch.success
    assert np.all(np.isfinite(batch.y[0]))
    assert np.all(np.isfinite(batch.y[1][:, :4])) and np.all(np.isnan(batch.y[1][:, 5:]))
    assert "too small" in batch.messages[1] and "1 of 2 trajectories failed" in batch.message


def test_borrowed_views_write_through():
    from hnn_np.integrate._compiled.jit import load

    load()
    from hnn_np.integrate._compiled.driver import borrowed

    @njit
    def write_through(a):
        view = borrowed(a)
        view[1, 2] = -1.0
        return view[0, 1]

    a = np.arange(6.0).reshape(2, 3)
    assert write_through(a) == 1.0 and a[1, 2] == -1.0


def owns_its_memory(array):
    """False for a borrowed view boxed by Numba: no owner of its own and no base keeping one alive."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array.flags.owndata or array.base is not None


@pytest.mark.parametrize("t_end", [1.0, 200.0])  # outputs in the first buffers, or in grown ones
def test_no_output_is_a_borrowed_view(t_end):
    res = solve_ivp(mlp_field, (0.0, t_end), Y0S[1], rtol=1e-9, atol=1e-9, dense_output=True, args=ARGS)
    assert res.t.size > (64 if t_end > 100 else 1)
    for array in (res.t, res.y, res.sol.t_start, res.sol.h, res.sol.Q):
        assert owns_its_memory(array)
    batch = solve_ivp_batch(mlp_field, (0.0, t_end), Y0S, np.linspace(0.0, t_end, 5), rtol=1e-9, atol=1e-9, args=ARGS)
    for array in (batch.y, batch.nfev, batch.status):
        assert owns_its_memory(array)


def test_one_compiled_driver_serves_every_fun_and_every_kind_of_args():
    """The driver's type depends neither on fun nor on args: two funs, both conventions, floats, vectors, arrays."""
    from hnn_np.integrate._compiled.driver import entry

    params = np.array([2.0, 0.5])
    for fun, inplace, args in ((damped_into, True, (params,)), (damped_into_uncached, True, (params,)),
                               (damped, False, (params,)), (damped_floats, False, (2.0, 0.5)),
                               (mlp_field, False, ARGS)):  # fmt: skip
        solve_ivp(fun, (0.0, 1.0), Y0S[0], rtol=1e-8, atol=1e-10, args=args, inplace=inplace)
        solve_ivp_batch(fun, (0.0, 1.0), Y0S, T_EVAL / 10, rtol=1e-8, atol=1e-10, args=args, inplace=inplace)
    assert len(entry("DOP853").signatures) == 1


# User right-hand sides of this test module, with and without cache=True, in both conventions:
# dq/dt = p, dp/dt = -omega^2 q - gamma p with (omega^2, gamma) as two floats or one vector.


@njit(cache=True)
def damped(t, y, params):
    dy_dt = np.empty(2)
    dy_dt[0] = y[1]
    dy_dt[1] = -params[0] * y[0] - params[1] * y[1]
    return dy_dt


@njit(cache=True)
def damped_into(t, y, dy_dt, params):
    dy_dt[0] = y[1]
    dy_dt[1] = -params[0] * y[0] - params[1] * y[1]


@njit
def damped_into_uncached(t, y, dy_dt, params):
    dy_dt[0] = y[1]
    dy_dt[1] = -params[0] * y[0] - params[1] * y[1]


@njit(cache=True)
def damped_floats(t, y, omega2, gamma):
    dy_dt = np.empty(2)
    dy_dt[0] = y[1]
    dy_dt[1] = -omega2 * y[0] - gamma * y[1]
    return dy_dt


@njit
def damped_floats_into_uncached(t, y, dy_dt, omega2, gamma):
    dy_dt[0] = y[1]
    dy_dt[1] = -omega2 * y[0] - gamma * y[1]


def damped_exact(y0, t, omega2, gamma):
    """Closed form of the underdamped oscillator (gamma^2 < 4 omega^2), shape (2, m)."""
    a, w = -gamma / 2, np.sqrt(omega2 - gamma**2 / 4)
    q0, p0 = y0
    c2 = (p0 - a * q0) / w
    e, c, s = np.exp(a * t), np.cos(w * t), np.sin(w * t)
    q = e * (q0 * c + c2 * s)
    p = e * ((a * q0 + w * c2) * c + (a * c2 - w * q0) * s)
    return np.stack([q, p])


@pytest.mark.parametrize("method", METHODS)
def test_user_functions_in_both_conventions_equal_the_interpreted_run(method):
    """Every combination of convention, cache and kind of args: the steps and bits of plain Python."""
    omega2, gamma = 2.0, 0.3
    vector = (np.array([omega2, gamma]),)
    options = dict(method=method, rtol=1e-10, atol=1e-10, t_eval=T_EVAL)
    reference = solve_ivp(damped.py_func, (0.0, 10.0), Y0S[1], args=vector, **options)
    assert np.abs(reference.y - damped_exact(Y0S[1], T_EVAL, omega2, gamma)).max() < 1e-8
    cases = [(damped, False, vector), (damped_into, True, vector), (damped_into_uncached, True, vector),
             (damped_floats, False, (omega2, gamma)), (damped_floats_into_uncached, True, (omega2, gamma))]
    for fun, inplace, args in cases:
        assert_same_run(solve_ivp(fun, (0.0, 10.0), Y0S[1], args=args, inplace=inplace, **options), reference)
        batch = solve_ivp_batch(fun, (0.0, 10.0), Y0S, T_EVAL, method=method, rtol=1e-10, atol=1e-10, args=args,
                                inplace=inplace)  # fmt: skip
        np.testing.assert_array_equal(batch.y[1], reference.y)
        assert batch.nfev[1] == reference.nfev


def test_an_exception_in_a_compiled_fun_reaches_the_caller():
    @njit
    def fails_late(t, y, dy_dt, params):
        if t > 0.5:
            raise ValueError("fun refused t > 0.5")
        dy_dt[0] = y[1]
        dy_dt[1] = -params[0] * y[0]

    with pytest.raises(ValueError, match="refused"):
        solve_ivp(fails_late, (0.0, 1.0), Y0S[0], args=(np.array([1.0]),), inplace=True)


def test_specialize_is_accepted_with_a_warning_and_changes_nothing():
    params = np.array([2.0, 0.5])
    options = dict(rtol=1e-8, atol=1e-10, args=(params,), inplace=True)
    reference = solve_ivp_batch(damped_into, (0.0, 1.0), Y0S, T_EVAL / 10, **options)
    with pytest.warns(DeprecationWarning, match="no effect"):
        again = solve_ivp_batch(damped_into, (0.0, 1.0), Y0S, T_EVAL / 10, specialize=True, **options)
    np.testing.assert_array_equal(again.y, reference.y)
    with pytest.warns(DeprecationWarning, match="no effect"):
        single = solve_ivp(damped_into, (0.0, 1.0), Y0S[2], dense_output=True, specialize=True, **options)
    assert_same_run(single, solve_ivp(damped_into, (0.0, 1.0), Y0S[2], dense_output=True, **options))
    with pytest.raises(ValueError, match="specialize must be True or False"):
        solve_ivp(damped_into, (0.0, 1.0), Y0S[2], specialize="yes", **options)
