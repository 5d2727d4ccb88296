"""Greydanus et al.'s two-body protocol: the system, the data, the energy metric and the experiment.

Every check has an independent reference: central differences of the energy
for its gradient, the relative coordinates of TwoBody for the energy, the
closed forms of a circular orbit (speed 1 / (2 sqrt r), energy -1 / (4 r),
constant radius), the centre of mass and total momentum (zero by
construction), the split sizes of their code, NumPy's legacy generator drawn
by hand, scipy's integrators as an oracle for the motion, and, for the
metric, a field with another G whose energy error has a closed form.
"""

import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import solve_ivp as scipy_solve_ivp

from hnn_np import catalog, load_model
from hnn_np.studies.two_body_greydanus import (PROTOCOL, QUICK_PROTOCOL, SYSTEM, Protocol, circular_speed,
                                               energy_mse, initial_state, make_data, orbits, rollout_states)
from hnn_np.studies.two_body_recipes import RECIPES, run_two_body_greydanus
from hnn_np.systems import TwoBody, TwoBodyAbsolute


def scipy_orbit(system, x0, t, rtol, atol, method="RK45"):
    """The motion of ``system`` from x0 by scipy, from its NumPy field alone."""
    sol = scipy_solve_ivp(lambda _t, y: system.time_derivative(y[None])[0], (t[0], t[-1]), x0, method=method,
                          t_eval=t, rtol=rtol, atol=atol)
    assert sol.success
    return sol.y.T  # (T, 8)


@st.composite
def absolute_states(draw):
    """Rows of two bodies at least 0.3 apart."""
    rows = []
    for _ in range(draw(st.integers(1, 5))):
        r1 = np.array([draw(st.floats(-2, 2)), draw(st.floats(-2, 2))])
        angle, dist = draw(st.floats(-np.pi, np.pi)), draw(st.floats(0.3, 3.0))
        r2 = r1 + dist * np.array([np.cos(angle), np.sin(angle)])
        p = [draw(st.floats(-2, 2)) for _ in range(4)]
        rows.append([r1[0], r2[0], r1[1], r2[1], *p])
    return np.array(rows)


masses = st.floats(0.3, 3.0)


# --- the system --------------------------------------------------------------------

@given(masses, masses, masses, absolute_states())
def test_gradient_is_the_central_difference_of_the_energy(m1, m2, G, x):
    system = TwoBodyAbsolute(m1, m2, G)
    h = 1e-6
    fd = np.stack([(system.energy(x + h * e) - system.energy(x - h * e)) / (2 * h) for e in np.eye(8)], axis=1)
    np.testing.assert_allclose(system.hamiltonian_gradient(x), fd, rtol=1e-6, atol=1e-6)


@given(masses, masses, masses, absolute_states())
def test_energy_is_that_of_the_relative_motion_plus_the_centre_of_mass(m1, m2, G, x):
    """H = H_rel(q, p) + |P|^2 / (2 M), H_rel of TwoBody (its own formula)."""
    system, rel = TwoBodyAbsolute(m1, m2, G), TwoBody(m1, m2, G)
    P = system.total_momentum(x)
    want = rel.energy(system.relative(x)) + np.sum(P**2, axis=1) / (2 * system.M)
    np.testing.assert_allclose(system.energy(x), want, rtol=1e-10, atol=1e-10)


@given(absolute_states())
def test_compiled_fields_equal_the_numpy_field(x):
    for inplace in (False, True):
        fun, args = SYSTEM.ode_inplace() if inplace else SYSTEM.ode()
        for row in x:
            if not inplace:
                got = fun(0.0, row.copy(), *args)
            else:
                got = np.empty(8)
                fun(0.0, row.copy(), got, *args)
            assert np.array_equal(got, SYSTEM.time_derivative(row[None])[0])


def test_motion_conserves_energy_momentum_angular_momentum_and_follows_the_relative_motion():
    x0 = np.array([0.9, -0.4, 0.1, 0.5, 0.2, -0.1, 0.3, -0.5])
    t = np.linspace(0, 10, 41)
    x = scipy_orbit(SYSTEM, x0, t, 1e-12, 1e-12, "DOP853")
    for quantity in (SYSTEM.energy, SYSTEM.angular_momentum, SYSTEM.total_momentum):
        np.testing.assert_allclose(quantity(x), np.broadcast_to(quantity(x0[None]), quantity(x).shape), atol=1e-9)
    rel = TwoBody(1.0, 1.0, 1.0)
    x_rel = scipy_orbit(rel, SYSTEM.relative(x0[None])[0], t, 1e-12, 1e-12, "DOP853")
    np.testing.assert_allclose(SYSTEM.relative(x), x_rel, atol=1e-8)
    ours = orbits(x0[None], t, Protocol(rtol=1e-11, atol=1e-12))[0]
    np.testing.assert_allclose(ours, x, atol=1e-8)


