"""Loading Numba: once, when compiled code is first needed.

:func:`load` imports Numba, registers every function marked
:func:`..jitable.jitable` with :func:`numba.extending.register_jitable`, and
teaches Numba the borrowed views (:mod:`.borrow`) and the right-hand sides
passed as function pointers (:mod:`.functions`). Importing the integrator
does not import Numba; a Python ``fun`` never needs it.
"""

from __future__ import annotations

__all__ = ["load"]

_LOADED = []


def load():
    """Make the compiled layer ready (idempotent)."""
    if _LOADED:
        return
    from numba.extending import register_jitable

    from .. import controller, dense, record, rk  # noqa: F401  (their functions are marked on import)
    from ..jitable import MARKED
    from . import borrow, unrolled  # noqa: F401

    for function, options in MARKED:
        register_jitable(**options)(function) if options else register_jitable(function)
    borrow.register()
    from . import functions  # noqa: F401  (defines its intrinsics on import)

    _LOADED.append(True)
