"""hnn_np: Hamiltonian Neural Networks written from scratch in NumPy.

No autograd anywhere: the forward pass, the input gradient, the second-order
backprop through it, Adam and the DOP853 integrator are all written by hand.

Modules, in the order data flows: :mod:`~hnn_np.systems` (physical systems),
:mod:`~hnn_np.integrate` (DOP853, RK45, leapfrog), :mod:`~hnn_np.data`
(trajectories and targets), :mod:`~hnn_np.mlp`, :mod:`~hnn_np.hnn`,
:mod:`~hnn_np.baseline` (networks and losses), :mod:`~hnn_np.optim` (Adam),
:mod:`~hnn_np.train`, :mod:`~hnn_np.refine`, :mod:`~hnn_np.evaluate`,
:mod:`~hnn_np.experiments`, :mod:`~hnn_np.figures`, :mod:`~hnn_np.cli`.
"""

__version__ = "0.1.0"


def load_model(path):
    """Load a model saved by :meth:`hnn_np.model.Model.save` (see :func:`hnn_np.model.load_model`)."""
    from .model import load_model as _load

    return _load(path)
