"""solve_ivp and solve_ivp_batch: scipy's interface over Hairer's DOP853 and DOPRI5.

Both check their arguments (:mod:`.checks`), then run the one loop over
trajectories (:func:`.controller.integrate_batch`, solve_ivp with one) around
Hairer's controller (:func:`.controller.integrate`), which takes the method's
kernels as an argument:

* a Numba-jitted ``fun`` (a ``numba.core.registry.CPUDispatcher``): the
  compiled driver (:mod:`._compiled.driver`), the kernels written out from the
  tableau, ``fun`` reached through a small adapter of its own
  (:mod:`._compiled.adapters`); no Python call per step;
* a Python ``fun``: the same controller and kernels as plain Python;
* inside ``with hnn_np.readable():``, any ``fun``: the controller with the loops
  of :mod:`.rk` and :mod:`.dense` (:func:`.controller.loops`), no Numba kernel
  of hnn_np (a jitted ``fun`` is called as a Python function): an edit of those
  files changes what runs.

All three take the same steps and give the same numbers.

Two calling conventions (:mod:`.calling`): scipy's ``fun(t, y, *args) ->
dy_dt``, and with ``inplace=True`` ``fun(t, y, dy_dt, *args)``, which writes
into ``dy_dt`` and so allocates nothing per call (the faster one).

Compilation: the driver does not depend on ``fun``: it is compiled once per
method and kept in Numba's disk cache, and later processes load it. A new
jitted ``fun`` costs its own compilation and that of its adapter (both cached
on disk with ``@njit(cache=True)``). Numba is imported only when a jitted
``fun`` is first integrated. ``fun`` must not keep a reference to the arrays
y and dy_dt it is given (work arrays that are overwritten).

The Python around a compiled run is kept to a few microseconds: a jitted
``fun`` is checked once per convention, size and kind of ``args``
(:func:`.checks.check_fun`), and when it is called again with float64
vectors y0 and t_eval, the two checks that read every value (y0 finite,
t_eval inside t_span and strictly monotone) are made by the compiled
driver (:func:`.checks.values_valid`); when it reports one, the Python check
raises its error.
"""

from __future__ import annotations

import numbers
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..mode import is_readable
from ._compiled import KERNELS
from .calling import as_inplace, is_compiled
from .checks import (
    T_EVAL_INVALID, Y0_NOT_FINITE, check_args, check_events, check_fun, check_method, check_steps, check_t_eval,
    check_t_span, check_tolerances, check_y0, checked_before, is_vector,
)  # fmt: skip
from .controller import (
    DONE, integrate_batch, loops, new_work,
)  # fmt: skip
from .events import Events, log_rows, new_log
from .record import new_record
from .results import BatchResult, DenseSolution, OdeResult, message as _message

__all__ = ["solve_ivp", "solve_ivp_batch"]


_DONE_MESSAGE = _message(DONE, 0.0, 0.0, 0)
_NO_T_EVAL = np.zeros(0)  # t_eval=None: outputs at every step (read, never written)
_DRIVER: list = []  # [the compiled layer's (entry, compiled_rhs)], once Numba is loaded


def _driver():
    """(:func:`._compiled.driver.entry`, :func:`._compiled.adapters.compiled_rhs`, ``compiled_event``), loading
    Numba on first use."""
    if not _DRIVER:
        from ._compiled.jit import load

        load()
        from ._compiled.adapters import compiled_event, compiled_rhs
        from ._compiled.driver import entry

        _DRIVER.append((entry, compiled_rhs, compiled_event))
    return _DRIVER[0]


def _python_events(functions: list):
    """``g(e, t, y, *args)``: the e-th of the Python (or jitted, called from Python) event functions."""

    def g(e, t, y, *args):
        return float(functions[e](t, y, *args))

    return g


