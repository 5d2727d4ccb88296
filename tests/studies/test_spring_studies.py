"""hnn_np.studies.spring: the four mass-spring studies beyond the paper.

* ``make_spring_studies(quick=True)`` runs every study end to end and writes
  each PNG, ``spring.json`` (every number finite) and ``spring.md``.
* Each building block is checked against a reference that does not share its
  code:

  - the noise floor against the closed form S(x~) - S(x) = S(eps) =
    (eps_p / m, -k eps_q) with the noise eps recovered from a clean twin of
    the same dataset (the noise is drawn last), on a spring with k, m != 2;
  - the stencil bias |1 - rho(omega dt)| against the targets that
    ``make_dataset`` really produces by integrating and differencing, and
    against its Taylor terms theta^2/6, theta^4/30, theta^6/140;
  - the stacked DOP853 rollout of the exact field, and of a linear baseline
    whose weights are the spring's matrix, against the closed-form solution;
    the rollout of a random HNN keeps that HNN's own energy;
  - the radius runner: at R = 1000 the same recipe gives the same grid
    errors as at R = 100 (each graded on its own grid), since the data are
    scaled copies and the network sees them normalized.
"""

import json
import math
import os

import numpy as np
import pytest

from hnn_np import data as D
from hnn_np import mlp
from hnn_np.evaluate import rollout_metrics
from hnn_np.rollout import rollout_stacked
from hnn_np.studies import spring, spring_report, targets
from hnn_np.model import Model
from hnn_np.systems import MassSpring

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SPRING = MassSpring(2.0, 2.0)
PNGS = ("spring1_long_rollouts.png", "spring2_radius.png", "spring3_derivatives.png", "spring4_noise.png")


def numbers(tree):
    """Every int or float leaf of a JSON tree."""
    if isinstance(tree, dict):
        for v in tree.values():
            yield from numbers(v)
    elif isinstance(tree, list):
        for v in tree:
            yield from numbers(v)
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        yield tree


# --- the whole thing -----------------------------------------------------------------

def test_quick_run_writes_every_figure_and_finite_metrics(tmp_path):
    folder, runs = tmp_path / "fig", tmp_path / "runs"
    lines = []
    summary = spring_report.make_spring_studies(str(folder), str(runs), quick=True, log=lines.append)
    for name in PNGS:
        with open(folder / name, "rb") as f:
            assert f.read(8) == PNG_SIGNATURE, name
    with open(folder / "spring.json") as f:
        saved = json.load(f)
    values = list(numbers(saved))
    assert len(values) > 100 and all(math.isfinite(v) for v in values)
    assert saved["quick"] is True
    assert saved["long_rollouts"]["rollouts"].keys() == {"HNN", "baseline", "exact field"}
    assert summary["seconds"]["total"] == saved["seconds"]["total"]
    md = (folder / "spring.md").read_text()
    for heading in ("Long rollouts", "Radius", "Numerical derivatives", "Noisy inputs"):
        assert heading in md
    assert os.path.isfile(runs / "rollouts-hnn" / "model.npz") and lines
    # the exact field under DOP853 keeps its energy; the scaled data are the same numbers
    assert saved["long_rollouts"]["rollouts"]["exact field"]["rel_energy_max"] < 1e-8
    for m in saved["radius"]["radii"].values():
        assert m["normalized_inputs_max_diff"] < 1e-12
    # the measured target error of every stencil is its closed form (until DOP853's 1e-10 shows)
    for r in saved["derivatives"]["rows"]:
        if r["order"] and r["target_error_closed_form"] > 1e-7:
            assert r["target_error_median"] == pytest.approx(r["target_error_closed_form"], rel=1e-3)
    # the noise was drawn with the std asked for, and the floor is its expected value
    for level in saved["noise"]["levels"].values():
        m = level["hnn"]
        assert m["noise_std_measured"] == pytest.approx(m["sigma"], rel=0.1)
        assert m["noise_floor"] == pytest.approx(m["expected_floor"], rel=0.25)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="quick"):
        spring_report.make_spring_studies("x", quick="yes")
    with pytest.raises(ValueError, match="log"):
        spring_report.make_spring_studies("x", log="print")
    with pytest.raises(ValueError, match="radius"):
        spring.run_spring(radius=-1.0)
    with pytest.raises(ValueError, match="steps"):
        spring.run_spring(steps=-3)
    with pytest.raises(ValueError, match="field"):
        rollout_stacked(3, np.ones((1, 2)), [0.0, 1.0])
    with pytest.raises(ValueError, match="x0"):
        rollout_stacked(SPRING.time_derivative, np.ones((1, 3)), [0.0, 1.0])
    with pytest.raises(ValueError, match="order"):
        targets.stencil_bias(3, 0.1)
    with pytest.raises(ValueError, match="n_states"):
        spring.SpringStudyConfig(n_traj=4, n_states=3).validate()


# --- the noise floor -----------------------------------------------------------------

