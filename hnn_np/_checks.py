"""Input checks shared by the public functions.

Every check raises ``ValueError`` with a message that names the argument, the
problem and what was expected, so that a shape or dtype slip is caught at the
door instead of deep inside a matrix product.
"""

from __future__ import annotations

import functools
import os
import resource

import numpy as np

__all__ = ["check_params", "in_params_dtype", "check_array", "check_sizes", "check_weights", "check_int", "check_real",
           "check_states", "check_choice", "check_seed", "check_dtype", "finite_result", "available_memory",
           "check_memory"]


def check_int(value, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer count or index: an int or NumPy integer (not a bool, not 2.0), in [minimum, maximum]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer; got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}; got {value}")
    return value


def check_real(value, name: str, minimum: float | None = None, *, positive: bool = False,
               maximum: float | None = None) -> float:
    """A finite real number (int or float, not a bool or a string), optionally bounded."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number; got {value!r}")
    value = float(value)
    if positive and not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number; got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}; got {value!r}")
    return value


def check_pair(value, name: str) -> tuple[float, float]:
    """Two finite real numbers (not bools, not strings), e.g. an interval (lo, hi)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"{name} must be a pair of numbers; got {value!r}")
    return check_real(value[0], f"{name}[0]"), check_real(value[1], f"{name}[1]")


def check_seed(seed, name: str = "seed"):
    """A seed of ``numpy.random.default_rng``: None or an integer >= 0 (not a bool, not 2.0)."""
    if seed is None:
        return None
    return check_int(seed, name, 0)


def check_dtype(dtype, name: str = "dtype") -> np.dtype:
    """float32 or float64, given as a NumPy type, a dtype or its name."""
    try:
        out = np.dtype(dtype)
    except TypeError:
        out = None
    if dtype is None or out not in (np.float32, np.float64):
        raise ValueError(f"{name} must be float32 or float64; got {dtype!r}")
    return out


