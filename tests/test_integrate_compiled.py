"""The compiled integrator equals its interpreted twin; solve_ivp_batch equals a loop of solve_ivp.

A Numba-jitted ``fun`` runs :func:`hnn_np.integrate.driver.integrate` compiled;
its ``.py_func`` (the same function as plain Python) runs the same driver
interpreted. Both take the same steps and round the same way, so the results
are equal bit for bit.

One jitted field serves every test here, a small tanh MLP whose weights come
through ``args`` (as when rolling out a learned vector field): the driver is
compiled once per ``fun``, which costs seconds.
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


def test_borrowed_views_write_through_and_python_gets_the_array_itself():
    from hnn_np.integrate.borrow import borrowed

    @njit
    def write_through(a):
        view = borrowed(a)
        view[1, 2] = -1.0
        return view[0, 1]

    a = np.arange(6.0).reshape(2, 3)
    assert borrowed(a) is a
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


def test_solve_ivp_and_the_batch_share_one_compiled_driver():
    """The batch hands the driver borrowed views, which have the types of the arrays solve_ivp passes."""
    from numba import typeof

    from hnn_np.integrate.calling import as_inplace
    from hnn_np.integrate.driver import integrate_compiled

    options = dict(rtol=1e-8, atol=1e-10, args=ARGS)
    solve_ivp(mlp_field, (0.0, 1.0), Y0S[0], t_eval=T_EVAL / 10, **options)
    solve_ivp(mlp_field, (0.0, 1.0), Y0S[0], dense_output=True, **options)
    solve_ivp_batch(mlp_field, (0.0, 1.0), Y0S, T_EVAL / 10, **options)
    driven = as_inplace(mlp_field)  # the driver calls the in-place adapter of mlp_field
    for_this_fun = [sig for sig in integrate_compiled[1].signatures if sig[0] == typeof(driven)]  # 1: DOP853
    assert len(for_this_fun) == 1
