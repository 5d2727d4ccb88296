"""Every Numba kernel equals its plain NumPy twin, and the twins are the right calculus.

A jitted loop is hard to read and easy to get subtly wrong; its ``*_np`` twin
is one line of NumPy. These tests hold the two equal for float64 and float32,
for random shapes, with and without ``out`` aliasing an input. The twins are
then checked against finite differences of ``np.tanh``, so that the formulas
s1 = 1 - a**2 and s2 = -2 a s1 are themselves shown to be tanh' and tanh''.

"Equal" means equal up to a few units in the last place: Numba's ``tanh`` may
round differently from NumPy's, and in float32 Numba evaluates ``1 - a*a`` in
float64 (the integer literal promotes it) before rounding the result.
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from hnn_np import optim
from hnn_np.fast import adam as fast_adam
from hnn_np.fast import kernels as K
from hnn_np.testing.strategies import dtypes, same_shape_arrays

ULPS = 8  # allowed difference, in units of the dtype's machine epsilon


def assert_twins(actual, expected, scale):
    """|actual - expected| <= ULPS * eps * scale elementwise, and the same dtype."""
    assert actual.dtype == expected.dtype
    tol = ULPS * np.finfo(expected.dtype).eps * (np.abs(scale) + np.finfo(expected.dtype).tiny)
    bad = np.abs(actual.astype(np.float64) - expected.astype(np.float64)) > tol
    assert not bad.any(), f"{bad.sum()} entries differ; max diff {np.abs(actual - expected).max()}"


@st.composite
def kernel_inputs(draw, k):
    """``k`` same-shape arrays of one drawn dtype, plus a bias row (n,)."""
    dtype = draw(dtypes)
    arrays = draw(same_shape_arrays(k + 1, dtype))
    b = np.ascontiguousarray(arrays.pop()[0])  # (n,), C-contiguous
    return dtype, arrays, b


# --- mul_tanh_prime: u * (1 - a**2) -----------------------------------------------

@given(kernel_inputs(2))
def test_mul_tanh_prime_equals_numpy_twin(inputs):
    """u * s1 with s1 = 1 - a**2 (the one product of every first-order backward line)."""
    _, (u, a), _ = inputs
    expected = K.mul_tanh_prime_np(u, a)
    assert_twins(K.mul_tanh_prime(u, a), expected, np.abs(u) * (1 + a * a))


@given(kernel_inputs(2), st.sampled_from(["u", "a"]))
def test_mul_tanh_prime_in_place(inputs, alias):
    """out may alias either input: u *= s1 in place, or a overwritten by u * s1."""
    _, (u, a), _ = inputs
    expected = K.mul_tanh_prime_np(u, a)
    scale = np.abs(u) * (1 + a * a)
    out = u if alias == "u" else a
    assert K.mul_tanh_prime(u, a, out=out) is out
    assert_twins(out, expected, scale)


# --- tanh_second_adjoint: s2 * g * d_bar + s1 * zW_bar --------------------------------

def second_adjoint_scale(a, g, d_bar, zW_bar=None):
    """Sum of the magnitudes of both terms: the size of the round-off to expect."""
    s1 = np.abs(1 - a * a) + a * a
    scale = 2 * np.abs(a) * s1 * np.abs(g * d_bar)
    return scale if zW_bar is None else scale + s1 * np.abs(zW_bar)


@given(kernel_inputs(4))
def test_tanh_second_adjoint_equals_numpy_twin(inputs):
    """z_bar = s2 g d_bar + s1 zW_bar, the tanh'' term plus the ordinary backprop term."""
    _, (a, g, d_bar, zW_bar), _ = inputs
    expected = K.tanh_second_adjoint_np(a, g, d_bar, zW_bar)
    assert_twins(K.tanh_second_adjoint(a, g, d_bar, zW_bar),
                 expected, second_adjoint_scale(a, g, d_bar, zW_bar))


@given(kernel_inputs(3))
def test_tanh_second_adjoint_without_zW_bar(inputs):
    """zW_bar=None (the last hidden layer) leaves only the tanh'' term, as zW_bar = 0 does."""
    _, (a, g, d_bar), _ = inputs
    expected = K.tanh_second_adjoint_np(a, g, d_bar)
    scale = second_adjoint_scale(a, g, d_bar)
    assert_twins(K.tanh_second_adjoint(a, g, d_bar), expected, scale)
    assert_twins(K.tanh_second_adjoint(a, g, d_bar, np.zeros_like(a)), expected, scale)
    np.testing.assert_array_equal(expected, K.tanh_second_adjoint_np(a, g, d_bar, np.zeros_like(a)))


@given(kernel_inputs(4), st.sampled_from(["a", "g", "d_bar", "zW_bar"]))
def test_tanh_second_adjoint_in_place(inputs, alias):
    """out may alias any input, since each entry is read before it is written."""
    _, arrays, _ = inputs
    expected = K.tanh_second_adjoint_np(*arrays)
    scale = second_adjoint_scale(*arrays)
    out = arrays[["a", "g", "d_bar", "zW_bar"].index(alias)]
    assert K.tanh_second_adjoint(*arrays, out=out) is out
    assert_twins(out, expected, scale)


@given(kernel_inputs(3))
def test_tanh_second_adjoint_in_place_without_zW_bar(inputs):
    """zW_bar=None together with out=d_bar: the dummy passed for zW_bar is never read."""
    _, (a, g, d_bar), _ = inputs
    expected = K.tanh_second_adjoint_np(a, g, d_bar)
    scale = second_adjoint_scale(a, g, d_bar)
    assert K.tanh_second_adjoint(a, g, d_bar, out=d_bar) is d_bar
    assert_twins(d_bar, expected, scale)


# --- the twins are tanh' and tanh'' -------------------------------------------------

def test_s1_and_s2_are_the_first_and_second_derivative_of_tanh():
    """With a = tanh(z): 1 - a**2 = tanh'(z) and -2 a (1 - a**2) = tanh''(z), by central differences."""
    z = np.linspace(-4, 4, 81)[None, :]
    a = np.tanh(z)
    h = 1e-5
    tanh_prime_fd = (np.tanh(z + h) - np.tanh(z - h)) / (2 * h)
    tanh_second_fd = (np.tanh(z + h) - 2 * a + np.tanh(z - h)) / h**2
    ones = np.ones_like(z)
    s1 = K.mul_tanh_prime(ones, a)
    s2 = K.tanh_second_adjoint(a, ones, ones)  # s2 * 1 * 1, no zW_bar term
    np.testing.assert_allclose(s1, tanh_prime_fd, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(s2, tanh_second_fd, rtol=1e-4, atol=1e-5)


# --- Adam -------------------------------------------------------------------------

def representable(x, dtype):
    """x rounded to ``dtype`` and back: both twins then see the very same number."""
    return float(np.dtype(dtype).type(x))


adam_hyper = st.fixed_dictionaries({
    "lr": st.floats(1e-5, 1e-1),
    "beta1": st.floats(0.0, 0.99),
    "beta2": st.floats(0.5, 0.9999),
    "eps": st.sampled_from([1e-8, 1e-6, 1e-3]),
    "weight_decay": st.sampled_from([0.0, 1e-4, 0.1]),
    "step": st.integers(1, 200),
})


@st.composite
def adam_inputs(draw):
    """p, g, m, v (v >= 0, as a second moment is) of one dtype, and the hyper-parameters."""
    dtype = draw(dtypes)
    p, g, m, v = draw(same_shape_arrays(4, dtype))
    v = np.abs(v)
    hyper = {k: (representable(x, dtype) if isinstance(x, float) else x)
             for k, x in draw(adam_hyper).items()}
    return dtype, (p, g, m, v), hyper


@given(adam_inputs())
def test_adam_update_equals_numpy_twin(inputs):
    """The fused Adam kernel updates p, m, v in place exactly as the NumPy formulas do."""
    dtype, (p, g, m, v), hyper = inputs
    p_np, m_np, v_np = p.copy(), m.copy(), v.copy()
    p_before, m_before, v_before, g_before = p.copy(), m.copy(), v.copy(), g.copy()
    assert optim.adam_update(p_np, g, m_np, v_np, **hyper) is None
    assert fast_adam.adam_update(p, g, m, v, **hyper) is None
    np.testing.assert_array_equal(g, g_before)  # the gradient is only read
    # Compare each result with the size of the terms that made it: p_new = p - update can
    # cancel almost to zero, so its error is relative to |p| and |update|, not to |p_new|.
    # In float32 the kernel forms the bias corrections 1 - beta**t in float32, where the
    # subtraction cancels: they carry a relative error of about eps32 / (1 - beta**t).
    rtol = 1e-13 if dtype == np.float64 else 1e-5
    t, eps32 = hyper["step"], float(np.finfo(np.float32).eps)
    corr = 0.0 if dtype == np.float64 else 4 * eps32 * (
        1 / (1 - hyper["beta1"] ** t) + 1 / (1 - hyper["beta2"] ** t))
    g_eff = np.abs(g) + hyper["weight_decay"] * np.abs(p_before)
    update = np.abs(p_np.astype(np.float64) - p_before)
    tolerances = {"p": rtol * np.abs(p_before) + (rtol + corr) * update,
                  "m": rtol * (np.abs(m_before) + g_eff),
                  "v": rtol * (np.abs(v_before) + g_eff**2)}
    for name, ours, twin in (("p", p, p_np), ("m", m, m_np), ("v", v, v_np)):
        assert ours.dtype == dtype, name
        err = np.abs(ours.astype(np.float64) - twin.astype(np.float64))
        assert np.all(err <= tolerances[name] + np.finfo(dtype).tiny), name


def test_adam_update_twin_on_a_bias_vector():
    """Biases are 1-D: both twins update a (n,) tensor the same way as a (1, n) one."""
    rng = np.random.default_rng(0)
    p, g, m = rng.standard_normal((3, 7))
    v = np.abs(rng.standard_normal(7))
    hyper = dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, step=3)
    p1, m1, v1 = p.copy(), m.copy(), v.copy()
    p2, m2, v2 = p[None].copy(), m[None].copy(), v[None].copy()
    fast_adam.adam_update(p1, g, m1, v1, **hyper)
    optim.adam_update(p2, g[None], m2, v2, **hyper)
    np.testing.assert_allclose(p1, p2[0], rtol=1e-14)
    np.testing.assert_allclose(m1, m2[0], rtol=1e-14)
    np.testing.assert_allclose(v1, v2[0], rtol=1e-14)


def test_warm_up_compiles_every_kernel_for_both_dtypes():
    """After warm_up, each kernel holds a float32 and a float64 signature (no compile mid-run)."""
    K.warm_up()
    fast_adam.warm_up()
    for kernel in (K._mul_tanh_prime_nb, K._tanh_second_adjoint_nb, fast_adam._adam_update_nb):
        dtypes_compiled = {str(sig[0].dtype) for sig in kernel.signatures}
        assert {"float32", "float64"} <= dtypes_compiled, kernel
