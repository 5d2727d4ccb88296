"""Hypothesis strategies, finite-difference oracles and small helpers shared by the tests.

Strategies draw layer sizes, parameters, states and dtypes. The public three,
for a user's property tests as for the project's own: :func:`networks`
(parameters of any tanh MLP), :func:`states` (a batch of states) and
:func:`hnn_and_states` (an HNN with states, and targets if asked for). Every array they
make is a C-contiguous float32 or float64 array, the only kinds the package
hands to its Numba kernels, so no kernel meets a new type signature (and
recompiles) in the middle of a run.

The oracles are the independent references the gradient tests compare
against: central finite differences, which know nothing about backprop.
"""

from __future__ import annotations

import contextlib

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hnn_np import mlp

DTYPES = (np.float64, np.float32)

# --- scalars ------------------------------------------------------------------

dtypes = st.sampled_from(DTYPES)
seeds = st.integers(0, 2**32 - 1)
n_dofs = st.sampled_from([1, 2])  # degrees of freedom n; a state has 2n columns


def values(dtype, bound: float = 3.0, min_magnitude: float = 0.0):
    """Finite numbers in [-bound, bound], exactly representable in ``dtype``.

    With ``min_magnitude`` > 0, nonzero values are at least that large in
    magnitude (zero itself stays possible): this keeps squares out of the
    underflow range, where a float32 and a float64 intermediate legitimately
    give different answers.
    """
    width = 32 if np.dtype(dtype) == np.float32 else 64
    if min_magnitude == 0.0:
        return st.floats(-bound, bound, width=width, allow_nan=False, allow_infinity=False)
    low = float(np.dtype(dtype).type(min_magnitude))  # representable in dtype, as Hypothesis needs
    magnitude = st.floats(low, bound, width=width)
    return st.one_of(st.just(0.0), magnitude, magnitude.map(lambda v: -v))


# --- layer sizes --------------------------------------------------------------

def hidden_sizes(min_layers: int = 0, max_layers: int = 3, max_width: int = 12):
    """The widths of the hidden layers, e.g. [] (a linear model) or [7, 3]."""
    return st.lists(st.integers(1, max_width), min_size=min_layers, max_size=max_layers)


@st.composite
def hnn_sizes(draw, n_dof=n_dofs, min_layers: int = 0, max_layers: int = 3, max_width: int = 12):
    """Sizes (2n, hidden..., 1) of an HNN: a state in, one energy out."""
    n = draw(n_dof) if isinstance(n_dof, st.SearchStrategy) else n_dof
    return (2 * n, *draw(hidden_sizes(min_layers, max_layers, max_width)), 1)


@st.composite
def baseline_sizes(draw, n_dof=n_dofs, min_layers: int = 0, max_layers: int = 3,
                   max_width: int = 12):
    """Sizes (2n, hidden..., 2n) of a baseline: a state in, its time derivative out."""
    n = draw(n_dof) if isinstance(n_dof, st.SearchStrategy) else n_dof
    return (2 * n, *draw(hidden_sizes(min_layers, max_layers, max_width)), 2 * n)


# --- parameters and states ----------------------------------------------------

def scaled(params, scale: float):
    """Every W and b multiplied by ``scale`` (a copy; dtype and layout kept)."""
    return [((W * W.dtype.type(scale)).copy(), (b * b.dtype.type(scale)).copy())
            for W, b in params]


@st.composite
def params_for(draw, sizes, dtype=np.float64, scale=st.floats(0.5, 2.0)):
    """``init_params(sizes, seed)`` times a drawn scale: stands for "any weights".

    The scale pushes units into the curved part of tanh (scale 2) or keeps them
    near the linear part (scale 0.5), so properties are not only tested where
    tanh is almost the identity.
    """
    seed = draw(seeds)
    return scaled(mlp.init_params(sizes, seed=seed, dtype=dtype), draw(scale))


