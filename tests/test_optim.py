"""hnn_np.optim: Adam against its recursion written out in plain Python floats.

Kingma & Ba (2015), Algorithm 1, with PyTorch's conventions (coupled L2 weight
decay; eps added to sqrt of the bias-corrected second moment). For one scalar
parameter p with gradients g_1, g_2, ...::

    g_t  <- g_t + wd * p_{t-1}
    m_t   = b1 m_{t-1} + (1 - b1) g_t           m_0 = 0
    v_t   = b2 v_{t-1} + (1 - b2) g_t**2        v_0 = 0
    p_t   = p_{t-1} - lr * (m_t / (1 - b1**t)) / (sqrt(v_t / (1 - b2**t)) + eps)

so the first step is p_1 = p_0 - lr g_1 / (|g_1| + eps): a step of length
about lr whatever the size of the gradient.
"""

import copy
import math

import numpy as np
import pytest

from hnn_np import mlp
from hnn_np.optim import Adam, cosine_lr

B1, B2 = 0.9, 0.999


def small_params(dtype=np.float64):
    """One layer, W (2, 3) and b (3,), with simple values."""
    W = np.array([[0.5, -1.0, 2.0], [0.0, 0.25, -0.75]], dtype=dtype)
    b = np.array([1.0, -2.0, 0.125], dtype=dtype)
    return [(W, b)]


def grads_like(params, seed, scale=1.0):
    """Random gradients shaped like params."""
    rng = np.random.default_rng(seed)
    return [(scale * rng.standard_normal(W.shape).astype(W.dtype),
             scale * rng.standard_normal(b.shape).astype(b.dtype)) for W, b in params]


def flat(pairs):
    """All scalars of a list of (W, b), as Python floats in a fixed order."""
    return [float(v) for W, b in pairs for v in (*W.ravel(), *b.ravel())]


def adam_by_hand(p0, grads, lrs, b1=B1, b2=B2, eps=1e-8, wd=0.0):
    """The recursion of the module docstring for one scalar, step after step, in Python floats."""
    p, m, v = p0, 0.0, 0.0
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        p = p - lr * m_hat / (math.sqrt(v_hat) + eps)
    return p


def assert_steps_close(before, after, expected, rtol=1e-9):
    """The displacement after - before equals expected - before, to rtol of its size."""
    for b, a, e in zip(before, after, expected):
        assert (a - b) == pytest.approx(e - b, rel=rtol, abs=1e-300)


# --- the first two steps in closed form ----------------------------------------------

@pytest.mark.parametrize("eps", [1e-8, 1e-3])
def test_first_step_moves_each_parameter_by_lr_times_sign(eps):
    """Step 1: bias correction makes m_hat = g and v_hat = g**2, so p -= lr g / (|g| + eps)."""
    params = small_params()
    grads = grads_like(params, seed=0, scale=1e-3)  # |g| ~ eps: where eps sits matters
    p0, g = flat(params), flat(grads)
    opt = Adam(params, lr=0.01, eps=eps)
    opt.step(grads)
    expected = [p - 0.01 * gi / (abs(gi) + eps) for p, gi in zip(p0, g)]
    assert_steps_close(p0, flat(params), expected)
    assert opt.t == 1


@pytest.mark.parametrize("eps", [1e-8, 1e-3])
def test_second_step_follows_the_recursion(eps):
    """Step 2 from m_2 = b1 m_1 + (1-b1) g_2, v_2 likewise, and corrections 1 - b**2."""
    params = small_params()
    g1, g2 = grads_like(params, 1, 1e-3), grads_like(params, 2, 1e-3)
    p0 = flat(params)
    opt = Adam(params, lr=0.01, eps=eps)
    opt.step(g1)
    opt.step(g2)
    expected = []
    for p, a, b in zip(p0, flat(g1), flat(g2)):
        p1 = p - 0.01 * a / (abs(a) + eps)  # step 1, as above
        m2 = B1 * (1 - B1) * a + (1 - B1) * b  # m_1 = (1 - b1) g_1
        v2 = B2 * (1 - B2) * a * a + (1 - B2) * b * b  # v_1 = (1 - b2) g_1**2
        expected.append(p1 - 0.01 * (m2 / (1 - B1**2)) / (math.sqrt(v2 / (1 - B2**2)) + eps))
    assert_steps_close(p0, flat(params), expected)


def test_zero_gradient_changes_nothing_without_weight_decay():
    """g = 0 keeps m = v = 0, and the update 0 / (0 + eps) is exactly zero."""
    params = small_params()
    before = flat(params)
    opt = Adam(params)
    zeros = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
    for _ in range(3):
        opt.step(zeros)
    assert flat(params) == before


