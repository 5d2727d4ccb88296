"""hnn_np.systems: the mass-spring H = k q^2/2 + p^2/(2m) and its exact motion.

Energy and vector field are held to their closed forms; the closed-form
solution is checked as a solution (it satisfies the ODE, by a finite
difference in time, and keeps the energy), not just compared with itself.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hnn_np.systems import MassSpring, System, as_states
from hnn_np.testing.strategies import states

positive = st.floats(0.1, 10.0)
springs = st.builds(MassSpring, k=positive, m=positive)
# Zero or at least 1e-100 in size: squares of smaller numbers are subnormal, and a
# subnormal keeps too few digits for a comparison at 1e-14.
spring_states = states(st.integers(1, 6), 2, bound=10.0, min_magnitude=1e-100)


@given(springs, spring_states)
def test_energy_is_the_closed_form(spring, x):
    """H(q, p) = k q^2 / 2 + p^2 / (2 m), one value per row."""
    q, p = x[:, 0], x[:, 1]
    H = spring.energy(x)
    assert H.shape == (len(x),)
    np.testing.assert_allclose(H, spring.k * q**2 / 2 + p**2 / (2 * spring.m), rtol=1e-14, atol=0)


@given(springs, spring_states)
def test_time_derivative_is_hamiltons_equations(spring, x):
    """dq/dt = dH/dp = p/m and dp/dt = -dH/dq = -k q."""
    dx_dt = spring.time_derivative(x)
    np.testing.assert_allclose(dx_dt[:, 0], x[:, 1] / spring.m, rtol=1e-15, atol=0)
    np.testing.assert_allclose(dx_dt[:, 1], -spring.k * x[:, 0], rtol=1e-15, atol=0)


@given(springs, spring_states)
def test_hamiltonian_gradient_matches_finite_differences_of_energy(spring, x):
    """hamiltonian_gradient is the derivative of energy (central differences are exact on a quadratic)."""
    h = 1e-3
    fd = np.stack([(spring.energy(x + h * e) - spring.energy(x - h * e)) / (2 * h)
                   for e in np.eye(2)], axis=1)
    scale = np.abs(fd).max() + 1.0
    np.testing.assert_allclose(spring.hamiltonian_gradient(x), fd, rtol=0, atol=1e-9 * scale)


@given(springs, spring_states)
def test_jitted_ode_equals_time_derivative(spring, x):
    """ode() gives the compiled fun(t, y, k, m) for the integrator; it must be time_derivative row by row."""
    fun, args = spring.ode()
    expected = spring.time_derivative(x)
    for row, want in zip(x, expected):
        np.testing.assert_array_equal(fun(0.0, np.ascontiguousarray(row), *args), want)
        np.testing.assert_array_equal(spring.rhs(0.0, row), want)


@given(springs, spring_states)
def test_in_place_ode_equals_time_derivative(spring, x):
    """ode_inplace() writes what time_derivative returns, row by row, into the array it is given."""
    fun, args = spring.ode_inplace()
    expected = spring.time_derivative(x)
    for row, want in zip(x, expected):
        dy_dt = np.full(2, np.nan)
        assert fun(0.0, np.ascontiguousarray(row), dy_dt, *args) is None
        np.testing.assert_array_equal(dy_dt, want)


@given(springs, states(st.integers(1, 4), 2, bound=5.0, min_magnitude=1e-100))
def test_exact_solution_satisfies_the_ode(spring, x0):
    """d/dt of the closed-form x(t), by central differences in t, equals time_derivative(x(t))."""
    t = np.linspace(0.0, 10.0, 21)
    h = 1e-5
    traj = spring.exact_solution(x0, t)
    assert traj.shape == (len(x0), len(t), 2)
    dx_dt_fd = (spring.exact_solution(x0, t + h) - spring.exact_solution(x0, t - h)) / (2 * h)
    dx_dt = spring.time_derivative(traj.reshape(-1, 2)).reshape(traj.shape)
    scale = np.abs(dx_dt).max() + 1.0
    np.testing.assert_allclose(dx_dt_fd, dx_dt, rtol=0, atol=1e-7 * scale)
    np.testing.assert_allclose(traj[:, 0], x0, rtol=0, atol=1e-15 * (np.abs(x0).max() + 1))


@given(springs, states(st.integers(1, 4), 2, bound=5.0, min_magnitude=1e-100))
def test_exact_solution_conserves_energy_and_is_periodic(spring, x0):
    """H(x(t)) = H(x0) for all t, and x returns to x0 after one period 2 pi / omega."""
    period = 2 * np.pi / spring.omega
    t = np.linspace(0.0, 3 * period, 31)
    traj = spring.exact_solution(x0, t)
    H = spring.energy(traj.reshape(-1, 2)).reshape(len(x0), len(t))
    H0 = spring.energy(x0)
    np.testing.assert_allclose(H, np.repeat(H0[:, None], len(t), axis=1), rtol=1e-12, atol=1e-300)
    scale = np.abs(traj).max() + 1e-300
    np.testing.assert_allclose(spring.exact_solution(x0, [period])[:, 0], x0, rtol=0, atol=1e-12 * scale)


def test_paper_spring_constants_and_frequency():
    """The paper's spring has k = m = 2 (Eq. 4), hence omega = 1 and period 2 pi."""
    spring = MassSpring()
    assert (spring.k, spring.m, spring.omega) == (2.0, 2.0, 1.0)
    assert spring.radius_to_energy(3.0) == pytest.approx(9.0)  # k r^2 / 2 with p = 0
    assert repr(spring) == "MassSpring(k=2.0, m=2.0)"


