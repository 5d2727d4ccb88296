"""Tests of hnn_np.data: sampling, integration, derivatives, split, scale, files."""

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from hnn_np.data import (
    CENTRAL_WEIGHTS, Dataset, Scale, finite_difference, load_dataset, make_dataset,
    sample_initial_states, save_dataset, train_test_split, trajectories,
)
from hnn_np.systems import MassSpring, System

SPRING = MassSpring()  # k = m = 2, the paper's spring
E_MAX = SPRING.radius_to_energy(100.0)  # k R^2 / 2 = 10_000
ARRAYS = ("x", "dx_dt", "t", "traj", "energy")


def ellipse_phase(x, energies):
    """phi in [0, 2 pi) with q = sqrt(2E/k) cos(phi), p = sqrt(2mE) sin(phi)."""
    cos = x[:, 0] / np.sqrt(2 * energies / SPRING.k)
    sin = x[:, 1] / np.sqrt(2 * SPRING.m * energies)
    return np.mod(np.arctan2(sin, cos), 2 * np.pi)


def assert_same(a: Dataset, b: Dataset):
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        assert getattr(a, name).dtype == getattr(b, name).dtype, name
    assert a.system == b.system and a.meta == b.meta


@pytest.fixture(scope="module")
def small():
    """20 spring trajectories, 50 observations each, analytic targets."""
    return make_dataset(n_traj=20, seed=3)


# --- sampling -----------------------------------------------------------------

def test_energies_uniform_in_range_and_phases_uniform():
    x0s, energies = sample_initial_states(SPRING, 4000, np.random.default_rng(0))
    assert E_MAX == 10_000
    assert x0s.shape == (4000, 2) and energies.shape == (4000,)
    assert energies.min() >= E_MAX / 100 and energies.max() <= E_MAX
    assert stats.kstest(energies / E_MAX, stats.uniform(0.01, 0.99).cdf).pvalue > 1e-3
    phases = ellipse_phase(x0s, energies)
    assert stats.kstest(phases, stats.uniform(0, 2 * np.pi).cdf).pvalue > 1e-3
    np.testing.assert_allclose(SPRING.energy(x0s), energies, rtol=1e-12)


def test_log_uniform_energies_reach_down_to_the_requested_fraction():
    rng = np.random.default_rng(1)
    _, energies = sample_initial_states(SPRING, 4000, rng, energy_range=(1e-4, 1.0),
                                        log_energy=True)
    assert energies.min() >= 1e-4 * E_MAX and energies.max() <= E_MAX
    log_u = np.log10(energies / E_MAX)  # uniform on [-4, 0]
    assert stats.kstest(log_u, stats.uniform(-4, 4).cdf).pvalue > 1e-3


@given(k=st.floats(0.1, 10), m=st.floats(0.1, 10), radius=st.floats(0.01, 1e4))
def test_sampled_states_lie_on_their_energy_ellipse(k, m, radius):
    spring = MassSpring(k, m)
    x0s, energies = sample_initial_states(spring, 16, np.random.default_rng(0), radius=radius)
    np.testing.assert_allclose(spring.energy(x0s), energies, rtol=1e-12)
    assert energies.max() <= k * radius**2 / 2


class Quartic(System):
    """H = q^4 / 4 + p^2 / 2: not quadratic, so the ellipse formula does not apply."""

    def energy(self, x):
        return x[:, 0] ** 4 / 4 + x[:, 1] ** 2 / 2


class QuarticWithSampler(Quartic):
    def sample_state(self, energy, phase):
        """q = (4E)^(1/4) cos(phi), then p = +-sqrt(2E - q^4 / 2) so that H = E."""
        q = (4 * energy) ** 0.25 * np.cos(phase)
        p = np.sign(np.sin(phase)) * np.sqrt(2 * energy - q**4 / 2)
        return np.stack([q, p], axis=1)


