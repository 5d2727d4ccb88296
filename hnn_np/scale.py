"""The one scale of the phase space, x~ = x / s, under which Hamilton's equations keep their form."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import check_real, check_states

__all__ = ["Scale"]


@dataclass(frozen=True)
class Scale:
    """One scalar scale s for the whole phase space: x~ = x / s.

    Time is not rescaled, so dx~/dt = (dx/dt) / s. If dx/dt = J grad H(x),
    then dx~/dt = J grad H~(x~) with H~(x~) = H(s x~) / s**2: the scaled data
    are again Hamiltonian, and a learned H~ maps back as H = s**2 H~.
    A scale per coordinate (q_i / a_i, p_i / b_i) keeps this form only when
    every a_i b_i is equal, hence one scalar. :meth:`fit` takes
    s = max_i ||x_i||_2 over the training rows, which puts them in the unit
    ball (other data may land slightly outside it).
    """

    s: float

    def __post_init__(self):
        check_real(self.s, "s", positive=True)

    @classmethod
    def fit(cls, x) -> "Scale":
        """The scale s = max_i ||x_i||_2 of states x, shape (N, 2n), real and finite."""
        x = check_states(x, "x")
        with np.errstate(over="ignore"):
            s = float(np.sqrt((x ** 2).sum(axis=-1)).max())
        if s == 0:
            raise ValueError("s must be a positive finite scale, but x is all zeros; "
                             "expected states that are not all zero")
        if not np.isfinite(s):
            raise ValueError("x is too large to scale: its squared norms overflow float64 "
                             "(expected |x| below ~1e154)")
        return cls(s)

    def transform(self, x):
        return x / self.s  # x~ = x / s

    def inverse(self, x_tilde):
        return x_tilde * self.s  # x = s x~

    def transform_derivative(self, dx_dt):
        return dx_dt / self.s  # dx~/dt = (dx/dt) / s

    def inverse_derivative(self, dx_tilde_dt):
        return dx_tilde_dt * self.s  # dx/dt = s dx~/dt

    def inverse_energy(self, H_tilde):
        return H_tilde * self.s**2  # H = s^2 H~