@pytest.mark.parametrize("kwargs, match", [
    (dict(k=0.0), "k must be"), (dict(k=-1.0), "k must be"), (dict(k=np.nan), "k must be"),
    (dict(k=np.inf), "k must be"), (dict(m=0.0), "m must be"), (dict(m=-2.0), "m must be"),
    (dict(m=np.nan), "m must be"), (dict(m=np.inf), "m must be"),
], ids=str)
def test_bad_constants_raise(kwargs, match):
    """A spring needs a positive finite stiffness and mass; the message names the constant."""
    with pytest.raises(ValueError, match=match):
        MassSpring(**kwargs)


def test_one_state_as_a_1d_array_is_one_row():
    """A single state (q, p) may be given as shape (2,); it is treated as one row."""
    spring = MassSpring(k=3.0, m=0.5)
    np.testing.assert_array_equal(spring.energy([1.0, 2.0]), spring.energy([[1.0, 2.0]]))
    np.testing.assert_array_equal(spring.time_derivative([1.0, 2.0]), [[4.0, -3.0]])


@pytest.mark.parametrize("x, match", [
    (np.zeros((3, 3)), r"x must have shape \(N, 2\)"),
    (np.zeros((2, 2, 2)), r"x must have shape \(N, 2\)"),
    (np.array([[0.0, 1.0], [np.nan, 0.0]]), "x has non-finite values in row 1"),
], ids=["columns", "3-D", "nan"])
def test_bad_states_raise(x, match):
    """States are checked at the door: shape (N, 2n) with finite entries."""
    with pytest.raises(ValueError, match=match):
        MassSpring().energy(x)
    with pytest.raises(ValueError, match=match):
        MassSpring().time_derivative(x)


def test_exact_solution_names_x0_in_its_errors():
    """exact_solution reports a bad initial state as x0."""
    with pytest.raises(ValueError, match="x0"):
        MassSpring().exact_solution(np.zeros((2, 3)), [0.0, 1.0])


def test_as_states_casts_integers_to_float64():
    """Integer states become float64, so that later arithmetic is not integer arithmetic."""
    x = as_states([[1, 2]], 1)
    assert x.dtype == np.float64 and x.shape == (1, 2)


def test_base_system_time_derivative_from_any_gradient():
    """System.time_derivative applies J to whatever hamiltonian_gradient returns, for n = 2 too."""

    class TwoOscillators(System):
        n_dof = 2

        def hamiltonian_gradient(self, x):
            return np.asarray(x) * np.array([1.0, 2.0, 3.0, 4.0])  # H = sum c_i x_i^2 / 2

    x = np.array([[1.0, 1.0, 1.0, 1.0], [0.5, -1.0, 2.0, 0.0]])
    expected = np.array([[3.0, 4.0, -1.0, -2.0], [6.0, 0.0, -0.5, 2.0]])
    np.testing.assert_array_equal(TwoOscillators().time_derivative(x), expected)
