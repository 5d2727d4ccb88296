r"""Central differences of measured trajectories: the targets, and velocities from positions.

Both take a :class:`~hnn_np.measured.Measured` (trajectories ``data.t``,
``data.x`` with one constant step ``data.dt``) and use the weights of
:data:`hnn_np.data.CENTRAL_WEIGHTS`, of order 2, 4 or 6, with a stencil step
of ``stride`` samples (k = stride)::

    dx_dt[j] = sum_{s=1}^{h} c_s (x[j + s k] - x[j - s k]) / (k dt),    h = order / 2

The error of a difference has two parts: truncation, O((stride dt)**order),
and the measurement noise e, amplified to about |e| / (stride dt). A stride
trades the second for the first.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .data import CENTRAL_WEIGHTS

__all__ = ["derivative_targets", "velocities_from_positions"]


def derivative_targets(data, order=4, stride=1, every=None):
    """States and central-difference targets of every trajectory.

    The stencil spans ``stride`` samples per step (step k dt, k = stride);
    a row is kept at every ``every``-th sample (default: ``stride``, so that
    the stencils do not overlap)::

        dx_dt[j] = sum_{s=1}^{h} c_s (x[j + s k] - x[j - s k]) / (k dt)

    Returns
    -------
    x, dx_dt : ndarray, shape (N, d)
        The states at the centres of the stencils and their differences,
        all trajectories stacked.
    traj : ndarray, shape (N,)
        The position of each row's trajectory in ``data``.
    """
    if order not in CENTRAL_WEIGHTS:
        raise ValueError(f"order must be one of {tuple(CENTRAL_WEIGHTS)}; got {order!r}")
    every = stride if every is None else every
    for name, value in (("stride", stride), ("every", every)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")
    h, k = order // 2, int(stride)
    xs, ys, ks = [], [], []
    for n, x in enumerate(data.x):
        centre = np.arange(h * k, len(x) - h * k, every)  # (T',)
        if not len(centre):
            raise ValueError(f"trajectory {data.ids[n]} of {data.source!r} has {len(x)} samples; order "
                             f"{order} at stride {stride} needs more than {2 * h * k}")
        dx_dt = np.zeros((len(centre), x.shape[1]))
        for s, c in enumerate(CENTRAL_WEIGHTS[order], start=1):
            dx_dt += c * (x[centre + s * k] - x[centre - s * k])
        xs.append(x[centre])
        ys.append(dx_dt / (k * data.dt))
        ks.append(np.full(len(centre), n))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ks)


def velocities_from_positions(data, order=6, stride=1):
    """The trajectories with each velocity column replaced by differences of its position.

    For states (q_1..q_n, v_1..v_n) where v_i is the time derivative of q_i
    (a pendulum's (theta, omega)): v_i at sample j becomes the central
    difference of q_i of ``order`` with a stencil step of ``stride`` samples
    (as :func:`derivative_targets`), and the ``order / 2 * stride`` samples at
    each end, where the stencil does not fit, are dropped. States and targets
    then come from the positions alone, which keeps them consistent with each
    other when the recorded velocity was filtered (a filter delays it).
    """
    if order not in CENTRAL_WEIGHTS:
        raise ValueError(f"order must be one of {tuple(CENTRAL_WEIGHTS)}; got {order!r}")
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride must be a positive integer; got {stride!r}")
    n = len(data.columns) // 2
    if len(data.columns) % 2:
        raise ValueError(f"states must be (positions, velocities); got {len(data.columns)} columns")
    h, k = order // 2, int(stride)
    ts, xs = [], []
    for t, x in zip(data.t, data.x):
        if len(x) <= 2 * h * k:
            raise ValueError(f"a trajectory of {len(x)} samples is too short for order {order} at stride {stride}")
        centre = np.arange(h * k, len(x) - h * k)
        v = np.zeros((len(centre), n))
        for s, c in enumerate(CENTRAL_WEIGHTS[order], start=1):
            v += c * (x[centre + s * k, :n] - x[centre - s * k, :n])
        ts.append(t[centre])
        xs.append(np.concatenate([x[centre, :n], v / (k * data.dt)], axis=1))
    return replace(data, t=tuple(ts), x=tuple(xs))
