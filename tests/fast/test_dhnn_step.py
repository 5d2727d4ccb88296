"""hnn_np.fast.dhnn_step: the D-HNN workspace against hnn_np.dhnn.loss_and_grad, its kernels against their twins.

The reference (itself checked against finite differences in test_dhnn.py)
sums in another order, so the workspace must agree to rounding; with itself
it must agree bit for bit.
"""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hnn_np import dhnn, fast, mlp
from hnn_np.fast import dhnn_step as ds
from hnn_np.testing.mutants import mutate
from hnn_np.testing.strategies import dtypes, same_shape_arrays

RTOL = {np.float64: 1e-12, np.float32: 1e-5}
SIZES = [(2, 2), (2, 8, 2), (2, 16, 16, 2), (4, 10, 7, 10, 2)]


def batch(n_rows, n_in, dtype, seed=0, weighted=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_rows, n_in)).astype(dtype)
    dxdt = rng.standard_normal((n_rows, n_in)).astype(dtype)
    w = rng.uniform(0.0, 2.0, n_rows).astype(dtype) if weighted else None
    return x, dxdt, w


def assert_grads_close(grads, ref, rtol):
    for (dW, db), (rW, rb) in zip(grads, ref, strict=True):
        for got, want in ((dW, rW), (db, rb)):
            assert got.shape == want.shape and got.dtype == want.dtype
            scale = max(float(np.abs(want).max()), np.finfo(want.dtype).tiny)
            np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("sizes", SIZES, ids=str)
def test_workspace_equals_the_reference(sizes, dtype, weighted):
    """Loss and every gradient equal dhnn.loss_and_grad's to rounding, full and short batches."""
    params = [(2 * W, 2 * b) for W, b in mlp.init_params(sizes, seed=1, dtype=dtype)]
    ws = fast.DHNNWorkspace(params, batch_size=16)
    for n_rows, seed in ((16, 0), (5, 1), (16, 2)):  # a short batch in between
        x, dxdt, w = batch(n_rows, sizes[0], dtype, seed, weighted)
        loss, grads = ws.loss_and_grad(x, dxdt, w)
        ref_loss, ref = dhnn.loss_and_grad(params, x, dxdt, w)
        assert loss == pytest.approx(ref_loss, rel=RTOL[dtype])
        assert_grads_close(grads, ref, RTOL[dtype])


def test_workspace_is_bit_reproducible_and_does_not_allocate():
    """Two calls give the same bits; after the first, a call allocates (almost) nothing."""
    params = mlp.init_params((2, 64, 64, 2), seed=0)
    ws = fast.DHNNWorkspace(params, batch_size=32)
    x, dxdt, w = batch(32, 2, np.float64, weighted=True)
    loss_a, _ = ws.loss_and_grad(x, dxdt, w)
    flat_a = ws.flat_grad.copy()
    tracemalloc.start()
    loss_b, _ = ws.loss_and_grad(x, dxdt, w)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert loss_a == loss_b and flat_a.tobytes() == ws.flat_grad.tobytes()
    assert peak < 16 * 1024  # the buffers are 64-wide x 32 rows x 8 bytes = 16 KiB each


def test_workspace_equality_sees_a_mutant(monkeypatch):
    """The equality test can fail: Step 2 with the D seed's tanh'' term dropped is far off.

    The mutant (one source line of ``_dhnn`` changed) calls the HNN's kernel on
    the H rows only, the fast twin of forgetting a seed in ``s1_bar``.
    """
    params = mlp.init_params((2, 8, 8, 2), seed=0)
    x, dxdt, _ = batch(8, 2, np.float64)
    _, ref = dhnn.loss_and_grad(params, x, dxdt)
    mutant = mutate(ds.DHNNWorkspace._dhnn,
                    "seeded_second_adjoint_sum(a[l + 1], g[l + 1], d_bar[l], zW_bar[l], z_bar[l], grads[l][1])",
                    "K.second_adjoint_sum(a[l + 1], g[l + 1][:len(a[0])], d_bar[l][:len(a[0])], zW_bar[l], z_bar[l], "
                    "grads[l][1])")
    ws = fast.DHNNWorkspace(params, batch_size=8)
    assert_grads_close(ws.loss_and_grad(x, dxdt)[1], ref, 1e-12)
    monkeypatch.setattr(ds.DHNNWorkspace, "_dhnn", lambda self, v, has_w: mutant(self, v, has_w))
    with pytest.raises(AssertionError):
        assert_grads_close(ws.loss_and_grad(x, dxdt)[1], ref, 1e-6)


