"""The fast path: every Numba kernel beside its NumPy twin, and the allocation-free training step.

Nothing here is new math. :mod:`.kernels` fuses the elementwise lines of the
readable core (:mod:`hnn_np.mlp`, :mod:`hnn_np.hnn`, :mod:`hnn_np.baseline`)
into single passes, each kernel ``name`` beside its NumPy formula
``name_np``; :mod:`.step` computes :func:`hnn_np.hnn.loss_and_grad` (or the
baseline's) into buffers allocated once, :mod:`.dhnn_step` the same for
:func:`hnn_np.dhnn.loss_and_grad`, :mod:`.trajectory_step` the same for
:func:`hnn_np.trajectory.loss_and_grad` of an HNN through RK4 (:mod:`.dhnn_trajectory_step`
of a D-HNN); :mod:`.adam` is
:class:`hnn_np.optim.Adam` with its update as one loop; :mod:`.fields` is a
trained network's field on one state, for compiled rollouts. Tests hold each
of them equal to the readable code. Nothing here runs inside
``with hnn_np.readable():``.
"""

from .adam import Adam
from .dhnn_step import DHNNWorkspace
from .dhnn_trajectory_step import DHNNRK4Workspace
from .step import StepWorkspace
from .trajectory_step import RK4Workspace

__all__ = ["StepWorkspace", "DHNNWorkspace", "RK4Workspace", "DHNNRK4Workspace", "Adam", "warm_up"]


def warm_up():
    """Compile (or load from Numba's on-disk cache) every kernel of the fast path."""
    from . import adam, dhnn_step, kernels

    kernels.warm_up()
    dhnn_step.warm_up()
    adam.warm_up()
