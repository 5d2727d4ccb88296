"""Exercise 5, Adam: its first step, constant gradients, the moments as weighted sums, and its invariances."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ex5_adam import adam_step

gradients = hnp.arrays(np.float64, st.integers(1, 6),
                       elements=st.one_of(st.floats(-1e3, -1e-3), st.floats(1e-3, 1e3)))
betas = st.tuples(st.floats(0.0, 0.99), st.floats(0.5, 0.9999))
rates = st.floats(1e-5, 1e-1)


def run(gradients, p0, **hyper):
    """Adam from m = v = 0 over a sequence of gradients: the parameters after every step."""
    p, m, v = p0, np.zeros_like(p0), np.zeros_like(p0)
    out = []
    for t, g in enumerate(gradients, start=1):
        p, m, v = adam_step(p, g, m, v, t, **hyper)
        out.append((p, m, v))
    return out


@given(gradients, rates, betas)
def test_first_step_moves_every_parameter_by_lr_times_its_sign(g, lr, beta):
    p0 = np.linspace(-1, 1, g.size)
    p1, m1, v1 = adam_step(p0, g, np.zeros_like(g), np.zeros_like(g), 1, lr=lr, beta1=beta[0], beta2=beta[1])
    # m_hat = g and v_hat = g**2 exactly, whatever the betas: -lr g / (|g| + eps) ~ -lr sign(g)
    np.testing.assert_allclose(p1 - p0, -lr * g / (np.abs(g) + 1e-8), rtol=1e-9)
    np.testing.assert_allclose(p1 - p0, -lr * np.sign(g), rtol=1e-5)
    np.testing.assert_allclose(m1, (1 - beta[0]) * g, rtol=1e-14)
    np.testing.assert_allclose(v1, (1 - beta[1]) * g**2, rtol=1e-14)


@given(gradients, rates, betas)
def test_a_constant_gradient_moves_by_lr_at_every_step(g, lr, beta):
    # with g_t = g for all t the corrected moments are exactly g and g**2 at every t
    steps = run([g] * 30, np.zeros_like(g), lr=lr, beta1=beta[0], beta2=beta[1])
    p = np.array([s[0] for s in steps])
    moves = np.diff(np.concatenate([np.zeros((1, g.size)), p]), axis=0)
    np.testing.assert_allclose(moves, np.broadcast_to(-lr * g / (np.abs(g) + 1e-8), moves.shape), rtol=1e-8)


@given(st.integers(1, 40), betas, st.integers(0, 2**32 - 1))
def test_moments_are_the_weighted_sums_of_all_gradients(T, beta, seed):
    b1, b2 = beta
    G = np.random.default_rng(seed).normal(size=(T, 3))
    _, m, v = run(G, np.zeros(3), beta1=b1, beta2=b2)[-1]
    s = np.arange(1, T + 1)[:, None]  # m_T = (1 - b1) sum_s b1**(T - s) g_s, and v_T alike with g**2
    np.testing.assert_allclose(m, ((1 - b1) * b1 ** (T - s) * G).sum(axis=0), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(v, ((1 - b2) * b2 ** (T - s) * G**2).sum(axis=0), rtol=1e-10, atol=1e-300)


@given(st.integers(1, 40), betas, st.integers(0, 2**32 - 1))
def test_each_step_is_a_weighted_mean_over_a_weighted_rms(T, beta, seed):
    b1, b2 = beta
    G = np.random.default_rng(seed).normal(size=(T, 3))
    steps = run(G, np.zeros(3), beta1=b1, beta2=b2, eps=0.0)
    p_before = np.zeros(3) if T == 1 else steps[-2][0]
    s = np.arange(1, T + 1)[:, None]
    w1, w2 = b1 ** (T - s), b2 ** (T - s)  # m_hat: the b1-weighted mean of g; v_hat: the b2-weighted mean of g**2
    mean = (w1 * G).sum(axis=0) / w1.sum()
    mean_square = (w2 * G**2).sum(axis=0) / w2.sum()
    np.testing.assert_allclose(steps[-1][0] - p_before, -1e-3 * mean / np.sqrt(mean_square), rtol=1e-9)


@given(st.floats(1e-3, 1e3), st.integers(0, 2**32 - 1))
def test_steps_do_not_change_when_every_gradient_is_scaled(c, seed):
    G = np.random.default_rng(seed).normal(size=(10, 4))
    a = [s[0] for s in run(G, np.ones(4), eps=0.0)]
    b = [s[0] for s in run(c * G, np.ones(4), eps=0.0)]
    np.testing.assert_allclose(b, a, rtol=1e-12)


def test_a_zero_gradient_gives_a_zero_step():
    p0 = np.array([1.0, -2.0])
    p1, m1, v1 = adam_step(p0, np.zeros(2), np.zeros(2), np.zeros(2), 1)
    np.testing.assert_array_equal(p1, p0)
    np.testing.assert_array_equal(m1, 0.0)
    np.testing.assert_array_equal(v1, 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inputs_are_left_alone_and_the_dtype_is_kept(dtype):
    rng = np.random.default_rng(5)
    p, g, m = (rng.normal(size=(2, 3)).astype(dtype) for _ in range(3))
    v = rng.uniform(0.1, 1.0, size=(2, 3)).astype(dtype)
    before = [a.copy() for a in (p, g, m, v)]
    out = adam_step(p, g, m, v, 3)
    for a, b in zip((p, g, m, v), before):
        np.testing.assert_array_equal(a, b)
    assert [o.dtype for o in out] == [dtype] * 3
    assert [o.shape for o in out] == [(2, 3)] * 3
