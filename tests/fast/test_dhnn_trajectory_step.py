"""hnn_np.fast.DHNNRK4Workspace against hnn_np.trajectory.loss_and_grad(kind="dhnn") (checked against finite differences).

Both seeds of the D-HNN are stacked in rows and every slot's weight gradients
summed in one product per layer, so it agrees with the readable code to
rounding, and with itself, call after call, bit for bit. Training with it
(:func:`hnn_np.fit_trajectories`' default for a D-HNN through RK4) follows
the readable training to rounding.
"""

import numpy as np
import pytest
from _rk4_workspace_cases import assert_close, cases
from hypothesis import given

from hnn_np import TrainConfig, fast, fit_trajectories, mlp, readable, trajectory


@given(cases(2))
def test_the_workspace_computes_the_readable_loss_and_gradients(case):
    dtype, params, K, m, N, X, x0 = case
    ws = fast.DHNNRK4Workspace(params, N, K, m)
    got = ws.loss_and_grad(X, 0.3, x0=x0)
    assert_close(got, trajectory.loss_and_grad(params, X, 0.3, "rk4", m, "dhnn", x0=x0), dtype)


def test_a_wide_network_agrees_and_repeated_calls_give_the_same_bits():
    params = mlp.init_params((2, 64, 64, 2), seed=0)
    X = np.random.default_rng(1).standard_normal((4, 32, 1))
    x0 = np.random.default_rng(2).standard_normal((32, 2))
    ws = fast.DHNNRK4Workspace(params, 32, K=3, substeps=2)
    first = ws.loss_and_grad(X, 0.05, x0=x0)
    first = (first[0], [(a.copy(), b.copy()) for a, b in first[1]], first[2])
    assert_close(first, trajectory.loss_and_grad(params, X, 0.05, "rk4", 2, "dhnn", x0=x0), np.float64)
    again = ws.loss_and_grad(X, 0.05, x0=x0)
    assert again[0] == first[0] and again[2].tobytes() == first[2].tobytes()
    assert all(a.tobytes() == c.tobytes() and b.tobytes() == d.tobytes() for (a, b), (c, d) in zip(again[1], first[1]))


def test_the_workspace_refuses_what_it_was_not_built_for():
    ws = fast.DHNNRK4Workspace(mlp.init_params((2, 8, 2), seed=0), 3, K=2)
    with pytest.raises(ValueError, match=r"shape \(3, 3, 2\)"):
        ws.loss_and_grad(np.zeros((2, 3, 2)), 0.1)
    with pytest.raises(ValueError, match="give the starts x0"):
        ws.loss_and_grad(np.zeros((3, 3, 1)), 0.1)
    with pytest.raises(ValueError, match="at least one hidden layer"):
        fast.DHNNRK4Workspace(mlp.init_params((2, 2)), 3)
    with pytest.raises(ValueError, match=r"2 output\(s\), H and D"):
        fast.DHNNRK4Workspace(mlp.init_params((2, 8, 1)), 3)


def test_training_with_the_workspace_follows_the_readable_training_to_rounding():
    t = 0.2 * np.arange(13)
    data = np.stack([a * np.exp(-0.05 * t) * np.cos(t + a) for a in (0.5, 0.8, 1.1)])[:, :, None]  # positions
    cfg = TrainConfig(kind="dhnn", target="trajectory", sizes=(2, 12, 12, 2), window=3, substeps=2, steps=20,
                      finetune_steps=0, lr=1e-2, batch_size=4, learn_initial_states=True)
    fast_model = fit_trajectories(data, 0.2, cfg, progress=False, lbfgs_steps=5)
    with readable():
        ref_model = fit_trajectories(data, 0.2, cfg, progress=False, lbfgs_steps=5)
    for (a, b), (c, d) in zip(fast_model.params, ref_model.params):
        np.testing.assert_allclose(a, c, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(b, d, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fast_model.history["train_loss"], ref_model.history["train_loss"], rtol=1e-8)
    np.testing.assert_allclose(fast_model.history["lbfgs_loss"], ref_model.history["lbfgs_loss"], rtol=1e-6)
    assert fast_model.params[0][0].tobytes() != ref_model.params[0][0].tobytes()  # two paths ran, other sum orders
