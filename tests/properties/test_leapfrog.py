"""Leapfrog (:func:`hnn_np.integrate.leapfrog`): bounded energy error, reversibility, order 2.

Each property is a check function called on the package's leapfrog and on
a mutant that must fail it:

* energy: |H(x_n) - H(x_0)| stays O(h^2) with no drift over long times
  (the maximum over the last tenth of the run is that over the first tenth);
  RK45 at a loose tolerance, not symplectic, drifts;
* reversibility: n steps with h then n steps with -h return to the start to
  round-off; symplectic Euler (symplectic, but not symmetric) does not;
* order 2: the error against scipy's DOP853 at 1e-13 drops by 4 when h
  halves; symplectic Euler's drops by 2.
"""

import numpy as np
import pytest
import scipy.integrate
from _hamiltonians import EPS, Pendulum, RandomSeparable, leapfrog_with_tangent
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_flow_symplectic import separable_problems  # the same pendulum / random separable H
from hnn_np.testing.strategies import values

from hnn_np.integrate import leapfrog, solve_ivp
from hnn_np.systems import IdealPendulum

PENDULUM_SYSTEM = IdealPendulum()
PENDULUM = Pendulum(PENDULUM_SYSTEM)


def package_leapfrog(ham, q0, p0, h, n):
    """(q, p) (n+1, d) from hnn_np.integrate.leapfrog with n steps of h (h < 0: backwards from t = 0)."""
    out = leapfrog(ham.dV, ham.dT, (0.0, n * h), q0, p0, n_steps=n)
    return out.q, out.p


def symplectic_euler(ham, q0, p0, h, n):
    """Kick then drift with the full step: p <- p - h V'(q), q <- q + h T'(p). The mutant.

    Symplectic (a composition of two shears) and of order 1; not symmetric:
    its map with -h is not the inverse of its map with h.
    """
    q, p = np.array(q0, dtype=np.float64), np.array(p0, dtype=np.float64)
    qs, ps = [q], [p]
    for _ in range(n):
        p = p - h * ham.dV(q)
        q = q + h * ham.dT(p)
        qs.append(q)
        ps.append(p)
    return np.array(qs), np.array(ps)


def test_closed_form_pendulum_gradients_are_the_systems():
    """The pendulum's V', T' used below are those of IdealPendulum.hamiltonian_gradient."""
    x = np.random.default_rng(0).uniform(-3, 3, (50, 2))
    dH = PENDULUM_SYSTEM.hamiltonian_gradient(x)
    ours = np.stack([[PENDULUM.dV(row[:1])[0], PENDULUM.dT(row[1:])[0]] for row in x])
    np.testing.assert_allclose(ours, dH, rtol=1e-15, atol=1e-15)


# --- energy: bounded, no drift ----------------------------------------------------

def assert_no_energy_drift(t, dH, roundoff):
    """max |dH| over the last tenth of [0, T] <= 1.5 x max |dH| over the first tenth.

    For a symplectic method the energy error is that of a conserved modified
    Hamiltonian H~ = H + O(h^2): it oscillates with the motion, and two
    windows each spanning several periods see the same peaks (1.5 allows for
    where the steps fall on the peak). A drift grows ~t: ~10x between them.
    """
    T = t[-1]
    first = np.abs(dH[t <= 0.1 * T]).max()
    last = np.abs(dH[t >= 0.9 * T]).max()
    assert last <= 1.5 * first + roundoff, f"energy error {first:.3e} in the first tenth, {last:.3e} in the last"
    return first, last


def modified_hamiltonian_bound(ham, q, p, h):
    """2 max |H~ - H| along the orbit, H~ the modified Hamiltonian of Stormer-Verlet.

    H~ = H + h^2 (c1 {T,{T,V}} + c2 {V,{V,T}}) + O(h^4), |c1|, |c2| <= 1/12
    (Hairer, Lubich, Wanner, GNI, Sect. IX.4); for d = 1, {T,{T,V}} = -T'^2 V''
    and {V,{V,T}} = V'^2 T''. H~ is conserved, so |H(x_n) - H(x_0)| <= 2
    max |H~ - H|; a factor 1.5 covers the O(h^4) rest for h w0 <= 0.25.
    """
    dV, dT = ham.dV(q[:, 0]), ham.dT(p[:, 0])
    d2V, d2T = ham.c_V * np.cos(q[:, 0]), ham.c_T
    return 1.5 * 2 * h**2 / 12 * np.max(dT**2 * np.abs(d2V) + dV**2 * np.abs(d2T))


# Librating pendulum states, |q|, |p| <= 1.8: H <= 12 sin^2(0.9) + 1.8^2 / 2 < 0.75 E_sep, so
# the period is at most ~3.7 (4 K(k) / w0) and a tenth of T_LONG spans >= 5 periods.
librating = st.tuples(st.floats(-1.8, 1.8), st.floats(-1.8, 1.8))
T_LONG = 200.0


@given(librating, st.floats(0.02, 0.1))
@settings(max_examples=10)
def test_leapfrog_energy_error_is_bounded_without_drift(x0, h):
    n = int(round(T_LONG / h))
    q, p = package_leapfrog(PENDULUM, np.array(x0[:1]), np.array(x0[1:]), T_LONG / n, n)
    t = np.linspace(0.0, T_LONG, n + 1)
    H = PENDULUM.energy(q, p)
    dH = H - H[0]
    roundoff = 10 * n * EPS * (1.0 + abs(H[0]))  # a few ulps of H per step, summed
    assert_no_energy_drift(t, dH, roundoff)
    assert np.abs(dH).max() <= modified_hamiltonian_bound(PENDULUM, q, p, T_LONG / n) + roundoff


