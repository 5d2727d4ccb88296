"""hnn_np.evaluate: energy and field errors along trajectories and on the meshgrid.

The metrics are tested on *fake models*: objects with ``kind``, ``energy``
and ``time_derivative`` whose errors are known exactly in advance, so every
number evaluate.py reports has a closed-form expected value:

* the exact spring                      -> every error 0, every fraction 1;
* the field times (1 + e)               -> norm error e at every grid point,
                                           signed errors e S_i / ||S||;
* the energy H + c                      -> calibration removes c: error 0;
* the energy (1 + e) H + c              -> relative energy error e everywhere.

The origin, where S = 0 and H = 0 (relative errors undefined), must be
left out: 201 x 201 - 1 points.
"""

import json
import os

import numpy as np
import pytest

from hnn_np import evaluate as E
from hnn_np.systems import MassSpring, System

SPRING = MassSpring(k=2.0, m=2.0)
N_GRID = 201 * 201 - 1  # the meshgrid without its origin


class FakeModel:
    """A model that is the exact spring, up to a field factor and an energy transform."""

    def __init__(self, kind="hnn", field_factor=1.0, energy_factor=1.0, energy_offset=0.0,
                 field_offset=(0.0, 0.0)):
        self.kind = kind
        self.field_factor, self.field_offset = field_factor, np.asarray(field_offset)
        self.energy_factor, self.energy_offset = energy_factor, energy_offset

    def energy(self, x):
        if self.kind != "hnn":
            raise ValueError("a baseline model predicts dx/dt only; it has no energy")
        return self.energy_factor * SPRING.energy(x) + self.energy_offset

    def time_derivative(self, x):
        return self.field_factor * SPRING.time_derivative(x) + self.field_offset


def spring_trajectories(n_traj=4, n_obs=30):
    """Exact spring trajectories from the closed form, (B, T, 2)."""
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-80, 80, (n_traj, 2))
    return SPRING.exact_solution(x0, np.linspace(0, 2 * np.pi, n_obs))


# --- the grid -------------------------------------------------------------------

def test_grid_spans_the_square_with_the_origin_in_the_middle():
    Q, P = E.grid(100.0, 201)
    assert Q.shape == P.shape == (201, 201)
    assert Q[0, 0] == -100 and Q[0, -1] == 100 and P[0, 0] == -100 and P[-1, 0] == 100
    assert np.all(Q[0] == Q[-1]) and np.all(P[:, 0] == P[:, -1])  # indexing="xy": rows are p
    assert Q[100, 100] == 0 and P[100, 100] == 0
    np.testing.assert_allclose(np.diff(Q[0]), 1.0, rtol=1e-12)


