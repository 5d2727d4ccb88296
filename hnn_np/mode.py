"""Which code runs: the readable NumPy core, or its compiled twins.

By default hnn_np runs its Numba kernels (:mod:`hnn_np.fast`, the compiled
field of a rollout, the compiled integrator): the fast path. Inside

    with hnn_np.readable():
        ...

every call runs the readable NumPy code instead -- :mod:`hnn_np.mlp`,
:mod:`hnn_np.hnn`, :mod:`hnn_np.optim`, and the integrator's Python loop
(:mod:`hnn_np.integrate.rk`, :mod:`~hnn_np.integrate.dense`,
:mod:`~hnn_np.integrate.controller`) -- so an edit of those files changes
what runs. The switch is a :mod:`contextvars` variable: it holds for the
block's thread (and tasks started from it), and nests.
"""

from __future__ import annotations

import contextlib
import contextvars

__all__ = ["readable", "is_readable"]

_READABLE = contextvars.ContextVar("hnn_np_readable", default=False)


def is_readable() -> bool:
    """True inside a ``with readable():`` block."""
    return _READABLE.get()


@contextlib.contextmanager
def readable(on: bool = True):
    """Run the readable NumPy code (``on=True``) or the fast path (``on=False``) inside the block."""
    if not isinstance(on, bool):
        raise ValueError(f"readable(on) takes True or False; got {on!r}")
    token = _READABLE.set(on)
    try:
        yield
    finally:
        _READABLE.reset(token)
