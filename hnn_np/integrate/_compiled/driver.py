"""The compiled driver: :func:`..controller.integrate_batch` compiled by Numba, once per method, cached on disk.

:func:`entry` gives the one compiled entry point of a method, which Python
calls (:mod:`..ivp`) for solve_ivp (one trajectory) and solve_ivp_batch::

    entry(address, event_addresses, direction, max_count, p, t0, t_end, y0s, t_eval, rtol, atol, first_step,
          max_step, max_steps, dense, y) -> counts, stops, t, y_steps, dense_t, dense_h, dense_Q, log_rows

It checks the values of y0s and t_eval (:func:`..checks.values_valid`), then
runs the controller on every row of y0s with

* the right-hand side ``fun = call_rhs``, ``args = (address, p)``: a call
  through the pointer ``address`` to the adapter of the user's ``fun``
  (:mod:`.rhs`, :mod:`.adapters`), with the vector p that carries its args;
* the method's kernels written out from the tableau
  (``dop853_kernels.py``, ``rk45_kernels.py``), inlined;
* the event functions (:mod:`..events`), if any: ``g = call_event``,
  ``args = (event_addresses, p)``, each an adapter's address;
* the tableau, a constant.

It returns what :func:`..controller.integrate_batch` returns, with the last
trajectory's record and the log of events cut to length and copied
(``y_steps`` as (n, m)); counts
row 0 holds values_valid's code (> 0) when a value was refused, before any
step. Nothing in the entry depends on ``fun``: it is compiled once per method
and kept in Numba's disk cache (``cache=True``), which later processes load.

The cache key: Numba keys a cached function by its bytecode and the values of
its closure cells; the cells of :func:`_entry_function` are the method's
kernels, its tableau and the hash of the integrator's sources
(:func:`.jit.source_hash`), so that an edit of any of its modules compiles
the entry again.
"""

from __future__ import annotations

import sys
import threading
import warnings

import numpy as np
from numba import carray, njit, types
from numba.core.errors import NumbaExperimentalFeatureWarning

from ..checks import METHODS, values_valid
from ..controller import Kernels, Work, integrate_batch, new_work
from ..events import Events, Log, new_log
from ..jitable import jitable
from ..record import Record, new_record
from . import KERNELS
from .jit import source_hash
from .rhs import call_event, call_rhs, data_pointer

__all__ = ["borrowed", "integrate_borrowed", "entry", "NOTICE_AFTER"]

NOTICE_AFTER = 2.0  # seconds; loading the entry from the disk cache takes a fraction of this


@jitable
def borrowed(array):
    """A view of a C-contiguous array's memory without a reference count; ``array`` must outlive it."""
    return carray(data_pointer(array), array.shape)


@jitable
def integrate_borrowed(address, event_addresses, direction, max_count, p, t0, t_end, y0s, t_eval, tab, kernels,
                       rtol, atol, first_step, max_step, max_steps, dense, work, record, log, y):  # fmt: skip
    """:func:`..controller.integrate_batch` of ``call_rhs``, every array borrowed; the last record cut and copied.

    The caller owns the arrays until this returns (its arguments), and no
    borrowed view outlives it (the record's and the log's arrays are copied).
    Everything is compiled into this one function (the controller, its
    kernels, the step, error and interpolant are inlined), so that the
    compiler sees that no borrowed view has a reference count and drops the
    counting; in a function of its own, the controller would count the
    references of every array it passes to a kernel, a few tens of calls per
    step.
    """
    p = borrowed(p)
    events = Events(call_event, (borrowed(event_addresses), p), borrowed(direction), borrowed(max_count))
    K, y_work, y_new, y_stage, Q, g, g_new, roots, count, y_event = work
    work = Work(borrowed(K), borrowed(y_work), borrowed(y_new), borrowed(y_stage), borrowed(Q), borrowed(g),
                borrowed(g_new), borrowed(roots), borrowed(count), borrowed(y_event))  # fmt: skip
    record = Record(borrowed(record.t), borrowed(record.y), record.n, borrowed(record.dense_t),
                    borrowed(record.dense_h), borrowed(record.dense_Q), record.n_dense)  # fmt: skip
    counts, stops, record, log = integrate_batch(
        call_rhs, (address, p), t0, t_end, borrowed(y0s), borrowed(t_eval), tab, kernels, events, borrowed(rtol),
        borrowed(atol), first_step, max_step, max_steps, dense, work, record, Log(borrowed(log.rows), 0), borrowed(y),
    )  # fmt: skip
    m, m_dense = record.n, record.n_dense
    return (counts, stops, record.t[:m].copy(), record.y[:m].T.copy(), record.dense_t[:m_dense].copy(),
            record.dense_h[:m_dense].copy(), record.dense_Q[:m_dense].copy(), log.rows[:log.n].copy())  # fmt: skip