@pytest.mark.parametrize("sizes, match", [((2, 8, 1), "last size must be 2"), ((3, 8, 2), "even input")])
def test_workspace_rejects_wrong_sizes(sizes, match):
    with pytest.raises(ValueError, match=match):
        fast.DHNNWorkspace(mlp.init_params(sizes, seed=0), batch_size=4)


def test_workspace_rejects_bad_batches():
    params = mlp.init_params((2, 4, 2), seed=0)
    ws = fast.DHNNWorkspace(params, batch_size=4)
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match="x has 5 rows"):
        ws.loss_and_grad(np.zeros((5, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="dxdt has non-finite values in row 1"):
        ws.loss_and_grad(x, np.array([[0, 0], [np.nan, 0], [0, 0], [0, 0.0]]))


# --- kernels against their NumPy twins ------------------------------------------------------

def stacked(draw, dtype):
    """(a (n, m), u (2n, m), v (2n, m), zW (n, m))."""
    a, zW, u0, u1, v0, v1 = draw(same_shape_arrays(6, dtype))
    return a, zW, np.concatenate([u0, u1]), np.concatenate([v0, v1])


def close(dtype):
    return dict(rtol=RTOL[np.dtype(dtype).type] * 10, atol=RTOL[np.dtype(dtype).type])


@given(st.data(), dtypes)
def test_seeded_kernels_equal_their_numpy_twins(data, dtype):
    a, zW, u, v = stacked(data.draw, dtype)
    m = a.shape[1]
    W_top = data.draw(same_shape_arrays(1, dtype))[0]
    W_top = np.ascontiguousarray(np.resize(W_top, (m, 2)).astype(dtype))
    np.testing.assert_allclose(ds.seeded_mul_tanh_prime(u, a, np.empty_like(u)),
                               ds.seeded_mul_tanh_prime_np(u, a), **close(dtype))
    np.testing.assert_allclose(ds.seeded_top_mul_tanh_prime(W_top, a, np.empty_like(u)),
                               ds.seeded_top_mul_tanh_prime_np(W_top, a), **close(dtype))
    got = ds.seeded_top_adjoints(a, W_top, u, np.empty_like(W_top), np.empty_like(a), np.empty(m, dtype))
    for g, want in zip(got, ds.seeded_top_adjoints_np(a, W_top, u), strict=True):
        np.testing.assert_allclose(g, want, **close(dtype))
    got = ds.seeded_second_adjoint_sum(a, u, v, zW, np.empty_like(a), np.empty(m, dtype))
    for g, want in zip(got, ds.seeded_second_adjoint_sum_np(a, u, v, zW), strict=True):
        np.testing.assert_allclose(g, want, **close(dtype))


@given(st.data(), dtypes, st.booleans())
def test_loss_adjoint_kernel_equals_its_numpy_twin(data, dtype, weighted):
    n = data.draw(st.integers(1, 6))
    D = data.draw(st.sampled_from([2, 4]))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    g0 = rng.standard_normal((2 * n, D)).astype(dtype)
    dxdt = rng.standard_normal((n, D)).astype(dtype)
    w = rng.uniform(0, 2, n).astype(dtype)
    out = np.empty_like(g0)
    loss = ds.dhnn_loss_adjoint(g0, dxdt, w, weighted, out)
    ref_loss, ref = ds.dhnn_loss_adjoint_np(g0, dxdt, w if weighted else None)
    assert loss == pytest.approx(ref_loss, rel=RTOL[np.dtype(dtype).type] * 10)
    np.testing.assert_allclose(out, ref, **close(dtype))
