"""Loading Numba: once, when compiled code is first needed; and what keys the disk cache.

:func:`load` imports Numba and registers every function marked
:func:`..jitable.jitable` with :func:`numba.extending.register_jitable`.
Importing the integrator does not import Numba; a Python ``fun`` never needs
it. :func:`source_hash` is part of the cache key of every compiled entry and
adapter: Numba checks only the time stamp of the file that defines a cached
function, so without it an edit of the controller or a kernel would leave a
stale driver in the cache.
"""

from __future__ import annotations

import hashlib
import os

__all__ = ["load", "source_hash"]

_LOADED: list = []
_SOURCE: dict = {}  # "hash" -> source_hash()


def load():
    """Make the compiled layer ready (idempotent)."""
    if _LOADED:
        return
    from numba.extending import register_jitable

    from .. import checks, controller, dense, record, rk  # noqa: F401  (their functions are marked on import)
    from ..jitable import MARKED
    from . import adapters, dop853_kernels, driver, rhs, rk45_kernels  # noqa: F401

    for function, options in MARKED:
        register_jitable(**options)(function) if options else register_jitable(function)
    _LOADED.append(True)


def source_hash() -> str:
    """sha256 of the integrator's sources (read once per process)."""
    if "hash" not in _SOURCE:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        digest = hashlib.sha256()
        for folder in (root, os.path.join(root, "_compiled")):
            for name in sorted(os.listdir(folder)):
                if name.endswith(".py"):
                    with open(os.path.join(folder, name), "rb") as f:
                        digest.update(name.encode() + f.read())
        _SOURCE["hash"] = digest.hexdigest()
    return _SOURCE["hash"]
