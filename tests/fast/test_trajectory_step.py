"""hnn_np.fast.RK4Workspace against hnn_np.trajectory.loss_and_grad (itself checked against finite differences).

The workspace sums the weight gradients of all stages in one stacked product
and the bias gradients in one reduction, so it agrees with the readable code
to rounding; with itself, call after call, bit for bit. Training with it
(:func:`hnn_np.fit_trajectories`' default for an HNN through RK4) follows
the readable training to rounding.
"""

import numpy as np
import pytest
from _rk4_workspace_cases import assert_close, cases
from hypothesis import given

from hnn_np import TrainConfig, fast, fit_trajectories, mlp, readable, trajectory


@given(cases(1))
def test_the_workspace_computes_the_readable_loss_and_gradients(case):
    dtype, params, K, m, N, X, x0 = case
    ws = fast.RK4Workspace(params, N, K, m)
    got = ws.loss_and_grad(X, 0.3, x0=x0)
    assert_close(got, trajectory.loss_and_grad(params, X, 0.3, "rk4", m, x0=x0), dtype)


def test_the_paper_network_agrees_and_repeated_calls_give_the_same_bits():
    params = mlp.init_params((2, 400, 400, 400, 400, 400, 1), seed=0)
    X = np.random.default_rng(1).standard_normal((2, 64, 2))
    ws = fast.RK4Workspace(params, 64)
    first = ws.loss_and_grad(X, 0.1)
    first = (first[0], [(a.copy(), b.copy()) for a, b in first[1]], first[2])
    assert_close(first, trajectory.loss_and_grad(params, X, 0.1), np.float64)
    again = ws.loss_and_grad(X, 0.1)
    assert again[0] == first[0] and again[2].tobytes() == first[2].tobytes()
    assert all(a.tobytes() == c.tobytes() and b.tobytes() == d.tobytes() for (a, b), (c, d) in zip(again[1], first[1]))


def test_the_workspace_refuses_what_it_was_not_built_for():
    params = mlp.init_params((2, 8, 1), seed=0)
    ws = fast.RK4Workspace(params, 3, K=2)
    with pytest.raises(ValueError, match=r"shape \(3, 3, 2\)"):
        ws.loss_and_grad(np.zeros((2, 3, 2)), 0.1)
    with pytest.raises(ValueError, match="give the starts x0"):
        ws.loss_and_grad(np.zeros((3, 3, 1)), 0.1)
    with pytest.raises(ValueError, match="at least one hidden layer"):
        fast.RK4Workspace(mlp.init_params((2, 1)), 3)
    with pytest.raises(ValueError, match="1 output"):
        fast.RK4Workspace(mlp.init_params((2, 8, 2)), 3)


def test_training_with_the_workspace_follows_the_readable_training_to_rounding():
    t = 0.2 * np.arange(13)
    data = np.stack([np.stack([a * np.cos(t + a), -a * np.sin(t + a)], axis=1) for a in (0.5, 0.8, 1.1)])
    cfg = TrainConfig(target="trajectory", sizes=(2, 12, 12, 1), window=3, substeps=2, steps=20, finetune_steps=0,
                      lr=1e-2, batch_size=4, learn_initial_states=True)
    fast_model = fit_trajectories(data, 0.2, cfg, progress=False)
    with readable():
        ref_model = fit_trajectories(data, 0.2, cfg, progress=False)
    for (a, b), (c, d) in zip(fast_model.params, ref_model.params):
        np.testing.assert_allclose(a, c, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(b, d, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fast_model.history["train_loss"], ref_model.history["train_loss"], rtol=1e-8)
    assert fast_model.params[0][0].tobytes() != ref_model.params[0][0].tobytes()  # two paths ran, other sum orders
