"""Marking the functions that Numba compiles together with their compiled caller.

The step, the error norm, the dense output and the controller are plain
Python that uses only what Numba supports. Called from Python they run as
written (the interpreted twin); the compiled driver (:mod:`._compiled`)
compiles them into its own machine code. :func:`jitable` only records a
function: Numba is imported, and the recorded functions registered with
:func:`numba.extending.register_jitable`, when compiled code is first needed
(:func:`._compiled.jit.load`), so that importing the integrator does not
import Numba.
"""

from __future__ import annotations

__all__ = ["jitable", "MARKED"]

MARKED: list = []  # (function, register_jitable options), in the order they were defined


def jitable(function=None, **options):
    """Record ``function`` for :func:`numba.extending.register_jitable` (with ``options``); return it unchanged."""
    if function is None:
        return lambda f: jitable(f, **options)
    MARKED.append((function, options))
    return function
