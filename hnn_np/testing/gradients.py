r"""check_grads: a hand-written gradient against central finite differences.

For a scalar function f of x (an array, or a network's parameters as a list
of ``(W, b)`` pairs) and a claimed gradient g = grad(x), draw unit directions
v and compare the directional derivative the gradient predicts with the one
finite differences measure::

    analytic  = <g, v>                                       (one number per direction)
    numeric   = [8 (f(x + e v) - f(x - e v)) - (f(x + 2e v) - f(x - 2e v))] / (12 e)

The stencil is the two-point central difference at steps e and 2e combined
(Richardson) so that its e^2 error cancels: the truncation error is O(e^4),
so e = 1e-3 keeps it near 1e-12 while round-off, about
``noise = 100 eps_mach max|f| / e`` (max over the four points of the stencil),
stays small too. Each direction's error is

    rel = |analytic - numeric| / max(|analytic|, |numeric|, noise / rtol)

and the check passes when the largest ``rel`` is at most ``rtol``: when the
two agree to ``rtol`` relative, or their difference is within the round-off
noise (a derivative is only known to the noise, however right it is). Everything runs in
float64.

A random direction mixes every entry, so one wrong entry shows up in every
direction: n directions cost 4n evaluations of f, whatever the number of
parameters. When the check fails, it finds where: the worst tensor (for
parameters) and, for up to ``MAX_ENTRIES_LOCATED`` scalars, the worst entry by
central differences along each coordinate.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["check_grads", "MAX_ENTRIES_LOCATED"]

MAX_ENTRIES_LOCATED = 400  # entry-by-entry search on failure only up to this many scalars
_NOISE_ULPS = 100  # round-off of one evaluation of f, in units of eps_mach * |f(x)|


def check_grads(fun, grad, x, *, n_directions=10, eps=1e-3, rtol=1e-6, seed=0):
    """Check ``grad`` against central differences of ``fun`` along random directions.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> float``, a scalar function of x.
    grad : callable
        ``grad(x)``, its claimed gradient, shaped like x: an array of x's
        shape, or a list of ``(dW, db)`` pairs shaped like the ``(W, b)``.
    x : array_like or list of (W, b)
        The point: a real, finite array, or parameters as a list of pairs of
        real, finite arrays. A float64 copy is what ``fun`` and ``grad`` see.
    n_directions : int
        Random unit directions to test (each costs 4 calls of ``fun``).
    eps : float
        Step of the finite-difference stencil, in the units of x.
    rtol : float
        Largest relative error accepted in any direction.
    seed : int
        Seed of the directions (``numpy.random.default_rng``).

    Returns
    -------
    max_rel_err : float
        The largest relative error over the directions.

    Raises
    ------
    AssertionError
        When some direction's relative error exceeds ``rtol``; the message
        names that direction, both derivatives, and the worst tensor and entry.
    ValueError
        On bad arguments, or when ``fun`` or ``grad`` returns something of the
        wrong kind or shape.
    """
    if not callable(fun):
        raise ValueError(f"fun must be callable; got {type(fun).__name__}")
    if not callable(grad):
        raise ValueError(f"grad must be callable; got {type(grad).__name__}")
    n_directions = _positive_int(n_directions, "n_directions")
    eps = _positive_real(eps, "eps")
    rtol = _positive_real(rtol, "rtol")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")

    point = _Point(x)
    f0 = _scalar(fun(point.unflatten(point.flat)), "fun")
    g = point.flatten_like(grad(point.unflatten(point.flat)), "grad")
    def f_along(v):
        return lambda s: _scalar(fun(point.unflatten(point.flat + s * v)), "fun")

    rng = np.random.default_rng(seed)
    worst = (-1.0, -1, 0.0, 0.0, None)  # (rel, direction index, analytic, numeric, v)
    for k in range(n_directions):
        v = rng.standard_normal(point.flat.size)
        v /= np.linalg.norm(v)
        analytic = float(g @ v)
        numeric, noise = _stencil(f_along(v), eps, f0)
        rel = _rel(analytic, numeric, noise / rtol)
        if rel > worst[0]:
            worst = (rel, k, analytic, numeric, v)
    rel, k, analytic, numeric, v = worst
    if rel <= rtol:
        return rel

    lines = [
        f"check_grads: grad disagrees with finite differences of fun along direction {k} "
        f"(of {n_directions}, seed {seed}): grad gives {analytic:.9e}, finite differences "
        f"{numeric:.9e}, relative error {rel:.3e} > rtol {rtol:.1e}"
    ]
    if len(point.blocks) > 1:  # which tensor: v restricted to each block in turn
        errs = []
        for name, sl in point.blocks:
            vb = np.zeros_like(v)
            vb[sl] = v[sl]
            numeric_b, noise_b = _stencil(f_along(vb), eps, f0)
            errs.append((_rel(float(g @ vb), numeric_b, noise_b / rtol), name))
        tensor_err, tensor = max(errs)
        lines.append(f"worst tensor {tensor} (relative error {tensor_err:.3e} along the direction restricted to it)")
    if point.flat.size <= MAX_ENTRIES_LOCATED:
        entry_errs = []
        for i in range(point.flat.size):
            e_i = np.zeros(point.flat.size)
            e_i[i] = 1.0
            numeric_i = _stencil(f_along(e_i), eps, f0)[0]
            entry_errs.append((abs(g[i] - numeric_i), i, numeric_i))
        abs_err, i, numeric_i = max(entry_errs)
        lines.append(f"worst entry {point.entry_name(i)}: grad {g[i]:.9e}, finite differences "
                     f"{numeric_i:.9e} (absolute error {abs_err:.3e})")
    raise AssertionError("; ".join(lines))


class _Point:
    """x as one flat float64 vector, and back: an array, or a list of (W, b)."""

    def __init__(self, x):
        if isinstance(x, (list, tuple)) and len(x) > 0 and all(
                isinstance(pair, (list, tuple)) and any(isinstance(a, np.ndarray) for a in pair) for pair in x):
            self.is_params = True
            arrays = []
            for l, pair in enumerate(x):
                if len(pair) != 2:
                    raise ValueError(f"x must be an array or a list of (W, b) pairs; x[{l}] has {len(pair)} items")
                for name, arr in zip("Wb", pair):
                    arrays.append((f"{name}[{l}]", _real_array(arr, f"x[{l}] {name}")))
        else:
            self.is_params = False
            arrays = [("x", _real_array(x, "x"))]
        self.shapes = [arr.shape for _, arr in arrays]
        self.blocks = []
        start = 0
        for (name, arr) in arrays:
            self.blocks.append((name, slice(start, start + arr.size)))
            start += arr.size
        if start == 0:
            raise ValueError("x must have at least one entry")
        self.flat = np.concatenate([arr.ravel() for _, arr in arrays])

    def unflatten(self, flat):
        arrays = [flat[sl].reshape(shape).copy() for (_, sl), shape in zip(self.blocks, self.shapes)]
        if not self.is_params:
            return arrays[0]
        return [(arrays[2 * l], arrays[2 * l + 1]) for l in range(len(arrays) // 2)]

    def flatten_like(self, value, what):
        """``value`` (shaped like x) as one flat float64 vector; ValueError if it is not shaped like x."""
        if self.is_params:
            if not isinstance(value, (list, tuple)) or len(value) != len(self.shapes) // 2:
                raise ValueError(f"{what} must return a list of {len(self.shapes) // 2} (dW, db) pairs, "
                                 f"shaped like x; got {type(value).__name__}")
            parts = [part for pair in value for part in _pair(pair, what)]
        else:
            parts = [value]
        flat = []
        for (name, _), shape, part in zip(self.blocks, self.shapes, parts):
            arr = np.asarray(part)
            if arr.shape != shape or not np.issubdtype(arr.dtype, np.number):
                raise ValueError(f"{what} must return an array of shape {shape} for {name}; "
                                 f"got shape {arr.shape}, dtype {arr.dtype}")
            flat.append(arr.astype(np.float64).ravel())
        flat = np.concatenate(flat)
        if not np.all(np.isfinite(flat)):
            raise ValueError(f"{what} returned non-finite values")
        return flat

    def entry_name(self, i):
        for name, sl in self.blocks:
            if sl.start <= i < sl.stop:
                shape = self.shapes[[b[0] for b in self.blocks].index(name)]
                if not shape:
                    return name
                index = np.unravel_index(i - sl.start, shape)
                return f"{name}[{', '.join(str(int(j)) for j in index)}]"
        raise IndexError(i)  # pragma: no cover - i comes from range(size)


def _pair(pair, what):
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        raise ValueError(f"{what} must return (dW, db) pairs; got {pair!r:.60}")
    return pair


def _real_array(value, name):
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} must be a real array; {exc}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must be a real array; got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _scalar(value, what):
    arr = np.asarray(value)
    if arr.size != 1 or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{what} must return a real scalar; got {type(value).__name__} of shape {arr.shape}")
    out = float(arr.reshape(()))
    if not np.isfinite(out):
        raise ValueError(f"{what} returned {out}")
    return out


def _stencil(f, eps, f0):
    """d/ds f(s) at 0 by the 4th-order central stencil of the module docstring, and its round-off.

    The round-off is ``noise = 100 eps_mach max|f| / eps``, the max over f(0)
    and the four points: the smallest derivative the stencil can resolve.
    """
    values = f(eps), f(-eps), f(2 * eps), f(-2 * eps)
    derivative = (8 * (values[0] - values[1]) - (values[2] - values[3])) / (12 * eps)
    f_max = max(abs(f0), *map(abs, values), np.finfo(np.float64).tiny)
    return derivative, _NOISE_ULPS * np.finfo(np.float64).eps * f_max / eps


def _rel(analytic, numeric, floor):
    return abs(analytic - numeric) / max(abs(analytic), abs(numeric), floor)


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def _positive_real(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number; got {value!r}")
    return float(value)