def _run(method, tab, fun, compiled: bool, readable: bool, inplace, args, events, t0, t_end, y0s, t_eval, rtol,
         atol, first_step, max_step, max_steps, dense, y):  # fmt: skip
    """:func:`.controller.integrate_batch` compiled (a jitted fun) or in Python; its results as arrays.

    ``events`` = (functions, direction, max_count) of :func:`.checks.check_events`.
    Returns (counts (5, B), stops (2, B), t, y_steps (n, m'), dense_t, dense_h,
    dense_Q, log rows): t, y_steps and the dense output those of the last
    trajectory's record, cut to length.
    """
    functions, direction, max_count = events
    if compiled:
        entry, compiled_rhs, compiled_event = _driver()
        address, p = compiled_rhs(fun, inplace, args)
        event_addresses = np.array([compiled_event(g, args) for g in functions], dtype=np.int64)
        return entry(method)(address, event_addresses, direction, max_count, p, t0, t_end, y0s, t_eval, rtol, atol,
                             first_step, max_step, max_steps, dense, y)  # fmt: skip
    kernels = loops() if readable else KERNELS[method]
    n = y0s.shape[1]
    record = new_record(t0, y0s[0], t_eval, y[0], 4 + tab.D.shape[0], dense)
    counts, stops, record, log = integrate_batch(
        fun, args, t0, t_end, y0s, t_eval, tab, kernels, Events(_python_events(functions), args, direction, max_count),
        rtol, atol, first_step, max_step, max_steps, dense, new_work(tab, n, len(functions)), record, new_log(n, 8), y,
    )  # fmt: skip
    m, m_dense = record.n, record.n_dense
    return (counts, stops, record.t[:m].copy(), record.y[:m].T.copy(), record.dense_t[:m_dense],
            record.dense_h[:m_dense], record.dense_Q[:m_dense], log.rows[:log.n])  # fmt: skip


def _as_python(fun, inplace: bool):
    """(fun for the Python loop, False): a jitted fun called from Python, in place (:func:`.calling.as_inplace`)."""
    return (fun if inplace else as_inplace(fun)), False


def _check_specialize(specialize) -> None:
    """``specialize`` is accepted and ignored (a DeprecationWarning when True): every jitted fun is compiled in."""
    if not isinstance(specialize, (bool, np.bool_)):
        raise ValueError(f"specialize must be True or False; got {specialize!r}")
    if specialize:
        warnings.warn("specialize=True is no longer needed and has no effect: every jitted fun is now compiled into "
                      "an adapter of its own, cached on disk", DeprecationWarning, stacklevel=3)  # fmt: skip


def _no_zeros(k: int, n: int):
    """t_events, y_events of a run in which no event had a zero: k empty arrays each (shape (0,), as scipy's)."""
    return [np.zeros(0) for _ in range(k)], [np.zeros(0) for _ in range(k)]


def _zero_length(tab, t0: float, y0: np.ndarray, t_eval: np.ndarray, dense: bool, k) -> OdeResult:
    """The result of t_span = (t0, t0): y0 at t0 (or at t_eval = [t0]), no step, dense output the constant y0.

    scipy returns y0 too (its t repeats t0: [t0, t0]; here [t0], one output).
    """
    t = np.array([t0]) if t_eval.size == 0 else t_eval.copy()
    Q = np.zeros((1, 4 + tab.D.shape[0], y0.shape[0]))  # y(t) = Q_0 + theta (0 + ...) = y0
    Q[0, 0] = y0
    t_events, y_events = _no_zeros(k, y0.shape[0]) if k is not None else (None, None)
    return OdeResult(
        t=t, y=np.repeat(y0[:, None], t.size, axis=1), sol=DenseSolution(np.array([t0]), np.zeros(1), Q) if dense else None,
        nfev=0, naccepted=0, nrejected=0, nsteps=0, status=0, message=_DONE_MESSAGE, success=True, t_events=t_events,
        y_events=y_events,
    )  # fmt: skip


_POOL: dict = {}  # {"size": n, "pool": ThreadPoolExecutor}, kept between calls: starting threads costs ~0.1 ms


