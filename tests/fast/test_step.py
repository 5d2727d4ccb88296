"""hnn_np.fast: the preallocated training step against the reference implementation.

The reference is :func:`hnn_np.hnn.loss_and_grad` / :func:`hnn_np.baseline.loss_and_grad`
and :class:`hnn_np.optim.Adam` (themselves checked against finite differences
in test_hnn.py, test_baseline.py and test_optim.py). The fast path computes
the same equations with other summation orders (one stacked product for both
weight-gradient terms, NumPy's tanh), so it must agree to rounding, not bit
for bit; with itself it must agree bit for bit, call after call. Every new
Numba kernel is held equal to its NumPy twin.
"""

import tracemalloc

import numpy as np
import pytest

from hnn_np import baseline, fast, hnn, mlp, optim
from hnn_np.fast import adam as fast_adam
from hnn_np.fast import kernels

RTOL = {np.float64: 1e-12, np.float32: 1e-5}
HNN_SIZES = [(2, 1), (2, 8, 1), (2, 16, 16, 1), (4, 10, 7, 10, 1), (2, 12, 12, 3)]
BASELINE_SIZES = [(2, 2), (2, 16, 16, 2), (4, 10, 7, 10, 4)]
PAPER_SIZES = (2, 400, 400, 400, 400, 400, 1)
DTYPES = [np.float64, np.float32]


@pytest.fixture(scope="module", autouse=True)
def warm_fast_kernels():
    """Compile (or load from the on-disk cache) the kernels of hnn_np.fast once."""
    fast.warm_up()