def test_a_system_can_supply_its_own_sampler_and_must_without_one():
    x0s, energies = sample_initial_states(QuarticWithSampler(), 64, np.random.default_rng(0))
    np.testing.assert_allclose(Quartic().energy(x0s), energies, rtol=1e-12)
    with pytest.raises(ValueError, match="requested energies"):
        sample_initial_states(Quartic(), 8, np.random.default_rng(0))


# --- integration --------------------------------------------------------------

def test_trajectories_match_the_closed_form_relative_to_each_size():
    rng = np.random.default_rng(2)
    x0s, _ = sample_initial_states(SPRING, 16, rng, energy_range=(1e-4, 1.0), log_energy=True)
    t = np.linspace(0.0, 2 * np.pi, 50)
    x = trajectories(SPRING, x0s, t)  # (B, T, 2)
    exact = SPRING.exact_solution(x0s, t)
    assert x.shape == (16, 50, 2)
    size = np.abs(exact).max(axis=(1, 2))  # (B,): from ~1 to ~200
    assert (np.abs(x - exact).max(axis=(1, 2)) / size).max() < 1e-9


def test_dataset_rows_are_trajectories_with_their_analytic_derivative(small):
    B, T = 20, 50
    assert small.x.shape == small.dx_dt.shape == (B * T, 2)
    np.testing.assert_allclose(small.t, 2 * np.pi / T * np.arange(T), rtol=1e-15)
    np.testing.assert_array_equal(small.traj, np.repeat(np.arange(B), T))
    x = small.x.reshape(B, T, 2)
    exact = SPRING.exact_solution(x[:, 0], small.t - small.t[0])
    assert np.abs(x - exact).max() / np.abs(exact).max() < 1e-8
    np.testing.assert_array_equal(small.dx_dt, SPRING.time_derivative(small.x))
    np.testing.assert_allclose(SPRING.energy(small.x), small.energy, rtol=1e-8)


def test_integrator_failure_is_reported(monkeypatch):
    class Failed:
        t, y, status, nfev = np.zeros(2), np.zeros((3, 2, 2)), np.array([0, -1, 0]), np.zeros(3)

    monkeypatch.setattr("hnn_np.data.solve_ivp_batch", lambda *args, **kwargs: Failed)
    with pytest.raises(RuntimeError, match="DOP853 failed on 1 trajectories: \\[1\\]"):
        trajectories(SPRING, np.ones((3, 2)), [0.0, 1.0])


# --- finite differences -------------------------------------------------------

