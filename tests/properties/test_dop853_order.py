"""DOP853: order 8 with fixed steps, global error proportional to the tolerance, learned H conserved.

* Fixed steps of the DOP853 tableau (no error control): the error at t_end
  against scipy's DOP853 at rtol 2.3e-14 (an integrator sharing no code with ours)
  falls by 2^8 when h halves. Mutants: the RK45 tableau in the same solver
  (order 5), and the DOP853 tableau with one weight off by 1e-6 (order 1).
* Adaptive ``solve_ivp``: the global error is below a bound proportional to
  the tolerance and falls when the tolerance does. Mutant: a solver that
  ignores the tolerance it is given.
* An HNN trained with Adam on the mass-spring: its H is conserved along the
  DOP853 flow of its field to the tolerance (the check of test_hnn_field).
"""

import numpy as np
import pytest
import scipy.integrate
from _hamiltonians import Pendulum, RandomPolynomial
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_flow_symplectic import trained_spring_hnn
from test_hnn_field import check_energy_conserved_to_tolerance

from hnn_np import hnn
from hnn_np.integrate import solve_ivp
from hnn_np.systems import IdealPendulum

# The fixed-step solver and the tableaux: both imports in this one place, as
# the integrate package is being reorganised.
from hnn_np.integrate import METHODS  # isort: skip
from hnn_np.integrate.fixed_step import fixed_step_solve  # isort: skip

DOP853, RK45 = METHODS["DOP853"], METHODS["RK45"]
PENDULUM = Pendulum(IdealPendulum())


@st.composite
def problems(draw):
    """(rhs, jacobian, y0): the pendulum or a random polynomial separable H (d = 1, 2), away from rest."""
    if draw(st.booleans()):
        ham = PENDULUM
        jac = lambda y: np.array([[0.0, ham.c_T], [-ham.c_V * np.cos(y[0]), 0.0]])  # noqa: E731
    else:
        ham = RandomPolynomial(draw(st.sampled_from([1, 2])), np.random.default_rng(draw(st.integers(0, 2**16))))
        jac = ham.jacobian
    y0 = np.array([draw(st.floats(-1.5, 1.5)) for _ in range(2 * ham.d)])
    assume(np.linalg.norm(ham.rhs(0.0, y0)) > 0.1)  # at rest the error is zero
    return ham.rhs, jac, y0


N_SEGMENTS = 4  # the error is measured at t_end k / 4, k = 1..4


def reference(fun, y0, t_end):
    """The exact solution at t_end k / N_SEGMENTS, (n, N_SEGMENTS): scipy's DOP853 at its tightest.

    rtol = 2.3e-14 is the smallest scipy accepts (100 eps); its error is a
    few 1e-14 (1 + |y|), the floor of every error measured against it.
    """
    times = t_end * np.arange(1, N_SEGMENTS + 1) / N_SEGMENTS
    res = scipy.integrate.solve_ivp(fun, (0.0, t_end), y0, method="DOP853", t_eval=times, rtol=2.3e-14, atol=1e-16)
    assert res.success
    return res.y


def fixed_step_error(fun, y0, t_end, m, tab, ref=None):
    """max over t_k = t_end k / 4 of |y_k - exact|, with m fixed steps per quarter.

    The quarters are run one after another from the previous end (the same
    steps as one run of 4 m steps); the maximum over four times keeps a
    chance zero of the leading error term at one time out of the order.
    """
    ref = reference(fun, y0, t_end) if ref is None else ref
    y, err, dt = y0, 0.0, t_end / N_SEGMENTS
    for k in range(N_SEGMENTS):
        y = fixed_step_solve(fun, (k * dt, (k + 1) * dt), y, m, tab)
        err = max(err, np.linalg.norm(y - ref[:, k]))
    return err


COARSE_ERROR = 1e-8  # the coarser of the two grids has an error just below this
FLOOR = 3e-14  # the reference's error (and the fixed-step round-off), per unit of 1 + |y|