def test_coincident_bodies_and_unequal_masses_are_refused():
    with pytest.raises(ValueError, match="coincide"):
        SYSTEM.energy(np.array([[1.0, 1.0, 2.0, 2.0, 0, 0, 0, 0]]))
    with pytest.raises(ValueError, match="equal masses"):
        circular_speed(1.0, TwoBodyAbsolute(1.0, 2.0))
    with pytest.raises(ValueError, match="m1"):
        TwoBodyAbsolute(m1=0.0)


# --- the data ----------------------------------------------------------------------

def test_initial_states_are_their_draws_of_the_legacy_generator():
    """r = rand(2) * 1 + 0.5, then one randn() for the speed factor, as their random_config."""
    draws = np.random.RandomState(7)
    r = draws.rand(2) * (1.5 - 0.5) + 0.5
    factor = 1 + 0.05 * draws.randn()
    x = initial_state(np.random.RandomState(7))
    assert np.array_equal(x[[0, 2]], r) and np.array_equal(x[[1, 3]], -r)
    v = np.array([-r[1], r[0]]) / (2 * np.linalg.norm(r) ** 1.5) * factor  # their flipud(pos) / (2 r^1.5)
    np.testing.assert_allclose(x[[4, 6]], v, rtol=1e-14)
    np.testing.assert_allclose(x[[5, 7]], -v, rtol=1e-14)
    assert np.array_equal(rollout_states(Protocol(n_rollouts=3))[2], initial_state(np.random.RandomState(2)))


def test_a_circular_start_stays_on_its_circle_with_the_closed_form_speed_and_energy():
    protocol = Protocol(orbit_noise=0.0, rtol=1e-11, atol=1e-12)
    rng = np.random.RandomState(3)
    x0 = np.stack([initial_state(rng, protocol) for _ in range(5)])
    r0 = np.hypot(x0[:, 0], x0[:, 2])
    speed = np.hypot(x0[:, 4], x0[:, 6])
    np.testing.assert_allclose(speed, 1 / (2 * np.sqrt(r0)), rtol=1e-14)  # v^2 / r = 1 / (2 r)^2
    np.testing.assert_allclose(SYSTEM.energy(x0), -1 / (4 * r0), rtol=1e-13)  # 2 v^2 / 2 - 1 / (2 r)
    t = np.linspace(0, 20, 50)
    x = orbits(x0, t, protocol)  # (5, 50, 8)
    np.testing.assert_allclose(np.hypot(x[..., 0], x[..., 2]), np.broadcast_to(r0[:, None], (5, 50)), rtol=1e-8)
    omega = 1 / (2 * r0**1.5)  # v / r: the angle advances uniformly
    angle = np.unwrap(np.arctan2(x[..., 2], x[..., 0]), axis=1)
    np.testing.assert_allclose(angle - angle[:, :1], omega[:, None] * t[None, :], atol=1e-7)


def test_noisy_starts_keep_the_energy_of_their_speed_factor():
    """With v = (1 + eps) v_circ: H = (1 + eps)^2 / (4 r) - 1 / (2 r), eps from the generator."""
    for seed in range(4):
        draws = np.random.RandomState(seed)
        r = np.linalg.norm(draws.rand(2) + 0.5)
        eps = 0.05 * draws.randn()
        x0 = initial_state(np.random.RandomState(seed))
        np.testing.assert_allclose(SYSTEM.energy(x0[None])[0], (1 + eps) ** 2 / (4 * r) - 1 / (2 * r), rtol=1e-13)


def test_data_split_sizes_centre_of_mass_and_exact_targets():
    data = make_data(QUICK_PROTOCOL, seed=0)  # 20 orbits x 10 points
    B, T = QUICK_PROTOCOL.n_orbits, QUICK_PROTOCOL.n_points
    assert data.orbits.shape == (B, T, 8) and data.t.shape == (T,) and data.t[-1] == QUICK_PROTOCOL.t_end
    n_test = int(B * T * 0.2)  # their split: int(N * test_split) first rows
    assert len(data.x_test) == n_test == 40 and len(data.x_train) == B * T - n_test
    assert np.array_equal(data.x_test, data.orbits[:4].reshape(-1, 8))  # the first 4 orbits
    assert np.array_equal(data.train_orbits.reshape(-1, 8), data.x_train)
    rows = data.orbits.reshape(-1, 8)
    assert np.max(np.abs(SYSTEM.centre_of_mass(rows))) < 1e-14
    assert np.max(np.abs(SYSTEM.total_momentum(rows))) < 1e-14
    np.testing.assert_allclose(data.dx_dt_train, SYSTEM.time_derivative(data.x_train), rtol=0, atol=0)
    first = initial_state(np.random.RandomState(0), QUICK_PROTOCOL)
    assert np.array_equal(data.orbits[0, 0], first)  # orbit 0 is rollout 0's start, as in their code
    full = int(PROTOCOL.n_orbits * PROTOCOL.n_points * PROTOCOL.test_fraction)
    assert full == 10000 and PROTOCOL.n_orbits * PROTOCOL.n_points - full == 40000
    x = scipy_orbit(SYSTEM, data.orbits[5, 0], data.t, 1e-12, 1e-12, "DOP853")
    np.testing.assert_allclose(data.orbits[5], x, atol=5e-5)  # RK45 at atol 1e-6: 2e-5 after 20 time units