def states(n_rows=st.integers(1, 4), n_cols=None, dtype=np.float64, bound: float = 3.0,
           min_magnitude: float = 0.0, *, n_dof=n_dofs):
    """A batch of states, C-contiguous rows (n_rows, n_cols) of numbers in [-bound, bound].

    ``n_rows`` and ``n_cols`` may each be an int or a strategy; without
    ``n_cols`` a state has 2n columns (q_1..q_n, p_1..p_n), n drawn from
    ``n_dof``. E.g. ``states(3, 2)`` is three states of one degree of freedom.
    """
    rows = n_rows if isinstance(n_rows, st.SearchStrategy) else st.just(n_rows)
    elements = values(dtype, bound, min_magnitude)
    if isinstance(n_cols, (int, np.integer)):
        return rows.flatmap(lambda n: hnp.arrays(dtype, (n, n_cols), elements=elements))
    if n_cols is None:
        cols = (n_dof if isinstance(n_dof, st.SearchStrategy) else st.just(n_dof)).map(lambda n: 2 * n)
    else:
        cols = n_cols
    return st.tuples(rows, cols).flatmap(lambda shape: hnp.arrays(dtype, shape, elements=elements))


@st.composite
def networks(draw, sizes=None, *, kind: str = "hnn", n_dof=n_dofs, min_layers: int = 1,
             max_layers: int = 3, max_width: int = 12, dtype=np.float64, scale=st.floats(0.5, 2.0)):
    """Parameters ``[(W, b), ...]`` of a tanh MLP: "any network" for a property test.

    ``sizes`` fixes the layer sizes (a tuple, or a strategy of tuples);
    without it they are drawn: ``kind="hnn"`` gives (2n, hidden..., 1), an
    energy; ``kind="baseline"`` gives (2n, hidden..., 2n), a field. The
    weights are ``init_params(sizes, seed)`` times a drawn ``scale``
    (:func:`params_for`).
    """
    if sizes is None:
        if kind not in ("hnn", "baseline"):
            raise ValueError(f"kind must be 'hnn' or 'baseline'; got {kind!r}")
        make = hnn_sizes if kind == "hnn" else baseline_sizes
        sizes = make(n_dof, min_layers, max_layers, max_width)
    sizes = draw(sizes) if isinstance(sizes, st.SearchStrategy) else tuple(sizes)
    return draw(params_for(sizes, dtype, scale))


@st.composite
def hnn_and_states(draw, *, n_dof=n_dofs, min_layers: int = 1, max_layers: int = 3,
                   max_width: int = 12, max_rows: int = 4, bound: float = 2.0, dtype=np.float64,
                   with_targets: bool = False):
    """``(params, x)``: an HNN and a batch of states it takes; ``(params, x, dxdt)`` with targets.

    The states are 1 to ``max_rows`` rows in [-bound, bound]; the targets,
    if asked for, are drawn the same way (any numbers: the gradient of the
    loss must be right whatever the data).
    """
    params = draw(networks(kind="hnn", n_dof=n_dof, min_layers=min_layers, max_layers=max_layers,
                           max_width=max_width, dtype=dtype))
    n_cols = params[0][0].shape[0]
    n_rows = draw(st.integers(1, max_rows))
    x = draw(states(n_rows, n_cols, dtype, bound))
    if not with_targets:
        return params, x
    return params, x, draw(states(n_rows, n_cols, dtype, bound))


@st.composite
def problems(draw, sizes_strategy, dtype=np.float64, max_rows: int = 5):
    """(sizes, params, x, dxdt): a network and a small batch of training rows."""
    sizes = draw(sizes_strategy)
    params = draw(params_for(sizes, dtype))
    n_rows = draw(st.integers(1, max_rows))
    x = draw(states(n_rows, sizes[0], dtype))
    dxdt = draw(states(n_rows, sizes[0], dtype))
    return sizes, params, x, dxdt