@pytest.mark.parametrize("x0", [(0.3, 0.0), (1.0, -1.0), (0.0, 0.1)])
def test_no_drift_check_rejects_rk45_at_a_loose_tolerance(x0):
    """RK45 (rtol = atol = 1e-3) is not symplectic: its energy error grows along the run."""
    res = solve_ivp(PENDULUM_SYSTEM.rhs, (0.0, T_LONG), np.array(x0), method="RK45", rtol=1e-3, atol=1e-3)
    assert res.success
    H = PENDULUM_SYSTEM.energy(res.y.T)
    with pytest.raises(AssertionError):
        assert_no_energy_drift(res.t, H - H[0], 0.0)


# --- reversibility ------------------------------------------------------------------

def reversal_error(integrate, ham, q0, p0, h, n):
    """|x_0 - (map with -h)^n (map with h)^n x_0|_max, and the scale of the states visited."""
    q, p = integrate(ham, q0, p0, h, n)
    q_back, p_back = integrate(ham, q[-1], p[-1], -h, n)
    err = max(np.abs(q_back[-1] - q0).max(), np.abs(p_back[-1] - p0).max())
    return err, 1.0 + max(np.abs(q).max(), np.abs(p).max())


def reversal_bound(ham, q0, p0, h, n, scale):
    """Round-off of 2n steps: each rounds the state by ~4 eps scale (three updates,
    each an add and a product), and an error made at step k reaches the end
    through the propagator M_n M_k^-1, |.| <= M_max^2 (M_k^-1 = -J M_k^T J)."""
    M_max = leapfrog_with_tangent(ham, q0, p0, h, n).M_max
    return 2 * n * 4 * EPS * scale * M_max**2


def assert_reversible(integrate, ham, q0, p0, h, n):
    err, scale = reversal_error(integrate, ham, q0, p0, h, n)
    bound = reversal_bound(ham, q0, p0, h, n, scale)
    assert err <= bound, f"back at the start to {err:.3e}, round-off bound {bound:.3e}"
    return err, bound


@given(separable_problems(), st.floats(0.01, 0.2), st.integers(1, 100))
@settings(max_examples=15)
def test_leapfrog_is_time_reversible(problem, h, n):
    ham, q0, p0 = problem
    assert_reversible(package_leapfrog, ham, q0, p0, h, n)


@pytest.mark.parametrize("ham", [PENDULUM, RandomSeparable(2, seed=7)], ids=["pendulum", "separable-2"])
def test_reversibility_check_rejects_symplectic_euler(ham):
    q0, p0 = np.full(ham.d, 0.8), np.full(ham.d, 0.5)
    with pytest.raises(AssertionError):
        assert_reversible(symplectic_euler, ham, q0, p0, 0.05, 40)


# --- order 2 ------------------------------------------------------------------------

def reference_solution(ham, q0, p0, t_end):
    """The exact flow to ~1e-12: scipy's DOP853, an integrator that shares no code with ours."""
    res = scipy.integrate.solve_ivp(ham.rhs, (0.0, t_end), np.concatenate([q0, p0]), method="DOP853",
                                    rtol=1e-13, atol=1e-13)
    assert res.success
    return res.y[:, -1]


def measured_order(integrate, ham, q0, p0, t_end, n):
    """log2(err(h) / err(h/2)) at t_end, h = t_end / n; and the smaller error."""
    ref = reference_solution(ham, q0, p0, t_end)
    errs = []
    for m in (n, 2 * n):
        q, p = integrate(ham, q0, p0, t_end / m, m)
        errs.append(np.linalg.norm(np.concatenate([q[-1], p[-1]]) - ref))
    return np.log2(errs[0] / errs[1]), errs[1]


def assert_order(integrate, ham, q0, p0, t_end, n, order):
    """The measured order is ``order`` +- 0.25.

    err(h) = C h^p (1 + O(h^2)) for a symmetric method (O(h) otherwise); at
    h <= 0.1 and frequencies ~2.5 the correction shifts log2 by < 0.1.
    """
    measured, err = measured_order(integrate, ham, q0, p0, t_end, n)
    assert abs(measured - order) <= 0.25, f"measured order {measured:.3f}, expected {order}"
    return measured


@given(separable_problems(), st.floats(1.0, 3.0), st.integers(20, 60))
@settings(max_examples=12)
def test_leapfrog_is_of_order_2(problem, t_end, n):
    ham, q0, p0 = problem
    # Away from an equilibrium, where the solution (and the error) is zero.
    assume(np.linalg.norm(ham.rhs(0.0, np.concatenate([q0, p0]))) > 0.1)
    _, err = measured_order(package_leapfrog, ham, q0, p0, t_end, n)
    assume(err > 1e4 * 1e-12)  # the error far above the reference's ~1e-12
    assert_order(package_leapfrog, ham, q0, p0, t_end, n, 2)


@pytest.mark.parametrize("ham", [PENDULUM, RandomSeparable(1, seed=2)], ids=["pendulum", "separable-1"])
def test_order_check_rejects_symplectic_euler(ham):
    q0, p0 = np.full(ham.d, 0.8), np.full(ham.d, 0.5)
    assert abs(measured_order(package_leapfrog, ham, q0, p0, 2.0, 40)[0] - 2) <= 0.25
    with pytest.raises(AssertionError):
        assert_order(symplectic_euler, ham, q0, p0, 2.0, 40, 2)