def _entry_function(tab, kernels: Kernels, source: str):
    """The entry of the method of ``tab`` as a Python function; its closure cells key the disk cache."""
    rk_step, error_norm, dense_coefficients, interpolate = kernels
    n_coefficients = 4 + tab.D.shape[0]

    def entry(address, event_addresses, direction, max_count, p, t0, t_end, y0s, t_eval, rtol, atol, first_step,
              max_step, max_steps, dense, y):  # fmt: skip
        source  # noqa: B018  (read, so that it is a closure cell: it keys the cache)
        n_batch, n = y0s.shape
        invalid = values_valid(y0s, t0, t_end, t_eval)
        if invalid:
            counts = np.zeros((5, n_batch), dtype=np.int64)
            for b in range(n_batch):
                counts[0, b] = invalid
            empty = np.empty(0)
            return (counts, np.zeros((2, n_batch)), empty, np.empty((n, 0)), empty, empty,
                    np.empty((0, n_coefficients, n)), np.empty((0, 3 + n)))  # fmt: skip
        work = new_work(tab, n, event_addresses.shape[0])  # owned here until integrate_borrowed returns
        record = new_record(t0, y0s[0], t_eval, y[0], n_coefficients, dense)
        log = new_log(n, 8)
        return integrate_borrowed(address, event_addresses, direction, max_count, p, t0, t_end, y0s, t_eval, tab,
                                  Kernels(rk_step, error_norm, dense_coefficients, interpolate), rtol, atol,
                                  first_step, max_step, max_steps, dense, work, record, log, y)  # fmt: skip

    return entry


_ENTRIES: dict = {}  # method -> its compiled entry
_VECTOR, _MATRIX = types.Array(types.float64, 1, "C"), types.Array(types.float64, 2, "C")
SIGNATURE = (types.int64, types.Array(types.int64, 1, "C"), _VECTOR, _VECTOR, _VECTOR, types.float64, types.float64,
             _MATRIX, _VECTOR, _VECTOR, _VECTOR, types.float64, types.float64, types.int64, types.boolean,
             types.Array(types.float64, 3, "C"))  # fmt: skip


def entry(method: str):
    """The compiled entry point of ``method`` ("DOP853" or "RK45"), made once per process.

    Compiled (or loaded from the disk cache) now, for :data:`SIGNATURE` only:
    arguments of other types are refused rather than compiled for. A
    compilation takes about a minute; when it has taken :data:`NOTICE_AFTER`
    seconds, a line on stderr says so (in a terminal or a notebook).
    """
    found = _ENTRIES.get(method)
    if found is None:
        function = _entry_function(METHODS[method], KERNELS[method], source_hash())
        notice = threading.Timer(NOTICE_AFTER, _notice, (method,))  # only if this is a compilation, not a load
        notice.daemon = True
        notice.start()
        try:
            with warnings.catch_warnings():  # the pointer is a first-class function, "experimental" in Numba 0.68
                warnings.simplefilter("ignore", NumbaExperimentalFeatureWarning)
                found = _ENTRIES[method] = njit([SIGNATURE], cache=True, nogil=True)(function)
        finally:
            notice.cancel()
    return found


def _notice(method: str) -> None:
    """One line on stderr while the entry compiles, where someone watches (a terminal, a notebook)."""
    stderr = sys.stderr
    if stderr is None or not (stderr.isatty() or "ipykernel" in sys.modules):  # None: pythonw, no console
        return
    print(f"hnn_np: compiling the {method} integrator, once after installing or after an edit of "
          "hnn_np/integrate (about a minute); later processes load it from Numba's disk cache",
          file=stderr, flush=True)  # fmt: skip