def _threads(n: int) -> ThreadPoolExecutor:
    """A thread pool of at least n workers, made once and reused by every solve_ivp_batch."""
    if _POOL.get("size", 0) < n:
        if _POOL:
            _POOL["pool"].shutdown(wait=False)
        _POOL.update(size=n, pool=ThreadPoolExecutor(n, thread_name_prefix="hnn_np-solve_ivp_batch"))
    return _POOL["pool"]


def solve_ivp(
    fun, t_span, y0, method="DOP853", t_eval=None, rtol=1e-3, atol=1e-6, first_step=None,
    max_step=np.inf, dense_output=False, events=None, max_steps=100000, args=(), inplace=False, specialize=False,
) -> OdeResult:  # fmt: skip
    """Solve y' = fun(t, y, *args), y(t0) = y0, with Hairer's DOP853 or DOPRI5.

    The steps (accepted and rejected) are those of Hairer's Fortran codes
    dop853.f and dopri5.f with their default parameters; ``t_eval`` values are
    read off the dense output and never shorten a step.

    Parameters
    ----------
    fun : callable
        ``fun(t, y, *args) -> dy_dt`` with y of shape (n,), returning shape (n,).
        A Numba-jitted ``fun`` makes the whole integration run compiled
        (outside ``hnn_np.readable()``).
    t_span : (float, float)
        (t0, t_end); t_end < t0 integrates backwards in time. t_end == t0:
        no step, y0 is the result (and the dense output the constant y0).
    y0 : array_like, shape (n,)
    method : {"DOP853", "RK45"}
        Dormand-Prince 8(5,3) (dop853.f) or 5(4) (dopri5.f).
    t_eval : array_like, shape (m,), optional
        Output times inside t_span, sorted in the direction of integration.
        Default: every accepted step.
    rtol, atol : float or array_like of shape (n,)
        The local error of y_i is kept near ``atol_i + rtol_i |y_i|``.
    first_step : float, optional
        Initial |h|; default: Hairer's guess (HINIT).
    max_step : float
        Largest |h|; default: the length of t_span.
    dense_output : bool
        Also return ``sol``, the continuous solution. DOP853 needs 3 more
        evaluations of ``fun`` per accepted step for it (as with ``t_eval``).
    events : callable or list of callables, optional
        scipy's events: ``g(t, y, *args) -> float`` whose zeros are found on
        the dense output (:mod:`.events`), with the attributes ``terminal``
        (a bool, or the number of zeros after which the run ends) and
        ``direction``. Compiled when they and ``fun`` are jitted.
    max_steps : int
        The run fails after more than ``max_steps`` steps (dop853.f's NMAX).
    args : tuple
        Extra arguments of ``fun`` (scalars and arrays).
    inplace : bool
        ``fun(t, y, dy_dt, *args)`` writes the derivative into ``dy_dt``
        instead of returning it (:mod:`.calling`): no array is allocated per
        call, the fastest form for a jitted ``fun``. Same steps, same numbers.
    specialize : bool
        Deprecated, no effect (a DeprecationWarning when True): a jitted
        ``fun`` is always compiled into an adapter of its own, as
        ``specialize=True`` used to do.

    Returns
    -------
    OdeResult
        ``.t`` (m,), ``.y`` (n, m), ``.sol``, ``.nfev``, ``.naccepted``,
        ``.nrejected``, ``.nsteps``, ``.status`` (0 done, 1 a terminal
        event, -1 failed), ``.message``, ``.success``, ``.t_events``,
        ``.y_events``.

    Raises
    ------
    ValueError
        For an invalid argument, or a ``fun`` whose output has the wrong shape.

    Notes
    -----
    ``fun`` is called once at (t0, y0) to check its output before the
    integration; that call is not counted in ``nfev``. When ``first_step`` is
    given, nfev counts the evaluations made, while dop853.f adds 2 to NFCN
    regardless (it counts HINIT's evaluation even when HINIT is skipped).
    """
    tab = check_method(method)
    t0, t_end = check_t_span(t_span, zero_length=True)
    first_step, max_step, max_steps = check_steps(first_step, max_step, max_steps, t0, t_end)
    args = check_args(args)
    _check_specialize(specialize)
    # A jitted fun checked before, with vectors y0 and t_eval: the compiled
    # driver reads their values (values_valid), the rest is checked here.
    readable = is_readable()
    deferred = (events is None and not readable and is_compiled(fun) and t0 != t_end and is_vector(y0)
                and (t_eval is None or is_vector(t_eval)) and checked_before(fun, inplace, y0.shape[0], args))  # fmt: skip
    if deferred:
        compiled, t_eval = True, _NO_T_EVAL if t_eval is None else t_eval
    else:
        y0 = check_y0(y0)
        t_eval = _NO_T_EVAL if t_eval is None else check_t_eval(t_eval, t0, t_end)
        fun, compiled = check_fun(fun, t0, y0, args, inplace)
    functions, direction, max_count, events_compiled = check_events(events, t0, y0, args)
    if compiled and (readable or not events_compiled):
        fun, compiled = _as_python(fun, inplace)
    rtol, atol = check_tolerances(rtol, atol, y0.shape[0])

    dense = bool(dense_output)
    if t0 == t_end:
        return _zero_length(tab, t0, y0, t_eval, dense, None if events is None else len(functions))
    y_eval = np.empty((1, t_eval.shape[0], y0.shape[0]))  # the outputs at t_eval
    counts, stops, t, y, dense_t, dense_h, dense_Q, rows = _run(
        method, tab, fun, compiled, readable, inplace, args, (functions, direction, max_count), t0, t_end, y0[None, :],
        t_eval, rtol, atol, first_step, max_step, max_steps, dense, y_eval,
    )  # fmt: skip
    if counts[0, 0] in (Y0_NOT_FINITE, T_EVAL_INVALID):  # values_valid found a bad y0 or t_eval: the Python check says what
        check_y0(y0)
        check_t_eval(t_eval, t0, t_end)
        raise AssertionError(f"values_valid reported {counts[0, 0]} for a valid y0 and t_eval")
    status, nfev, nsteps, naccepted, nrejected = (int(c) for c in counts[:, 0])
    t_events, y_events = log_rows(rows, len(functions), 1) if events is not None else ([None], [None])
    return OdeResult(
        t=t, y=y, sol=DenseSolution(dense_t, dense_h, dense_Q) if dense and dense_t.shape[0] > 0 else None,
        nfev=nfev, naccepted=naccepted, nrejected=nrejected, nsteps=nsteps, status=status if status >= 0 else -1,
        message=_DONE_MESSAGE if status == DONE else _message(status, float(stops[0, 0]), float(stops[1, 0]),
                                                              max_steps),
        success=status >= 0, t_events=t_events[0], y_events=y_events[0],
    )  # fmt: skip