@pytest.mark.parametrize("radius, n", [(100.0, 201), (1.0, 21), (0.9, 11), (3.3, 51)])
def test_the_origin_is_excluded_for_any_odd_grid(radius, n):
    """With an odd n the grid's centre is the origin; it is left out for every radius.

    A model whose field is not 0 at the origin (any trained network) would
    otherwise put an error of ~1e16 into the max and the percentiles.
    """
    model = FakeModel(field_offset=(1e-3, 0.0))
    errs = E.grid_errors(model, SPRING, radius=radius, n=n)
    assert np.isnan(errs["field"][n // 2, n // 2])
    assert np.isfinite(errs["field"]).sum() == n * n - 1
    assert np.nanmax(errs["field"]) < 1e3
    assert E.evaluate_model(model, SPRING, radius=radius, n=n)["grid_points"] == n * n - 1


def test_grid_of_even_size_has_no_origin_and_keeps_every_point():
    errs = E.grid_errors(FakeModel(), SPRING, radius=10.0, n=20)
    assert np.isfinite(errs["field"]).all()


# --- metrics of fake models with known errors --------------------------------------

def test_the_exact_spring_has_zero_error_and_every_fraction_one():
    traj = spring_trajectories()
    metrics = E.evaluate_model(FakeModel(), SPRING, traj)
    assert metrics["grid_points"] == N_GRID
    for key, value in metrics.items():
        if key == "grid_points":
            continue
        if "within" in key:
            assert value == 1.0, key
        else:
            assert value == 0.0, key
    expected = {"grid_field_median", "grid_field_p99", "grid_field_max", "grid_field_within_0.001",
                "grid_field_within_0.0005", "grid_energy_median", "grid_energy_p99", "grid_energy_max",
                "grid_energy_within_0.001", "grid_energy_within_0.0005", "traj_energy_median",
                "traj_energy_max", "traj_energy_within_0.001", "grid_points"}
    assert set(metrics) == expected
    assert all(isinstance(v, (int, float)) for v in metrics.values())


def test_a_field_off_by_a_factor_has_that_relative_error_everywhere():
    e = 2e-3
    errs = E.grid_errors(FakeModel(field_factor=1 + e), SPRING)
    field = errs["field"][np.isfinite(errs["field"])]
    assert field.size == N_GRID
    np.testing.assert_allclose(field, e, rtol=1e-9)
    # signed per-component errors: e S_i / ||S||
    Q, P = errs["q"], errs["p"]
    S = SPRING.time_derivative(np.stack([Q.ravel(), P.ravel()], 1))
    norm = np.linalg.norm(S, axis=1)
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(errs["field_q"].ravel(), e * S[:, 0] / norm, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(errs["field_p"].ravel(), e * S[:, 1] / norm, rtol=1e-9, atol=1e-15)
    metrics = E.evaluate_model(FakeModel(field_factor=1 + e), SPRING)
    assert metrics["grid_field_within_0.001"] == 0.0
    assert metrics["grid_field_within_0.0005"] == 0.0
    for stat in ("median", "p99", "max"):
        assert metrics[f"grid_field_{stat}"] == pytest.approx(e, rel=1e-9)


def test_a_fraction_counts_the_points_within_the_tolerance():
    """Field error 7e-4: within 1e-3 everywhere, within 5e-4 nowhere."""
    metrics = E.evaluate_model(FakeModel(field_factor=1 - 7e-4), SPRING, n=51)
    assert metrics["grid_field_within_0.001"] == 1.0
    assert metrics["grid_field_within_0.0005"] == 0.0


def test_an_energy_offset_is_removed_by_calibration_at_the_origin():
    """An HNN learns H up to a constant: H + 5 has zero calibrated error."""
    model = FakeModel(energy_offset=5.0)
    traj = spring_trajectories()
    assert np.max(E.trajectory_energy_error(model, SPRING, traj)) < 1e-14
    errs = E.grid_errors(model, SPRING)
    assert np.nanmax(errs["energy"]) < 1e-12
    x = traj.reshape(-1, 2)
    np.testing.assert_allclose(E.calibrated_energy(model, SPRING, x), SPRING.energy(x), rtol=1e-14)
    metrics = E.evaluate_model(model, SPRING, traj)
    assert metrics["grid_energy_within_0.0005"] == 1.0 and metrics["traj_energy_within_0.001"] == 1.0


def test_an_energy_off_by_a_factor_has_that_relative_error():
    e = 3e-3
    model = FakeModel(energy_factor=1 + e, energy_offset=-7.0)
    traj = spring_trajectories()
    err = E.trajectory_energy_error(model, SPRING, traj)
    assert err.shape == traj.shape[:2]
    np.testing.assert_allclose(err, e, rtol=1e-9)
    metrics = E.evaluate_model(model, SPRING, traj)
    assert metrics["traj_energy_median"] == pytest.approx(e, rel=1e-9)
    assert metrics["traj_energy_within_0.001"] == 0.0
    assert metrics["grid_energy_max"] == pytest.approx(e, rel=1e-9)
    assert metrics["grid_field_max"] == 0.0  # the field is still exact


def test_a_baseline_gets_field_metrics_only():
    metrics = E.evaluate_model(FakeModel(kind="baseline"), SPRING, spring_trajectories())
    assert "grid_field_median" in metrics
    assert not any(k.startswith(("grid_energy", "traj_energy")) for k in metrics)
    assert "energy" not in E.grid_errors(FakeModel(kind="baseline"), SPRING, n=11)


def test_the_meshgrid_needs_one_degree_of_freedom():
    class TwoSprings(System):
        n_dof = 2

    with pytest.raises(ValueError, match="one-degree-of-freedom"):
        E.grid_errors(FakeModel(), TwoSprings())
