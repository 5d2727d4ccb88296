"""hnn_np.testing.check_grads: right gradients pass, wrong ones fail, bad arguments are named.

Every check here has a twin that must fail: the right gradient of an array
function against a slightly wrong one, and hnn.loss_and_grad against its copy
without the tanh'' term (hnn_np.testing.mutants). The public strategies of
hnn_np.testing.strategies are used as a user would use them.
"""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hnn_np import hnn, mlp
from hnn_np.testing import check_grads
from hnn_np.testing.mutants import without_tanh_second_term
from hnn_np.testing.strategies import hnn_and_states, networks, states


def f_array(x):
    """A scalar function of a (3, 2) array with a curved, non-separable gradient."""
    return float(np.sum(np.sin(x) * x[::-1]) + 0.5 * np.sum(x) ** 2)


def grad_array(x):
    return np.cos(x) * x[::-1] + np.sin(x[::-1]) + np.sum(x)


def hnn_functions(loss_and_grad, x, dxdt):
    return (lambda p: loss_and_grad(p, x, dxdt)[0]), (lambda p: loss_and_grad(p, x, dxdt)[1])


def fixed_hnn(sizes=(2, 8, 8, 1), seed=0, scale=1.5, n_rows=5):
    params = [(W * scale, b * scale) for W, b in mlp.init_params(sizes, seed=seed)]
    rng = np.random.default_rng(seed)
    return params, rng.uniform(-1.5, 1.5, (n_rows, sizes[0])), rng.standard_normal((n_rows, sizes[0]))


# --- arrays -------------------------------------------------------------------

def test_right_gradient_of_an_array_function_passes():
    x = np.random.default_rng(1).standard_normal((3, 2))
    err = check_grads(f_array, grad_array, x)
    assert 0.0 <= err <= 1e-6


def test_a_wrong_entry_of_an_array_gradient_fails_and_is_located():
    x = np.random.default_rng(1).standard_normal((3, 2))

    def wrong(x):
        g = grad_array(x)
        g[2, 1] *= 1.01  # one entry off by one percent
        return g

    with pytest.raises(AssertionError, match=r"direction \d+ .*worst entry x\[2, 1\]"):
        check_grads(f_array, wrong, x)


def test_a_gradient_off_by_a_factor_fails_every_seed():
    x = np.random.default_rng(2).standard_normal(7)
    for seed in range(5):
        with pytest.raises(AssertionError, match="relative error"):
            check_grads(lambda x: float(np.sum(x**3)), lambda x: 3 * x**2 * (1 + 1e-4), x, seed=seed)


def test_returns_the_largest_relative_error():
    x = np.linspace(-1.0, 1.0, 5)
    err = check_grads(lambda x: float(np.sum(x**3)), lambda x: 3 * x**2 * (1 + 1e-4), x, rtol=1e-3)
    assert 0.5e-4 < err < 2e-4  # the 1e-4 relative error built in, seen through the stencil


def test_a_derivative_below_the_round_off_of_the_stencil_is_not_an_error():
    """At x ~ 1e-111 a quadratic's directional derivative (~1e-111) is far below what
    the stencil can resolve (its points sit where f ~ 1e-6); it must count as agreement."""
    x = np.full((1, 2), 2.66e-111)
    assert check_grads(lambda x: float(np.sum(x**2)), lambda x: 2 * x, x) < 1e-6


def test_integer_and_list_input_is_checked_in_float64():
    seen = []

    def fun(x):
        seen.append(x.dtype)
        return float(np.sum(x**2))

    check_grads(fun, lambda x: 2 * x, [[1, 2], [3, 4]])
    assert set(seen) == {np.dtype(np.float64)}


# --- network parameters -------------------------------------------------------

def test_hnn_loss_and_grad_passes_on_its_parameters():
    params, x, dxdt = fixed_hnn()
    fun, grad = hnn_functions(hnn.loss_and_grad, x, dxdt)
    assert check_grads(fun, grad, params, n_directions=8) <= 1e-6


def test_loss_and_grad_without_the_tanh_second_term_fails_and_names_a_tensor():
    params, x, dxdt = fixed_hnn()
    fun, _ = hnn_functions(hnn.loss_and_grad, x, dxdt)
    _, grad = hnn_functions(without_tanh_second_term(), x, dxdt)
    with pytest.raises(AssertionError, match=r"worst tensor [Wb]\[[01]\]"):
        check_grads(fun, grad, params, n_directions=8)


