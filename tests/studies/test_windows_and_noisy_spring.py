"""hnn_np.studies.windows and hnn_np.studies.noisy_spring.

Windows against plain slicing; the separable network against V(q) + T(p)
evaluated apart; the window trainer with a stand-in loss of the documented
signature whose gradient is known in closed form (one Euler step, its
parameter gradient dt^2 times the derivative loss's, hnn.loss_and_grad), and
a start loss ||X0 - c||^2 that the learned starts must follow to c. The
noisy spring's data against the clean trajectories they were drawn from and
the noise law, its order-2 differences against their closed-form error.
"""

import json

import numpy as np
import pytest

from hnn_np import hnn, mlp
from hnn_np.studies import noisy_spring as NS
from hnn_np.studies.windows import MISSING, fit_windows, make_windows, separable_as_hnn, trajectory_module
from hnn_np.systems import MassSpring


def test_windows_are_consecutive_slices():
    orbits = np.arange(2 * 7 * 3, dtype=float).reshape(2, 7, 3)
    w = make_windows(orbits, 2)  # starts 0, 2, 4 of each orbit
    assert w.shape == (6, 3, 3)
    assert np.array_equal(w[1], orbits[0, 2:5]) and np.array_equal(w[5], orbits[1, 4:7])
    assert make_windows(orbits, 1, stride=1).shape == (12, 2, 3)
    with pytest.raises(ValueError, match="K must be"):
        make_windows(orbits, 7)


def test_separable_network_is_V_of_q_plus_T_of_p():
    V, T = mlp.init_params((2, 5, 4, 1), seed=1), mlp.init_params((2, 3, 6, 1), seed=2)
    x = np.random.default_rng(0).normal(size=(9, 4))
    H = mlp.forward(separable_as_hnn(V, T), x)[:, 0]
    np.testing.assert_allclose(H, mlp.forward(V, x[:, :2])[:, 0] + mlp.forward(T, x[:, 2:])[:, 0], rtol=1e-13)
    S = hnn.vector_field(separable_as_hnn(V, T), x)
    np.testing.assert_allclose(S[:, :2], mlp.input_gradient(T, x[:, 2:]), rtol=1e-12)  # dq/dt = dT/dp
    np.testing.assert_allclose(S[:, 2:], -mlp.input_gradient(V, x[:, :2]), rtol=1e-12)  # dp/dt = -dV/dq
    with pytest.raises(ValueError, match="same depth"):
        separable_as_hnn(V, T[:2])


def euler_loss_and_grad(params, X, dt, method="rk4", substeps=1, kind="hnn"):
    """A stand-in with trajectory.loss_and_grad's signature: one Euler step, K = 1.

    X_hat[1] = X[0] + dt S(X[0]), so loss = dt^2 mean((S(X[0]) - (X[1] - X[0]) / dt)^2), whose
    parameter gradient is dt^2 that of the derivative loss. grad_X0 is left at zero.
    """
    assert X.shape[0] == 2 and kind == "hnn"
    loss, grads = hnn.loss_and_grad(params, X[0], (X[1] - X[0]) / dt)
    return dt**2 * loss, [(dt**2 * gW, dt**2 * gb) for gW, gb in grads], np.zeros_like(X[0])


def test_window_training_learns_the_spring_through_a_stand_in_loss():
    spring = MassSpring(k=2.0, m=2.0)
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-1, 1, (40, 2))
    t = np.arange(30) * 0.01
    windows = make_windows(spring.exact_solution(x0, t), 1, stride=1)  # (40 * 29, 2, 2)
    grid = rng.uniform(-1, 1, (200, 2))
    S = spring.time_derivative(grid)
    errors = {}
    for steps in (0, 1500):
        model, history = fit_windows(windows, 0.01, sizes=(2, 32, 32, 1), steps=steps, batch_size=128, lr=1e-2,
                                     lr_min=1e-4, scale=2.0, loss_and_grad=euler_loss_and_grad)
        errors[steps] = np.median(np.linalg.norm(model.time_derivative(grid) - S, axis=1) / np.linalg.norm(S, axis=1))
    assert errors[0] > 0.5 and errors[1500] < 0.05  # Euler's own bias is dt omega / 2 = 0.005
    assert model.scale == 2.0 and model.config["target"] == "trajectory"