@st.composite
def same_shape_arrays(draw, k: int, dtype, bound: float = 2.0, max_side: int = 9,
                      min_magnitude: float = 1e-6):
    """``k`` arrays of one drawn 2-D shape (N, n), as kernels take them."""
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=max_side))
    elements = values(dtype, bound, min_magnitude)
    return [draw(hnp.arrays(dtype, shape, elements=elements)) for _ in range(k)]


# --- finite-difference oracles ------------------------------------------------

def perturbed(params, layer: int, which: int, V, step: float):
    """A copy of ``params`` with ``params[layer][which] += step * V``.

    ``which`` is 0 for W, 1 for b; only the perturbed tensor is copied.
    """
    out = list(params)
    W, b = params[layer]
    pair = [W, b]
    pair[which] = pair[which] + step * V
    out[layer] = tuple(pair)
    return out


def directional_fd(f, eps: float = 1e-3) -> float:
    """d/ds f(s) at s = 0 by the 4th-order central stencil.

        f'(0) ~ [8 (f(e) - f(-e)) - (f(2e) - f(-2e))] / (12 e),   error O(e^4)

    It is the two-point (f(e) - f(-e)) / 2e twice, combined (Richardson) to
    cancel the e^2 term; so e can be large enough (1e-3) that round-off in f
    stays far below the 1e-6 relative tolerance of the tests.
    """
    return (8 * (f(eps) - f(-eps)) - (f(2 * eps) - f(-2 * eps))) / (12 * eps)


def param_direction_fd(loss, params, layer: int, which: int, V, eps: float = 1e-3) -> float:
    """(d/ds) loss(params + s V) at s = 0, V perturbing one tensor."""
    return directional_fd(lambda s: loss(perturbed(params, layer, which, V, s)), eps)


def unit_direction(rng, shape, dtype=np.float64):
    """A random direction of unit Euclidean norm."""
    V = rng.standard_normal(shape)
    return (V / np.linalg.norm(V)).astype(dtype)


def fd_roundoff(loss_value: float, eps: float = 1e-3) -> float:
    """The smallest derivative :func:`directional_fd` can resolve at this loss.

    Each loss value is off by a few ulps of |loss| (say 100 eps_mach |loss|
    for a deep network), and the stencil divides that by ~eps. A directional
    derivative far below |loss| (a tiny x, say) is only known to this
    absolute accuracy, however right the gradient is.
    """
    return 100 * np.finfo(np.float64).eps * abs(loss_value) / eps


def assert_fd_agrees(analytic, fd, loss_value, rtol: float, floor: float = 0.0, what: str = ""):
    """|analytic - fd| <= rtol * max(|analytic|, |fd|, floor) + fd_roundoff(loss_value)."""
    analytic, fd = float(analytic), float(fd)
    err = abs(analytic - fd)
    tol = rtol * max(abs(analytic), abs(fd), floor) + fd_roundoff(loss_value)
    assert err <= tol, f"{what}: analytic {analytic:.9e}, finite differences {fd:.9e}"


def rel_err(a, b, floor: float = 1e-12) -> float:
    """|a - b| / max(|a|, |b|, floor): the relative error, safe at zero."""
    a, b = float(a), float(b)
    return abs(a - b) / max(abs(a), abs(b), floor)


def tensor_names(params):
    """(layer, which, name) for every tensor, e.g. (0, 0, 'W[0]'), (0, 1, 'b[0]')."""
    return [(l, k, f"{'Wb'[k]}[{l}]") for l in range(len(params)) for k in (0, 1)]


# --- running ------------------------------------------------------------------

def one_blas_thread():
    """A context in which BLAS uses one thread (if threadpoolctl is installed).

    The finite-difference checks of the 400-wide network make hundreds of
    small matrix products; on a shared 2-core machine, BLAS threads fighting
    other processes for the cores make them ten times slower, not faster.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - an optional test speed-up
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
