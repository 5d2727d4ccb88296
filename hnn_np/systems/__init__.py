"""Physical systems: a Hamiltonian H(q, p) and its exact vector field.

=====================  =====  ==================================================
class                  n_dof  H(q, p)
=====================  =====  ==================================================
:class:`MassSpring`    1      k q^2 / 2 + p^2 / (2 m)            (the paper)
:class:`IdealPendulum` 1      2 m g l (1 - cos q) + l^2 p^2 / (2 m)
:class:`DampedPendulum` 1     the same H, observed with friction -gamma p in
                              dp/dt: *not* Hamiltonian
:class:`TwoBody`       2      |p|^2 / (2 mu) - G m1 m2 / |q|, relative coords
:class:`TwoBodyAbsolute` 4    sum |p_i|^2 / (2 m_i) - G m1 m2 / |r2 - r1|,
                              each body's own (r_i, p_i) (Greydanus et al.)
:class:`HenonHeiles`   2      |p|^2 / 2 + (x^2 + y^2) / 2 + x^2 y - y^3 / 3
=====================  =====  ==================================================

:mod:`.base` holds :class:`System` (states, Hamilton's equations, the jitted
right-hand sides) and :func:`as_states`; :mod:`.spring`, :mod:`.pendulum`,
:mod:`.two_body` and :mod:`.henon_heiles` one system each. Each system places initial states on a
chosen energy level for :func:`hnn_np.data.sample_initial_states`:
``sample_state(energies, phases)`` (the pendulums) or its own
``sample_initial_states(n, rng, radius, energy_range, log_energy)`` (the
two-body problem, whose bound energies are negative).
"""

from .base import System, as_states
from .henon_heiles import HenonHeiles
from .pendulum import DampedPendulum, IdealPendulum
from .spring import MassSpring
from .two_body import TwoBody, TwoBodyAbsolute

__all__ = ["System", "MassSpring", "IdealPendulum", "DampedPendulum", "TwoBody", "TwoBodyAbsolute", "HenonHeiles",
           "as_states"]
