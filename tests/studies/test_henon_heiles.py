"""hnn_np.studies.sections and hnn_np.studies.henon_heiles: crossings, distances, chaos, the study.

* :func:`section_points` against closed forms (the mass-spring's upward zeros
  q(t) = 0 at omega t = 3 pi / 2 - phi + 2 pi k, where p = m A omega), against
  the zeros bisected on the dense output of a run without events (the same
  interpolant: equal to round-off) and against scipy's event location on
  Hénon–Heiles orbits;
* :func:`section_distance` against hand-computed sets;
* :func:`separation_growth` against the linear spring, where the separation
  of two orbits is a closed form, and on Hénon–Heiles at E = 1/12 (all
  regular) and E = 1/8 (some chaotic, Hénon & Heiles 1964);
* :func:`compare_sections` with the exact field as the "model" scores
  exactly 0, and a model of a slightly different system is seen;
* the quick run writes its files, reproducibly.
"""

import json
import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp as scipy_solve_ivp

from hnn_np import catalog, load_model
from hnn_np.integrate import solve_ivp as hnn_solve_ivp
from hnn_np.studies.henon_heiles import (ENERGIES, SYSTEM, compare_sections, held_out_states, learned_flow,
                                         run_henon_heiles, section_starts, training_states)
from hnn_np.studies.sections import CHAOTIC_GROWTH, section_distance, section_points, separation_growth
from hnn_np.systems import MassSpring


def spring_crossings(spring, y0, t_end):
    """Upward zeros of q(t) = A cos(w t + phi) and p there, from the closed form; -> t (m,), p (m,)."""
    w, m = spring.omega, spring.m
    q0, p0 = y0
    A, phi = np.hypot(q0, p0 / (m * w)), np.arctan2(-p0 / (m * w), q0)  # q0 = A cos phi, p0 = -m A w sin phi
    k = np.arange(-2, int(w * t_end / (2 * np.pi)) + 3)
    t = (1.5 * np.pi - phi + 2 * np.pi * k) / w  # w t + phi = 3 pi / 2 (mod 2 pi): q = 0, dq/dt > 0
    t = t[(t > 1e-9) & (t <= t_end)]
    return t, np.full(t.shape, m * A * w)


def bisected_crossings(fun, y0, t_end, args, tol, samples=4):
    """The upward zeros of x = y[0] on the dense output of one run without events: sampled, then bisected.

    The sign of x is read at ``samples`` points per accepted step; each
    bracket x(a) < 0 <= x(b) is halved on the interpolant until a and b are
    neighbouring floats. -> t (m,), y (m, d).
    """
    res = hnn_solve_ivp(fun, (0.0, t_end), y0, args=args, rtol=tol, atol=tol, dense_output=True, max_steps=10**6)
    steps = res.t
    theta = np.arange(samples) / samples
    grid = np.append((steps[:-1, None] + np.diff(steps)[:, None] * theta[None, :]).ravel(), steps[-1])
    x = res.sol(grid)[0]
    up = np.flatnonzero((x[:-1] < 0) & (x[1:] >= 0))
    a, b = grid[up], grid[up + 1]
    while True:
        mid = 0.5 * (a + b)
        open_ = (mid > a) & (mid < b)
        if not open_.any():
            break
        right = res.sol(mid)[0] >= 0
        b, a = np.where(open_ & right, mid, b), np.where(open_ & ~right, mid, a)
    return b, res.sol(b).T


def scipy_crossings(y0, t_end, tol):
    """The upward zeros of x on the Hénon–Heiles flow by scipy's DOP853 and its events; the start dropped."""

    def on_section(t, y):
        return y[0]

    on_section.direction = 1.0
    ref = scipy_solve_ivp(lambda _t, s: SYSTEM.time_derivative(s[None])[0], (0.0, t_end), y0, method="DOP853",
                          events=on_section, rtol=tol, atol=tol)
    keep = ref.t_events[0] > 0  # scipy counts the start on the section (g = 0, then g > 0) as an event
    return ref.t_events[0][keep], ref.y_events[0][keep]