def test_zero_gradient_with_weight_decay_shrinks_params():
    """With weight decay the effective gradient is wd * p, so even g = 0 moves p toward 0."""
    params = small_params()
    p0 = flat(params)
    opt = Adam(params, lr=0.01, weight_decay=0.1)
    zeros = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
    opt.step(zeros)
    opt.step(zeros)
    expected = [adam_by_hand(p, [0.0, 0.0], [0.01, 0.01], wd=0.1) for p in p0]
    assert_steps_close(p0, flat(params), expected)
    assert flat(params) != p0
    assert all(abs(a) <= abs(b) for a, b in zip(flat(params), p0))


def test_weight_decay_adds_to_the_gradient():
    """Coupled decay: one step with gradient g and decay wd equals a step with gradient g + wd p."""
    params, twin = small_params(), small_params()
    grads = grads_like(params, seed=3)
    coupled = [(dW + 0.5 * W, db + 0.5 * b) for (W, b), (dW, db) in zip(twin, grads)]
    Adam(params, lr=0.01, weight_decay=0.5).step(grads)
    Adam(twin, lr=0.01).step(coupled)
    np.testing.assert_allclose(flat(params), flat(twin), rtol=1e-15)


def test_new_learning_rate_takes_effect_on_the_next_step():
    """Setting opt.lr between steps changes the size of the very next step, and only that."""
    params = small_params()
    g1, g2 = grads_like(params, 4), grads_like(params, 5)
    p0 = flat(params)
    opt = Adam(params, lr=0.01)
    opt.step(g1)
    opt.lr = 0.1
    opt.step(g2)
    expected = [adam_by_hand(p, [a, b], [0.01, 0.1]) for p, a, b in zip(p0, flat(g1), flat(g2))]
    assert_steps_close(p0, flat(params), expected)


def test_params_are_updated_in_place_and_grads_only_read():
    """step() writes into the caller's arrays (no rebinding) and leaves the gradients alone."""
    params = small_params()
    W_id, b_id = id(params[0][0]), id(params[0][1])
    grads = grads_like(params, 6)
    grads_before = flat(grads)
    Adam(params).step(grads)
    assert id(params[0][0]) == W_id and id(params[0][1]) == b_id
    assert flat(grads) == grads_before


def test_non_contiguous_gradients_are_accepted():
    """A Fortran-ordered gradient gives the same step as its C-ordered copy."""
    params, twin = small_params(), small_params()
    gW = np.asfortranarray(np.random.default_rng(0).standard_normal((2, 3)))
    gb = np.ones(3)
    Adam(params).step([(gW, gb)])
    Adam(twin).step([(np.ascontiguousarray(gW), gb)])
    assert flat(params) == flat(twin)


# --- dtypes, hyper-parameters, state ---------------------------------------------------

def test_float32_params_stay_float32():
    """A float32 network keeps float32 params and moments, and follows the float64 run closely."""
    p32 = mlp.init_params((2, 8, 1), seed=0, dtype=np.float32)
    p64 = [(W32.astype(np.float64), b32.astype(np.float64)) for W32, b32 in p32]  # same start
    opt32, opt64 = Adam(p32, lr=0.01), Adam(p64, lr=0.01)
    for seed in range(5):
        g64 = grads_like(p64, seed)
        g32 = [(dW.astype(np.float32), db.astype(np.float32)) for dW, db in g64]
        opt32.step(g32)
        opt64.step([(dW.astype(np.float64), db.astype(np.float64)) for dW, db in g32])
    for (W, b), (mW, mb), (vW, vb) in zip(p32, opt32.m, opt32.v):
        assert {W.dtype, b.dtype, mW.dtype, mb.dtype, vW.dtype, vb.dtype} == {np.dtype(np.float32)}
    np.testing.assert_allclose(flat(p32), flat(p64), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=0.0), "lr"),
    (dict(lr=-1e-3), "lr"),
    (dict(lr=float("nan")), "lr"),
    (dict(lr=float("inf")), "lr"),
    (dict(betas=(1.0, 0.999)), "betas"),
    (dict(betas=(0.9, 1.0)), "betas"),
    (dict(betas=(-0.1, 0.999)), "betas"),
    (dict(betas=(0.9,)), "betas"),
    (dict(eps=-1e-8), "eps"),
    (dict(eps=float("nan")), "eps"),
    (dict(weight_decay=-0.1), "weight_decay"),
    (dict(weight_decay=float("nan")), "weight_decay"),
], ids=str)
def test_bad_hyper_parameters_raise(kwargs, match):
    """Each out-of-range hyper-parameter is a ValueError naming it."""
    with pytest.raises(ValueError, match=match):
        Adam(small_params(), **kwargs)


