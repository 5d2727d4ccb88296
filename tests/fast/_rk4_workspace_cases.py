"""What the tests of the RK4 workspaces share: their tolerance against the readable code, and the drawn cases."""

import numpy as np
import pytest
from hypothesis import strategies as st

from hnn_np.testing.strategies import hidden_sizes, params_for, seeds

RTOL = {np.float64: 1e-11, np.float32: 2e-5}


def assert_close(fast_result, ref, dtype):
    """(loss, grads, grad_X0) of a workspace against the readable ones, to RTOL of each array's scale."""
    (l1, g1, x1), (l2, g2, x2) = fast_result, ref
    assert l1 == pytest.approx(l2, rel=RTOL[dtype])
    np.testing.assert_allclose(x1, x2, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(x2).max())
    for l, ((a, b), (c, d)) in enumerate(zip(g1, g2)):
        assert a.dtype == dtype and b.dtype == dtype
        np.testing.assert_allclose(a, c, atol=RTOL[dtype] * np.abs(c).max(), err_msg=f"W[{l}]")
        np.testing.assert_allclose(b, d, atol=RTOL[dtype] * max(np.abs(d).max(), np.abs(c).max()), err_msg=f"b[{l}]")


@st.composite
def cases(draw, outputs):
    """(dtype, params, K, m, N, X, x0): a network with ``outputs`` outputs, windows of states or of positions only."""
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    n = draw(st.sampled_from([1, 2]))
    params = draw(params_for((2 * n, *draw(hidden_sizes(1, 3, 9)), outputs), dtype))
    K, m, N = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 4))
    X = np.random.default_rng(draw(seeds)).uniform(-1.5, 1.5, (K + 1, N, 2 * n)).astype(dtype)
    positions_only = draw(st.booleans())
    return dtype, params, K, m, N, (np.ascontiguousarray(X[:, :, :n]) if positions_only else X), X[0].copy()
