"""Argument checks of :func:`.solve_ivp` and :func:`.solve_ivp_batch`.

Each check returns the argument in the form the driver needs (float64,
C-contiguous) or raises a ValueError that names the argument and the problem.
None of them changes the step sequence of a valid call.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .calling import as_inplace, is_compiled
from .dop853_coefficients import DOP853
from .jitable import jitable
from .rk import UROUND
from .rk45_coefficients import RK45
from .tableau import Tableau

__all__ = [
    "METHODS", "check_method", "check_t_span", "check_y0", "check_tolerances",
    "check_t_eval", "check_steps", "check_args", "check_fun", "checked_before", "is_vector", "fingerprint",
    "Y0_NOT_FINITE", "T_EVAL_INVALID", "values_valid", "check_events",
]  # fmt: skip

METHODS = {"DOP853": DOP853, "RK45": RK45}


def check_method(method) -> Tableau:
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}; got {method!r}")
    return METHODS[method]


def _finite_float(value, name: str) -> float:
    if type(value) is float and math.isfinite(value):  # the usual case, checked fast
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite real number; got {value!r}")
    return float(value)


def check_t_span(t_span, zero_length: bool = False) -> tuple[float, float]:
    """(t0, t_end) as floats; t0 == t_end only with ``zero_length=True``."""
    pair = isinstance(t_span, (tuple, list)) and len(t_span) == 2  # the usual case, told without NumPy
    if not pair and (np.ndim(t_span) != 1 or len(t_span) != 2):
        raise ValueError(f"t_span must be a pair (t0, t_end); got {t_span!r}")
    t0 = _finite_float(t_span[0], "t_span[0]")
    t_end = _finite_float(t_span[1], "t_span[1]")
    if t0 == t_end and not zero_length:
        raise ValueError(f"t_span has zero length: t0 == t_end == {t0}")
    return t0, t_end


def check_y0(y0, name: str = "y0", ndim: int = 1) -> np.ndarray:
    """y0 as a float64 C-contiguous writeable array of shape (n,) (ndim=1) or (B, n) (ndim=2).

    (Writeable: a read-only array is another type for Numba, which would
    compile the driver for it.)
    """
    if (type(y0) is np.ndarray and y0.dtype == np.float64 and y0.ndim == ndim and y0.size
            and y0.flags.c_contiguous and y0.flags.writeable and np.isfinite(y0).all()):  # fmt: skip
        return y0  # the usual case, checked fast
    array = np.asarray(y0)
    shape_name = "(n,)" if ndim == 1 else "(B, n)"
    if array.ndim != ndim or array.size == 0:
        raise ValueError(f"{name} must be a non-empty array of shape {shape_name}; got shape {array.shape}")
    if array.dtype != np.float64 and not (np.issubdtype(array.dtype, np.floating)
                                         or np.issubdtype(array.dtype, np.integer)):  # fmt: skip
        raise ValueError(f"{name} must be real; got dtype {array.dtype}")
    array = np.ascontiguousarray(array, dtype=np.float64)
    if not array.flags.writeable:
        array = array.copy()
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[:3].tolist()
        raise ValueError(f"{name} has non-finite values (at indices {bad}{', ...' if len(bad) == 3 else ''})")
    return array


def is_vector(value) -> bool:
    """A non-empty float64 C-contiguous writeable ndarray of shape (n,): the form the driver takes as it is."""
    return type(value) is np.ndarray and value.ndim == 1 and value.dtype == np.float64 and value.flags.c_contiguous \
        and value.flags.writeable and value.shape[0] > 0


Y0_NOT_FINITE = 11  # what values_valid reports (the controller's exit codes are <= 1)
T_EVAL_INVALID = 12


@jitable
def values_valid(y0, t0, t_end, t_eval):
    """The checks of :func:`check_y0` and :func:`check_t_eval` that read every value, as one loop each.

    0 when y0 (of any shape) is finite and t_eval lies in t_span, strictly monotone in the
    direction of integration (a NaN fails every comparison); else
    ``Y0_NOT_FINITE`` or ``T_EVAL_INVALID``. The compiled driver makes these
    checks itself for a vector y0 and t_eval (see :func:`.ivp.solve_ivp`), and
    the Python check then gives the error's message.
    """
    for value in y0.flat:
        if not np.isfinite(value):
            return Y0_NOT_FINITE
    low, high = min(t0, t_end), max(t0, t_end)
    direction = 1.0 if t_end > t0 else -1.0
    for i in range(t_eval.shape[0]):
        if not (low <= t_eval[i] <= high) or (i > 0 and not (direction * (t_eval[i] - t_eval[i - 1]) > 0.0)):
            return T_EVAL_INVALID
    return 0


def _tolerance(value, n: int, name: str) -> np.ndarray:
    if isinstance(value, (float, int)) and not isinstance(value, bool):  # the usual case, checked fast
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite; got {value!r}")
        return np.full(n, float(value))
    if isinstance(value, (bool, np.bool_, str, bytes)) or np.asarray(value).dtype.kind not in "fiu":
        raise ValueError(f"{name} must be a real number or array of reals; got {value!r}")
    array = np.asarray(value, dtype=np.float64)
    if array.ndim > 1 or (array.ndim == 1 and array.shape != (n,)):
        raise ValueError(f"{name} must be a scalar or have shape ({n},); got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite; got {value!r}")
    return np.full(n, array) if array.ndim == 0 else np.ascontiguousarray(array)


_TOLERANCES: dict = {}  # (rtol, atol, n) -> the arrays, read by the driver and never written


def check_tolerances(rtol, atol, n: int) -> tuple[np.ndarray, np.ndarray]:
    """rtol and atol as arrays of shape (n,).

    rtol must be at least 10 uround (below it the requested accuracy is under
    the rounding error of float64); atol must be positive, as dop853.f asks
    ("ATOL SHOULD BE STRICTLY POSITIVE").
    """
    if type(rtol) is float and type(atol) is float:  # the usual case, checked fast (float rtol, atol)
        pair = _TOLERANCES.get((rtol, atol, n))
        if pair is not None:
            return pair
        if rtol >= 10 * UROUND and atol > 0 and math.isfinite(rtol + atol):
            if len(_TOLERANCES) > 64:
                _TOLERANCES.clear()
            pair = _TOLERANCES[(rtol, atol, n)] = (np.full(n, rtol), np.full(n, atol))
            return pair
    rtol = _tolerance(rtol, n, "rtol")
    atol = _tolerance(atol, n, "atol")
    if rtol.min() <= 0:
        raise ValueError(f"rtol must be positive; got {rtol}")
    if rtol.min() < 10 * UROUND:
        raise ValueError(f"rtol must be at least 10 * uround = {10 * UROUND:.1e}; got {rtol}")
    if atol.min() <= 0:
        raise ValueError(f"atol must be positive; got {atol}")
    return rtol, atol


def check_t_eval(t_eval, t0: float, t_end: float) -> np.ndarray:
    """t_eval as float64 (m,), strictly monotone in the direction t0 -> t_end, inside the interval."""
    raw = np.asarray(t_eval)
    if raw.ndim != 1 or raw.size == 0:
        raise ValueError(f"t_eval must be a non-empty 1-D array; got shape {raw.shape}")
    if raw.dtype.kind not in "fiu":
        raise ValueError(f"t_eval must be real times (floats or integers); got dtype {raw.dtype}")
    array = raw.astype(np.float64, copy=False)
    direction = 1.0 if t_end >= t0 else -1.0
    low, high = min(t0, t_end), max(t0, t_end)
    # The usual case in two NumPy calls: strictly monotone in the direction of
    # integration (which fails on a NaN), so the ends are the extremes, and
    # these inside the interval (which fails on an inf).
    first, last = float(array[0]), float(array[-1])
    if low <= first <= high and low <= last <= high:
        later = array[1:] > array[:-1] if direction > 0 else array[1:] < array[:-1]
        if later.all():
            return np.array(array) if not array.flags.writeable else np.ascontiguousarray(array)
    if not np.all(np.isfinite(array)):
        raise ValueError("t_eval has non-finite values")
    if array.min() < low or array.max() > high:
        raise ValueError(f"t_eval must lie inside t_span [{low}, {high}]; got values in [{array.min()}, {array.max()}]")
    if np.any(direction * np.diff(array) <= 0):
        order = "increasing" if direction > 0 else "decreasing (t_end < t0)"
        raise ValueError(f"t_eval must be sorted strictly {order}")
    return np.ascontiguousarray(array)


def check_steps(first_step, max_step, max_steps, t0: float, t_end: float) -> tuple[float, float, int]:
    """first_step (0.0 for Hairer's initial guess), max_step and max_steps, checked."""
    if first_step is None and type(max_step) is float and max_step > 0 and type(max_steps) is int and max_steps >= 1:
        return 0.0, max_step, max_steps  # the usual case, checked fast (max_step > 0 is False for NaN)
    if first_step is None:
        first_step = 0.0
    else:
        first_step = _finite_float(first_step, "first_step")
        if first_step <= 0:
            raise ValueError(f"first_step must be positive; got {first_step}")
        if first_step > abs(t_end - t0):
            raise ValueError(f"first_step {first_step} exceeds the length of t_span {abs(t_end - t0)}")
    if type(max_step) is not float and not isinstance(max_step, numbers.Real) or np.isnan(max_step) or max_step <= 0:
        raise ValueError(f"max_step must be positive (np.inf for no limit); got {max_step!r}")
    if isinstance(max_steps, (bool, np.bool_)) or not isinstance(max_steps, numbers.Integral) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer; got {max_steps!r}")
    return first_step, float(max_step), int(max_steps)


def check_args(args) -> tuple:
    """The extra arguments of fun as a tuple."""
    if isinstance(args, (str, bytes)) or not hasattr(args, "__iter__"):
        raise ValueError(f"args must be a tuple of extra arguments of fun; got {args!r}")
    return tuple(args)


_PASSED: dict = {}  # jitted funs that passed check_fun -> (inplace, n, fingerprint of args) it passed with


def fingerprint(args: tuple) -> tuple:
    """What the compiled code of a jitted fun depends on in ``args``: types; dtypes, dimensions and layouts of arrays.

    The one key by which a jitted fun's check (:func:`check_fun`) and its
    compiled adapter (:mod:`._compiled.adapters`) are remembered. Not the
    shapes: a new size of an array in ``args`` needs neither.
    """
    return tuple(fingerprint(a) if type(a) is tuple else
                 (a.dtype.str, a.ndim, a.flags.c_contiguous, a.flags.f_contiguous, a.flags.writeable)
                 if type(a) is np.ndarray else type(a) for a in args)  # fmt: skip


def checked_before(fun, inplace: bool, n: int, args: tuple) -> bool:
    """True when the jitted ``fun`` passed :func:`check_fun` for this convention, size and kind of ``args``."""
    passed = _PASSED.get(fun)
    return passed is not None and passed == (bool(inplace), n, fingerprint(args))


def check_fun(fun, t0: float, y0: np.ndarray, args: tuple, inplace: bool = False):
    """Call fun once at (t0, y0) to check it; return (the fun to integrate, is_compiled).

    Returning convention (``inplace=False``): a Numba-jitted ``fun`` must return
    a float64 array of y0's shape, and is returned as it is (the compiled
    driver adapts it); a plain Python ``fun`` may return any real array_like
    of that shape, and is returned wrapped by :func:`.calling.as_inplace`.

    In-place convention (``inplace=True``): ``fun(t, y, dy_dt, *args)`` must
    write every entry of ``dy_dt``. It is called twice, with dy_dt prefilled
    with two different values, and an entry that keeps the prefilled value both
    times was not written.

    A jitted ``fun`` is checked once for each convention, size n and kind of
    ``args`` (:func:`fingerprint`), which fix its compiled code; a check
    passed is remembered, and later calls skip it (it costs more than
    integrating a small system).
    """
    if not callable(fun):
        raise ValueError(f"fun must be callable; got {fun!r}")
    compiled = is_compiled(fun)
    passed = (bool(inplace), y0.shape[0], fingerprint(args)) if compiled else None
    if compiled and _PASSED.get(fun) == passed:
        return fun, True
    if inplace:
        unwritten = np.ones(y0.shape, dtype=bool)
        for fill in (7.0, -7.0):
            dy_dt = np.full(y0.shape, fill)
            fun(t0, y0.copy(), dy_dt, *args)
            unwritten &= dy_dt == fill
        if unwritten.any():
            raise ValueError(f"an in-place fun(t, y, dy_dt, *args) must write every entry of dy_dt; "
                             f"fun(t0, y0, dy_dt) left dy_dt[{int(np.argmax(unwritten))}] unwritten")
        if compiled:
            _PASSED[fun] = passed
        return fun, compiled
    dy_dt = fun(t0, y0, *args)
    if compiled and not (isinstance(dy_dt, np.ndarray) and dy_dt.dtype == np.float64):
        raise ValueError(f"a jitted fun must return a float64 ndarray; got {type(dy_dt).__name__}")
    dy_dt = np.asarray(dy_dt)
    if dy_dt.shape != y0.shape:
        raise ValueError(f"fun(t0, y0, *args) must have the shape of y0 {y0.shape}; got {dy_dt.shape}")
    if not (np.issubdtype(dy_dt.dtype, np.floating) or np.issubdtype(dy_dt.dtype, np.integer)):
        raise ValueError(f"fun must return real values; got dtype {dy_dt.dtype}")
    if compiled:
        _PASSED[fun] = passed
        return fun, True
    return as_inplace(fun), False


def check_events(events, t0: float, y0: np.ndarray, args: tuple):
    """scipy's ``events``: (functions, direction (k,), max_count (k,), all jitted), each function called once.

    ``events`` is None, a callable ``g(t, y, *args) -> float`` or a sequence of
    them. Each may have the attributes ``terminal`` (a bool or a positive
    integer: the run ends at that zero; False, 0 or absent: never) and
    ``direction`` (a real number; its sign selects the zeros counted). Each
    is called at (t0, y0) and must return one real number.
    """
    if events is None:
        return [], np.zeros(0), np.zeros(0), True
    functions = [events] if callable(events) else list(events) if hasattr(events, "__iter__") else None
    if functions is None or not all(callable(g) for g in functions):
        raise ValueError(f"events must be a callable g(t, y, *args) or a list of them; got {events!r}")
    direction, max_count = np.zeros(len(functions)), np.full(len(functions), np.inf)
    for e, g in enumerate(functions):
        terminal = getattr(g, "terminal", None)
        is_number = isinstance(terminal, numbers.Real) and math.isfinite(terminal)
        if is_number and float(terminal).is_integer() and terminal > 0:  # True is 1
            max_count[e] = int(terminal)
        elif not (terminal is None or (is_number and terminal == 0)):  # (False is 0: never)
            raise ValueError(f"events[{e}].terminal must be a bool or a positive integer; got {terminal!r}")
        d = getattr(g, "direction", 0)
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, numbers.Real) or not math.isfinite(d):
            raise ValueError(f"events[{e}].direction must be a finite real number; got {d!r}")
        direction[e] = float(d)
        value = g(t0, y0.copy(), *args)
        if isinstance(value, (bool, np.bool_)) or np.ndim(value) != 0 or np.asarray(value).dtype.kind not in "fiu":
            raise ValueError(f"events[{e}](t0, y0, *args) must return one real number; got {value!r}")
    return functions, direction, max_count, all(is_compiled(g) for g in functions)