def steps_for(fun, y0, t_end, tab=DOP853):
    """m steps per quarter with an error just below COARSE_ERROR.

    The window where DOP853's error behaves like C h^8 is narrow: above
    ~1e-8 the higher terms still lower the measured order (the pendulum
    gives 7.2 between errors 2e-7 and 1e-9), below ~1e-13 the reference's
    error takes over. m is guessed from one step per quarter by the h^8 law
    and then raised by factors 1.5 until the error is below COARSE_ERROR:
    it lands in (COARSE_ERROR / 1.5^8, COARSE_ERROR), the fine grid 256x lower.
    """
    ref = reference(fun, y0, t_end)
    e1 = fixed_step_error(fun, y0, t_end, 1, tab, ref)
    m = max(1, int(np.floor((e1 / COARSE_ERROR) ** (1 / 8))))
    while fixed_step_error(fun, y0, t_end, m, tab, ref) >= COARSE_ERROR:
        m = int(np.ceil(1.5 * m))
    return m


def measured_order(fun, y0, t_end, m, tab):
    """log2(err(h) / err(h/2)) with m and 2m fixed steps of ``tab`` per quarter; and err(h/2)."""
    ref = reference(fun, y0, t_end)
    errs = [fixed_step_error(fun, y0, t_end, k, tab, ref) for k in (m, 2 * m)]
    return np.log2(errs[0] / errs[1]), errs[1]


def assert_order(fun, y0, t_end, n, tab, order):
    """measured >= order - 1: one-sided.

    err(h) = C h^8 + C' h^9 + ...; at coarse errors of 1e-9 .. 1e-8 the
    higher terms still lower log2(err(h) / err(h/2)) by up to ~0.6 (the
    pendulum and random polynomials give 7.4 .. 8; closer to the asymptote the
    reference's error takes over). So this separates order 8 from 6 and
    below, with room; the oscillator of tests/test_integrate_solve_ivp.py
    pins 8 +- 0.3 on one problem. Upwards the shift has no
    useful limit: where C is small against C' h (a start at a symmetric
    point) the measured ratio is that of the h^9 term, above 8, and a method
    cannot gain order by a wrong coefficient. The fine error is kept >= 10 FLOOR, so the reference moves the ratio by < 0.15.
    """
    measured, _ = measured_order(fun, y0, t_end, n, tab)
    assert measured >= order - 1, f"measured order {measured:.3f}, expected {order}"
    return measured


@given(problems(), st.floats(1.0, 3.0))
@settings(max_examples=8)
def test_dop853_fixed_steps_are_of_order_8(problem, t_end):
    fun, _, y0 = problem
    n = steps_for(fun, y0, t_end)
    _, err = measured_order(fun, y0, t_end, n, DOP853)
    assume(err > 10 * FLOOR * (1 + np.abs(y0).max()))  # well above the reference's error
    assert_order(fun, y0, t_end, n, DOP853, 8)


def perturbed_dop853(delta=1e-6):
    """The DOP853 tableau with b_0 += delta, b_11 -= delta (still sum b = 1: consistent, order 1).

    The step takes y_new from row s of A, which is B (the FSAL row): both change.
    """
    B, A = DOP853.B.copy(), DOP853.A.copy()
    B[0] += delta
    B[-1] -= delta
    A[DOP853.n_stages, : DOP853.n_stages] = B
    return DOP853._replace(B=B, A=A)


@pytest.mark.parametrize("mutant", ["RK45 tableau", "B off by 1e-6"])
def test_order_check_rejects_lower_order_tableaux(mutant):
    """The same check, same problem: RK45's B is of order 5; a 1e-6 error in B leaves order 1."""
    fun, y0, t_end = PENDULUM.rhs, np.array([0.8, 0.5]), 2.0
    n = steps_for(fun, y0, t_end)
    assert_order(fun, y0, t_end, n, DOP853, 8)
    tab = RK45 if mutant == "RK45 tableau" else perturbed_dop853()
    with pytest.raises(AssertionError):
        assert_order(fun, y0, t_end, n, tab, 8)


# --- adaptive steps: global error ~ tolerance ----------------------------------------

TOLS = (1e-5, 1e-11)


