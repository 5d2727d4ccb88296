"""The HNN field S = J dH/dx against its energy H, by checks that a wrong gradient fails.

S is computed by ``hnn.vector_field`` (the backprop sweep), H by
``mlp.forward``; every check relates the two through something independent
of the sweep:

* S = J grad H with grad H by central differences of H (each basis
  direction and a random one);
* dH/dt = 0 along the flow: H(x(t)) along a short DOP853 trajectory of S,
  differentiated at t = 0 by finite differences in t;
* S is Hamiltonian: div S = 0 and J DS symmetric, DS by central differences
  of S (not the code's own Hessian);
* H is conserved along the integrated flow of S to the integrator's
  tolerance, and more so at a tighter tolerance.

Each check is a function run on ``vector_field`` and on mutants of it,
which it must reject: dH/dq scaled by 1.01, J replaced by its transpose, a
backprop sweep with tanh' taken as 1 - a instead of 1 - a^2, and a friction
term -0.01 p added to dp/dt. (The J-transposed field -S = J grad(-H) is
Hamiltonian and conserves H: only the gradient check can reject it. Note that dH/dx . S = 0, the identity
g . J g = 0, holds for *every* g and so tells nothing about the gradient.)
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hnn_np.testing.strategies import assert_fd_agrees, directional_fd, hnn_sizes, params_for, states, unit_direction

from hnn_np import hnn, mlp
from hnn_np.integrate import solve_ivp
from hnn_np.symplectic import J_matrix, apply_J, apply_J_T

EPS = np.finfo(np.float64).eps


# --- the field and its mutants ------------------------------------------------------

def field_by_hand(params, x, tanh_prime=lambda a: 1 - a**2):
    """J dH/dx by a sweep written here: a[l+1] = tanh(a[l] W[l] + b[l]),
    g = W[L-1][:, 0], g <- (g * tanh'(a[l+1])) W[l]^T. With the default tanh'
    it is vector_field; with another it is a mutant."""
    acts = [x]
    for W, b in params[:-1]:
        acts.append(np.tanh(acts[-1] @ W + b))
    g = np.broadcast_to(params[-1][0][:, 0], (x.shape[0], params[-1][0].shape[0]))
    for l in range(len(params) - 2, -1, -1):
        g = (g * tanh_prime(acts[l + 1])) @ params[l][0].T
    return apply_J(g)


def dHdq_scaled(params, x):
    """Mutant: dp/dt = -1.01 dH/dq."""
    S = hnn.vector_field(params, x).copy()
    S[:, S.shape[1] // 2:] *= 1.01
    return S


def J_transposed(params, x):
    """Mutant: S = J^T dH/dx = -J dH/dx."""
    return apply_J_T(mlp.input_gradient(params, x))


def tanh_prime_wrong(params, x):
    """Mutant: the backprop sweep with tanh'(z) taken as 1 - tanh(z)."""
    return field_by_hand(params, x, tanh_prime=lambda a: 1 - a)


def with_friction(params, x):
    """Mutant: dp/dt = -dH/dq - 0.01 p (a dissipative, non-Hamiltonian field)."""
    S = hnn.vector_field(params, x).copy()
    n = S.shape[1] // 2
    S[:, n:] -= 0.01 * x[:, n:]
    return S


MUTANTS = {"dH/dq x 1.01": dHdq_scaled, "J transposed": J_transposed,
           "tanh' = 1 - a": tanh_prime_wrong, "friction": with_friction}


@st.composite
def nets(draw, max_rows=4):
    """(params, x): an HNN with 1 to 3 hidden layers, any scale of weights, a few states."""
    sizes = draw(hnn_sizes(min_layers=1, max_layers=3, max_width=10))
    params = draw(params_for(sizes))
    x = draw(states(st.integers(1, max_rows), sizes[0], bound=2.0))
    return params, x


def fixed_net(sizes, seed, scale=1.5, n_rows=3):
    """A network and states for the mutant tests (a mutant must be caught on an ordinary case)."""
    params = [(W * scale, b * scale) for W, b in mlp.init_params(sizes, seed=seed)]
    x = np.random.default_rng(seed).uniform(-1.5, 1.5, (n_rows, sizes[0]))
    return params, x


FIXED = [((2, 10, 10, 1), 0), ((4, 8, 8, 1), 1), ((2, 12, 1), 2)]


def test_the_sweep_written_here_is_vector_field():
    """field_by_hand (the base of the tanh' mutant) with the true tanh' is vector_field."""
    for sizes, seed in FIXED:
        params, x = fixed_net(sizes, seed)
        np.testing.assert_allclose(field_by_hand(params, x), hnn.vector_field(params, x), rtol=1e-13, atol=1e-14)


# --- S = J grad H, grad H by finite differences of H ------------------------------------

def check_field_is_J_grad_of_energy(field, params, x, seed=0):
    """(J^T S) . v = dH/dx . v = d/ds H(x + s v), each basis vector v and a random one.

    The 4th-order stencil at eps = 1e-3 (strategies.directional_fd) is
    accurate to ~eps^4 |H^(5)| plus round-off fd_roundoff(H); 1e-6 relative to
    |grad H| is what tests/test_hnn.py asks of the same stencil.
    """
    S = field(params, x)
    grad = apply_J_T(S)  # J^T J = I: the gradient that S claims
    D = x.shape[1]
    directions = list(np.eye(D)) + [unit_direction(np.random.default_rng(seed), D)]
    for i, row in enumerate(x):
        H = mlp.forward(params, row[None])[0, 0]
        for v in directions:
            fd = directional_fd(lambda s: mlp.forward(params, (row + s * v)[None])[0, 0])
            assert_fd_agrees(grad[i] @ v, fd, H, rtol=1e-6, floor=np.linalg.norm(grad[i]),
                             what=f"row {i}, direction {np.round(v, 3)}")


@given(nets(), st.integers(0, 2**16))
@settings(max_examples=20)
def test_S_is_J_times_the_finite_difference_gradient_of_H(net, seed):
    params, x = net
    check_field_is_J_grad_of_energy(hnn.vector_field, params, x, seed)


@pytest.mark.parametrize("mutant", ["dH/dq x 1.01", "J transposed", "tanh' = 1 - a"])
@pytest.mark.parametrize("sizes, seed", FIXED, ids=str)
def test_gradient_check_rejects_mutants(mutant, sizes, seed):
    params, x = fixed_net(sizes, seed)
    check_field_is_J_grad_of_energy(hnn.vector_field, params, x)
    with pytest.raises(AssertionError):
        check_field_is_J_grad_of_energy(MUTANTS[mutant], params, x)


# --- dH/dt = 0 along the flow -----------------------------------------------------------

TAU, FLOW_TOL = 0.05, 1e-12


def energy_rate_along_flow(field, params, x0):
    """d/dt H(x(t)) at t = 0, x(t) the DOP853 flow of ``field`` through x0, and its error bound.

    H(x(s)) at s = +-tau, +-2 tau (forwards and backwards from x0), and the
    4th-order stencil in s. For the exact flow of J grad H, H(x(s)) is
    constant and the stencil's truncation error is zero; what is left is the
    integration error, <= 100 tol (1 + |x|) per component (tolerance
    proportionality over a few steps, 100x headroom), times |grad H|,
    and round-off in H, 100 eps |H|; the stencil's weights sum to
    (8 + 8 + 1 + 1) / 12 = 1.5, divided by tau.
    """
    fun = lambda t, y: field(params, y[None])[0]  # noqa: E731
    points = []
    for sign in (1.0, -1.0):
        res = solve_ivp(fun, (0.0, sign * 2 * TAU), x0, method="DOP853", t_eval=[sign * TAU, sign * 2 * TAU],
                        rtol=FLOW_TOL, atol=FLOW_TOL)
        assert res.success, res.message
        points.append(res.y.T)
    (x1, x2), (xm1, xm2) = points
    H = lambda y: mlp.forward(params, y[None])[0, 0]  # noqa: E731
    rate = (8 * (H(x1) - H(xm1)) - (H(x2) - H(xm2))) / (12 * TAU)
    visited = np.array([x0, x1, x2, xm1, xm2])
    grad_max = np.linalg.norm(mlp.input_gradient(params, visited), axis=1).max()
    err_x = 100 * FLOW_TOL * (1 + np.abs(visited).max()) * np.sqrt(x0.shape[0])
    H_max = np.abs(mlp.forward(params, visited)).max()
    bound = 1.5 * (grad_max * err_x + 100 * EPS * (1 + H_max)) / TAU
    return rate, bound


def check_energy_is_constant_along_the_flow(field, params, x0):
    rate, bound = energy_rate_along_flow(field, params, x0)
    assert abs(rate) <= bound, f"dH/dt = {rate:.3e} along the flow, bound {bound:.3e}"
    return rate, bound


@given(nets(max_rows=1))
@settings(max_examples=12)
def test_energy_is_constant_along_the_flow_of_S(net):
    params, x = net
    check_energy_is_constant_along_the_flow(hnn.vector_field, params, x[0])


@pytest.mark.parametrize("mutant", ["dH/dq x 1.01", "tanh' = 1 - a", "friction"])
@pytest.mark.parametrize("sizes, seed", FIXED, ids=str)
def test_energy_rate_check_rejects_mutants(mutant, sizes, seed):
    """The mutant's dH/dt is dH/dx . S_mutant != 0, and the finite differences measure it."""
    params, x = fixed_net(sizes, seed, n_rows=1)
    x0 = x[0]
    check_energy_is_constant_along_the_flow(hnn.vector_field, params, x0)
    field = MUTANTS[mutant]
    predicted = mlp.input_gradient(params, x)[0] @ field(params, x)[0]
    rate, _ = energy_rate_along_flow(field, params, x0)
    assert abs(rate - predicted) <= 1e-4 * abs(predicted)  # the stencil's tau^4 error
    with pytest.raises(AssertionError):
        check_energy_is_constant_along_the_flow(field, params, x0)


# --- S is Hamiltonian: div S = 0, J DS symmetric -----------------------------------------

def fd_jacobian(field, params, x, eps=1e-3):
    """DS[:, i, k] = dS_i/dx_k by the 4th-order central stencil, and its absolute accuracy.

    Accuracy: truncation ~eps^4 |S^(5)|, taken as 1e-6 |DS|, plus round-off,
    a few ulps of |S| (100 eps |S|) divided by eps, times the stencil's 1.5.
    """
    D = x.shape[1]
    DS = np.stack([directional_fd(lambda s, k=k: field(params, x + s * np.eye(D)[k]), eps)
                   for k in range(D)], axis=2)
    accuracy = 1e-6 * np.abs(DS).max() + 1.5 * 100 * EPS * np.abs(field(params, x)).max() / eps
    return DS, accuracy


def check_field_is_hamiltonian(field, params, x):
    """div S = trace DS = 0 (D terms) and J DS = (J DS)^T (two entries per difference)."""
    DS, accuracy = fd_jacobian(field, params, x)
    D = x.shape[1]
    div = np.abs(np.trace(DS, axis1=1, axis2=2)).max()
    JDS = J_matrix(D // 2) @ DS
    asym = np.abs(JDS - JDS.transpose(0, 2, 1)).max()
    assert div <= D * accuracy, f"div S = {div:.3e}, accuracy {accuracy:.3e}"
    assert asym <= 2 * accuracy, f"|J DS - (J DS)^T| = {asym:.3e}, accuracy {accuracy:.3e}"
    return div, asym, accuracy


@given(nets())
@settings(max_examples=20)
def test_S_is_divergence_free_and_its_jacobian_hamiltonian(net):
    params, x = net
    check_field_is_hamiltonian(hnn.vector_field, params, x)


@pytest.mark.parametrize("mutant, sizes, seed", [
    (mutant, sizes, seed) for mutant in ("dH/dq x 1.01", "tanh' = 1 - a", "friction") for sizes, seed in FIXED
    if not (mutant == "tanh' = 1 - a" and len(sizes) == 3)
], ids=str)  # fmt: skip
def test_hamiltonian_field_check_rejects_mutants(mutant, sizes, seed):
    """dH/dq x 1.01: div = -0.01 tr(d2H/dq dp), J DS asymmetric by 0.01 d2H/dq dp; friction:
    div = -0.01 n; the tanh' mutant with two hidden layers is no gradient field.

    (With one hidden layer the tanh' mutant's g = W0 (w * (1 - a)) has the
    symmetric Jacobian -W0 diag(w * s1) W0^T: it is the gradient of another
    function, so its field *is* Hamiltonian and only the gradient check
    rejects it.)
    """
    params, x = fixed_net(sizes, seed)
    check_field_is_hamiltonian(hnn.vector_field, params, x)
    with pytest.raises(AssertionError):
        check_field_is_hamiltonian(MUTANTS[mutant], params, x)


# --- H conserved along the integrated flow, to the tolerance ------------------------------

def energy_drift(field, params, x0, t_end, tol):
    """max_t |H(x(t)) - H(x0)| along DOP853 at rtol = atol = tol, and a bound on it.

    H(x_n) - H(x_0) = sum_k [H(x_{k+1}) - H(phi_h(x_k))] since H(phi_h(x_k)) =
    H(x_k) for the exact flow: the energy error is the sum of the local errors
    times grad H, not amplified by the flow. Each accepted step's local error
    is at most its estimate, sqrt(D) tol (1 + |x|) in norm (Hairer's RMS norm
    <= 1). Round-off: ~1e3 eps |x| per step (see test_flow_symplectic).
    """
    fun = lambda t, y: field(params, y[None])[0]  # noqa: E731
    res = solve_ivp(fun, (0.0, t_end), x0, method="DOP853", rtol=tol, atol=tol)
    assert res.success, res.message
    x = res.y.T
    H = mlp.forward(params, x)[:, 0]
    n_steps = len(res.t) - 1
    grad_max = np.linalg.norm(mlp.input_gradient(params, x), axis=1).max()
    scale = 1 + np.abs(x).max()
    local = np.sqrt(x0.shape[0]) * tol * scale
    roundoff = n_steps * grad_max * 1e3 * EPS * scale + 100 * EPS * np.abs(H).max()
    bound = n_steps * grad_max * local + roundoff
    return np.abs(H - H[0]).max(), bound, roundoff, np.abs(x - x0).max()


def check_energy_conserved_to_tolerance(field, params, x0, t_end, tols=(1e-6, 1e-10)):
    """Within the bound at each tolerance, and a 1e4 tighter tol cuts the drift >= 10x (or to round-off).

    Tolerance proportionality: the drift is a sum of local errors ~ tol, so
    1e4 tighter should cut it by ~1e4; 10 allows for the controller's jumps.
    """
    drifts = []
    for tol in tols:
        drift, bound, roundoff, moved = energy_drift(field, params, x0, t_end, tol)
        assert drift <= bound, f"energy drift {drift:.3e} at tol {tol:g}, bound {bound:.3e}"
        drifts.append((drift, roundoff))
    (loose, _), (tight, floor) = drifts
    # Within a decade of the round-off estimate a drift is not resolved (a smooth field
    # may need so few steps that even the loose tol is overkill): no shrink is asked there.
    assert tight <= max(loose / 10, 10 * floor), f"drift {loose:.3e} at tol {tols[0]:g}, {tight:.3e} at {tols[1]:g}"
    return loose, tight, moved


@given(nets(max_rows=1), st.floats(1.0, 3.0))
@settings(max_examples=10)
def test_learned_energy_is_conserved_along_the_dop853_flow_to_tolerance(net, t_end):
    params, x = net
    _, _, moved = check_energy_conserved_to_tolerance(hnn.vector_field, params, x[0], t_end)
    assume(moved > 1e-3)  # a trajectory that goes somewhere (else the check says little)


@pytest.mark.parametrize("mutant", ["dH/dq x 1.01", "tanh' = 1 - a", "friction"])
@pytest.mark.parametrize("sizes, seed", FIXED, ids=str)
def test_energy_conservation_check_rejects_mutants(mutant, sizes, seed):
    params, x = fixed_net(sizes, seed, n_rows=1)
    check_energy_conserved_to_tolerance(hnn.vector_field, params, x[0], 2.0)
    with pytest.raises(AssertionError):
        check_energy_conserved_to_tolerance(MUTANTS[mutant], params, x[0], 2.0)
