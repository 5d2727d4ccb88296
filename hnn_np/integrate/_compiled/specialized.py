"""The driver compiled with one ``fun`` inside it (``specialize=True``), for long runs.

Why. The default driver (:mod:`.driver`) calls ``fun`` through a function
pointer, so that one compiled driver serves every ``fun``, is kept in
Numba's disk cache and starts in a fraction of a second. The price is a
call LLVM cannot inline: on a system as small as the spring (two
multiplications per call) a trajectory takes a few tenths longer than with
``fun`` compiled into the driver, more when ``args`` go through an adapter
(``benchmarks/README.md``). With ``specialize=True``,
:func:`..ivp.solve_ivp` and :func:`..ivp.solve_ivp_batch` use entries with
``fun`` as a global of their own, which LLVM inlines into the step.

The cost: these entries are compiled in every process that asks for them,
once per method, ``fun``, convention and kind of ``args`` (about 15 s on two
cores), and not cached on disk. ``fun`` reaches the controller as a jitted
function, a value Numba keeps as a pointer to a Python object, which it
cannot store in its cache; so this is for runs long enough to pay for it.
"""

from __future__ import annotations

from numba import njit

from ..checks import values_valid
from ..controller import new_work
from ..record import new_record
from .adapters import inplace_of
from .driver import new_parts, refused
from .unrolled import with_globals

__all__ = ["specialized_entries"]


def _entry_functions():
    """The entries of :func:`.driver._entry_functions` with ``FUN`` in place of the function pointer.

    ``FUN`` (a global) is ``fun``, or its in-place adapter.
    """

    def one(args, t0, t_end, y0, t_eval, rtol, atol, first_step, max_step, max_steps, dense):
        invalid = values_valid(y0, t0, t_end, t_eval)
        if invalid:
            return refused(invalid, t0, y0.shape[0], N_COEFFICIENTS)
        work = new_work(TAB, y0.shape[0])
        record = new_record(t0, y0, t_eval, N_COEFFICIENTS, dense)
        return ONE(FUN, args, t0, t_end, y0, t_eval, TAB, rtol, atol, first_step, max_step, max_steps, dense,
                   work, record)  # fmt: skip

    def batch(args, t0, t_end, y0s, t_eval, rtol, atol, first_step, max_step, max_steps, y):
        work = new_work(TAB, y0s.shape[1])
        empty = new_record(t0, y0s[0], t_eval, N_COEFFICIENTS, False)
        return BATCH(FUN, args, t0, t_end, y0s, t_eval, TAB, rtol, atol, first_step, max_step, max_steps,
                     work, empty, y)  # fmt: skip

    return one, batch


_SPECIALIZED: dict = {}  # (tab.key, fun, inplace, len(args)) -> (one, batch)


def specialized_entries(tab, fun, inplace: bool, n_args: int):
    """``(one, batch)`` of method ``tab`` with ``fun`` compiled in; they take ``args`` as they are.

    The signatures are those of :func:`.driver.entries` without the two
    addresses. Made once per process, method, ``fun``, convention and number
    of extra arguments; compiled at the first call for each kind of ``args``.
    """
    found = _SPECIALIZED.get((tab.key, fun, inplace, n_args))
    if found is None:
        names = dict(new_parts(tab), FUN=fun if inplace else inplace_of(fun, n_args))
        found = _SPECIALIZED[(tab.key, fun, inplace, n_args)] = tuple(
            njit(nogil=True)(with_globals(f, **names)) for f in _entry_functions()
        )  # fmt: skip
    return found
