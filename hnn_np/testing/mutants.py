"""Mutants: a function with one line of its source changed, to show that a test can fail.

A test that passes on the code and on a deliberately broken copy of it tests
nothing. :func:`mutate` makes the broken copy from the real source, so the
mutant follows the code as it changes: if the line it breaks is renamed or
moved, :func:`mutate` raises instead of silently testing the original.
"""

from __future__ import annotations

import inspect
import sys
import textwrap

__all__ = ["mutate", "without_tanh_second_term"]


def mutate(function, old: str, new: str):
    """``function`` recompiled with the one occurrence of ``old`` in its source replaced by ``new``.

    The copy runs in (a copy of) the function's module namespace, so it sees
    the same helpers. Raises ``ValueError`` unless ``old`` occurs exactly once.
    """
    source = textwrap.dedent(inspect.getsource(function))
    count = source.count(old)
    if count != 1:
        raise ValueError(f"{old!r} occurs {count} times in {function.__qualname__}; expected once")
    namespace = dict(vars(sys.modules[function.__module__]))
    exec(compile(source.replace(old, new), f"<mutant of {function.__qualname__}>", "exec"), namespace)
    return namespace[function.__name__]


def without_tanh_second_term():
    """:func:`hnn_np.hnn.loss_and_grad` without the tanh'' term of its Step 2.

    The classic double-backprop slip: ``a_bar`` keeps only the path through
    the next layer, so ``z_bar = s1 * (z_bar[l+1] @ W[l+1].T)`` and the
    ``s2 * g * d_bar`` term is lost.
    """
    from .. import hnn

    return mutate(hnn.loss_and_grad, "a_bar = -2 * a[l + 1] * s1_bar[l]", "a_bar = 0 * s1_bar[l]")
