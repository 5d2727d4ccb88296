"""hnn_np.studies.dissipative: the D-HNN on the damped pendulum.

The quick run exercises the pipeline (data, training, refit, split, rollouts,
figure, JSON, table) in a temporary folder. The split measurement is checked
on constructed models whose H and D are known in closed form: the true split
must score zero, and a split with a harmonic pair moved from D to H must be
seen as wholly harmonic.
"""

import json
import math

import numpy as np
import pytest

from hnn_np import load_model
from hnn_np.studies.dissipative import SYSTEM, harmonic_gradients, run_dissipative, split_metrics
from hnn_np.symplectic import apply_J


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    root = tmp_path_factory.mktemp("dissipative")
    lines = []
    metrics = run_dissipative(root / "fig", root / "runs", quick=True, log=lines.append)
    return root, metrics, lines


def test_quick_run_writes_every_file(quick):
    root, metrics, lines = quick
    assert (root / "fig" / "dissipative_split.png").stat().st_size > 10_000
    for f in ("dhnn.npz", "train.npz", "test.npz", "split.npz"):
        assert (root / "runs" / f).is_file()
    assert load_model(root / "runs" / "dhnn.npz").kind == "dhnn"
    assert not list(root.rglob(".hnn_np*"))
    assert json.loads((root / "fig" / "dissipative.json").read_text()) == pytest.approx(metrics)
    table = (root / "fig" / "dissipative.md").read_text()
    assert table.startswith("| metric | D-HNN | truth |") and "H(t_end)/H(0)" in table
    assert len(lines) == 1 and "field error median" in lines[0]


def test_quick_run_metrics_are_finite_and_the_truth_decays(quick):
    _, m, _ = quick
    assert all(isinstance(v, float) and math.isfinite(v) for v in m.values())
    assert m["quick"] == 1.0
    assert 0 < m["energy_ratio_end_true"] < 1  # friction: the true energy falls
    assert m["refit_loss_after"] <= m["refit_loss_before"]


class Potentials:
    """A stand-in for a Model with closed-form H and D (physical units, scale 1)."""

    scale = 1.0

    def __init__(self, H, D):
        self.energy, self.dissipation = H, D


def true_H(x):
    return SYSTEM.energy(x)


def true_D(x):
    return -SYSTEM.friction * x[:, 1] ** 2 / 2


def test_the_true_split_scores_zero():
    x = np.random.default_rng(0).uniform(-2, 2, (200, 2))
    m, parts = split_metrics(Potentials(true_H, true_D), SYSTEM, x)
    np.testing.assert_allclose(parts["rot_hat"] + parts["irrot_hat"], SYSTEM.time_derivative(x), atol=1e-8)
    assert m["rot_error"] < 1e-8 and m["irrot_error"] < 1e-7


def test_a_harmonic_pair_moved_between_H_and_D_is_seen_as_the_ambiguity():
    """H + c (p^2 - q^2)/2, D - c q p: the same field, a wrong split, all of it harmonic."""
    c = 0.05
    H = lambda x: true_H(x) + c * (x[:, 1] ** 2 - x[:, 0] ** 2) / 2  # noqa: E731
    D = lambda x: true_D(x) - c * x[:, 0] * x[:, 1]  # noqa: E731
    x = np.random.default_rng(1).uniform(-2, 2, (200, 2))
    m, parts = split_metrics(Potentials(H, D), SYSTEM, x)
    np.testing.assert_allclose(parts["rot_hat"] + parts["irrot_hat"], SYSTEM.time_derivative(x), atol=1e-7)
    assert m["irrot_error"] > 0.1  # the split is visibly off ...
    assert m["split_harmonic_fraction"] > 1 - 1e-6  # ... and all of the error is the ambiguity
    assert m["irrot_error_mod_harmonic"] < 1e-6 and m["rot_error_mod_harmonic"] < 1e-6


def test_a_non_harmonic_split_error_is_not_called_harmonic():
    """D - c q^2 / 2 (not harmonic: its Laplacian is -c) is a real error of the split."""
    D = lambda x: true_D(x) - 0.05 * x[:, 0] ** 2 / 2  # noqa: E731
    x = np.random.default_rng(2).uniform(-2, 2, (200, 2))
    m, _ = split_metrics(Potentials(true_H, D), SYSTEM, x)
    assert m["split_harmonic_fraction"] < 0.9 and m["irrot_error_mod_harmonic"] > 0.05


def test_harmonic_gradients_are_gradients_and_hamiltonian():
    """Each basis field is grad F with F = Re or Im z^k, and equals J grad G for its conjugate G."""
    x = np.random.default_rng(3).uniform(-1, 1, (30, 2))
    B = harmonic_gradients(x, degree=3)
    z = x[:, 0] + 1j * x[:, 1]
    h = 1e-6
    for k in range(1, 4):
        for col, (F, G) in enumerate(((lambda z: (z**k).real, lambda z: (z**k).imag),
                                      (lambda z: (z**k).imag, lambda z: -(z**k).real))):
            grad = lambda f: np.stack([(f(z + h) - f(z - h)) / (2 * h),  # noqa: E731
                                       (f(z + 1j * h) - f(z - 1j * h)) / (2 * h)], axis=1)
            np.testing.assert_allclose(B[:, :, 2 * (k - 1) + col], grad(F), atol=1e-8)
            np.testing.assert_allclose(B[:, :, 2 * (k - 1) + col], apply_J(grad(G)), atol=1e-8)


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="quick must be True or False"):
        run_dissipative(tmp_path, tmp_path, quick="yes")
    with pytest.raises(ValueError, match="seed must be an int"):
        run_dissipative(tmp_path, tmp_path, quick=True, seed=1.5)