@pytest.mark.parametrize("y0", [(1.0, 0.5), (-0.3, -2.0), (0.0, 1.0), (0.0, -1.0)])
@pytest.mark.parametrize("jit", [True, False])
def test_section_points_finds_the_springs_zeros(y0, jit):
    spring = MassSpring(k=3.0, m=0.7)
    fun, args = spring.ode()
    fun = fun if jit else fun.py_func
    t, y = section_points(fun, np.array(y0), 60.0, args=args, rtol=1e-12, atol=1e-12)
    t_want, p_want = spring_crossings(spring, y0, 60.0)
    assert len(t) == len(t_want) > 10  # a start on the section, (0, 1), is not a crossing
    np.testing.assert_allclose(t, t_want, atol=1e-9)
    np.testing.assert_allclose(y[:, 1], p_want, rtol=1e-9)
    assert np.max(np.abs(y[:, 0])) < 1e-12  # q = 0 to round-off of the interpolant


def test_section_points_are_the_bisected_zeros_of_the_same_interpolant():
    """Events take the steps of a run without them: both ways find the zeros of one interpolant, to round-off."""
    fun, args = SYSTEM.ode()
    for y0 in section_starts(1 / 12, 2):  # regular orbits
        t, y = section_points(fun, y0, 300.0, args=args, rtol=1e-11, atol=1e-11)
        t_old, y_old = bisected_crossings(fun, y0, 300.0, args, 1e-11)
        assert len(t) == len(t_old) >= 40
        np.testing.assert_allclose(t, t_old, rtol=0, atol=1e-12)
        np.testing.assert_allclose(y, y_old, rtol=0, atol=1e-12)


@pytest.mark.parametrize("energy, t_end", [(1 / 12, 300.0), (1 / 8, 120.0)])  # 1/8: before chaos parts the two
def test_section_points_agrees_with_scipys_events_on_henon_heiles(energy, t_end):
    fun, args = SYSTEM.ode()
    for y0 in section_starts(energy, 2):
        t, y = section_points(fun, y0, t_end, args=args, rtol=1e-13, atol=1e-13)
        t_ref, y_ref = scipy_crossings(y0, t_end, 1e-13)
        assert len(t) == len(t_ref) >= 15
        np.testing.assert_allclose(t, t_ref, rtol=0, atol=1e-9)
        np.testing.assert_allclose(y, y_ref, rtol=0, atol=1e-9)
        assert np.all(y[:, 2] > 0)  # p_x > 0 where x increases


@pytest.mark.parametrize("kw, name", [(dict(samples=0), "samples"), (dict(samples=2.0), "samples"),
                                      (dict(t_end=-1.0), "t_end"), (dict(t_end=np.inf), "t_end")])
def test_section_points_refuses_bad_arguments(kw, name):
    fun, args = MassSpring().ode()
    with pytest.raises(ValueError, match=name):
        section_points(fun, np.array([1.0, 0.0]), **{"t_end": 10.0, "args": args, **kw})


def test_section_points_samples_has_no_effect():
    fun, args = MassSpring().ode()
    t, y = section_points(fun, np.array([1.0, 0.0]), 20.0, args=args)
    with pytest.warns(DeprecationWarning, match="samples"):
        t1, y1 = section_points(fun, np.array([1.0, 0.0]), 20.0, args=args, samples=1)
    np.testing.assert_array_equal(t, t1)
    np.testing.assert_array_equal(y, y1)