def adaptive_dop853(fun, y0, t_end, tol):
    res = solve_ivp(fun, (0.0, t_end), y0, method="DOP853", rtol=tol, atol=tol)
    assert res.success, res.message
    return res.y[:, -1], len(res.t) - 1


def propagator_norm(fun, jac, y0, t_end):
    """max over t of |M(t)|_F, M the Jacobian of the flow (variational equations at 1e-10, on a grid of 41 times)."""
    D = y0.shape[0]

    def augmented(t, y):
        return np.concatenate([fun(t, y[:D]), (jac(y[:D]) @ y[D:].reshape(D, D)).ravel()])

    t_eval = np.linspace(0.0, t_end, 41)
    res = solve_ivp(augmented, (0.0, t_end), np.concatenate([y0, np.eye(D).ravel()]), method="DOP853",
                    t_eval=t_eval, rtol=1e-10, atol=1e-10)
    assert res.success
    return max(np.linalg.norm(res.y[D:, k]) for k in range(len(t_eval)))


def check_error_proportional_to_tolerance(solver, fun, jac, y0, t_end):
    """At each tol, |y(t_end) - exact| <= n_steps sqrt(n) tol (1 + |y|) |M|^2
    (local errors <= their estimate, sqrt(n) tol (1 + |y|) in norm; one made at
    t_k reaches t_end through M(t_end) M(t_k)^-1, of norm <= max_t |M|^2 for a
    symplectic M, |M^-1| = |M|); and a 1e6 tighter tol
    cuts the error >= 10x, unless it is within a decade of the reference's error.

    Only 10x: DOP853's error estimate is conservative, so at a loose tol the
    true error may already be far below tol (a smooth problem in a few
    steps), and the step count moves in integer jumps.
    """
    ref = reference(fun, y0, t_end)[:, -1]
    growth = propagator_norm(fun, jac, y0, t_end) ** 2
    errs = []
    for tol in TOLS:
        y, n_steps = solver(fun, y0, t_end, tol)
        err = np.linalg.norm(y - ref)
        bound = n_steps * tol * (1 + np.abs(ref).max()) * np.sqrt(y0.shape[0]) * growth
        assert err <= bound, f"global error {err:.3e} at tol {tol:g}, bound {bound:.3e}"
        errs.append(err)
    floor = 10 * FLOOR * (1 + np.abs(ref).max())
    assert errs[1] <= max(errs[0] / 10, floor), f"error {errs[0]:.3e} at tol {TOLS[0]:g}, {errs[1]:.3e} at {TOLS[1]:g}"
    return errs


@given(problems(), st.floats(1.0, 3.0))
@settings(max_examples=10)
def test_dop853_global_error_is_proportional_to_the_tolerance(problem, t_end):
    fun, jac, y0 = problem
    check_error_proportional_to_tolerance(adaptive_dop853, fun, jac, y0, t_end)


def test_tolerance_check_rejects_a_solver_that_ignores_the_tolerance():
    fun, y0 = PENDULUM.rhs, np.array([1.2, 0.5])
    jac = lambda y: np.array([[0.0, PENDULUM.c_T], [-PENDULUM.c_V * np.cos(y[0]), 0.0]])  # noqa: E731

    def ignores_tol(fun, y0, t_end, tol):
        return adaptive_dop853(fun, y0, t_end, TOLS[0])

    check_error_proportional_to_tolerance(adaptive_dop853, fun, jac, y0, 3.0)
    with pytest.raises(AssertionError):
        check_error_proportional_to_tolerance(ignores_tol, fun, jac, y0, 3.0)


# --- a trained HNN conserves its own energy along its DOP853 flow ---------------------------

@pytest.mark.parametrize("seed", [0, 1])
def test_trained_hnn_energy_is_conserved_along_its_dop853_flow(seed):
    params, first_loss, last_loss = trained_spring_hnn(seed)
    assert last_loss < 0.5 * first_loss
    _, _, moved = check_energy_conserved_to_tolerance(hnn.vector_field, params, np.array([0.6, -0.2]), 3.0)
    assert moved > 0.1
