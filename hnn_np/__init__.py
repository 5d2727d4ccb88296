"""hnn_np: Hamiltonian Neural Networks written from scratch in NumPy.

No autograd anywhere: the forward pass, the input gradient, the second-order
backprop through it, Adam and the DOP853 integrator are all written by hand.

Read in this order (the readable core is plain NumPy; the README's table is the same):

1. :mod:`~hnn_np.mlp` -- forward pass, input gradient, input Hessian;
2. :mod:`~hnn_np.hnn` -- the field S = J dH/dx and its second-order backprop;
   :mod:`~hnn_np.dhnn` -- the dissipative field J dH/dx + dD/dx, the same backprop with two seeds;
3. :mod:`~hnn_np.baseline` -- the MLP that predicts dx/dt; :mod:`~hnn_np.losses`;
   :mod:`~hnn_np.symplectic` -- J and its transpose;
   :mod:`~hnn_np.vjp`, :mod:`~hnn_np.trajectory` -- the field's vector-Jacobian products and the
   loss on integrated states, backpropagated through RK4 or leapfrog by hand;
4. :mod:`~hnn_np.optim` -- Adam; :mod:`~hnn_np.refine` -- the exact output layer;
5. :mod:`~hnn_np.systems`, :mod:`~hnn_np.integrate` -- the physics, DOP853 and
   leapfrog (the readable integrator: ``tableau``, ``dop853_coefficients``,
   ``rk``, ``dense``, ``controller``, ``leapfrog``);
6. :mod:`~hnn_np.data`, :mod:`~hnn_np.train` (:func:`fit`; :func:`fit_trajectories` in
   :mod:`~hnn_np.train_trajectory`), :mod:`~hnn_np.model`,
   :mod:`~hnn_np.rollout`, :mod:`~hnn_np.evaluate`, and :mod:`~hnn_np.mode`
   (:func:`readable`, the switch to the readable code);
7. :mod:`~hnn_np.paper` (the paper's experiments and figures) and
   :mod:`~hnn_np.studies` (beyond the paper).

:mod:`~hnn_np.fast` and ``integrate._compiled`` hold the Numba twins that make
training and integration fast; they are optional reading, and none of them
runs inside ``with hnn_np.readable():``. Importing this package is cheap:
every name below, and every submodule, is imported when first used.
"""

from __future__ import annotations

import importlib

__version__ = "0.2.0"

# public name -> the module that defines it
_EXPORTS = {
    "fit": "train", "TrainConfig": "train", "TrainingDiverged": "train", "fit_trajectories": "train_trajectory",
    "Model": "model", "load_model": "model",
    "init_params": "mlp", "vector_field": "hnn", "Adam": "optim",
    "System": "systems", "MassSpring": "systems", "IdealPendulum": "systems",
    "DampedPendulum": "systems", "TwoBody": "systems",
    "solve_ivp": "integrate", "solve_ivp_batch": "integrate", "leapfrog": "integrate",
    "readable": "mode", "is_readable": "mode",
    "make_dataset": "data", "train_test_split": "data", "load_dataset": "data", "save_dataset": "data",
}  # fmt: skip
_SUBMODULES = (
    "mlp", "hnn", "dhnn", "baseline", "vjp", "trajectory", "losses", "optim", "refine", "symplectic", "systems",
    "integrate", "train_trajectory",
    "data", "scale", "train", "checkpoint", "model", "ensemble", "rollout", "evaluate", "io", "plotting", "fast",
    "mode", "measured", "differences", "fit_data", "catalog", "datasets", "testing", "paper", "studies", "cli",
)

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | set(_SUBMODULES))
