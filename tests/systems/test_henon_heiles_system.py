"""hnn_np.systems.HenonHeiles against what is known without it.

* H is the stated polynomial; its gradient against central differences of
  energy(), and the field against J times those differences;
* the jitted right-hand sides against the NumPy field, bit for bit;
* trajectories of our DOP853 against scipy's, and H conserved along them;
* the escape energy 1/6: V and grad V at the three saddles, V - 1/6 on the
  triangle's edges, and an orbit aimed at the saddle (0, 1) that stays inside
  just below 1/6 and leaves just above it;
* the section's bounds in closed form at E = 1/12, and the samplers against
  the energies asked of them and the area of the allowed region.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import solve_ivp as scipy_solve_ivp

from hnn_np import data as D
from hnn_np.integrate import solve_ivp
from hnn_np.systems import HenonHeiles
from hnn_np.systems.henon_heiles import ESCAPE_ENERGY, henon_heiles_rhs, henon_heiles_rhs_into

HH = HenonHeiles()
coords = st.floats(-0.8, 0.8)


@st.composite
def states(draw, max_rows=6):
    n = draw(st.integers(1, max_rows))
    return np.array([[draw(coords) for _ in range(4)] for _ in range(n)])


def central_gradient(energy, x, h=1e-5):
    """dH/dx_i ~ [H(x + h e_i) - H(x - h e_i)] / (2h); H is cubic, so the error is h^2 H''' / 6 = O(1e-10)."""
    return np.stack([(energy(x + h * e) - energy(x - h * e)) / (2 * h) for e in np.eye(4)], axis=1)


@given(states())
def test_energy_is_the_stated_polynomial(x):
    X, Y, PX, PY = x.T
    want = (PX**2 + PY**2) / 2 + (X**2 + Y**2) / 2 + X**2 * Y - Y**3 / 3
    np.testing.assert_allclose(HH.energy(x), want, rtol=1e-13, atol=1e-15)


@given(states())
def test_field_is_J_times_the_finite_difference_gradient(x):
    dH = central_gradient(HH.energy, x)
    np.testing.assert_allclose(HH.hamiltonian_gradient(x), dH, atol=1e-9)
    J_dH = np.concatenate([dH[:, 2:], -dH[:, :2]], axis=1)  # (dH/dp, -dH/dq)
    np.testing.assert_allclose(HH.time_derivative(x), J_dH, atol=1e-9)


@given(states())
def test_jitted_right_hand_sides_equal_the_numpy_field(x):
    fun, args = HH.ode()
    fun_into, args_into = HH.ode_inplace()
    S = HH.time_derivative(x)
    for i, row in enumerate(x):
        assert np.array_equal(fun(0.0, row, *args), S[i])
        assert np.array_equal(henon_heiles_rhs(0.0, row), S[i])  # the plain Python twin
        out = np.full(4, np.nan)
        fun_into(0.0, row, out, *args_into)
        assert np.array_equal(out, S[i])
        out[:] = np.nan
        henon_heiles_rhs_into(0.0, row, out, np.zeros(0))
        assert np.array_equal(out, S[i])


@pytest.mark.parametrize("energy", [1 / 12, 1 / 8])
def test_dop853_trajectory_keeps_H_and_matches_scipy(energy):
    y0 = HH.section_state(energy, 0.1, 0.05)[0]
    fun, args = HH.ode()
    t = np.linspace(0.0, 200.0, 401)
    ours = solve_ivp(fun, (0.0, 200.0), y0, t_eval=t, rtol=1e-12, atol=1e-12, args=args)
    ref = scipy_solve_ivp(lambda _t, y: HH.time_derivative(y[None])[0], (0.0, 200.0), y0, method="DOP853",
                          t_eval=t, rtol=1e-12, atol=1e-12)
    assert ours.success and ref.success
    assert np.max(np.abs(HH.energy(ours.y.T) - energy)) < 1e-11
    # chaos at E = 1/8 amplifies rounding: compare over the first 50 time units only
    near = t <= 50.0
    np.testing.assert_allclose(ours.y[:, near], ref.y[:, near], atol=1e-7)


SADDLES = np.array([[0.0, 1.0], [np.sqrt(3) / 2, -0.5], [-np.sqrt(3) / 2, -0.5]])


def test_the_three_saddles_are_at_the_escape_energy():
    assert ESCAPE_ENERGY == HH.escape_energy == 1 / 6
    x = np.concatenate([SADDLES, np.zeros((3, 2))], axis=1)
    np.testing.assert_allclose(HH.energy(x), 1 / 6, rtol=1e-15)
    np.testing.assert_allclose(HH.hamiltonian_gradient(x), 0.0, atol=1e-15)  # equilibria
    # V = 1/6 along the triangle's edges, below inside, above just outside
    s = np.linspace(0.0, 1.0, 101)[:, None]
    for a, b in ((0, 1), (1, 2), (2, 0)):
        edge = SADDLES[a] + s * (SADDLES[b] - SADDLES[a])
        np.testing.assert_allclose(HH.potential(edge[:, 0], edge[:, 1]), 1 / 6, atol=1e-15)
    rng = np.random.default_rng(0)
    w = rng.dirichlet(np.ones(3), 5000)  # barycentric weights: points inside the triangle
    inside = w @ SADDLES
    assert np.all(HH.potential(inside[:, 0], inside[:, 1]) < 1 / 6) and np.all(HH.inside(*inside.T))
    outside = 1.05 * SADDLES  # just beyond each saddle
    assert not np.any(HH.inside(*outside.T))


@pytest.mark.parametrize("energy, escapes", [(1 / 6 - 0.005, False), (1 / 6 + 0.005, True)])
def test_an_orbit_aimed_at_the_saddle_escapes_only_above_one_sixth(energy, escapes):
    """From the origin with p along +y: the energy barrier at (0, 1) is exactly 1/6."""
    y0 = np.array([0.0, 0.0, 0.0, np.sqrt(2 * energy)])
    fun, args = HH.ode()

    def far(t, y):  # scipy stops when y = 3, well beyond the saddle
        return y[1] - 3.0

    far.terminal = True
    res = scipy_solve_ivp(lambda _t, y: fun(_t, y, *args), (0.0, 100.0), y0, method="DOP853", events=far,
                          rtol=1e-10, atol=1e-12)
    assert (res.status == 1) == escapes
    assert (res.y[1].max() > 1.0) == escapes  # beyond the saddle's height, or turned back below it


def test_section_bounds_in_closed_form_and_on_the_potential():
    lo, hi = HH.section_bounds(1 / 12)  # y^2 / 2 - y^3 / 3 = 1/12: (2y - 1)(2y^2 - 2y - 1) = 0
    assert lo == pytest.approx((1 - np.sqrt(3)) / 2, abs=1e-14) and hi == pytest.approx(0.5, abs=1e-14)
    for E in (0.01, 1 / 8, 0.16):
        lo, hi = HH.section_bounds(E)
        assert -0.5 < lo < 0 < hi < 1
        np.testing.assert_allclose(HH.potential(0.0, np.array([lo, hi])), E, rtol=1e-12)
    for bad in (0.0, 1 / 6, -1.0, "a"):
        with pytest.raises(ValueError, match="energy"):
            HH.section_bounds(bad)


def test_section_states_lie_on_the_section_and_the_shell():
    y = np.linspace(-0.3, 0.6, 7)
    x = HH.section_state(1 / 8, y, 0.1 * y)
    assert x.shape == (7, 4) and np.all(x[:, 0] == 0) and np.all(x[:, 2] >= 0)
    np.testing.assert_allclose(HH.energy(x), 1 / 8, rtol=1e-14)
    np.testing.assert_array_equal(x[:, 1], y)
    lo, _ = HH.section_bounds(1 / 8)
    with pytest.raises(ValueError, match="outside the section"):
        HH.section_state(1 / 8, lo - 1e-3, 0.0)
    with pytest.raises(ValueError, match="outside the section"):
        HH.section_state(1 / 8, 0.0, 0.6)  # p_y^2 > 2 E
    with pytest.raises(ValueError, match="outside the section"):
        HH.section_state(0.16, 1.45, 0.0)  # V(0, y) < E again, but beyond the saddle at y = 1


def test_shell_states_have_their_energies_and_the_microcanonical_law():
    rng = np.random.default_rng(1)
    E = np.full(40000, 1 / 8)
    x = HH.shell_states(E, rng)
    np.testing.assert_allclose(HH.energy(x), E, rtol=1e-12)
    assert np.all(HH.inside(x[:, 0], x[:, 1]))
    # q uniform on {V < E}: the share with y > 0 is the share of the area, from a fine grid
    g = np.linspace(-1.0, 1.0, 2001)
    X, Y = np.meshgrid(g, g)
    allowed = HH.inside(X, Y) & (HH.potential(X, Y) < 1 / 8)
    share = allowed[Y > 0].sum() / allowed.sum()
    assert abs(np.mean(x[:, 1] > 0) - share) < 4 * np.sqrt(share * (1 - share) / len(x))
    # the direction of p uniform: <p_x^2> = <p_y^2>, <p_x p_y> = 0
    px, py = x[:, 2], x[:, 3]
    assert abs(np.mean(px**2) - np.mean(py**2)) < 0.03 * np.mean(px**2 + py**2)
    assert abs(np.mean(px * py)) < 0.02 * np.mean(px**2 + py**2)
    for bad in ([0.2], [0.0], [np.nan]):
        with pytest.raises(ValueError, match="energies"):
            HH.shell_states(bad, rng)


def test_the_data_hook_samples_below_the_escape_energy():
    x0, E = D.sample_initial_states(HH, 500, np.random.default_rng(2), radius=0.5, energy_range=(0.5, 1.0))
    assert E.min() >= 1 / 16 and E.max() <= 1 / 8
    np.testing.assert_allclose(HH.energy(x0), E, rtol=1e-12)
    with pytest.raises(ValueError, match="escape energy"):
        D.sample_initial_states(HH, 5, np.random.default_rng(2), radius=0.6, energy_range=(0.5, 1.0))
