"""Input checks shared by the public functions.

Every check raises ``ValueError`` with a message that names the argument, the
problem and what was expected, so that a shape or dtype slip is caught at the
door instead of deep inside a matrix product.
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_params", "check_array", "check_sizes", "check_weights", "check_int", "check_real",
           "check_states", "check_choice"]


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


def check_choice(value, name: str, choices) -> str:
    """One of a few strings."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}; got {value!r}")
    return value


def check_states(x, name: str, n_cols: int | None = None, n_rows: int | None = None) -> np.ndarray:
    """Real, finite, non-empty rows (N, 2n) as float64; refuses complex, object and bool arrays."""
    if x is None:
        raise ValueError(f"{name} is required")
    try:
        x = np.asarray(x)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be a numeric array; {e}") from None
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


def check_params(params) -> np.dtype:
    """Check that ``params`` is a chain of ``(W, b)`` layers; return their dtype.

    Layer ``l`` must hold ``W`` of shape (n_l, n_{l+1}) and ``b`` of shape
    (n_{l+1},), consecutive layers must fit, and all arrays share one floating
    dtype (float32 or float64).
    """
    if not isinstance(params, (list, tuple)) or len(params) == 0:
        raise ValueError("params must be a non-empty list of (W, b) pairs")
    dtype = None
    n_prev = None
    for l, layer in enumerate(params):
        if not isinstance(layer, (list, tuple)) or len(layer) != 2:
            raise ValueError(f"params[{l}] must be a (W, b) pair")
        W, b = layer
        if not isinstance(W, np.ndarray) or W.ndim != 2:
            raise ValueError(f"params[{l}] W must be a 2-D array (n_in, n_out); got {np.shape(W)}")
        if not isinstance(b, np.ndarray) or b.shape != (W.shape[1],):
            raise ValueError(f"params[{l}] b must have shape ({W.shape[1]},); got {np.shape(b)}")
        if n_prev is not None and W.shape[0] != n_prev:
            raise ValueError(
                f"params[{l}] W has {W.shape[0]} input rows but layer {l - 1} has {n_prev} outputs"
            )
        for name, arr in (("W", W), ("b", b)):
            if arr.dtype not in (np.float32, np.float64):
                raise ValueError(f"params[{l}] {name} must be float32 or float64; got {arr.dtype}")
            if dtype is None:
                dtype = arr.dtype
            elif arr.dtype != dtype:
                raise ValueError(
                    f"params mix dtypes: params[{l}] {name} is {arr.dtype}, the first layer is {dtype}"
                )
        n_prev = W.shape[1]
    return dtype


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
        whole computation); a non-floating ``x`` (ints, lists) is converted.
    n_rows : int, optional
        Expected number of rows (to match another argument).
    """
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.floating):
        if x.dtype != dtype:
            raise ValueError(f"{name} has dtype {x.dtype} but params are {dtype}; cast one of them")
    elif np.issubdtype(x.dtype, np.integer) or x.dtype == bool:
        x = x.astype(dtype)
    else:
        raise ValueError(f"{name} must be a numeric array; got dtype {x.dtype}")
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
    """Validate optional per-row loss weights: None, or (N,) finite and >= 0."""
    if weights is None:
        return None
    w = np.asarray(weights)
    if w.shape != (x.shape[0],):
        raise ValueError(f"weights must have shape ({x.shape[0]},), one per row of x; got {w.shape}")
    if np.issubdtype(w.dtype, np.floating) and w.dtype != x.dtype:
        raise ValueError(f"weights has dtype {w.dtype} but params are {x.dtype}")
    w = w.astype(x.dtype, copy=False)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise ValueError(f"weights must be finite and >= 0; row {int(np.argmax(bad))} is {w[np.argmax(bad)]}")
    return w