def check_choice(value, name: str, choices) -> str:
    """One of a few strings."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}; got {value!r}")
    return value


def check_states(x, name: str, n_cols: int | None = None, n_rows: int | None = None) -> np.ndarray:
    """Real, finite, non-empty rows (N, 2n) as float64; refuses complex, object and bool arrays."""
    if x is None:
        raise ValueError(f"{name} is required")
    x = _as_array(x, name)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)) \
            or x.dtype == bool:
        raise ValueError(f"{name} must be a real numeric array; got dtype {x.dtype}")
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0 or x.shape[1] % 2:
        raise ValueError(f"{name} must have shape (N, 2n) with N >= 1; got {x.shape}")
    if n_cols is not None and x.shape[1] != n_cols:
        raise ValueError(f"{name} must have {n_cols} columns; got {x.shape[1]}")
    if n_rows is not None and x.shape[0] != n_rows:
        raise ValueError(f"{name} has {x.shape[0]} rows; expected {n_rows}")
    x = x.astype(np.float64)
    finite = np.isfinite(x).all(axis=1)
    if not finite.all():
        raise ValueError(f"{name} has non-finite values in row {int(np.argmin(finite))}")
    return x


def check_sizes(sizes) -> tuple[int, ...]:
    """Validate layer sizes ``(n_0, n_1, ..., n_L)``: at least two positive ints."""
    try:
        items = list(sizes)
    except TypeError:
        raise ValueError(f"sizes must be a sequence of positive integers; got {sizes!r}") from None
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in items):
        raise ValueError(f"sizes must be a sequence of positive integers; got {sizes!r}")
    sizes = tuple(int(s) for s in items)
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output size; got {sizes}")
    if any(s <= 0 for s in sizes):
        raise ValueError(f"sizes must all be positive; got {sizes}")
    return sizes


def check_params(params, name: str = "params") -> np.dtype:
    """Check that ``params`` is a chain of ``(W, b)`` layers; return their dtype.

    Layer ``l`` must hold ``W`` of shape (n_l, n_{l+1}) and ``b`` of shape
    (n_{l+1},), plain (not ``np.matrix``) arrays with no empty axis,
    consecutive layers must fit, all arrays share one floating dtype (float32
    or float64), and every entry is finite. The finite check reads every
    weight once: about 1 ms for the paper's 643k weights, a few per cent of
    one training step of that network.
    """
    if not isinstance(params, (list, tuple)) or len(params) == 0:
        raise ValueError(f"{name} must be a non-empty list of (W, b) pairs; got {type(params).__name__}")
    dtype = None
    n_prev = None
    for l, layer in enumerate(params):
        if not isinstance(layer, (list, tuple)) or len(layer) != 2:
            raise ValueError(f"{name}[{l}] must be a (W, b) pair; got {type(layer).__name__}")
        W, b = layer
        for part, arr in (("W", W), ("b", b)):
            if type(arr) is not np.ndarray:
                raise ValueError(f"{name}[{l}] {part} must be a numpy.ndarray; got {type(arr).__name__}")
        if W.ndim != 2:
            raise ValueError(f"{name}[{l}] W must be a 2-D array (n_in, n_out); got shape {W.shape}")
        if 0 in W.shape:
            raise ValueError(f"{name}[{l}] W has an empty axis, shape {W.shape}; expected n_in, n_out >= 1")
        if b.shape != (W.shape[1],):
            raise ValueError(f"{name}[{l}] b must have shape ({W.shape[1]},); got {b.shape}")
        if n_prev is not None and W.shape[0] != n_prev:
            raise ValueError(
                f"{name}[{l}] W has {W.shape[0]} input rows but layer {l - 1} has {n_prev} outputs"
            )
        for part, arr in (("W", W), ("b", b)):
            if arr.dtype not in (np.float32, np.float64):
                raise ValueError(f"{name}[{l}] {part} must be float32 or float64; got {arr.dtype}")
            if dtype is None:
                dtype = arr.dtype
            elif arr.dtype != dtype:
                raise ValueError(
                    f"{name} mix dtypes: {name}[{l}] {part} is {arr.dtype}, the first layer is {dtype}"
                )
            if not np.isfinite(arr).all():
                raise ValueError(f"{name}[{l}] {part} has non-finite values (NaN or inf); "
                                 "expected finite weights")
        n_prev = W.shape[1]
    return dtype


def in_params_dtype(x: np.ndarray, name: str, dtype: np.dtype, expected: str) -> np.ndarray:
    """``x`` in the parameters' ``dtype``: floats must already be of it, integers are converted, the rest refused.

    ``expected`` completes "{name} must be ..." in the message for a dtype
    that is neither (bool, complex, object, strings).
    """
    if np.issubdtype(x.dtype, np.floating):
        if x.dtype != dtype:
            raise ValueError(f"{name} has dtype {x.dtype} but params are {dtype}; cast one of them")
        return x
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(dtype)
    raise ValueError(f"{name} must be {expected}; got dtype {x.dtype}")


def check_array(x, name: str, n_cols: int, dtype: np.dtype, n_rows: int | None = None) -> np.ndarray:
    """Validate a batch of rows and return it C-contiguous.

    Parameters
    ----------
    x : array_like, shape (N, n_cols)
    name : str
        The argument's name, for the error message.
    n_cols : int
        Expected number of columns.
    dtype : numpy dtype
        The parameters' dtype. A floating ``x`` of another dtype is an error
        (silently mixing float32 and float64 would change the precision of the
        whole computation); an integer ``x`` (ints, lists of ints) is
        converted; bool, complex, object and string arrays are refused.
    n_rows : int, optional
        Expected number of rows (to match another argument).
    """
    x = in_params_dtype(_as_array(x, name), name, dtype, "a numeric array of real floats or integers")
    if x.ndim != 2 or x.shape[1] != n_cols:
        raise ValueError(f"{name} must have shape (N, {n_cols}); got {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty: it needs at least one row")
    if n_rows is not None and x.shape[0] != n_rows:
        raise ValueError(f"{name} has {x.shape[0]} rows but x has {n_rows}")
    finite = np.isfinite(x).all(axis=1)
    if not finite.all():
        raise ValueError(f"{name} has non-finite values in row {int(np.argmin(finite))}")
    return np.ascontiguousarray(x)


def check_weights(weights, x: np.ndarray):
    """Validate optional per-row loss weights: None, or (N,) real, finite and >= 0."""
    if weights is None:
        return None
    w = _as_array(weights, "weights")
    if w.shape != (x.shape[0],):
        raise ValueError(f"weights must have shape ({x.shape[0]},), one per row of x; got {w.shape}")
    if np.issubdtype(w.dtype, np.floating):
        if w.dtype != x.dtype:
            raise ValueError(f"weights has dtype {w.dtype} but params are {x.dtype}")
    elif not np.issubdtype(w.dtype, np.integer):
        raise ValueError(f"weights must be real numbers (floats or integers); got dtype {w.dtype}")
    w = w.astype(x.dtype, copy=False)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise ValueError(f"weights must be finite and >= 0; row {int(np.argmax(bad))} is {w[np.argmax(bad)]}")
    return w


def _as_array(x, name: str) -> np.ndarray:
    """``np.asarray(x)``, with a ragged or otherwise unconvertible ``x`` reported by name."""
    if x is None:
        raise ValueError(f"{name} is required; got None")
    try:
        return np.asarray(x)
    except (TypeError, ValueError, OverflowError) as e:
        raise ValueError(f"{name} must be a rectangular numeric array; {e}") from None


def finite_result(fn):
    """Run ``fn``, then refuse a result with a NaN or an inf with a ``ValueError``.

    Checked inputs can still overflow float64 inside the computation (states
    or targets near 1e308, a squared error beyond 1.8e308). Overflow is
    silenced while ``fn`` runs and reported once, by name, instead of
    returning inf or NaN. The result is an array or a ``(loss, grads)`` pair.
    """
    where = f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}"

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        with np.errstate(over="ignore", invalid="ignore"):
            result = fn(*args, **kwargs)
        if not _all_finite(result):
            raise ValueError(f"{where} overflowed float64: its result has non-finite values; "
                             "expected inputs and weights of moderate size (rescale the data, "
                             "e.g. with hnn_np.data.Scale)")
        return result

    return checked


def _all_finite(result) -> bool:
    if isinstance(result, np.ndarray):
        return bool(np.isfinite(result).all())
    if isinstance(result, (tuple, list)):
        return all(_all_finite(r) for r in result)
    return bool(np.isfinite(result))


def available_memory() -> int | None:
    """Bytes this process may still allocate: MemAvailable, capped by ``ulimit -v``; None if unknown."""
    limits = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        try:
            limits.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        try:
            with open("/proc/self/statm") as f:
                used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            used = 0
        limits.append(max(soft - used, 0))
    return min(limits) if limits else None


def _size(n_bytes) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes / 1e3:.3g} kB"


def check_memory(n_bytes, what: str):
    """Refuse, before allocating, a computation of ``what`` that needs ``n_bytes`` more than are available."""
    free = available_memory()
    if free is not None and n_bytes > free:
        raise ValueError(f"{what} needs about {_size(n_bytes)} of memory; {_size(free)} is available")