def test_section_distance_by_hand():
    rng = np.random.default_rng(0)
    P = rng.normal(size=(50, 2))
    assert section_distance(P, P, 1.0) == 0.0
    assert section_distance(P, P[::-1], 1.0) == 0.0  # order-blind
    Q = rng.normal(size=(30, 2))
    assert section_distance(P, Q, 2.0) == section_distance(Q, P, 2.0) > 0
    line = np.stack([np.linspace(0, 1, 11), np.zeros(11)], axis=1)
    assert section_distance(line, line + [0.0, 0.01], 0.5) == pytest.approx(0.01 / 0.5)
    # {0} against {0, 1}: nearest distances 0 one way, 0 and 1 the other -> (0 + 1/2) / 2
    assert section_distance([[0.0]], [[0.0], [1.0]], 1.0) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="non-empty"):
        section_distance(np.zeros((0, 2)), P, 1.0)


def test_separation_growth_of_the_linear_spring_is_its_closed_form():
    """Two spring orbits dp apart differ by dp (sin(w t) / (m w), cos(w t)): max |.| = dp / (m w) when m w < 1."""
    spring = MassSpring(k=0.5, m=0.5)  # w = 1, m w = 0.5
    fun, args = spring.ode()
    g = separation_growth(fun, np.array([[1.0, 0.0], [0.0, 2.0]]), 50.0, args=args, n_times=5001)
    np.testing.assert_allclose(g, 2.0, rtol=1e-4)


def test_separation_growth_tells_henon_heiles_tori_from_its_chaotic_sea():
    """E = 1/12: every start regular; E = 1/8: some chaotic, orders of magnitude apart (Hénon & Heiles 1964)."""
    fun, args = SYSTEM.ode()
    g12 = separation_growth(fun, section_starts(1 / 12, 12), 2000.0, args=args)
    g8 = separation_growth(fun, section_starts(1 / 8, 12), 2000.0, args=args)
    assert g12.max() < CHAOTIC_GROWTH / 10
    chaotic = g8 > CHAOTIC_GROWTH
    assert 0 < chaotic.sum() < len(g8)
    assert g8[chaotic].min() > 1e3 * CHAOTIC_GROWTH and g8[~chaotic].max() < CHAOTIC_GROWTH / 10


def test_section_starts_lie_on_the_section_and_the_shell():
    for E in ENERGIES.values():
        x = section_starts(E, 6)
        assert x.shape == (9, 4) and np.all(x[:, 0] == 0) and np.all(x[:, 2] > 0)
        np.testing.assert_allclose(SYSTEM.energy(x), E, rtol=1e-13)
        lo, hi = SYSTEM.section_bounds(E)
        assert np.all(x[:6, 3] == 0) and np.all((x[:6, 1] > lo) & (x[:6, 1] < hi))
        assert np.all(x[6:, 1] == 0) and np.all((x[6:, 3] > 0) & (x[6:, 3] < np.sqrt(2 * E)))
    with pytest.raises(ValueError, match="n_line"):
        section_starts(1 / 8, 0)


class FieldModel:
    """A stand-in for a learned model: the field of H + eps x^2 y (eps = 0: the true field)."""

    def __init__(self, eps):
        self.eps = eps

    def time_derivative(self, x):
        S = SYSTEM.time_derivative(x)
        if self.eps:
            S = S.copy()
            S[:, 2] -= self.eps * 2 * x[:, 0] * x[:, 1]  # -d(eps x^2 y)/dx
            S[:, 3] -= self.eps * x[:, 0] ** 2  # -d(eps x^2 y)/dy
        return S


def test_the_true_field_as_model_scores_zero_and_a_changed_system_does_not():
    exact, _ = compare_sections(FieldModel(0.0), 2, 30.0, how="python", tol=1e-9)
    small, _ = compare_sections(FieldModel(1e-4), 2, 30.0, how="python", tol=1e-9)
    large, _ = compare_sections(FieldModel(1e-2), 2, 30.0, how="python", tol=1e-9)
    for k in ("E1_12", "E1_8"):
        assert exact[f"{k}_distance_max"] == 0.0 and exact[f"{k}_indicator_agreement"] == 1.0
        assert exact[f"{k}_chaotic_true"] == exact[f"{k}_chaotic_hnn"]
        assert exact[f"{k}_energy_error_max"] < 1e-7 and exact[f"{k}_orbits_lost"] == 0
        assert 0 < small[f"{k}_distance_median"] < large[f"{k}_distance_median"]


