"""Junk fed to the public API: the only acceptable outcomes are a clean result or a ValueError.

A clean result is finite, of the expected shape and of the parameters' dtype.
Anything else -- a TypeError, IndexError or AttributeError from deep inside,
a NaN or inf handed back, a NumPy warning (turned into an error here) -- fails.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hnn_np import baseline, data, hnn, mlp, optim

VALUES = [0.0, 1.0, -2.5, 0.3, np.nan, np.inf, -np.inf, 1e308, -1e308, 1e-320, 1e150]
DTYPES = [np.float64, np.float32, np.float16, np.int64, np.bool_, np.complex128, object, "U3"]


@st.composite
def junk_arrays(draw, max_dims=3):
    """Arrays of any small shape (empty included), any dtype, any of VALUES (cast as NumPy casts)."""
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=0, max_size=max_dims)))
    values = draw(st.lists(st.sampled_from(VALUES), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    dtype = draw(st.sampled_from(DTYPES))
    a = np.array(values, dtype=np.float64).reshape(shape)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return a.astype(dtype)


def valid_params(n_out, draw):
    hidden = draw(st.integers(1, 4))
    return mlp.init_params((2, hidden, n_out), seed=draw(st.integers(0, 3)))


@st.composite
def junk_params(draw, n_out):
    """Mostly valid params with one thing wrong: a junk W or b, a value, the nesting, the dtype."""
    params = valid_params(n_out, draw)
    how = draw(st.sampled_from(["valid", "value", "array", "flat", "triple", "dtype", "empty", "tuple of arrays"]))
    l = draw(st.integers(0, len(params) - 1))
    W, b = params[l]
    if how == "value":
        W = W.copy()
        W.flat[0] = draw(st.sampled_from(VALUES))
        params[l] = (W, b)
    elif how == "array":
        params[l] = (draw(junk_arrays(max_dims=2)), b) if draw(st.booleans()) else (W, draw(junk_arrays(max_dims=1)))
    elif how == "flat":
        params = [a for pair in params for a in pair]
    elif how == "triple":
        params[l] = (W, b, b)
    elif how == "dtype":
        params[l] = (W.astype(draw(st.sampled_from([np.float32, np.float16, np.int64]))), b)
    elif how == "empty":
        params = []
    elif how == "tuple of arrays":
        params = tuple(np.asarray(W) for W, _ in params)
    return params


def clean_or_value_error(call, shape, dtype):
    """Run ``call`` with NumPy warnings as errors; accept a ValueError or a clean result."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            out = call()
        except ValueError:
            return None
    arrays = out if isinstance(out, list) else [out]
    for a in arrays:
        assert isinstance(a, np.ndarray) and a.dtype == dtype, (type(a), getattr(a, "dtype", None))
        assert np.isfinite(a).all(), "a non-finite result was returned"
    if shape is not None:
        assert arrays[0].shape == shape
    return out


ENTRY = {
    "mlp.forward": (mlp.forward, 1, lambda n: (n, 1)),
    "mlp.input_gradient": (mlp.input_gradient, 1, lambda n: (n, 2)),
    "mlp.input_hessian": (mlp.input_hessian, 1, lambda n: (n, 2, 2)),
    "hnn.vector_field": (hnn.vector_field, 1, lambda n: (n, 2)),
    "baseline.predict": (baseline.predict, 2, lambda n: (n, 2)),
}


@pytest.mark.parametrize("name", list(ENTRY))
@settings(max_examples=60)
@given(data=st.data())
def test_a_forward_function_returns_clean_output_or_value_error(name, data):
    fn, n_out, shape = ENTRY[name]
    params = data.draw(junk_params(n_out))
    x = data.draw(junk_arrays()) if data.draw(st.booleans()) else np.full((3, 2), data.draw(st.sampled_from(VALUES)))
    rows = x.shape[0] if x.ndim == 2 else None
    dtype = params[0][0].dtype if isinstance(params, list) and params and isinstance(params[0], tuple) else None
    clean_or_value_error(lambda: fn(params, x), shape(rows) if rows else None, dtype)


@pytest.mark.parametrize("core", [hnn, baseline], ids=["hnn", "baseline"])
@settings(max_examples=60)
@given(data=st.data())
def test_a_loss_returns_a_clean_loss_and_gradient_or_value_error(core, data):
    params = data.draw(junk_params(1 if core is hnn else 2))
    x = data.draw(junk_arrays()) if data.draw(st.booleans()) else np.full((3, 2), data.draw(st.sampled_from(VALUES)))
    dxdt = data.draw(junk_arrays()) if data.draw(st.booleans()) else np.full((3, 2), data.draw(st.sampled_from(VALUES)))
    weights = data.draw(st.one_of(st.none(), junk_arrays(max_dims=1)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            loss, grads = core.loss_and_grad(params, x, dxdt, weights)
        except ValueError:
            return
    assert isinstance(loss, float) and np.isfinite(loss) and loss >= 0
    for (W, b), (dW, db) in zip(params, grads):
        assert dW.shape == W.shape and db.shape == b.shape and dW.dtype == W.dtype
        assert np.isfinite(dW).all() and np.isfinite(db).all()


@settings(max_examples=60)
@given(data=st.data())
def test_adam_step_updates_to_finite_weights_or_value_error(data):
    params = mlp.init_params((2, 3, 1))
    opt = optim.Adam(params)
    grads = data.draw(junk_params(1))
    if data.draw(st.booleans()) and isinstance(grads, list) and len(grads) == 2:
        grads = [(np.full_like(W, data.draw(st.sampled_from(VALUES))), np.zeros_like(b)) for W, b in params]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            opt.step(grads)
        except ValueError:
            return
    assert all(np.isfinite(W).all() and np.isfinite(b).all() for W, b in params)


@settings(max_examples=60)
@given(x=junk_arrays(), dt=st.sampled_from([0.1, 1e-300, 0.0, -1.0, np.nan, np.inf, True, "0.1", 1j, 2]),
       order=st.sampled_from([2, 4, 6, 2.0, True, 3, "2", None]))
def test_finite_difference_returns_clean_output_or_value_error(x, dt, order):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            out = data.finite_difference(x, dt, order)
        except ValueError:
            return
    assert out.dtype.kind == "f" and np.isfinite(out).all()
    assert out.shape == x.shape[:-2] + (x.shape[-2] - order, x.shape[-1])


@settings(max_examples=60)
@given(x=junk_arrays())
def test_scale_fit_returns_a_positive_finite_scale_or_value_error(x):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            s = data.Scale.fit(x).s
        except ValueError:
            return
    assert isinstance(s, float) and np.isfinite(s) and s > 0


@settings(max_examples=40)
@given(cut=st.integers(0, 10_000), flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)),
                                                   max_size=4))
def test_a_damaged_model_file_loads_cleanly_or_gives_value_error(tmp_path_factory, cut, flips):
    """Truncated or bit-flipped model files: ValueError, or (if the damage missed) a valid model."""
    from hnn_np.model import Model, load_model

    path = tmp_path_factory.mktemp("fuzz") / "m.npz"
    Model("hnn", mlp.init_params((2, 4, 1))).save(path)
    raw = bytearray(path.read_bytes())
    for where, mask in flips:
        raw[where % len(raw)] ^= mask
    path.write_bytes(bytes(raw[: len(raw) - cut % len(raw)] if cut % 3 == 0 else raw))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            model = load_model(path)
        except ValueError:
            return
    assert all(np.isfinite(W).all() for W, _ in model.params)