def test_a_wrong_output_weight_gradient_is_located_in_W2():
    params, x, dxdt = fixed_hnn()
    fun, grad = hnn_functions(hnn.loss_and_grad, x, dxdt)

    def wrong(p):
        g = grad(p)
        dW, db = g[2]
        return g[:2] + [(2 * dW, db)]

    with pytest.raises(AssertionError, match=r"worst tensor W\[2\].*worst entry W\[2\]\[\d, 0\]"):
        check_grads(fun, wrong, params)


@settings(max_examples=15)
@given(hnn_and_states(with_targets=True))
def test_hnn_gradient_is_right_for_any_network_and_data(case):
    params, x, dxdt = case
    fun, grad = hnn_functions(hnn.loss_and_grad, x, dxdt)
    check_grads(fun, grad, params, n_directions=3)


@settings(max_examples=10)
@given(networks(sizes=(2, 6, 6, 1), scale=st.just(1.5)), states(4, 2, bound=1.5))
def test_missing_tanh_second_term_is_caught_on_any_such_network(params, x):
    """With tanh units away from the linear part, the tanh''-less gradient is always caught."""
    dxdt = np.ones_like(x)
    fun, _ = hnn_functions(hnn.loss_and_grad, x, dxdt)
    _, grad = hnn_functions(without_tanh_second_term(), x, dxdt)
    with pytest.raises(AssertionError):
        check_grads(fun, grad, params, n_directions=3)


# --- the public strategies ----------------------------------------------------

@settings(max_examples=20)
@given(networks(kind="baseline", n_dof=2, max_layers=2), states(n_dof=2))
def test_networks_and_states_fit_together(params, x):
    assert params[0][0].shape[0] == 4 and params[-1][0].shape[1] == 4
    assert x.ndim == 2 and x.shape[1] == 4 and x.flags.c_contiguous and x.dtype == np.float64
    assert mlp.forward(params, x).shape == x.shape


@settings(max_examples=20)
@given(hnn_and_states(dtype=np.float32, min_layers=2))
def test_hnn_and_states_gives_an_energy_network_and_its_states(case):
    params, x = case
    assert len(params) >= 3 and params[-1][0].shape[1] == 1
    assert x.dtype == np.float32 and params[0][0].dtype == np.float32
    assert hnn.vector_field(params, x).shape == x.shape


def test_importing_hnn_np_testing_does_not_import_hypothesis():
    code = ("import sys, hnn_np.testing; from hnn_np.testing import check_grads; "
            "assert 'hypothesis' not in sys.modules, 'hypothesis was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- bad arguments ------------------------------------------------------------

GOOD_X = np.ones(3)


@pytest.mark.parametrize("kwargs, match", [
    (dict(fun=None), "fun must be callable"),
    (dict(grad=3), "grad must be callable"),
    (dict(x=np.array([1.0, np.nan])), "x must be finite"),
    (dict(x=np.array(["a"])), "x must be a real array"),
    (dict(x=np.zeros(0)), "at least one entry"),
    (dict(x=[(np.ones((2, 2)), np.ones(2), np.ones(2))]), r"x\[0\] has 3 items"),
    (dict(n_directions=0), "n_directions"),
    (dict(n_directions=2.5), "n_directions"),
    (dict(eps=-1e-3), "eps"),
    (dict(eps=float("inf")), "eps"),
    (dict(rtol=0.0), "rtol"),
    (dict(seed=-1), "seed"),
    (dict(grad=lambda x: np.ones(4)), r"grad must return an array of shape \(3,\)"),
    (dict(fun=lambda x: x), "fun must return a real scalar"),
    (dict(fun=lambda x: float("nan")), "fun returned nan"),
    (dict(grad=lambda x: np.full(3, np.inf)), "grad returned non-finite"),
])
def test_bad_arguments_raise_value_errors_naming_them(kwargs, match):
    args = dict(fun=lambda x: float(np.sum(x**2)), grad=lambda x: 2 * x, x=GOOD_X)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        check_grads(args.pop("fun"), args.pop("grad"), args.pop("x"), **args)


def test_a_gradient_not_shaped_like_the_parameters_is_named():
    params, x, dxdt = fixed_hnn()
    fun, grad = hnn_functions(hnn.loss_and_grad, x, dxdt)
    with pytest.raises(ValueError, match="grad must return a list of 3"):
        check_grads(fun, lambda p: grad(p)[:2], params)
    with pytest.raises(ValueError, match=r"shape \(8,\) for b\[0\]"):
        check_grads(fun, lambda p: [(grad(p)[0][0], np.ones(3))] + grad(p)[1:], params)