# --- the metric ----------------------------------------------------------------------

def test_energy_mse_and_its_spread_on_known_arrays():
    H = np.linspace(-0.3, -0.1, 15 * 4).reshape(15, 4)
    offset = np.repeat(np.arange(5.0), 3)[:, None] * 1e-3  # group g is off by g * 1e-3
    mse, spread = energy_mse(H, H + offset)
    means = (np.arange(5.0) * 1e-3) ** 2
    assert mse == pytest.approx(means.mean(), rel=1e-12)
    assert spread == pytest.approx(np.std(means) / np.sqrt(5), rel=1e-12)
    assert energy_mse(H, H) == (0.0, 0.0)
    with pytest.raises(ValueError, match="H_true and H_hat"):
        energy_mse(H, H[:, :3])


def _metric_of(system_hat, protocol):
    """energy_mse of the protocol's rollouts of ``system_hat``'s exact field (by scipy) against the truth."""
    x0 = rollout_states(protocol)
    t = np.linspace(0, protocol.rollout_t_end, protocol.rollout_points)
    true = orbits(x0, t, protocol)
    hat = np.stack([scipy_orbit(system_hat, x, t, protocol.rtol, protocol.atol) for x in x0])
    H = lambda x: SYSTEM.energy(x.reshape(-1, 8)).reshape(x.shape[:2])  # noqa: E731
    return energy_mse(H(true), H(hat))[0], hat, x0


def test_the_exact_flow_scores_at_the_integrators_round_off():
    protocol = Protocol(n_rollouts=5, rollout_t_end=25.0, rollout_points=500)
    mse, _, _ = _metric_of(SYSTEM, protocol)  # scipy's RK45 and ours, both at rtol 1e-9, atol 1e-6
    assert mse < 1e-9  # the goal is 3.9e-6
    tight = Protocol(n_rollouts=5, rollout_t_end=25.0, rollout_points=500, rtol=1e-12, atol=1e-13)
    assert _metric_of(SYSTEM, tight)[0] < 1e-20


def test_a_field_with_another_G_scores_its_closed_form():
    """The flow of G' = G (1 + e) keeps T - G'/|d|, so H(x_hat) - H(x0) = e G (1/|d_hat| - 1/|d_0|)."""
    protocol = Protocol(n_rollouts=5, rollout_t_end=25.0, rollout_points=200, rtol=1e-12, atol=1e-13)
    e = 0.05
    mse, hat, x0 = _metric_of(TwoBodyAbsolute(G=1 + e), protocol)
    d_hat = np.hypot(hat[..., 1] - hat[..., 0], hat[..., 3] - hat[..., 2])  # (R, T)
    d0 = np.hypot(x0[:, 1] - x0[:, 0], x0[:, 3] - x0[:, 2])[:, None]
    assert mse == pytest.approx(np.mean((e * (1 / d_hat - 1 / d0)) ** 2), rel=1e-6)
    assert mse > 1e-6  # and far above the exact flow's


# --- the experiment -------------------------------------------------------------------