def solve_ivp_batch(
    fun, t_span, y0s, t_eval, method="DOP853", rtol=1e-3, atol=1e-6, first_step=None,
    max_step=np.inf, max_steps=100000, args=(), inplace=False, workers=1, events=None, specialize=False,
) -> BatchResult:  # fmt: skip
    """Integrate B initial states in one call: :func:`solve_ivp` for each row of y0s.

    With a Numba-jitted ``fun`` the loop over the B states runs compiled,
    without the GIL. Used to generate datasets and to roll out a learned
    vector field (pass its weights in ``args``).

    Parameters
    ----------
    fun, t_span, method, rtol, atol, first_step, max_step, max_steps, args, inplace, events, specialize
        As for :func:`solve_ivp`; the events of each trajectory are its own
        (a terminal event ends that trajectory only).
    y0s : array_like, shape (B, n)
    t_eval : array_like, shape (m,)
        Output times (required).
    workers : int
        Threads that integrate contiguous blocks of rows at once (jitted
        ``fun`` only; a Python ``fun`` always runs in one): the calling
        thread and ``workers - 1`` threads of a pool kept between calls.
        Each trajectory is computed exactly as alone, so the result does not
        depend on ``workers``. ``fun`` must then be safe to call from several threads
        (a pure function of its arguments is).

    Returns
    -------
    BatchResult
        ``.t`` (m,), ``.y`` (B, n, m), and ``.nfev``, ``.naccepted``,
        ``.nrejected``, ``.nsteps``, ``.status`` of shape (B,); ``.messages``,
        ``.message``, ``.success``.

    Notes
    -----
    Row b equals ``solve_ivp(fun, t_span, y0s[b], t_eval=t_eval, ...)``
    exactly. ``fun`` is checked once, at (t0, y0s[0]).
    """
    tab = check_method(method)
    t0, t_end = check_t_span(t_span, zero_length=True)
    y0s = check_y0(y0s, "y0s", ndim=2)
    rtol, atol = check_tolerances(rtol, atol, y0s.shape[1])
    t_eval = check_t_eval(t_eval, t0, t_end)
    first_step, max_step, max_steps = check_steps(first_step, max_step, max_steps, t0, t_end)
    args = check_args(args)
    fun, compiled = check_fun(fun, t0, y0s[0], args, inplace)
    functions, direction, max_count, events_compiled = check_events(events, t0, y0s[0], args)
    readable = is_readable()
    if compiled and (readable or not events_compiled):
        fun, compiled = _as_python(fun, inplace)
    _check_specialize(specialize)
    if not (type(workers) is int or isinstance(workers, numbers.Integral)) or workers < 1:
        raise ValueError(f"workers must be a positive integer; got {workers!r}")

    n_batch, n = y0s.shape
    if t0 == t_end:  # y0s at t_eval = [t0], no step
        zeros = np.zeros(n_batch, dtype=np.int64)
        none = [_no_zeros(len(functions), n) for _ in range(n_batch)] if events is not None else None
        return BatchResult(t=t_eval, y=np.repeat(y0s[:, :, None], t_eval.size, axis=2), nfev=zeros, naccepted=zeros,
                           nrejected=zeros, nsteps=zeros, status=zeros, messages=[_DONE_MESSAGE] * n_batch,
                           success=True, t_events=none and [z[0] for z in none],
                           y_events=none and [z[1] for z in none])  # fmt: skip
    y = np.full((n_batch, t_eval.size, n), np.nan)  # filled by the driver

    def block(rows):  # the rows[0]:rows[1] block, with its own work arrays
        start, stop = rows
        counts, stops, *_, log = _run(
            method, tab, fun, compiled, readable, inplace, args, (functions, direction, max_count), t0, t_end,
            y0s[start:stop], t_eval, rtol, atol, first_step, max_step, max_steps, False, y[start:stop],
        )  # fmt: skip
        log[:, 0] += start  # the block's rows -> the batch's
        return counts, stops, log

    n_blocks = min(int(workers), n_batch) if compiled else 1
    if n_blocks == 1:
        counts, stops, rows = block((0, n_batch))
    else:
        edges = [n_batch * k // n_blocks for k in range(n_blocks + 1)]
        blocks = list(zip(edges[:-1], edges[1:]))
        pool = _threads(n_blocks - 1)
        others = [pool.submit(block, rows) for rows in blocks[1:]]  # run without the GIL
        results = [block(blocks[0])] + [future.result() for future in others]  # the first block in this thread
        counts, stops = (np.concatenate(parts, axis=1) for parts in list(zip(*results))[:2])
        rows = np.concatenate([r[2] for r in results])
    code, nfev, nsteps, naccepted, nrejected = counts
    y = y.transpose(0, 2, 1)  # (B, m, n) -> (B, n, m), a view: callers usually transpose back
    messages = [_DONE_MESSAGE] * n_batch
    failed = code < 0
    for b in np.flatnonzero(code != DONE).tolist():
        messages[b] = _message(int(code[b]), float(stops[0, b]), float(stops[1, b]), max_steps)
    t_events, y_events = log_rows(rows, len(functions), n_batch) if events is not None else (None, None)
    return BatchResult(
        t=t_eval, y=y, nfev=nfev, naccepted=naccepted, nrejected=nrejected, nsteps=nsteps,
        status=np.where(failed, -1, code).astype(np.int64), messages=messages, success=not failed.any(),
        t_events=t_events, y_events=y_events,
    )  # fmt: skip