def test_noise_floor_is_the_field_of_the_noise_itself():
    spring = MassSpring(k=3.0, m=0.5)  # not the paper's k = m = 2: no constant may be baked in
    kw = dict(n_traj=3, n_obs=5, radius=10.0, seed=4)
    noisy = D.make_dataset(spring, noise_std=0.3, **kw)
    clean = D.make_dataset(spring, **kw)  # the noise is drawn last: the same clean states
    np.testing.assert_array_equal(noisy.dx_dt, clean.dx_dt)  # analytic targets from the clean states
    eps = noisy.x - clean.x  # (N, 2)
    S_eps = np.stack([eps[:, 1] / spring.m, -spring.k * eps[:, 0]], axis=1)  # S(x~) - S(x) = S(eps)
    by_hand = np.mean(np.sum(S_eps**2, axis=1) / np.sum(clean.dx_dt**2, axis=1)) / 2
    assert targets.noise_floor(spring, noisy.x, noisy.dx_dt) == pytest.approx(by_hand, rel=1e-9)
    assert targets.noise_floor(spring, clean.x, clean.dx_dt) < 1e-20  # no noise, no floor


def test_relative_mse_by_hand_and_scale_free():
    pred = np.array([[1.0, 2.0], [0.0, 0.0]])
    target = np.array([[1.0, 0.0], [3.0, 4.0]])
    by_hand = (4.0 / 1.0 + 25.0 / 25.0) / (2 * 2)
    assert targets.relative_mse(pred, target) == pytest.approx(by_hand, rel=1e-15)
    assert targets.relative_mse(7.5 * pred, 7.5 * target) == pytest.approx(by_hand, rel=1e-15)
    with pytest.raises(ValueError, match="target"):
        targets.relative_mse(pred, np.zeros((2, 2)))


# --- the stencils ----------------------------------------------------------------------

@pytest.mark.parametrize("order", [2, 4, 6])
@pytest.mark.parametrize("n_obs", [12, 30])
def test_stencil_bias_is_what_make_dataset_targets_carry(order, n_obs):
    ds = D.make_dataset(SPRING, n_traj=4, n_obs=n_obs, derivative=f"fd{order}", seed=1)
    err = targets.target_errors(SPRING, ds)  # (N,), from integrated and differenced states
    closed = targets.stencil_bias(order, SPRING.omega * 2 * np.pi / n_obs)
    # one number for every row, up to DOP853's state error (rtol 1e-10) divided by dt: ~1e-9
    np.testing.assert_allclose(err, closed, rtol=1e-4, atol=5e-9)


def test_stencil_bias_leading_terms():
    theta = 1e-2
    for order, leading in ((2, theta**2 / 6), (4, theta**4 / 30), (6, theta**6 / 140)):
        assert targets.stencil_bias(order, theta) == pytest.approx(leading, rel=1e-3)


# --- rollouts --------------------------------------------------------------------------

def test_exact_field_rollout_keeps_energy_and_follows_the_closed_form():
    x0 = np.array([[100.0, 0.0], [-3.0, 40.0], [0.5, -0.2]])
    t = np.linspace(0.0, 10 * 2 * np.pi, 201)
    x, nfev = rollout_stacked(SPRING.time_derivative, x0, t, rtol=1e-10)
    exact = SPRING.exact_solution(x0, t)
    m = rollout_metrics(SPRING, x, exact, t)
    assert x.shape == (3, 201, 2) and nfev > 0
    assert m["rel_energy_max"] < 1e-9 and m["rel_state_last"] < 1e-8
    assert rollout_metrics(SPRING, exact, exact, t)["state_mse"] == 0.0


def test_linear_baseline_with_the_springs_matrix_rolls_out_the_spring():
    """A baseline with no hidden layer, f(x) = x @ W, W = [[0, -k], [1/m, 0]]: the exact field."""
    k, m = SPRING.k, SPRING.m
    model = Model("baseline", [(np.array([[0.0, -k], [1.0 / m, 0.0]]), np.zeros(2))], scale=50.0)
    x0 = np.array([[60.0, -20.0], [1.0, 1.0]])
    t = np.linspace(0.0, 3 * 2 * np.pi, 61)
    x, _ = rollout_stacked(model.time_derivative, x0, t, rtol=1e-10)
    exact = SPRING.exact_solution(x0, t)
    assert np.max(np.abs(x - exact) / np.linalg.norm(x0, axis=1)[:, None, None]) < 1e-8


def test_hnn_rollout_keeps_the_hnns_own_energy():
    model = Model("hnn", mlp.init_params((2, 16, 16, 1), seed=3), scale=5.0)
    x0 = np.array([[2.0, 1.0], [-1.0, 3.0], [0.5, 0.5]])
    t = np.linspace(0.0, 20.0, 101)
    x, _ = rollout_stacked(model.time_derivative, x0, t, rtol=1e-11)
    H = model.energy(x.reshape(-1, 2)).reshape(3, -1)  # the learned energy along its own flow
    assert np.max(np.abs(H - H[:, :1])) < 1e-8 * np.max(np.abs(H))
    assert np.max(np.abs(x[:, -1] - x0)) > 1e-2  # it did move


# --- the radius runner ----------------------------------------------------------------

def test_radius_runner_grades_each_radius_on_its_own_grid_alike():
    kw = dict(sizes=(2, 32, 32, 1), steps=0, n_traj=20, grid_n=41)
    r100 = spring.run_spring("hnn", radius=100.0, **kw)
    r1000 = spring.run_spring("hnn", radius=1000.0, **kw)
    assert r1000["model"].scale == pytest.approx(10 * r100["model"].scale, rel=1e-12)
    assert r1000["grid"]["q"].max() == 1000.0
    m100, m1000 = r100["metrics"], r1000["metrics"]
    assert m1000["grid_field_median"] == pytest.approx(m100["grid_field_median"], rel=1e-6)
    for tol in ("0.001", "0.0005"):
        assert abs(m1000[f"grid_field_within_{tol}"] - m100[f"grid_field_within_{tol}"]) < 0.01