def test_central_weights_are_consistent():
    for order, c in CENTRAL_WEIGHTS.items():
        s = np.arange(1, order // 2 + 1)
        assert np.isclose(2 * np.sum(c * s), 1.0)  # exact for x = t
        for power in range(3, order + 1, 2):
            assert np.isclose(np.sum(c * s**power), 0.0)  # exact for x = t^power


@pytest.mark.parametrize("order", [2, 4, 6])
@given(coef=st.lists(st.floats(-3, 3), min_size=7, max_size=7), dt=st.floats(0.05, 0.5))
def test_finite_difference_is_exact_for_polynomials_up_to_its_order(order, coef, dt):
    poly = np.polynomial.Polynomial(coef[: order + 1])
    h = order // 2
    t = dt * np.arange(-h, 5 + h)  # 5 kept samples, h on each side
    x = np.stack([poly(t), -poly(t)], axis=-1)  # (T + 2h, 2)
    dx_dt = finite_difference(x, dt, order)  # (5, 2)
    expected = poly.deriv()(t[h:-h])
    np.testing.assert_allclose(dx_dt[:, 0], expected, atol=1e-9 * (1 + np.abs(coef).sum()) / dt)
    np.testing.assert_allclose(dx_dt[:, 1], -expected, atol=1e-9 * (1 + np.abs(coef).sum()) / dt)


@pytest.mark.parametrize("order", [2, 4, 6])
def test_finite_difference_converges_at_its_order(order):
    x0 = np.array([[60.0, -110.0]])
    h = order // 2
    dts = np.array([0.4, 0.2, 0.1, 0.05])
    errors = []
    for dt in dts:
        x = SPRING.exact_solution(x0, 0.3 + dt * np.arange(-h, h + 1))  # (1, 2h + 1, 2)
        dx_dt = finite_difference(x, dt, order)[0]  # (1, 2): the derivative at t = 0.3
        exact = SPRING.time_derivative(SPRING.exact_solution(x0, [0.3])[0])
        errors.append(np.abs(dx_dt - exact).max())
    slope = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    assert abs(slope - order) < 0.15, (slope, errors)


@pytest.mark.parametrize("order", [2, 4, 6])
def test_fd_dataset_pads_the_grid_and_matches_the_exact_spring_stencil(order):
    """For the spring, x(t + s dt) - x(t - s dt) = 2 sin(s w dt) / w * dx/dt(t) exactly, so
    the stencil returns dx/dt times sum_s 2 c_s sin(s w dt) / (w dt) -> 1 + O(dt^order)."""
    ds = make_dataset(n_traj=6, derivative=f"fd{order}", seed=4)
    h, dt, w = order // 2, 2 * np.pi / 50, SPRING.omega
    np.testing.assert_allclose(ds.t, dt * np.arange(50), rtol=1e-15)
    # the sampled x0 sits h steps before the first kept observation
    x0s, _ = sample_initial_states(SPRING, 6, np.random.default_rng(4))
    exact = SPRING.exact_solution(x0s, dt * np.arange(h, 50 + h)).reshape(-1, 2)
    assert np.abs(ds.x - exact).max() / np.abs(exact).max() < 1e-8
    s = np.arange(1, h + 1)
    factor = np.sum(2 * np.array(CENTRAL_WEIGHTS[order]) * np.sin(s * w * dt)) / (w * dt)
    analytic = SPRING.time_derivative(ds.x)
    np.testing.assert_allclose(ds.dx_dt, factor * analytic, atol=1e-8 * np.abs(analytic).max())
    assert 0 < 1 - factor < (w * dt) ** order  # 1/6, 1/30, 1/140 times (w dt)^order


# --- split --------------------------------------------------------------------

def test_split_is_by_trajectory_seeded_and_keeps_rows_intact(small):
    train, test = train_test_split(small, test_fraction=0.5, seed=7)
    train_ids, test_ids = np.unique(train.traj), np.unique(test.traj)
    assert len(train_ids) == len(test_ids) == 10
    assert not set(train_ids) & set(test_ids)
    assert set(train_ids) | set(test_ids) == set(range(20))
    for part in (train, test):
        rows = np.isin(small.traj, np.unique(part.traj))
        np.testing.assert_array_equal(part.x, small.x[rows])
        np.testing.assert_array_equal(part.dx_dt, small.dx_dt[rows])
        np.testing.assert_array_equal(part.energy, small.energy[rows])
    assert_same(train_test_split(small, 0.5, seed=7)[1], test)
    assert set(np.unique(train_test_split(small, 0.5, seed=8)[1].traj)) != set(test_ids)
    assert len(np.unique(train_test_split(small, 0.25, seed=7)[1].traj)) == 5


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5, 0.01, 0.99, float("nan")])
def test_split_rejects_fractions_that_leave_a_side_empty(small, fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        train_test_split(small, fraction)


# --- scale --------------------------------------------------------------------

def test_scale_maps_training_set_into_unit_ball_and_round_trips(small):
    train, test = train_test_split(small)
    scale = Scale.fit(train.x)
    x_tilde = scale.transform(train.x)
    assert np.isclose(np.linalg.norm(x_tilde, axis=1).max(), 1.0, rtol=1e-15)
    np.testing.assert_allclose(scale.inverse(x_tilde), train.x, rtol=1e-15)
    dx_tilde_dt = scale.transform_derivative(train.dx_dt)
    np.testing.assert_allclose(scale.inverse_derivative(dx_tilde_dt), train.dx_dt, rtol=1e-15)
    assert scale.transform(test.x.astype(np.float32)).dtype == np.float32


def test_scaled_data_is_hamiltonian_with_the_scaled_energy(small):
    """dx~/dt = J grad H~(x~) with H~(x~) = H(s x~) / s^2, grad by central differences."""
    scale = Scale.fit(small.x)
    x_tilde = scale.transform(small.x[::25])  # (M, 2)

    def H_tilde(x_tilde):
        return SPRING.energy(scale.inverse(x_tilde)) / scale.s**2

    eps = 1e-6
    dH_dq = (H_tilde(x_tilde + [eps, 0]) - H_tilde(x_tilde - [eps, 0])) / (2 * eps)
    dH_dp = (H_tilde(x_tilde + [0, eps]) - H_tilde(x_tilde - [0, eps])) / (2 * eps)
    J_grad_H = np.stack([dH_dp, -dH_dq], axis=1)  # (dH~/dp~, -dH~/dq~)
    np.testing.assert_allclose(scale.transform_derivative(small.dx_dt[::25]), J_grad_H,
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(scale.inverse_energy(H_tilde(x_tilde)), small.energy[::25],
                               rtol=1e-8)


def test_scale_rejects_zero_or_non_finite_data():
    for bad, match in ((np.zeros((3, 2)), "x is all zeros"), (np.array([[1.0, np.inf]]), "x has non-finite"),
                       (np.full((2, 2), 1e200), "x is too large to scale")):
        with pytest.raises(ValueError, match=match):
            Scale.fit(bad)


# --- noise, seeds, dtype --------------------------------------------------------

def test_noise_has_the_requested_std_and_is_reproducible(small):
    noisy = make_dataset(n_traj=20, seed=3, noise_std=2.5)
    noise = noisy.x - small.x
    assert abs(noise.std() / 2.5 - 1) < 0.05 and abs(noise.mean()) < 0.15
    assert_same(noisy, make_dataset(n_traj=20, seed=3, noise_std=2.5))
    np.testing.assert_array_equal(noisy.dx_dt, small.dx_dt)  # analytic targets stay clean
    fd_clean = make_dataset(n_traj=5, derivative="fd2", seed=3)
    fd_noisy = make_dataset(n_traj=5, derivative="fd2", seed=3, noise_std=2.5)
    assert not np.allclose(fd_noisy.dx_dt, fd_clean.dx_dt)  # differences of noisy observations


def test_same_seed_gives_identical_arrays_and_other_seeds_differ(small):
    assert_same(make_dataset(n_traj=20, seed=3), small)
    assert not np.array_equal(make_dataset(n_traj=20, seed=4).x, small.x)


def test_float32_end_to_end(small, tmp_path):
    ds = make_dataset(n_traj=20, seed=3, dtype=np.float32)
    for name in ("x", "dx_dt", "t", "energy"):
        assert getattr(ds, name).dtype == np.float32, name
        np.testing.assert_allclose(getattr(ds, name), getattr(small, name), rtol=1e-6, atol=1e-4)
    train, _ = train_test_split(ds)
    assert Scale.fit(train.x).transform(train.x).dtype == np.float32
    save_dataset(tmp_path / "f32.npz", ds)
    assert_same(load_dataset(tmp_path / "f32.npz"), ds)


# --- files --------------------------------------------------------------------

def test_save_load_round_trip_is_bit_exact_and_leaves_no_temp_file(small, tmp_path):
    path = tmp_path / "spring.npz"
    save_dataset(path, small)
    assert os.listdir(tmp_path) == ["spring.npz"]
    assert_same(load_dataset(path), small)
    train, _ = train_test_split(small)
    save_dataset(path, train)  # overwrite
    assert_same(load_dataset(str(path)), train)


def test_failed_save_keeps_the_old_file_and_no_temp_file(small, tmp_path):
    path = tmp_path / "spring.npz"
    save_dataset(path, small)
    unserialisable = Dataset(small.x, small.dx_dt, small.t, small.traj, small.energy,
                             small.system, {"bad": object()})
    with pytest.raises(ValueError, match="meta must be JSON-serialisable"):
        save_dataset(path, unserialisable)
    assert os.listdir(tmp_path) == ["spring.npz"]
    assert_same(load_dataset(path), small)


def test_loading_a_missing_corrupt_or_incomplete_file_says_so(small, tmp_path):
    with pytest.raises(ValueError, match="dataset file .* does not exist"):
        load_dataset(tmp_path / "absent.npz")
    path = tmp_path / "spring.npz"
    save_dataset(path, small)
    raw = path.read_bytes()
    for cut in (0, 10, len(raw) // 2, len(raw) - 10):
        path.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match=r"not an \.npz archive|not a readable \.npz"):
            load_dataset(path)
    path.write_bytes(b"not a zip file at all" * 10)
    with pytest.raises(ValueError, match=r"not an \.npz archive"):
        load_dataset(path)
    np.savez(path, x=small.x, t=small.t)
    with pytest.raises(ValueError, match=r"lacks the dataset keys \['dx_dt', 'energy'"):
        load_dataset(path)
    np.savez(path, **{k: getattr(small, k) for k in ARRAYS[:-1]}, energy=small.energy[:-1],
             system=small.system, meta="{}")
    with pytest.raises(ValueError, match="energy must have shape"):
        load_dataset(path)


# --- bad input ----------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    (dict(n_traj=0), "n_traj"), (dict(n_traj=2.0), "n_traj"), (dict(n_traj=True), "n_traj"),
    (dict(n_obs=1), "n_obs"), (dict(radius=0.0), "radius"), (dict(radius=-5.0), "radius"),
    (dict(radius=np.nan), "radius"), (dict(derivative="fd3"), "derivative"),
    (dict(energy_range=(0.0, 1.0)), "energy_range"),
    (dict(energy_range=(0.5, 0.1)), "energy_range"),
    (dict(energy_range=0.5), "energy_range"), (dict(t_span=(0.0, 1.0, 2.0)), "t_span"),
    (dict(noise_std=-1.0), "noise_std"), (dict(noise_std=np.inf), "noise_std"),
    (dict(t_span=(1.0, 1.0)), "t_span"), (dict(t_span=(0.0, np.nan)), "t_span"),
    (dict(dtype=np.int64), "dtype"), (dict(seed="zero"), "seed"),
])
def test_make_dataset_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_dataset(**{"n_traj": 2, **kwargs})


def test_other_functions_reject_bad_arguments(small):
    with pytest.raises(ValueError, match="x0s has non-finite"):
        trajectories(SPRING, [[1.0, np.nan]], [0.0, 1.0])
    with pytest.raises(ValueError, match="t_eval"):
        trajectories(SPRING, [[1.0, 0.0]], [0.0, 1.0, 0.5])
    with pytest.raises(ValueError, match="order"):
        finite_difference(np.zeros((1, 9, 2)), 0.1, 3)
    with pytest.raises(ValueError, match="more than 6 samples"):
        finite_difference(np.zeros((1, 6, 2)), 0.1, 6)
    with pytest.raises(ValueError, match="dt must be"):
        finite_difference(np.zeros((1, 9, 2)), 0.0, 2)
    with pytest.raises(ValueError, match="n must be"):
        sample_initial_states(SPRING, 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="dx_dt must match x"):
        Dataset(small.x, small.dx_dt[:-1], small.t, small.traj, small.energy, small.system)
    with pytest.raises(ValueError, match="x has non-finite"):
        Dataset(small.x * np.nan, small.dx_dt, small.t, small.traj, small.energy, small.system)
