"""Measured data shipped with hnn_np.

``real_pendulum.npz``: a real pendulum's free swing, 55 s at dt = 1 ms from
an optical encoder, cut into six segments of 9.167 s (Kaheman et al. 2022,
arXiv:2205.06231, MIT licence; provenance, licence and citation in
``README.md`` and ``LICENSE-real_pendulum.txt`` beside this file).

:func:`load_real_pendulum` returns it as :class:`hnn_np.measured.Measured`
trajectories with states x = (theta [rad], omega [rad/s]), one per segment;
:func:`real_pendulum_params` the authors' identified parameters.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["REAL_PENDULUM", "load_real_pendulum", "real_pendulum_params", "REAL_PENDULUM_PARAMS"]

REAL_PENDULUM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "real_pendulum.npz")
# The order of the file's published_params: pivot to centre of mass a1 [m], mass m1 [kg],
# moment of inertia about the centre of mass I1 [kg m^2], viscous friction k1 [N m s], g [m/s^2].
REAL_PENDULUM_PARAMS = ("a1", "m1", "I1", "k1", "g")


def load_real_pendulum(path=REAL_PENDULUM):
    """The six segments as :class:`~hnn_np.measured.Measured`, columns ``("theta", "omega")``."""
    from ..measured import load_measured

    return load_measured(path, time="t", columns=("theta", "omega"), trajectory="segment")


def real_pendulum_params(path=REAL_PENDULUM) -> dict:
    """The authors' parameters {a1, m1, I1, k1, g} of theta'' = -(k1 theta' - a1 g m1 sin theta) / (m1 a1^2 + I1)."""
    from ..npz import Npz

    with Npz(path, "data file") as z:
        values = np.asarray(z["published_params"], dtype=np.float64)
    if values.shape != (len(REAL_PENDULUM_PARAMS),):
        raise ValueError(f"data file {path!r}: published_params must hold {REAL_PENDULUM_PARAMS}; "
                         f"got shape {values.shape}")
    return dict(zip(REAL_PENDULUM_PARAMS, map(float, values)))