def test_quick_experiment_writes_every_recipe_and_the_best(tmp_path):
    model, metrics = catalog.run("two-body-greydanus", str(tmp_path), quick=True)
    saved = json.loads((tmp_path / "two-body-greydanus" / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    assert set(saved["energy_mse_by_recipe"]) == set(RECIPES) == {"hnn-derivatives", "hnn-rk4", "srnn-leapfrog",
                                                                  "baseline"}
    scored = {k: v for k, v in saved["energy_mse_by_recipe"].items() if v is not None}
    assert set(scored) == set(RECIPES)  # every recipe trains in this build
    assert saved["energy_mse"] == min(scored.values()) == scored[saved["best_recipe"]]
    for name, value in saved["energy_mse_by_recipe"].items():
        assert (value is None) == (name in saved["recipe_notes"])  # every missing number has its note
    best = load_model(tmp_path / "two-body-greydanus" / "model.npz")
    x = make_data(QUICK_PROTOCOL).x_test
    assert np.array_equal(best.time_derivative(x), model.time_derivative(x))
    assert best.config["recipe"] == saved["best_recipe"] and best.n_dof == 4


def test_an_earlier_run_is_kept_unless_overwritten(tmp_path):
    run_two_body_greydanus(tmp_path, quick=True, recipes=["baseline"], log=lambda _line: None)
    before = (tmp_path / "two-body-greydanus" / "metrics.json").read_bytes()
    with pytest.raises(ValueError, match="overwrite"):
        run_two_body_greydanus(tmp_path, quick=True, recipes=["baseline"], steps=3, log=lambda _line: None)
    assert (tmp_path / "two-body-greydanus" / "metrics.json").read_bytes() == before
    _, metrics = run_two_body_greydanus(tmp_path, quick=True, recipes=["baseline"], steps=3, overwrite=True,
                                        log=lambda _line: None)
    assert json.loads((tmp_path / "two-body-greydanus" / "metrics.json").read_text()) == metrics


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="recipes must name"):
        run_two_body_greydanus(tmp_path, quick=True, recipes=["nope"])
    with pytest.raises(ValueError, match="seed"):
        run_two_body_greydanus(tmp_path, quick=True, seed=-1)
    with pytest.raises(ValueError, match="precision"):
        catalog.run("two-body-greydanus", str(tmp_path), quick=True, dtype="float32")
    with pytest.raises(ValueError, match="r_range"):
        Protocol(r_range=(1.5, 0.5))
    assert list(tmp_path.iterdir()) == []


def test_trajectory_training_at_a_scale_is_training_on_the_scaled_orbits():
    """fit_trajectories_scaled(x, s) is fit_trajectories(x / s) with the model mapping back: S(x) = s S~(x / s)."""
    from hnn_np import fit_trajectories
    from hnn_np.studies.two_body_recipes import fit_trajectories_scaled
    from hnn_np.train import TrainConfig

    data = make_data(QUICK_PROTOCOL)
    config = TrainConfig(target="trajectory", sizes=(8, 8, 1), window=2, steps=5, batch_size=8, finetune_steps=0)
    dt = float(data.t[1] - data.t[0])
    scaled = fit_trajectories_scaled(data.train_orbits, dt, config, 0.5)
    plain = fit_trajectories(data.train_orbits / 0.5, dt, config, progress=False)
    x = data.x_test
    assert scaled.scale == 0.5
    np.testing.assert_allclose(scaled.time_derivative(x), 0.5 * plain.time_derivative(x / 0.5), rtol=1e-12)
    with pytest.raises(ValueError, match="normalize"):
        fit_trajectories_scaled(data.train_orbits, dt, replace(config, normalize=True), 0.5)


def test_a_separable_pair_trains_on_the_eight_columns_and_stays_separable():
    """fit_trajectories with kind="separable" on d = 8 (V and T of 4 inputs each): dq/dt depends on p alone."""
    from hnn_np import fit_trajectories
    from hnn_np.train import TrainConfig

    data = make_data(QUICK_PROTOCOL)
    config = TrainConfig(target="trajectory", kind="separable", method="leapfrog", sizes=(8, 8, 8, 1), window=1,
                         substeps=2, steps=40, batch_size=16, finetune_steps=0, lr=1e-2)
    model = fit_trajectories(data.train_orbits, float(data.t[1] - data.t[0]), config, progress=False)
    loss = model.history["train_loss"]
    assert model.kind == "hnn" and model.sizes == [8, 16, 16, 1] and loss[-5:].mean() < loss[:5].mean()
    x = data.x_test[:6]
    moved = x.copy()
    moved[:, :4] += 0.1  # other positions, the same momenta
    S, S_moved = model.time_derivative(x), model.time_derivative(moved)
    np.testing.assert_allclose(S_moved[:, :4], S[:, :4], rtol=1e-12)  # dq/dt = dT/dp
    assert np.abs(S_moved[:, 4:] - S[:, 4:]).max() > 1e-6  # dp/dt = -dV/dq moves


def test_a_recipe_whose_rollout_fails_gets_a_note_and_no_number(tmp_path, monkeypatch):
    """A field dx/dt = 50 x overflows long before t = 5: its rollout fails, the other recipe is the best."""
    from hnn_np.model import Model
    from hnn_np.studies import two_body_recipes as R

    def exploding(data, seed, quick, steps=None):
        return Model("baseline", [(50.0 * np.eye(8), np.zeros(8))]), 0.0

    monkeypatch.setitem(R.RECIPES, "exploding", exploding)
    _, metrics = R.run_two_body_greydanus(tmp_path, quick=True, recipes=["exploding", "hnn-derivatives"],
                                          log=lambda _line: None)
    assert metrics["energy_mse_by_recipe"]["exploding"] is None and "rollout failed" in metrics["recipe_notes"]["exploding"]
    assert metrics["best_recipe"] == "hnn-derivatives"
    json.loads((tmp_path / "two-body-greydanus" / "metrics.json").read_text())  # valid JSON: no NaN
