"""hnn_np.studies.noisy_spring: the data against the clean trajectories they were drawn from and the
noise law, the order-2 differences against their closed-form error, the quick study end to end."""

import json

import numpy as np
import pytest

from hnn_np.studies import noisy_spring as NS


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


def test_quick_noisy_spring_writes_both_sides(tmp_path):
    result = NS.run_noisy_spring(tmp_path, NS.QUICK, log=lambda _line: None)
    saved = json.loads((tmp_path / "noisy-spring" / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(result))
    assert set(saved["sides"]) == set(NS.SIDES) == {"derivatives", "trajectory"}
    for side in NS.SIDES:
        assert {"grid_field_median", "energy_mse", "rel_energy_max", "train_seconds"} <= set(saved["sides"][side])
        assert (tmp_path / "noisy-spring" / f"{side}.npz").exists()
    assert "target_error_median" in saved["sides"]["derivatives"]
    traj = saved["sides"]["trajectory"]
    # the windows tile each of the 4 training trajectories of 20 samples: starts 0, 4, .., 12
    assert traj["n_windows"] == 4 * 4
    assert traj["start_error_observed"] == pytest.approx(0.1, rel=0.5)  # the noise on the observed starts
