"""The compiled driver: Hairer's controller compiled by Numba, once per method and kind of ``args``.

:func:`entries` gives, for one method, two compiled entry points that Python
calls (:mod:`..ivp`):

* ``one(c_addr, jit_addr, args, t0, t_end, y0, t_eval, rtol, atol,
  first_step, max_step, max_steps, dense)``: :func:`..checks.values_valid`,
  then :func:`..controller.integrate` with new work arrays and record, both
  handed over as borrowed views; returns ``(counts, t_stop, h_stop, t, y,
  dense_t, dense_h, dense_Q)``: ``counts`` = (status, nfev, steps, accepted,
  rejected), status the controller's or values_valid's code, and the
  record's outputs cut to their lengths, y as (n, m);
* ``batch(c_addr, jit_addr, args, t0, t_end, y0s, t_eval, rtol, atol,
  first_step, max_step, max_steps, y)``: :func:`integrate_batch_borrowed`;
  returns what it returns.

``fun`` arrives as the two addresses of its compiled code (:mod:`.functions`),
so neither entry depends on it: each is compiled once per kind of ``args``
(in practice once: the adapters of :mod:`.adapters` bring most ``args`` to
one float64 vector) and kept in Numba's disk cache (``cache=True``), which
later processes load instead of compiling. A call passes only numbers,
arrays and tuples of them, which Numba types quickly.

What is compiled: :func:`..controller.integrate` with the method's
written-out step, error, dense output and interpolant (:mod:`.unrolled`)
and the initial step, each inlined at the level of Numba's IR (LLVM does
not inline a callee as large as a step; inlined, they ran faster, see
``benchmarks/README.md``). Both entries hand every array to the controller
as a borrowed view (:mod:`.borrow`), which has the same Numba type, so one
compiled controller serves both; owned, the arrays' reference counting took
half the time of a small system's ``solve_ivp``.

The cache is keyed by the source of the whole integrator: a change to any of
its modules (the controller, the kernels, ...) compiles the entries again.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
from numba import njit

from ..checks import values_valid
from ..controller import Work, integrate, new_work
from ..record import Record, new_record, record_step
from ..rk import initial_step
from .borrow import borrowed, borrowed_args, borrowed_tableau
from .functions import rhs_function
from .unrolled import KERNELS, with_globals

__all__ = ["integrate_one_borrowed", "integrate_batch_borrowed", "new_parts", "refused", "source_hash", "entries"]


def integrate_batch_borrowed(fun, args, t0, t_end, y0s, t_eval, tab, rtol, atol, first_step,
                             max_step, max_steps, work, empty, y):  # fmt: skip
    """:func:`..controller.integrate_batch` with every array handed to the controller borrowed.

    The same loop over the rows of ``y0s``, arguments and results; the views
    are borrowed (:mod:`.borrow`), which takes the reference counting out of
    the step loop. ``integrate_core``, the compiled controller it calls, is a
    global (:func:`entries` sets it): passed as an argument, a compiled
    function would make the batch impossible to cache.
    """
    n_batch = y0s.shape[0]
    counts = np.empty((5, n_batch), dtype=np.int64)  # status, nfev, steps, accepted, rejected
    stops = np.empty((2, n_batch))  # t_stop, h_stop
    args = borrowed_args(args)
    K, y_work, y_new, y_stage, Q = work
    work = Work(borrowed(K), borrowed(y_work), borrowed(y_new), borrowed(y_stage), borrowed(Q))
    dense_t, dense_h, dense_Q = borrowed(empty.dense_t), borrowed(empty.dense_h), borrowed(empty.dense_Q)
    tab = borrowed_tableau(tab)
    y0s, t_eval, rtol, atol, y = borrowed(y0s), borrowed(t_eval), borrowed(rtol), borrowed(atol), borrowed(y)
    for b in range(n_batch):
        keep_dense = np.bool_(False)  # a runtime bool, not a literal False: the
        # batch then calls the same compiled controller as solve_ivp
        record = Record(t_eval, y[b], 0, dense_t, dense_h, dense_Q, 0)  # outputs go straight into y[b]
        result = integrate_core(
            fun, args, t0, t_end, y0s[b], t_eval, tab, rtol, atol, first_step, max_step, max_steps, keep_dense,
            work, record,
        )  # fmt: skip
        counts[0, b] = result[0]
        counts[1, b], counts[2, b], counts[3, b], counts[4, b] = result[2], result[3], result[4], result[5]
        stops[0, b], stops[1, b] = result[6], result[7]
    return counts, stops


def integrate_one_borrowed(fun, args, t0, t_end, y0, t_eval, tab, rtol, atol, first_step, max_step,
                           max_steps, dense, work, record):  # fmt: skip
    """:func:`..controller.integrate` with every array borrowed; its outputs cut to length and copied.

    The caller owns ``work`` and ``record`` until this returns (a borrowed
    view must not outlive its array; in one function, Numba frees an array
    after its last use, which may be the call that borrows it). Returns
    ``(counts, t_stop, h_stop, t, y, dense_t, dense_h, dense_Q)`` with
    ``counts`` = (status, nfev, steps, accepted, rejected) and y as (n, m).
    ``integrate_core`` is a global (:func:`entries` sets it), as for the batch.
    """
    args = borrowed_args(args)
    K, y_work, y_new, y_stage, Q = work
    work = Work(borrowed(K), borrowed(y_work), borrowed(y_new), borrowed(y_stage), borrowed(Q))
    record = Record(borrowed(record.t), borrowed(record.y), record.n, borrowed(record.dense_t),
                    borrowed(record.dense_h), borrowed(record.dense_Q), record.n_dense)  # fmt: skip
    status, record, nfev, n_steps, n_accepted, n_rejected, t_stop, h_stop = integrate_core(
        fun, args, t0, t_end, borrowed(y0), borrowed(t_eval), borrowed_tableau(tab), borrowed(rtol),
        borrowed(atol), first_step, max_step, max_steps, dense, work, record,
    )  # fmt: skip
    # The buffers are the borrowed views, or owned ones if they grew: copied out either way.
    n, n_dense = record.n, record.n_dense
    counts = np.array([status, nfev, n_steps, n_accepted, n_rejected])
    return (counts, t_stop, h_stop, record.t[:n].copy(), record.y[:n].T.copy(), record.dense_t[:n_dense].copy(),
            record.dense_h[:n_dense].copy(), record.dense_Q[:n_dense].copy())  # fmt: skip


@njit
def refused(code, t0, n, n_coefficients):
    """What the single-run entries return for a y0 or t_eval that :func:`..checks.values_valid` refused.

    The result of :func:`integrate_one_borrowed` for no step at all, with
    status ``code`` (> 0, unlike the controller's exit codes).
    """
    empty = np.empty(0)
    return (np.array([code, 0, 0, 0, 0]), t0, 0.0, empty, np.empty((n, 0)), empty, empty,
            np.empty((0, n_coefficients, n)))  # fmt: skip


def _inlined(function, **names):
    """``function`` (with its globals ``names`` replaced) to be inlined where compiled code calls it."""
    return njit(inline="always")(with_globals(function, **names))


def _controller(kernels):
    """The compiled controller of one method, its written-out kernels inlined."""
    record = _inlined(record_step, interpolate=_inlined(kernels["interpolate"]))
    return njit(nogil=True)(with_globals(
        integrate, rk_step=_inlined(kernels["rk_step"]), error_norm=_inlined(kernels["error_norm"]),
        dense_coefficients=_inlined(kernels["dense_coefficients"]), record_step=record,
        initial_step=_inlined(initial_step),
    ))  # fmt: skip


def _source_hash() -> str:
    """sha256 of the integrator's sources: part of the cache key of the entries."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    digest = hashlib.sha256()
    for folder in (root, os.path.join(root, "_compiled")):
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                with open(os.path.join(folder, name), "rb") as f:
                    digest.update(name.encode() + f.read())
    return digest.hexdigest()


def _entry_functions(method, source):
    """The two entries as Python functions; ``method`` and ``source`` are closure cells.

    Numba keys its disk cache by a function's bytecode and the contents of
    its closure cells, not by its globals: the cells tell the methods (and
    versions of the sources) apart, the globals (:func:`entries`) supply the
    method's tableau and compiled controller.
    """

    def one(c_addr, jit_addr, args, t0, t_end, y0, t_eval, rtol, atol, first_step, max_step, max_steps, dense):
        method, source  # noqa: B018  (read, so that they are closure cells: they key the cache)
        invalid = values_valid(y0, t0, t_end, t_eval)
        if invalid:
            return refused(invalid, t0, y0.shape[0], N_COEFFICIENTS)
        fun = rhs_function(c_addr, jit_addr, args)
        work = new_work(TAB, y0.shape[0])  # owned here until ONE returns: it lends borrowed views
        record = new_record(t0, y0, t_eval, N_COEFFICIENTS, dense)
        return ONE(fun, args, t0, t_end, y0, t_eval, TAB, rtol, atol, first_step, max_step, max_steps, dense,
                   work, record)  # fmt: skip

    def batch(c_addr, jit_addr, args, t0, t_end, y0s, t_eval, rtol, atol, first_step, max_step, max_steps, y):
        method, source  # noqa: B018
        fun = rhs_function(c_addr, jit_addr, args)
        work = new_work(TAB, y0s.shape[1])  # owned here until the batch returns: it may lend borrowed views
        empty = new_record(t0, y0s[0], t_eval, N_COEFFICIENTS, False)
        return BATCH(
            fun, args, t0, t_end, y0s, t_eval, TAB, rtol, atol, first_step, max_step, max_steps,
            work, empty, y,
        )  # fmt: skip

    return one, batch


_ENTRIES: dict = {}  # tab.key -> (one, batch); "source" -> source_hash()


def new_parts(tab) -> dict:
    """What the entries of method ``tab`` call, as their globals: the tableau, the borrowing single run and batch.

    ``ONE`` and ``BATCH`` (:func:`integrate_one_borrowed`, :func:`integrate_batch_borrowed`
    with a new compiled controller of the method) take ``fun`` as their
    first argument: a first-class function for :func:`entries`, a jitted
    function in :mod:`.specialized`. New dispatchers each time: one that
    has been compiled for a first-class function would turn a jitted
    function into one too, instead of compiling it in.
    """
    controller = _controller(KERNELS[tab.key])
    single = njit(nogil=True)(with_globals(integrate_one_borrowed, integrate_core=controller))
    batch = njit(nogil=True)(with_globals(integrate_batch_borrowed, integrate_core=controller))
    return dict(TAB=tab, N_COEFFICIENTS=4 + tab.D.shape[0], ONE=single, BATCH=batch)


def source_hash() -> str:
    """sha256 of the integrator's sources (computed once per process): part of every entry's cache key."""
    if "source" not in _ENTRIES:
        _ENTRIES["source"] = _source_hash()
    return _ENTRIES["source"]


def entries(tab):
    """The compiled entry points ``(one, batch)`` of the method ``tab`` (made once per process)."""
    pair = _ENTRIES.get(tab.key)
    if pair is None:
        names = new_parts(tab)
        one, batch = _entry_functions(tab.key, source_hash())
        pair = _ENTRIES[tab.key] = tuple(
            njit(cache=True, nogil=True)(with_globals(f, **names)) for f in (one, batch)
        )  # fmt: skip
    return pair
