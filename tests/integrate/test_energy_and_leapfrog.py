"""Energy behaviour (the paper's Fig. 3) and the symplectic leapfrog reference.

Greydanus et al. (2019), Fig. 3: along a mass-spring trajectory the true
energy is constant; an integrator's energy error shows its own drift. DOP853
at tight tolerance keeps it at rounding level, RK45 at scipy's default
tolerance drifts; the symplectic Stormer-Verlet keeps a bounded O(h^2) error
over arbitrarily long times.
"""

import numpy as np
import pytest
from numba import njit

from hnn_np.integrate import leapfrog, solve_ivp
from hnn_np.systems import MassSpring

SPRING = MassSpring(k=2.0, m=2.0)  # H = q^2 + p^2 / 4, omega = 1
X0 = 100.0 * np.array([np.cos(0.3), np.sin(0.3)])  # radius 100 in the (q, p) plane
E0 = SPRING.energy(X0[None, :])[0]


def relative_energy_error(q, p):
    """|H(q, p) / H(x0) - 1| along a trajectory, shape (m,)."""
    return np.abs(SPRING.energy(np.column_stack([q, p])) / E0 - 1.0)


@njit(cache=True)
def spring_dH_dq(q):
    return 2.0 * q  # dH/dq = k q


@njit(cache=True)
def spring_dH_dp(p):
    return p / 2.0  # dH/dp = p / m


def test_fig3_dop853_conserves_energy_and_rk45_drifts():
    t_eval = np.linspace(0.0, 20.0, 201)
    tight = solve_ivp(SPRING.rhs, (0.0, 20.0), X0, method="DOP853", rtol=1e-12, atol=1e-12, t_eval=t_eval)
    default = solve_ivp(SPRING.rhs, (0.0, 20.0), X0, method="RK45", rtol=1e-3, atol=1e-6, t_eval=t_eval)
    assert relative_energy_error(*tight.y).max() < 1e-10
    drift = relative_energy_error(*default.y)
    assert drift.max() > 1e-6
    assert drift[-1] > 3 * drift[20]  # it grows with time: a drift, not an oscillation


def test_leapfrog_energy_error_stays_bounded_while_rk45_drifts():
    t_end, dt = 1000.0, 0.1
    orbit = leapfrog(spring_dH_dq.py_func, spring_dH_dp.py_func, (0.0, t_end), X0[:1], X0[1:], dt=dt)
    error = relative_energy_error(orbit.q[:, 0], orbit.p[:, 0])
    first, last = error[: len(error) // 10].max(), error[-len(error) // 10 :].max()
    assert last < 1.01 * first < 1e-2  # bounded, O(h^2)
    rk45 = solve_ivp(SPRING.rhs, (0.0, t_end), X0, method="RK45", t_eval=np.linspace(0.0, t_end, 101))
    rk45_error = relative_energy_error(*rk45.y)
    assert rk45_error[-1] > 5 * rk45_error[10]


@pytest.mark.parametrize("problem", ["spring", "pendulum"])
def test_leapfrog_is_second_order(problem):
    if problem == "spring":  # q = cos t, p = -2 sin t
        dH_dq, dH_dp, q0, p0 = spring_dH_dq.py_func, spring_dH_dp.py_func, [1.0], [0.0]
        exact = np.array([np.cos(5.0), -2.0 * np.sin(5.0)])
    else:  # H = p^2 / 2 - cos q; reference by DOP853 at tight tolerance
        dH_dq, dH_dp, q0, p0 = np.sin, (lambda p: p), [2.0], [0.0]
        reference = solve_ivp(lambda t, y: np.array([y[1], -np.sin(y[0])]), (0.0, 5.0), [2.0, 0.0], rtol=1e-13, atol=1e-13)
        exact = reference.y[:, -1]
    errors = []
    for n_steps in (200, 400):
        orbit = leapfrog(dH_dq, dH_dp, (0.0, 5.0), q0, p0, n_steps=n_steps)
        errors.append(np.abs(np.array([orbit.q[-1, 0], orbit.p[-1, 0]]) - exact).max())
    assert abs(np.log2(errors[0] / errors[1]) - 2.0) < 0.1


def test_leapfrog_is_time_reversible_and_its_grid_is_exact():
    forward = leapfrog(np.sin, lambda p: p, (0.0, 3.0), [1.0], [0.5], n_steps=300)
    backward = leapfrog(np.sin, lambda p: p, (3.0, 0.0), forward.q[-1], forward.p[-1], n_steps=300)
    np.testing.assert_allclose([backward.q[-1, 0], backward.p[-1, 0]], [1.0, 0.5], atol=1e-13)
    assert forward.t.shape == (301,) and forward.t[0] == 0.0 and forward.t[-1] == 3.0
    np.testing.assert_allclose(np.diff(forward.t), 0.01, rtol=1e-9)


def test_leapfrog_compiled_equals_interpreted():
    args = dict(t_span=(0.0, 50.0), q0=X0[:1], p0=X0[1:], n_steps=5000)
    compiled = leapfrog(spring_dH_dq, spring_dH_dp, **args)
    interpreted = leapfrog(spring_dH_dq.py_func, spring_dH_dp.py_func, **args)
    np.testing.assert_array_equal(compiled.q, interpreted.q)
    np.testing.assert_array_equal(compiled.p, interpreted.p)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_steps=10, dt=0.1), "exactly one of n_steps and dt"),
    (dict(), "exactly one of n_steps and dt"),
    (dict(dt=0.3), "must divide"),
    (dict(dt=-0.1), "dt must be a positive"),
    (dict(n_steps=0), "n_steps must be a positive integer"),
    (dict(n_steps=2.5), "n_steps must be a positive integer"),
    (dict(n_steps=10, p0=[0.0, 1.0]), "same shape"),
    (dict(n_steps=10, q0=[np.nan]), "q0 has non-finite"),
    (dict(n_steps=10, t_span=(1.0, 1.0)), "zero length"),
    (dict(n_steps=10, dH_dq=lambda q: np.zeros(3)), "dH_dq must return an array of shape"),
])  # fmt: skip
def test_leapfrog_rejects_bad_input(kwargs, match):
    call = dict(dH_dq=np.sin, dH_dp=lambda p: p, t_span=(0.0, 1.0), q0=[1.0], p0=[0.0]) | kwargs
    with pytest.raises(ValueError, match=match):
        leapfrog(**call)