def test_training_and_held_out_states_are_on_their_shells_and_independent():
    x, dx_dt = training_states(500, seed=0)
    E = SYSTEM.energy(x)
    assert 0.05 <= E.min() and E.max() <= 0.15
    np.testing.assert_array_equal(dx_dt, SYSTEM.time_derivative(x))
    tests = held_out_states(100, seed=0)
    for tag, x_test in tests.items():
        np.testing.assert_allclose(SYSTEM.energy(x_test), ENERGIES[tag], rtol=1e-12)
        assert not np.isin(x_test, x).any()
    assert np.array_equal(training_states(500, seed=0)[0], x)
    assert not np.array_equal(training_states(500, seed=1)[0], x)


@pytest.mark.parametrize("kw, name", [(dict(seed=-1), "seed"), (dict(quick=1), "quick"),
                                      (dict(train=[1]), "train"), (dict(train={"lr": -1.0}), "lr")])
def test_bad_run_arguments_raise(tmp_path, kw, name):
    with pytest.raises(ValueError, match=name):
        run_henon_heiles(tmp_path, **{"quick": True, **kw})


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    root = tmp_path_factory.mktemp("henon-heiles")
    lines = []
    model, metrics = run_henon_heiles(root, quick=True, seed=0, log=lines.append)
    return root, model, metrics, lines


def test_quick_run_writes_every_file(quick):
    root, model, metrics, lines = quick
    folder = root / "henon-heiles"
    assert (folder / "henon_heiles.png").stat().st_size > 10_000
    assert json.loads((folder / "metrics.json").read_text()) == metrics
    loaded = load_model(folder / "model.npz")
    assert loaded.kind == "hnn" and list(loaded.sizes) == list(model.sizes) == [4, 16, 1]
    sections = np.load(folder / "sections.npz")
    for k in ("E1_12", "E1_8"):
        K = int(metrics[f"{k}_n_starts"])
        assert sections[f"{k}_starts"].shape == (K, 4) and sections[f"{k}_distance"].shape == (K,)
        assert np.median(sections[f"{k}_distance"]) == metrics[f"{k}_distance_median"]
        assert len(sections[f"{k}_true"]) == len(sections[f"{k}_true_orbit"])
    assert not list(root.rglob(".hnn_np*"))
    assert len(lines) == 1 and "henon-heiles" in lines[0]
    assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())


def test_quick_run_is_reproducible_and_the_catalog_runs_it(quick, tmp_path):
    root, model, metrics, _ = quick
    model2, metrics2 = catalog.run("henon-heiles", tmp_path, quick=True, seed=0)
    for (W, b), (W2, b2) in zip(model.params, model2.params):
        assert np.array_equal(W, W2) and np.array_equal(b, b2)
    drop = ("train_seconds", "sections_seconds")
    assert {k: v for k, v in metrics.items() if k not in drop} == \
        {k: v for k, v in metrics2.items() if k not in drop}


def test_a_learned_flow_crosses_alike_compiled_and_in_python(quick):
    """The compiled field with its parameters as args (a jitted event, run compiled) against the NumPy model."""
    _, model, _, _ = quick
    y0 = section_starts(1 / 12, 2)[0]
    crossings = {}
    for how in ("compiled", "python"):
        fun, args = learned_flow(model, how)
        crossings[how] = section_points(fun, y0, 100.0, args=args, rtol=1e-11, atol=1e-11)
    (t, y), (t_py, y_py) = crossings["compiled"], crossings["python"]
    assert len(t) == len(t_py) >= 5
    np.testing.assert_allclose(t, t_py, rtol=0, atol=1e-8)
    np.testing.assert_allclose(y, y_py, rtol=0, atol=1e-8)
    assert np.max(np.abs(y[:, 0])) < 1e-12