def batch(n_rows, n_in, dtype, seed=0, weighted=False):
    """States, targets and (optionally) per-row weights, C-contiguous in ``dtype``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_rows, n_in)).astype(dtype)
    dxdt = rng.standard_normal((n_rows, n_in)).astype(dtype)
    w = rng.uniform(0.0, 2.0, n_rows).astype(dtype) if weighted else None
    return x, dxdt, w


def assert_grads_close(grads, ref, rtol):
    """Lists of (W, b)-shaped pairs equal entrywise, relative to the largest entry of each
    tensor (round-off is relative to that)."""
    assert len(grads) == len(ref)
    for (dW, db), (rW, rb) in zip(grads, ref):
        for got, want in ((dW, rW), (db, rb)):
            assert got.shape == want.shape and got.dtype == want.dtype
            scale = max(float(np.abs(want).max()), np.finfo(want.dtype).tiny)
            np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


def reference(kind):
    return hnn.loss_and_grad if kind == "hnn" else baseline.loss_and_grad


CASES = [("hnn", s) for s in HNN_SIZES] + [("baseline", s) for s in BASELINE_SIZES]


# --- the loss and gradient equal the reference --------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind, sizes", CASES)
def test_matches_reference_full_and_short_batches(kind, sizes, dtype):
    params = mlp.init_params(sizes, seed=1, dtype=dtype)
    ws = fast.StepWorkspace(params, batch_size=24, kind=kind)
    for seed, n_rows in enumerate([24, 5, 1, 24]):  # full, short last batch, one row, full again
        for weighted in (False, True):
            x, dxdt, w = batch(n_rows, sizes[0], dtype, seed, weighted)
            loss, grads = ws.loss_and_grad(x, dxdt, w)
            ref_loss, ref_grads = reference(kind)(params, x, dxdt, w)
            assert isinstance(loss, float)
            assert loss == pytest.approx(ref_loss, rel=RTOL[dtype])
            assert_grads_close(grads, ref_grads, RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_reference_paper_network(dtype):
    params = mlp.init_params(PAPER_SIZES, seed=0, dtype=dtype)
    ws = fast.StepWorkspace(params, batch_size=64)
    for n_rows, weighted in ((64, False), (37, True)):
        x, dxdt, w = batch(n_rows, 2, dtype, n_rows, weighted)
        loss, grads = ws.loss_and_grad(x, dxdt, w)
        ref_loss, ref_grads = hnn.loss_and_grad(params, x, dxdt, w)
        assert loss == pytest.approx(ref_loss, rel=RTOL[dtype])
        assert_grads_close(grads, ref_grads, RTOL[dtype])
        assert not grads[-1][1].any()  # the output bias gets no gradient


def test_accepts_what_the_reference_accepts():
    """Lists and integer arrays are converted, as hnn._check converts them."""
    params = mlp.init_params((2, 8, 1), seed=0)
    ws = fast.StepWorkspace(params, 4)
    x, dxdt = [[1, 2], [3, -1]], np.array([[0, 1], [1, 0]])
    loss, grads = ws.loss_and_grad(x, dxdt, [1, 2])
    ref_loss, ref_grads = hnn.loss_and_grad(params, x, dxdt, [1, 2])
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert_grads_close(grads, ref_grads, 1e-12)


# --- the workspace: reuse, determinism, no allocation ---------------------------------

@pytest.mark.parametrize("kind, sizes", [("hnn", PAPER_SIZES[:4] + (1,)), ("baseline", (2, 32, 32, 2))])
def test_bit_identical_and_same_buffers_call_after_call(kind, sizes):
    params = mlp.init_params(sizes, seed=2)
    ws = fast.StepWorkspace(params, 32, kind)
    x, dxdt, w = batch(32, 2, np.float64, 3, weighted=True)
    loss0, grads0 = ws.loss_and_grad(x, dxdt, w)
    first = [(dW.copy(), db.copy()) for dW, db in grads0]
    for dW, db in grads0:  # a caller scribbling on the returned views (e.g. clipping in place)
        dW[...] = np.nan
        db[...] = 7.0
    ws.loss_and_grad(*batch(9, 2, np.float64, 4, weighted=True))  # another, shorter batch between
    loss1, grads1 = ws.loss_and_grad(x, dxdt, w)
    assert loss1 == loss0
    for (dW, db), (dW0, db0), (fW, fb) in zip(grads1, grads0, first):
        assert dW is dW0 and db is db0  # the same buffer objects, overwritten
        assert np.shares_memory(dW, ws.flat_grad) and np.shares_memory(db, ws.flat_grad)
        np.testing.assert_array_equal(dW, fW)
        np.testing.assert_array_equal(db, fb)


@pytest.mark.parametrize("kind", ["hnn", "baseline"])
def test_no_allocation_in_the_hot_loop(kind):
    """The traced peak of a step (loss, gradient, Adam) is a few hundred bytes of
    Python objects, the same for 16 rows as for 512: no array is allocated."""
    sizes = (2, 64, 64, 1) if kind == "hnn" else (2, 64, 64, 2)
    peaks = []
    for n_rows in (16, 512):
        params = mlp.init_params(sizes, seed=0)
        ws = fast.StepWorkspace(params, n_rows, kind)
        opt = fast.Adam(params)
        x, dxdt, w = batch(n_rows, 2, np.float64, 0, weighted=True)
        opt.step(ws.loss_and_grad(x, dxdt, w)[1])  # views made, kernels loaded
        tracemalloc.start()
        try:
            for _ in range(3):
                opt.step(ws.loss_and_grad(x, dxdt, w)[1])
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert max(peaks) < 8192, peaks  # one (512, 64) float64 array alone would be 256 KiB


def test_nbytes_counts_the_buffers():
    params = mlp.init_params((2, 16, 16, 1))
    small, large = fast.StepWorkspace(params, 10), fast.StepWorkspace(params, 20)
    assert 0 < small.nbytes < large.nbytes


# --- input checks, as the reference's ---------------------------------------------------

@pytest.mark.parametrize("bad, match", [
    (dict(x=np.zeros((3, 2), np.float32)), "dtype float32"),
    (dict(x=np.zeros((3, 3))), r"shape \(N, 2\)"),
    (dict(x=np.zeros((9, 2)), dxdt=np.zeros((9, 2))), "1 to 8"),
    (dict(dxdt=np.zeros((4, 2))), "dxdt must have shape"),
    (dict(x=np.array([[0.0, 1.0], [np.inf, 0.0], [0.0, 0.0]])), "non-finite values in row 1"),
    (dict(dxdt=np.array([[0.0, 1.0], [0.0, 0.0], [np.nan, 0.0]])), "non-finite values in row 2"),
    (dict(weights=np.array([1.0, -1.0, 1.0])), "row 1"),
    (dict(weights=np.ones(2)), r"shape \(3,\)"),
    (dict(x=np.array([["a", "b"]] * 3)), "numeric"),
])
def test_rejects_what_the_reference_rejects(bad, match):
    ws = fast.StepWorkspace(mlp.init_params((2, 8, 1)), 8)
    args = dict(x=np.zeros((3, 2)), dxdt=np.zeros((3, 2)), weights=None) | bad
    with pytest.raises(ValueError, match=match):
        ws.loss_and_grad(**args)


def test_rejects_unsupported_networks():
    with pytest.raises(ValueError, match="even input size"):
        fast.StepWorkspace(mlp.init_params((3, 4, 1)), 4)
    with pytest.raises(ValueError, match="output size"):
        fast.StepWorkspace(mlp.init_params((2, 4, 1)), 4, kind="baseline")
    with pytest.raises(ValueError, match="kind"):
        fast.StepWorkspace(mlp.init_params((2, 4, 1)), 4, kind="mlp")


# --- every kernel equals its NumPy twin ------------------------------------------------

def arrays(dtype, *shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.5, 1.5, s).astype(dtype) for s in shapes]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("symplectic", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_adjoint_kernel(dtype, symplectic, weighted):
    pred, dxdt, w = arrays(dtype, (9, 4), (9, 4), (9,))
    w = np.abs(w) if weighted else None
    loss, bar = kernels.loss_adjoint(pred, dxdt, w, symplectic)
    want_loss, want_bar = kernels.loss_adjoint_np(pred, dxdt, w, symplectic)
    assert loss == pytest.approx(want_loss, rel=RTOL[dtype])
    np.testing.assert_allclose(bar, want_bar, rtol=RTOL[dtype])


def test_loss_adjoint_twin_is_the_hnn_loss():
    """The twin itself against the definition: the HNN loss is mean((J dH/dx - dxdt)**2)."""
    params = mlp.init_params((2, 8, 1))
    x, dxdt, _ = batch(6, 2, np.float64)
    loss, _ = kernels.loss_adjoint_np(mlp.input_gradient(params, x), dxdt, None, True)
    assert loss == pytest.approx(hnn.loss_and_grad(params, x, dxdt)[0], rel=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
def test_elementwise_kernels(dtype):
    z, a, g, d_bar, zW, b, W_top = arrays(dtype, (7, 5), (7, 5), (7, 5), (7, 5), (7, 5), (5,), (5, 2))
    rtol = RTOL[dtype]

    def close(got, want):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())

    close(kernels.add_bias(z, b, np.empty_like(z)), kernels.add_bias_np(z, b))
    close(kernels.top_mul_tanh_prime(W_top, a, np.empty_like(a)), kernels.top_mul_tanh_prime_np(W_top, a))
    got = kernels.top_adjoints(a, W_top, d_bar, np.full_like(W_top, np.nan), np.empty_like(a), np.empty_like(b))
    for x, y in zip(got, kernels.top_adjoints_np(a, W_top, d_bar)):
        close(x, y)
    got = kernels.second_adjoint_sum(a, g, d_bar, zW, np.empty_like(a), np.full_like(b, np.nan))
    for x, y in zip(got, kernels.second_adjoint_sum_np(a, g, d_bar, zW)):
        close(x, y)
    u = g.copy()
    got = kernels.mul_tanh_prime_sum(u, a, u, np.empty_like(b))  # in place, as the baseline uses it
    for x, y in zip(got, kernels.mul_tanh_prime_sum_np(g, a)):
        close(x, y)


def test_top_twins_are_the_general_kernels_with_g_repeated():
    """g[L-1] = w in every row: the 'top' twins are the reference kernels on that repeated row."""
    a, d_bar, W_top = arrays(np.float64, (7, 5), (7, 5), (5, 1))
    g_top = np.repeat(W_top[None, :, 0], len(a), axis=0)
    np.testing.assert_allclose(kernels.top_mul_tanh_prime_np(W_top, a), kernels.mul_tanh_prime_np(g_top, a))
    dW_top, z_bar, db = kernels.top_adjoints_np(a, W_top, d_bar)
    np.testing.assert_allclose(z_bar, kernels.tanh_second_adjoint_np(a, g_top, d_bar))
    np.testing.assert_allclose(dW_top[:, 0], kernels.mul_tanh_prime_np(d_bar, a).sum(axis=0))
    np.testing.assert_allclose(db, z_bar.sum(axis=0))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_kernel(dtype, weight_decay):
    p, g, m = arrays(dtype, (6, 5), (6, 5), (6, 5))
    v = np.abs(arrays(dtype, (6, 5), seed=1)[0])
    got = [p.copy(), m.copy(), v.copy()]
    want = [p.copy(), m.copy(), v.copy()]
    for step in (1, 2, 3):
        fast_adam.adam_update(got[0], g, got[1], got[2], 1e-2, 0.9, 0.999, 1e-8, weight_decay, step)
        optim.adam_update(want[0], g, want[1], want[2], 1e-2, 0.9, 0.999, 1e-8, weight_decay, step)
    for x, y in zip(got, want):
        np.testing.assert_allclose(x, y, rtol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_equals_the_reference_optimizer(dtype, weight_decay):
    """Same state layout, same numbers (to rounding: one division became a product)."""
    sizes = (2, 16, 16, 1)
    p_ref, p_fast = mlp.init_params(sizes, seed=5, dtype=dtype), mlp.init_params(sizes, seed=5, dtype=dtype)
    ref = optim.Adam(p_ref, lr=1e-2, weight_decay=weight_decay)
    opt = fast.Adam(p_fast, lr=1e-2, weight_decay=weight_decay)
    grads = mlp.init_params(sizes, seed=6, dtype=dtype)  # any numbers shaped like params
    for _ in range(5):
        ref.step(grads)
        opt.step(grads)
    assert opt.t == ref.t == 5
    for mine, theirs in ((p_fast, p_ref), (opt.m, ref.m), (opt.v, ref.v)):
        assert_grads_close(mine, theirs, RTOL[dtype])
    opt2 = fast.Adam(mlp.init_params(sizes, seed=5, dtype=dtype), lr=1e-2, weight_decay=weight_decay)
    opt2.load_state_dict(opt.state_dict())  # the reference's state_dict round-trips
    assert opt2.t == 5


def test_adam_checks_grads_like_the_reference():
    params = mlp.init_params((2, 4, 1))
    opt = fast.Adam(params)
    with pytest.raises(ValueError, match="layers"):
        opt.step([])
    with pytest.raises(ValueError, match="dtype"):
        opt.step(mlp.init_params((2, 4, 1), dtype=np.float32))


# --- a short training run ends where the reference's ends --------------------------------

@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 2e-4)])
@pytest.mark.parametrize("kind, sizes", [("hnn", (2, 32, 32, 1)), ("baseline", (2, 32, 32, 2))])
def test_twenty_adam_steps_match_the_reference(kind, sizes, dtype, rtol):
    x_all, dxdt_all, w_all = batch(50, 2, dtype, 7, weighted=True)
    p_ref, p_fast = mlp.init_params(sizes, seed=8, dtype=dtype), mlp.init_params(sizes, seed=8, dtype=dtype)
    ref_opt, fast_opt = optim.Adam(p_ref, lr=3e-3), fast.Adam(p_fast, lr=3e-3)
    ws = fast.StepWorkspace(p_fast, batch_size=16, kind=kind)
    for step in range(20):
        for lo in range(0, 50, 16):  # batches of 16, 16, 16 and a short last one of 2
            rows = slice(lo, lo + 16)
            w = w_all[rows] if step % 2 else None
            ref_loss, ref_grads = reference(kind)(p_ref, x_all[rows], dxdt_all[rows], w)
            loss, grads = ws.loss_and_grad(x_all[rows], dxdt_all[rows], w)
            ref_opt.step(ref_grads)
            fast_opt.step(grads)
    assert loss == pytest.approx(ref_loss, rel=100 * rtol)
    for (W, b), (W2, b2) in zip(p_fast, p_ref):
        np.testing.assert_allclose(W, W2, rtol=rtol, atol=rtol * np.abs(W2).max())
        np.testing.assert_allclose(b, b2, rtol=rtol, atol=rtol * np.abs(W2).max())
