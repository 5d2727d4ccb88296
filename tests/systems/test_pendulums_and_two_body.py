"""hnn_np.systems beyond the paper: the ideal and damped pendulums and the two-body problem.

Every check compares against a reference that does not share code with the
class under test:

* hamiltonian_gradient against central differences of energy();
* trajectories of our DOP853 (hnn_np.integrate) against scipy's DOP853, and
  the conservation laws (H; for two bodies also the angular momentum and the
  Runge-Lenz vector) along them;
* the damped pendulum's energy loss against dH/dt = -gamma p dH/dp;
* periods against closed forms: the small-angle pendulum, the exact pendulum
  period from scipy's complete elliptic integral K, Kepler's third law;
* samplers against the energies they were asked for.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import solve_ivp as scipy_solve_ivp
from scipy.special import ellipk

from hnn_np import data as D
from hnn_np.integrate import solve_ivp
from hnn_np.systems import DampedPendulum, IdealPendulum, MassSpring, System, TwoBody

constants = st.floats(0.3, 3.0)
pendulums = st.builds(IdealPendulum, m=constants, l=constants, g=constants)
damped_pendulums = st.builds(DampedPendulum, m=constants, l=constants, g=constants,
                             friction=st.floats(0.0, 1.0))
two_bodies = st.builds(TwoBody, m1=constants, m2=constants, G=constants)
angles = st.floats(-np.pi, np.pi)
momenta = st.floats(-3.0, 3.0)


@st.composite
def pendulum_states(draw, max_rows=6):
    n = draw(st.integers(1, max_rows))
    return np.array([[draw(angles), draw(momenta)] for _ in range(n)])


@st.composite
def two_body_states(draw, max_rows=6):
    """Rows (q_x, q_y, p_x, p_y) with the separation |q| in [0.3, 3] (H is singular at 0)."""
    n = draw(st.integers(1, max_rows))
    rows = []
    for _ in range(n):
        r, theta = draw(st.floats(0.3, 3.0)), draw(angles)
        rows.append([r * np.cos(theta), r * np.sin(theta), draw(momenta), draw(momenta)])
    return np.array(rows)


def central_gradient(energy, x, h=1e-5):
    """dH/dx_i ~ [H(x + h e_i) - H(x - h e_i)] / (2h), error O(h^2 H''')."""
    return np.stack([(energy(x + h * e) - energy(x - h * e)) / (2 * h) for e in np.eye(x.shape[1])],
                    axis=1)


def python_rhs(system):
    """fun(t, y) for scipy from hamiltonian_gradient alone (no compiled code of ours)."""
    n = system.n_dof

    def fun(t, y):
        dH_dx = system.hamiltonian_gradient(y[None, :])[0]
        return np.concatenate([dH_dx[n:], -dH_dx[:n]])  # (dH/dp, -dH/dq)

    return fun


# --- energy and gradient ----------------------------------------------------------

@given(pendulums, pendulum_states())
def test_pendulum_energy_is_the_stated_formula(pend, x):
    """H = 2 m g l (1 - cos q) + l^2 p^2 / (2 m), as stated in the class docstring (q away from 0: no cancellation)."""
    q, p = x[:, 0], x[:, 1]
    want = 2 * pend.m * pend.g * pend.l * (1 - np.cos(q)) + pend.l**2 * p**2 / (2 * pend.m)
    np.testing.assert_allclose(pend.energy(x), want, rtol=1e-9, atol=1e-12 * (1 + np.abs(want).max()))


def test_pendulum_energy_keeps_its_digits_at_tiny_angles():
    """At q = 1e-6 the potential is 2 m g l q^2 / 2 to 1e-13, where 1 - cos q would have lost 4 digits."""
    pend = IdealPendulum()
    q = 1e-6
    np.testing.assert_allclose(pend.energy([[q, 0.0]]), [2 * pend.m * pend.g * pend.l * q**2 / 2],
                               rtol=1e-12)


@given(st.one_of(st.tuples(pendulums, pendulum_states()), st.tuples(damped_pendulums, pendulum_states()),
                 st.tuples(two_bodies, two_body_states())))
def test_hamiltonian_gradient_matches_central_differences_of_energy(case):
    system, x = case
    fd = central_gradient(system.energy, x)
    dH_dx = system.hamiltonian_gradient(x)
    assert dH_dx.shape == x.shape
    scale = np.abs(dH_dx).max() + 1.0
    np.testing.assert_allclose(dH_dx, fd, rtol=0, atol=1e-7 * scale)


@given(st.one_of(st.tuples(pendulums, pendulum_states()), st.tuples(damped_pendulums, pendulum_states()),
                 st.tuples(two_bodies, two_body_states())))
def test_jitted_ode_equals_time_derivative(case):
    """ode() gives the compiled fun(t, y, *args); it must agree with time_derivative row by row."""
    system, x = case
    fun, args = system.ode()
    want = system.time_derivative(x)
    got = np.array([fun(0.0, np.ascontiguousarray(row), *args) for row in x])
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(np.array([system.rhs(0.0, row) for row in x]), want, rtol=1e-14,
                               atol=1e-300)


@given(st.one_of(st.tuples(pendulums, pendulum_states()), st.tuples(damped_pendulums, pendulum_states()),
                 st.tuples(two_bodies, two_body_states())))
def test_in_place_ode_equals_the_returning_one_to_the_last_bit(case):
    """ode_inplace() writes into dy_dt exactly what ode() returns (same operations), and every entry of it."""
    system, x = case
    fun, args = system.ode()
    fun_into, params = system.ode_inplace()
    assert len(params) == 1 and params[0].dtype == np.float64 and params[0].ndim == 1
    for row in x:
        row = np.ascontiguousarray(row)
        dy_dt = np.full(row.shape, np.nan)
        fun_into(0.0, row, dy_dt, *params)
        np.testing.assert_array_equal(dy_dt, fun(0.0, row, *args))


@given(damped_pendulums, pendulum_states())
def test_damped_field_is_hamiltons_equations_plus_friction(pend, x):
    """dq/dt = dH/dp = l^2 p / m, dp/dt = -dH/dq - gamma p = -2 m g l sin q - gamma p."""
    m, l, g, gamma = pend.m, pend.l, pend.g, pend.friction
    q, p = x[:, 0], x[:, 1]
    dx_dt = pend.time_derivative(x)
    scale = np.abs(dx_dt).max() + 1.0
    np.testing.assert_allclose(dx_dt[:, 0], l**2 * p / m, rtol=0, atol=1e-14 * scale)
    np.testing.assert_allclose(dx_dt[:, 1], -2 * m * g * l * np.sin(q) - gamma * p, rtol=0,
                               atol=1e-14 * scale)
    # the conservative part is the ideal pendulum's field; the rest is -gamma p in dp/dt only
    diff = dx_dt - pend.conservative().time_derivative(x)
    np.testing.assert_allclose(diff, np.column_stack([0 * p, -gamma * p]), rtol=0, atol=1e-14 * scale)


# --- trajectories: conservation, and scipy as an oracle ------------------------------

def both_solvers(system, x0, t_end, n_eval=101):
    """The same orbit by our DOP853 (compiled rhs) and scipy's DOP853 (Python rhs), tight tolerances."""
    t = np.linspace(0.0, t_end, n_eval)
    fun, args = system.ode()
    ours = solve_ivp(fun, (0.0, t_end), x0, method="DOP853", t_eval=t, rtol=1e-12, atol=1e-12,
                     args=args)
    ref = scipy_solve_ivp(python_rhs(system), (0.0, t_end), x0, method="DOP853", t_eval=t,
                          rtol=1e-12, atol=1e-12)
    assert ours.success and ref.success
    return t, ours.y.T, ref.y.T


@pytest.mark.parametrize("x0", [[0.5, 0.0], [2.5, 0.3], [0.0, 3.4], [-1.0, -2.0]], ids=str)
def test_ideal_pendulum_conserves_energy_and_matches_scipy(x0):
    pend = IdealPendulum()
    x0 = np.array(x0)
    assert pend.energy(x0)[0] < pend.separatrix_energy  # librating
    t, ours, ref = both_solvers(pend, x0, 20.0)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-8)
    H = pend.energy(ours)
    assert np.max(np.abs(H / H[0] - 1)) < 1e-10


def test_two_body_conserves_energy_angular_momentum_and_runge_lenz_and_matches_scipy():
    """A Kepler orbit with e = 0.6 over three periods; L and A = p x L - mu k q/|q| are constants of motion."""
    tb = TwoBody(m1=1.0, m2=2.0, G=1.5)
    x0 = tb.orbit_state(1.0, 0.6, 0.3, angle=0.7)[0]
    T = tb.period(tb.energy(x0))[0]
    t, ours, ref = both_solvers(tb, x0, 3 * T)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-8)
    H = tb.energy(ours)
    assert np.max(np.abs(H / H[0] - 1)) < 1e-10
    q, p = ours[:, :2], ours[:, 2:]
    L = q[:, 0] * p[:, 1] - q[:, 1] * p[:, 0]  # written out here, not tb.angular_momentum
    np.testing.assert_allclose(tb.angular_momentum(ours), L, rtol=1e-15)
    np.testing.assert_allclose(L, L[0], rtol=1e-10)
    r = np.linalg.norm(q, axis=1)
    A = np.column_stack([p[:, 1] * L, -p[:, 0] * L]) - tb.mu * tb.k * q / r[:, None]
    np.testing.assert_allclose(A, np.broadcast_to(A[0], A.shape), rtol=0, atol=1e-9 * np.abs(A[0]).max())
    # |A| = mu k e: the orbit has the eccentricity it was built with
    assert np.linalg.norm(A[0]) / (tb.mu * tb.k) == pytest.approx(0.6, rel=1e-12)


def test_damped_pendulum_loses_energy_at_the_rate_minus_gamma_p_dH_dp():
    """Along a damped trajectory dH/dt (by central differences in t) = -gamma p dH/dp, and H falls."""
    pend = DampedPendulum(m=1.3, l=0.8, g=2.0, friction=0.3)
    x0 = np.array([2.0, 0.5])
    fun, args = pend.ode()
    res = solve_ivp(fun, (0.0, 12.0), x0, method="DOP853", rtol=1e-12, atol=1e-12, args=args,
                    dense_output=True)
    t = np.linspace(0.5, 11.5, 200)
    h = 1e-4
    H = lambda s: pend.energy(res.sol(s).T)  # noqa: E731 - H along the trajectory, (T,)
    dH_dt = (8 * (H(t + h) - H(t - h)) - (H(t + 2 * h) - H(t - 2 * h))) / (12 * h)
    x = res.sol(t).T
    want = -pend.friction * x[:, 1] * pend.hamiltonian_gradient(x)[:, 1]  # -gamma p dH/dp
    np.testing.assert_allclose(dH_dt, want, rtol=0, atol=1e-7 * np.abs(want).max())
    np.testing.assert_allclose(pend.energy_rate(x), want, rtol=1e-14, atol=1e-300)
    H_t = H(np.linspace(0.0, 12.0, 400))
    assert np.all(np.diff(H_t) <= 1e-12 * H_t[0])  # never gains energy
    assert H_t[-1] < 0.2 * H_t[0]  # and loses most of it by t = 12
    # the same trajectory from scipy
    ref = scipy_solve_ivp(pend.rhs, (0.0, 12.0), x0, method="DOP853", t_eval=t, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x, ref.y.T, rtol=0, atol=1e-8)


# --- periods ----------------------------------------------------------------------

def crossing_time(sol, component, t_lo, t_hi, tol=1e-13):
    """The time in [t_lo, t_hi] where sol(t)[component] changes sign, by bisection."""
    f_lo = sol(t_lo)[component]
    assert f_lo * sol(t_hi)[component] < 0, "no sign change in the bracket"
    while t_hi - t_lo > tol:
        mid = 0.5 * (t_lo + t_hi)
        if sol(mid)[component] * f_lo > 0:
            t_lo = mid
        else:
            t_hi = mid
    return 0.5 * (t_lo + t_hi)


@pytest.mark.parametrize("m, l, g", [(1.0, 1.0, 3.0), (2.0, 0.5, 9.81), (0.7, 1.6, 1.0)])
def test_small_angle_pendulum_period(m, l, g):
    """Small angles: T = 2 pi / w0 with w0^2 = 2 g l^3, derived from this H (not sqrt(g / l)).

    Near q = 0, H ~ (1/2) H_qq q^2 + (1/2) H_pp p^2 with H_qq = d2H/dq2 = 2 m g l cos 0 = 2 m g l
    and H_pp = d2H/dp2 = l^2 / m. Hamilton's equations dq/dt = H_pp p, dp/dt = -H_qq q give
    d2q/dt2 = -H_qq H_pp q, so w0^2 = H_qq H_pp = 2 m g l * l^2 / m = 2 g l^3 (the mass cancels).
    At amplitude q0 the period grows by T0 (1 + q0^2 / 16 + ...): 6e-8 relative at q0 = 1e-3.
    """
    pend = IdealPendulum(m=m, l=l, g=g)
    T0 = 2 * np.pi / np.sqrt(2 * g * l**3)
    q0 = 1e-3
    fun, args = pend.ode()
    res = solve_ivp(fun, (0.0, 1.5 * T0), [q0, 0.0], method="DOP853", rtol=1e-13, atol=1e-16,
                    args=args, dense_output=True)
    # p = 0 at the turning points t = T/2 (q = -q0) and t = T (q = q0)
    T_half = crossing_time(res.sol, 1, 0.25 * T0, 0.75 * T0)
    T = crossing_time(res.sol, 1, 0.75 * T0, 1.25 * T0)
    assert T == pytest.approx(2 * T_half, rel=1e-10)
    assert T == pytest.approx(T0 * (1 + q0**2 / 16), rel=1e-9)
    assert pend.omega0 == pytest.approx(2 * np.pi / T0, rel=1e-15)
    assert pend.period([0.0])[0] == pytest.approx(T0, rel=1e-15)


@pytest.mark.parametrize("amplitude", [0.3, 1.5, 2.5, 3.0])
def test_large_amplitude_pendulum_period_is_4K_over_w0(amplitude):
    """T = 4 K(k) / w0 with k = sin(q_max / 2) (scipy's ellipk takes m = k^2), against
    IdealPendulum.period (an AGM) and against the integrated trajectory."""
    pend = IdealPendulum()
    E = pend.radius_to_energy(amplitude)
    T_exact = 4 * ellipk(np.sin(amplitude / 2) ** 2) / pend.omega0
    assert pend.period([E])[0] == pytest.approx(T_exact, rel=1e-13)
    fun, args = pend.ode()
    res = solve_ivp(fun, (0.0, 1.3 * T_exact), [amplitude, 0.0], method="DOP853", rtol=1e-13,
                    atol=1e-14, args=args, dense_output=True)
    T = crossing_time(res.sol, 1, 0.75 * T_exact, 1.25 * T_exact)
    assert T == pytest.approx(T_exact, rel=1e-9)


@pytest.mark.parametrize("r, m1, m2, G", [(1.0, 1.0, 1.0, 1.0), (0.5, 3.0, 1.0, 2.0), (2.0, 1.0, 0.1, 1.0)])
def test_kepler_circular_orbit_period(r, m1, m2, G):
    """A circular orbit of radius r: |q| stays r and the period is 2 pi sqrt(r^3 / (G (m1 + m2))).

    The circular speed solves mu v^2 / r = G m1 m2 / r^2, i.e. v = sqrt(G (m1 + m2) / r), and p = mu v.
    """
    tb = TwoBody(m1=m1, m2=m2, G=G)
    mu = m1 * m2 / (m1 + m2)
    v = np.sqrt(G * (m1 + m2) / r)
    x0 = np.array([r, 0.0, 0.0, mu * v])  # on +x, moving along +y
    T_kepler = 2 * np.pi * np.sqrt(r**3 / (G * (m1 + m2)))
    fun, args = tb.ode()
    res = solve_ivp(fun, (0.0, 1.3 * T_kepler), x0, method="DOP853", rtol=1e-13, atol=1e-14,
                    args=args, dense_output=True)
    t = np.linspace(0, 1.3 * T_kepler, 300)
    np.testing.assert_allclose(np.linalg.norm(res.sol(t)[:2], axis=0), r, rtol=1e-10)
    # q_y goes from - to + as the orbit closes
    T = crossing_time(res.sol, 1, 0.75 * T_kepler, 1.25 * T_kepler)
    assert T == pytest.approx(T_kepler, rel=1e-10)
    assert tb.period(tb.energy(x0))[0] == pytest.approx(T_kepler, rel=1e-13)
    assert tb.energy(x0)[0] == pytest.approx(-G * m1 * m2 / (2 * r), rel=1e-14)  # E = -k / (2a)


@given(two_bodies, st.floats(0.3, 3.0), st.floats(0.0, 0.8), angles, angles, st.sampled_from([-1.0, 1.0]))
def test_orbit_state_has_the_orbit_elements_asked_for(tb, a, e, anomaly, angle, direction):
    """E = -k / (2a), L = direction * mu sqrt(G M a (1 - e^2)), |A| = mu k e (Runge-Lenz)."""
    x = tb.orbit_state(a, e, anomaly, angle, direction)
    assert x.shape == (1, 4)
    np.testing.assert_allclose(tb.energy(x), [-tb.G * tb.m1 * tb.m2 / (2 * a)], rtol=1e-12)
    np.testing.assert_allclose(tb.angular_momentum(x),
                               [direction * tb.mu * np.sqrt(tb.G * tb.M * a * (1 - e**2))], rtol=1e-12)
    q, p = x[0, :2], x[0, 2:]
    L = q[0] * p[1] - q[1] * p[0]
    A = np.array([p[1] * L, -p[0] * L]) - tb.mu * tb.k * q / np.linalg.norm(q)
    assert np.linalg.norm(A) / (tb.mu * tb.k) == pytest.approx(e, abs=1e-11)


def test_eccentric_orbit_returns_after_its_kepler_period():
    tb = TwoBody(m1=2.0, m2=0.5, G=1.0)
    x0 = tb.orbit_state(1.2, 0.45, 2.0, angle=-0.4, direction=-1.0)[0]
    T = tb.period(tb.energy(x0))[0]
    fun, args = tb.ode()
    res = solve_ivp(fun, (0.0, T), x0, method="DOP853", rtol=1e-13, atol=1e-14, args=args)
    np.testing.assert_allclose(res.y[:, -1], x0, rtol=0, atol=1e-9)


# --- samplers -----------------------------------------------------------------------

@given(pendulums, st.floats(0.0, 0.999), st.floats(0.0, 2 * np.pi))
def test_pendulum_sample_state_has_the_requested_energy(pend, fraction, phase):
    E = np.array([fraction * pend.separatrix_energy])
    x = pend.sample_state(E, np.array([phase]))
    assert x.shape == (1, 2) and abs(x[0, 0]) < np.pi
    np.testing.assert_allclose(pend.energy(x), E, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("system, kwargs", [
    (IdealPendulum(), dict(radius=2.5)),
    (IdealPendulum(m=2.0, l=0.5, g=9.81), dict(radius=1.0, energy_range=(1e-4, 1.0), log_energy=True)),
    (DampedPendulum(), dict(radius=3.0, energy_range=(0.5, 1.0))),
    (TwoBody(), dict(radius=1.0, energy_range=(1 / 3, 1.0))),
    (TwoBody(m1=1.0, m2=3.0, G=0.5, max_eccentricity=0.9), dict(radius=2.0, energy_range=(0.1, 2.0),
                                                                 log_energy=True)),
], ids=["pendulum", "pendulum-log", "damped", "two-body", "two-body-log"])
def test_data_sample_initial_states_gives_the_requested_energies(system, kwargs):
    x0s, energies = D.sample_initial_states(system, 300, np.random.default_rng(1), **kwargs)
    assert x0s.shape == (300, 2 * system.n_dof) and energies.shape == (300,)
    np.testing.assert_allclose(system.energy(x0s), energies, rtol=1e-12)
    lo, hi = kwargs.get("energy_range", (0.01, 1.0))
    E_max = system.energy(np.eye(2 * system.n_dof)[:1] * kwargs["radius"])[0]  # H(R, 0...)
    frac = energies / E_max
    assert frac.min() >= lo * (1 - 1e-12) and frac.max() <= hi * (1 + 1e-12)
    if isinstance(system, TwoBody):
        assert np.all(energies < 0)
        a = -system.k / (2 * energies)
        np.testing.assert_allclose(a, kwargs["radius"] / (2 * frac), rtol=1e-12)
        q, p = x0s[:, :2], x0s[:, 2:]
        L = system.angular_momentum(x0s)
        A = np.column_stack([p[:, 1] * L, -p[:, 0] * L]) - system.mu * system.k * q / np.linalg.norm(
            q, axis=1)[:, None]
        e = np.linalg.norm(A, axis=1) / (system.mu * system.k)
        assert e.max() <= system.max_eccentricity + 1e-9
        assert (L > 0).any() and (L < 0).any()  # both senses of rotation
    else:
        assert np.abs(x0s[:, 0]).max() <= kwargs["radius"] + 1e-12  # inside the amplitude R
        assert (x0s[:, 1] > 0).any() and (x0s[:, 1] < 0).any()


def test_sampling_is_reproducible_with_a_seed():
    for system, radius in ((IdealPendulum(), 2.5), (TwoBody(), 1.0)):
        a = D.sample_initial_states(system, 20, np.random.default_rng(7), radius=radius)
        b = D.sample_initial_states(system, 20, np.random.default_rng(7), radius=radius)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


def test_a_system_sampler_hook_is_checked_for_its_energies():
    """data.sample_initial_states calls system.sample_initial_states if present, and still checks H(x0) = E."""

    class Liar(MassSpring):
        def sample_initial_states(self, n, rng, radius, energy_range, log_energy):
            return np.ones((n, 2)), np.full(n, 5.0)  # H(1, 1) = 1.25, not 5

    with pytest.raises(ValueError, match="requested energies"):
        D.sample_initial_states(Liar(), 3, np.random.default_rng(0))


# --- datasets -----------------------------------------------------------------------

@pytest.mark.parametrize("system, kwargs, fd_obs", [
    (IdealPendulum(), dict(radius=2.5, t_span=(0.0, 3.0)), 60),
    (DampedPendulum(friction=0.2), dict(radius=2.5, t_span=(0.0, 3.0)), 60),
    (TwoBody(), dict(radius=1.0, energy_range=(1 / 3, 1.0), t_span=(0.0, 5.0)), 400),
], ids=["pendulum", "damped", "two-body"])
def test_make_dataset_works_and_its_targets_are_the_systems_field(system, kwargs, fd_obs):
    ds = D.make_dataset(system, n_traj=6, n_obs=30, seed=3, **kwargs)
    d = 2 * system.n_dof
    assert ds.x.shape == (180, d) and ds.dx_dt.shape == (180, d) and ds.x.dtype == np.float64
    assert ds.system == repr(system)
    np.testing.assert_allclose(ds.dx_dt, system.time_derivative(ds.x), rtol=1e-14, atol=1e-14)
    H = system.energy(ds.x).reshape(6, 30)
    E = ds.energy.reshape(6, 30)
    if isinstance(system, DampedPendulum):
        np.testing.assert_allclose(H[:, 0], E[:, 0], rtol=1e-12)  # E is the initial energy
        assert np.all(np.diff(H, axis=1) < 0)  # then it decays
        # the targets are damped: not the ideal pendulum's field
        assert np.abs(ds.dx_dt - system.conservative().time_derivative(ds.x)).max() > 1e-3
    else:
        np.testing.assert_allclose(H, E, rtol=1e-8)  # DOP853 at make_dataset's rtol 1e-10
    # 6th-order differences of the trajectories agree with the field at the observed states
    # (a fine grid for two bodies: the field changes fast near the periapsis)
    fd = D.make_dataset(system, n_traj=6, n_obs=fd_obs, seed=3, derivative="fd6", **kwargs)
    scale = np.abs(fd.dx_dt).max()
    np.testing.assert_allclose(fd.dx_dt, system.time_derivative(fd.x), rtol=0, atol=1e-4 * scale)


# --- bad input ----------------------------------------------------------------------

@pytest.mark.parametrize("make, match", [
    (lambda: IdealPendulum(m=0.0), "m must be"), (lambda: IdealPendulum(l=-1.0), "l must be"),
    (lambda: IdealPendulum(g=np.nan), "g must be"), (lambda: IdealPendulum(g="x"), "g must be"),
    (lambda: DampedPendulum(friction=-0.1), "friction must be"),
    (lambda: DampedPendulum(friction=np.inf), "friction must be"),
    (lambda: DampedPendulum(l=0.0), "l must be"),
    (lambda: TwoBody(m1=0.0), "m1 must be"), (lambda: TwoBody(m2=np.inf), "m2 must be"),
    (lambda: TwoBody(G=-1.0), "G must be"), (lambda: TwoBody(max_eccentricity=1.0), "max_eccentricity"),
    (lambda: TwoBody(max_eccentricity=-0.1), "max_eccentricity"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_bad_constants_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_pendulum_sampler_input_raises():
    pend = IdealPendulum()
    with pytest.raises(ValueError, match=r"radius must be an amplitude in \(0, pi\)"):
        pend.radius_to_energy(np.pi)
    with pytest.raises(ValueError, match="radius must be"):
        pend.radius_to_energy(-1.0)
    with pytest.raises(ValueError, match=r"libration energies in \[0, 4 m g l"):
        pend.sample_state([pend.separatrix_energy], [0.0])
    with pytest.raises(ValueError, match="libration energies"):
        pend.sample_state([-1.0], [0.0])
    with pytest.raises(ValueError, match="energies and phases must be 1-D arrays of one length"):
        pend.sample_state([1.0, 2.0], [0.0])
    with pytest.raises(ValueError, match="must be finite"):
        pend.sample_state([1.0], [np.nan])
    with pytest.raises(ValueError, match="energies must be in"):
        pend.period([pend.separatrix_energy])
    # E_max = H(R, 0) below the separatrix, but energy_range may ask for more: refused, not wrapped around
    with pytest.raises(ValueError, match="libration energies"):
        D.sample_initial_states(pend, 50, np.random.default_rng(0), radius=3.0, energy_range=(1.0, 1.5))
    with pytest.raises(ValueError, match="radius must be an amplitude"):
        D.make_dataset(pend, n_traj=2, radius=4.0)


def test_bad_two_body_input_raises():
    tb = TwoBody()
    with pytest.raises(ValueError, match=r"q = 0 \(the bodies coincide"):
        tb.energy([[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0]])
    with pytest.raises(ValueError, match="in row 1"):
        tb.time_derivative([[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0]])
    with pytest.raises(ValueError, match=r"x must have shape \(N, 4\)"):
        tb.energy(np.ones((3, 2)))
    with pytest.raises(ValueError, match="energies must be negative"):
        tb.period([0.5])
    with pytest.raises(ValueError, match="e must be eccentricities"):
        tb.orbit_state(1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="a must be positive"):
        tb.orbit_state(-1.0, 0.1, 0.0)
    with pytest.raises(ValueError, match="direction must be"):
        tb.orbit_state(1.0, 0.1, 0.0, direction=0.5)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="n must be an integer"):
        tb.sample_initial_states(0, rng)
    with pytest.raises(ValueError, match="energy_range must be fractions"):
        tb.sample_initial_states(3, rng, energy_range=(0.0, 1.0))
    with pytest.raises(ValueError, match="energy_range must be a pair"):
        tb.sample_initial_states(3, rng, energy_range=1.0)
    with pytest.raises(ValueError, match="radius must be"):
        D.sample_initial_states(tb, 3, rng, radius=-1.0)


def test_systems_keep_the_system_interface():
    for system in (IdealPendulum(), DampedPendulum(), TwoBody()):
        assert isinstance(system, System)
        assert system.n_dof == (2 if isinstance(system, TwoBody) else 1)
        assert eval(repr(system)).__dict__ == system.__dict__  # repr round-trips