def test_learned_starts_follow_their_gradient():
    c = np.array([0.3, -0.2])

    def pull(params, X, dt, method="rk4", substeps=1, kind="hnn"):  # loss mean ||X0 - c||^2, d/dX0 = 2 (X0 - c) / (N d)
        r = X[0] - c / 2.0  # the trainer works in x / s, s = 2
        return float(np.mean(r**2)), [(np.zeros_like(W), np.zeros_like(b)) for W, b in params], 2 * r / r.size

    windows = np.random.default_rng(1).normal(size=(6, 2, 2))
    _, history = fit_windows(windows, 0.1, sizes=(2, 4, 1), steps=400, batch_size=6, lr=1e-2, scale=2.0,
                             learn_starts=True, loss_and_grad=pull)
    np.testing.assert_allclose(history["starts"], np.broadcast_to(c, (6, 2)), atol=1e-3)
    _, fixed = fit_windows(windows, 0.1, sizes=(2, 4, 1), steps=5, batch_size=6, scale=2.0, loss_and_grad=pull)
    np.testing.assert_allclose(fixed["starts"], windows[:, 0], rtol=1e-15)


def test_without_trajectory_training_the_trainer_says_so():
    if trajectory_module() is not None:
        pytest.skip("this build has hnn_np.trajectory")
    with pytest.raises(RuntimeError, match="needs trajectory training"):
        fit_windows(np.zeros((3, 2, 2)), 0.1, sizes=(2, 4, 1), steps=1)
    assert "hnn_np.trajectory" in MISSING


def test_noisy_spring_data_are_the_clean_orbits_plus_the_stated_noise():
    cfg = NS.NoisySpringConfig(n_traj=200)
    data = NS.noisy_data(cfg)
    eps = data["train"] - data["train_clean"]  # (100, 50, 2)
    assert eps.shape == (100, 50, 2) and data["test_clean"].shape == (100, 50, 2)
    assert abs(eps.std() - 0.1) < 0.003 and abs(eps.mean()) < 0.003
    E = NS.SPRING.energy(data["train_clean"].reshape(-1, 2)).reshape(100, 50)
    np.testing.assert_allclose(E, np.broadcast_to(E[:, :1], E.shape), rtol=1e-8)  # clean: on their orbits
    E_max = NS.SPRING.k * cfg.radius**2 / 2  # H(R, 0) = 1
    assert E.min() >= 0.01 * E_max * (1 - 1e-9) and E.max() <= E_max * (1 + 1e-9) and E.max() > 0.9 * E_max
    assert data["dt"] == pytest.approx(2 * np.pi / 50)


def test_differences_of_noisy_states_carry_the_amplified_noise():
    """(x[j+1] - x[j-1]) / (2 dt): the noise part has std sigma / (sqrt(2) dt) in each column."""
    data = NS.noisy_data(NS.NoisySpringConfig(n_traj=200))
    dt = data["dt"]
    y = (data["train"][:, 2:] - data["train"][:, :-2]) / (2 * dt)
    y_clean = (data["train_clean"][:, 2:] - data["train_clean"][:, :-2]) / (2 * dt)
    assert np.std(y - y_clean) == pytest.approx(0.1 / (np.sqrt(2) * dt), rel=0.03)


def test_quick_noisy_spring_writes_both_sides_or_the_note(tmp_path):
    result = NS.run_noisy_spring(tmp_path, NS.QUICK, log=lambda _line: None)
    saved = json.loads((tmp_path / "noisy-spring" / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(result))
    assert set(saved["sides"]) | set(saved["notes"]) == set(NS.SIDES) == {"derivatives", "trajectory"}
    d = saved["sides"]["derivatives"]
    assert {"grid_field_median", "energy_mse", "rel_energy_max", "target_error_median"} <= set(d)
    assert (tmp_path / "noisy-spring" / "derivatives.npz").exists()
