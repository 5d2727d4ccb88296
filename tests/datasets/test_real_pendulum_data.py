"""hnn_np.datasets: the shipped real-pendulum data, its licence and its parameters.

The numbers checked here are those the data's README states (six segments
of 9.167 s at 1 ms, omega0 = 8.0137 rad/s, gamma = 0.0672 1/s), computed
again from the arrays.
"""

import os

import numpy as np
import pytest

from hnn_np.datasets import REAL_PENDULUM, load_real_pendulum, real_pendulum_params

HERE = os.path.dirname(REAL_PENDULUM)


def test_six_segments_of_9167_samples_at_one_millisecond():
    data = load_real_pendulum()
    assert data.ids == (0, 1, 2, 3, 4, 5) and data.columns == ("theta", "omega")
    assert [len(t) for t in data.t] == [9167, 9167, 9167, 9167, 9167, 9166]
    assert data.dt == pytest.approx(1e-3, rel=1e-9)
    for t, x in zip(data.t, data.x):
        assert x.shape == (len(t), 2) and x.dtype == np.float64
        assert np.all(np.abs(x[:, 0] - np.pi) < 1.7)  # about the hanging position
    first = [np.ptp(x[:, 0]) / 2 for x in data.x]
    assert first == sorted(first, reverse=True)  # the swing decays
    assert first[0] == pytest.approx(1.6, abs=0.05) and first[-1] == pytest.approx(0.4, abs=0.05)


def test_the_parameters_give_the_stated_frequency_and_damping():
    p = real_pendulum_params()
    M = p["m1"] * p["a1"] ** 2 + p["I1"]
    assert np.sqrt(p["a1"] * p["g"] * p["m1"] / M) == pytest.approx(8.0137, abs=1e-4)
    assert p["k1"] / M == pytest.approx(0.0672, abs=1e-4)
    with np.load(REAL_PENDULUM) as z:
        assert [str(n).split("_")[0] for n in z["published_param_names"]] == ["a1", "m1", "I1", "k1", "g"]


def test_the_licence_and_the_citation_ship_beside_the_data():
    licence = open(os.path.join(HERE, "LICENSE-real_pendulum.txt")).read()
    assert licence.startswith("MIT License") and "dynamicslab" in licence
    readme = open(os.path.join(HERE, "README.md")).read()
    assert "arXiv:2205.06231" in readme and "LICENSE-real_pendulum.txt" in readme