def test_setting_a_bad_learning_rate_raises():
    """The lr setter checks too, so a schedule cannot set lr = 0 or nan unnoticed."""
    opt = Adam(small_params())
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="lr"):
            opt.lr = bad
    assert opt.lr == 1e-3


def test_params_that_cannot_be_updated_in_place_are_rejected():
    """A read-only or non-contiguous parameter cannot be updated in place by the kernel."""
    W, b = small_params()[0]
    W.flags.writeable = False
    with pytest.raises(ValueError, match=r"params\[0\] W must be a writeable C-contiguous"):
        Adam([(W, b)])
    with pytest.raises(ValueError, match=r"params\[0\] W must be a writeable C-contiguous"):
        Adam([(np.asfortranarray(np.ones((2, 3))), b)])


@pytest.mark.parametrize("grads, match", [
    ([], "grads has 0 layers but params has 1"),
    ([(np.zeros((3, 2)), np.zeros(3))], r"grads\[0\] has shapes"),
    ([(np.zeros((2, 3), np.float32), np.zeros(3, np.float32))], r"grads\[0\] dtype float32"),
], ids=["layers", "shape", "dtype"])
def test_gradients_that_do_not_fit_raise(grads, match):
    """step() refuses gradients of the wrong count, shape or dtype, and takes no step."""
    params = small_params()
    before = flat(params)
    opt = Adam(params)
    with pytest.raises(ValueError, match=match):
        opt.step(grads)
    assert opt.t == 0 and flat(params) == before


def test_state_dict_round_trip_gives_identical_next_steps():
    """A fresh Adam loaded from state_dict() continues exactly as the original, bit for bit."""
    params = mlp.init_params((2, 8, 8, 1), seed=0)
    opt = Adam(params, lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-2)
    for seed in range(3):
        opt.step(grads_like(params, seed))
    clone = [(W.copy(), b.copy()) for W, b in params]
    state = copy.deepcopy(opt.state_dict())
    resumed = Adam(clone)  # default hyper-parameters, all overwritten by the state
    resumed.load_state_dict(state)
    assert (resumed.t, resumed.lr, resumed.betas, resumed.eps, resumed.weight_decay) == (
        3, 3e-3, (0.8, 0.99), 1e-6, 1e-2)
    for seed in range(3, 6):
        g = grads_like(params, seed)
        opt.step(g)
        resumed.step(g)
    assert flat(params) == flat(clone)
    assert flat(opt.m) == flat(resumed.m) and flat(opt.v) == flat(resumed.v)


# --- torch as an oracle (skipped when torch is not installed) ------------------------------

@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_matches_torch_adam(weight_decay):
    """Five steps agree with torch.optim.Adam to 1e-12, with and without weight decay."""
    torch = pytest.importorskip("torch")
    params = mlp.init_params((2, 6, 1), seed=0)
    tparams = [torch.tensor(a.copy(), dtype=torch.float64, requires_grad=True)
               for pair in params for a in pair]
    topt = torch.optim.Adam(tparams, lr=1e-2, betas=(B1, B2), eps=1e-8, weight_decay=weight_decay)
    opt = Adam(params, lr=1e-2, betas=(B1, B2), eps=1e-8, weight_decay=weight_decay)
    for seed in range(5):
        grads = grads_like(params, seed)
        for t, g in zip(tparams, [a for pair in grads for a in pair]):
            t.grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
        opt.step(grads)
    ours = [a for pair in params for a in pair]
    for a, t in zip(ours, tparams):
        np.testing.assert_allclose(a, t.detach().numpy(), rtol=1e-12, atol=1e-12)


# --- cosine schedule ---------------------------------------------------------------------

def test_cosine_lr_endpoints_midpoint_and_clamping():
    """lr(0) = lr_max, lr(total/2) = the mean, lr(total) = lr_min; outside [0, total] it is clamped."""
    assert cosine_lr(0, 100, 1e-2, 1e-4) == pytest.approx(1e-2, rel=1e-15)
    assert cosine_lr(50, 100, 1e-2, 1e-4) == pytest.approx((1e-2 + 1e-4) / 2, rel=1e-14)
    assert cosine_lr(100, 100, 1e-2, 1e-4) == pytest.approx(1e-4, rel=1e-12)
    assert cosine_lr(150, 100, 1e-2, 1e-4) == cosine_lr(100, 100, 1e-2, 1e-4)
    assert cosine_lr(-5, 100, 1e-2, 1e-4) == cosine_lr(0, 100, 1e-2, 1e-4)
    lrs = [cosine_lr(t, 100, 1.0) for t in range(101)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))  # non-increasing
    assert lrs[25] == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)), rel=1e-14)
