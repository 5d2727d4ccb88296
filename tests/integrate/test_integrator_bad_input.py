"""Bad input raises a ValueError that names the argument and the problem."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hnn_np.integrate import solve_ivp, solve_ivp_batch


def decay(t, y):
    return -y


GOOD = dict(fun=decay, t_span=(0.0, 1.0), y0=[1.0, 2.0])

BAD_CALLS = [
    (dict(y0=[1.0, np.nan]), "y0 has non-finite values"),
    (dict(y0=[np.inf, 0.0]), "y0 has non-finite values"),
    (dict(y0=[[1.0, 2.0]]), r"y0 must be a non-empty array of shape \(n,\)"),
    (dict(y0=[]), r"y0 must be a non-empty array of shape \(n,\)"),
    (dict(y0=[1.0 + 1j, 0.0]), "y0 must be real"),
    (dict(t_span=(0.0,)), r"t_span must be a pair \(t0, t_end\)"),
    (dict(t_span=(0.0, 1.0, 2.0)), r"t_span must be a pair \(t0, t_end\)"),
    (dict(t_span=()), r"t_span must be a pair \(t0, t_end\)"),
    (dict(t_span=(0.0, np.nan)), r"t_span\[1\] must be a finite real number"),
    (dict(t_span=(-np.inf, 0.0)), r"t_span\[0\] must be a finite real number"),
    (dict(t_eval=[0.5, 1.5]), r"t_eval must lie inside t_span \[0.0, 1.0\]"),
    (dict(t_eval=[-0.1, 0.5]), r"t_eval must lie inside t_span"),
    (dict(t_eval=[0.5, 0.2]), "t_eval must be sorted strictly increasing"),
    (dict(t_eval=[0.2, 0.2]), "t_eval must be sorted strictly increasing"),
    (dict(t_span=(1.0, 0.0), t_eval=[0.2, 0.5]), r"t_eval must be sorted strictly decreasing \(t_end < t0\)"),
    (dict(t_eval=[[0.5]]), "t_eval must be a non-empty 1-D array"),
    (dict(t_eval=[]), "t_eval must be a non-empty 1-D array"),
    (dict(t_eval=[0.5, np.nan]), "t_eval has non-finite values"),
    (dict(rtol=0.0), "rtol must be positive"),
    (dict(rtol=-1e-6), "rtol must be positive"),
    (dict(rtol=1e-16), r"rtol must be at least 10 \* uround"),
    (dict(rtol=[1e-6, 1e-6, 1e-6]), r"rtol must be a scalar or have shape \(2,\)"),
    (dict(rtol=np.nan), "rtol must be finite"),
    (dict(atol=0.0), "atol must be positive"),
    (dict(atol=[1e-6, -1.0]), "atol must be positive"),
    (dict(atol=[[1e-6, 1e-6]]), r"atol must be a scalar or have shape \(2,\)"),
    (dict(method="RK4"), r"method must be one of \['DOP853', 'RK45'\]"),
    (dict(method="dop853"), "method must be one of"),
    (dict(fun=lambda t, y: np.zeros(3)), r"fun\(t0, y0, \*args\) must have the shape of y0 \(2,\); got \(3,\)"),
    (dict(fun=lambda t, y: 1.0), r"fun\(t0, y0, \*args\) must have the shape of y0 \(2,\); got \(\)"),
    (dict(fun=lambda t, y: np.zeros((2, 1))), r"must have the shape of y0 \(2,\); got \(2, 1\)"),
    (dict(fun="decay"), "fun must be callable"),
    (dict(first_step=0.0), "first_step must be positive"),
    (dict(first_step=2.0), "first_step 2.0 exceeds the length of t_span"),
    (dict(first_step=np.nan), "first_step must be a finite real number"),
    (dict(max_step=0.0), "max_step must be positive"),
    (dict(max_step=np.nan), "max_step must be positive"),
    (dict(max_steps=0), "max_steps must be a positive integer"),
    (dict(max_steps=10.5), "max_steps must be a positive integer"),
    (dict(args=3.0), "args must be a tuple"),
]


@pytest.mark.parametrize("bad, match", BAD_CALLS, ids=[m[:40] for _, m in BAD_CALLS])
def test_solve_ivp_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        solve_ivp(**(GOOD | bad))


@given(index=st.integers(0, 4), value=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_any_non_finite_entry_of_y0_is_rejected(index, value):
    y0 = np.arange(5.0)
    y0[index] = value
    with pytest.raises(ValueError, match="y0 has non-finite values"):
        solve_ivp(decay, (0.0, 1.0), y0)


@pytest.mark.parametrize("bad, match", [
    (dict(y0s=[1.0, 2.0]), r"y0s must be a non-empty array of shape \(B, n\)"),
    (dict(y0s=[[1.0, np.nan]]), "y0s has non-finite values"),
    (dict(t_eval=[2.0]), "t_eval must lie inside t_span"),
    (dict(t_eval=None), "t_eval must be a non-empty 1-D array"),
    (dict(atol=[1e-6] * 3), r"atol must be a scalar or have shape \(2,\)"),
    (dict(method="Euler"), "method must be one of"),
    (dict(fun=lambda t, y: y[:1]), r"must have the shape of y0 \(2,\); got \(1,\)"),
])  # fmt: skip
def test_solve_ivp_batch_rejects_bad_input(bad, match):
    good = dict(fun=decay, t_span=(0.0, 1.0), y0s=[[1.0, 2.0], [3.0, 4.0]], t_eval=[0.0, 1.0])
    with pytest.raises(ValueError, match=match):
        solve_ivp_batch(**(good | bad))


def test_valid_edge_cases_are_accepted():
    assert solve_ivp(decay, (0, 1), [1]).success  # integers are promoted to float
    assert solve_ivp(decay, (0.0, 1.0), [1.0, 2.0], t_eval=[0.0, 1.0], rtol=[1e-6, 1e-8], atol=1e-9).success
    assert solve_ivp(decay, (0.0, 1.0), [1.0], first_step=1.0, max_step=10.0).success
    assert solve_ivp(lambda t, y, a: a * y, (0.0, 1.0), [1.0], args=[-1.0]).success  # a list of args


# The checks of t_eval take a fast path for the usual (valid) case: it must
# accept exactly what the plain definition accepts.
T_VALUES = st.one_of(st.floats(-0.5, 1.5), st.sampled_from([0.0, 1.0, np.nan, np.inf, -np.inf]))


@given(st.lists(T_VALUES, min_size=1, max_size=6), st.booleans(), st.booleans())
def test_t_eval_is_accepted_exactly_when_finite_inside_and_strictly_monotone(values, backward, sort):
    from hnn_np.integrate.checks import check_t_eval

    t0, t_end = (1.0, 0.0) if backward else (0.0, 1.0)
    direction = -1.0 if backward else 1.0
    array = np.array(sorted(values, reverse=backward) if sort else values)
    valid = bool(np.all(np.isfinite(array)) and array.min() >= 0.0 and array.max() <= 1.0
                 and np.all(direction * np.diff(array) > 0))  # fmt: skip
    if valid:
        np.testing.assert_array_equal(check_t_eval(array.tolist(), t0, t_end), array)
    else:
        with pytest.raises(ValueError, match="t_eval"):
            check_t_eval(array, t0, t_end)


def test_a_jitted_fun_is_checked_again_for_a_new_size_or_kind_of_args():
    """check_fun remembers a passed check per (convention, n, kinds of args), and only that."""
    from numba import njit

    @njit
    def first_two(t, y, dy_dt, scale):  # writes dy_dt[0] and dy_dt[1] only
        dy_dt[0] = -scale * y[0]
        dy_dt[1] = -scale * y[1]

    ok = dict(t_eval=[0.0, 1.0], inplace=True, args=(1.0,))
    assert solve_ivp_batch(first_two, (0.0, 1.0), [[1.0, 2.0]], **ok).success
    assert solve_ivp_batch(first_two, (0.0, 1.0), [[1.0, 2.0]], **ok).success  # remembered
    with pytest.raises(ValueError, match=r"left dy_dt\[2\] unwritten"):  # n = 3: checked again
        solve_ivp_batch(first_two, (0.0, 1.0), [[1.0, 2.0, 3.0]], **ok)
    with pytest.raises(ValueError, match="must write every entry"):
        solve_ivp(first_two, (0.0, 1.0), [1.0, 2.0, 3.0], **ok)


# A jitted fun that passed its check, called again with vectors y0 and t_eval:
# the compiled driver checks their values (values_valid) and the Python check
# gives the message. The same bad values must raise the same errors as on the
# first call, in both directions of time.
VALUE_ERRORS = [(bad, match) for bad, match in BAD_CALLS
                if set(bad) <= {"y0", "t_eval", "t_span"} and ("non-finite" in match or "t_eval must" in match)]


@pytest.mark.parametrize("bad, match", VALUE_ERRORS, ids=[m[:40] for _, m in VALUE_ERRORS])
def test_a_jitted_fun_called_again_gets_the_same_errors_for_bad_values(bad, match):
    from numba import njit

    @njit
    def decay_into(t, y, dy_dt):
        for i in range(y.shape[0]):
            dy_dt[i] = -y[i]

    call = dict(GOOD, fun=decay_into, inplace=True)
    for t_span, t_eval in (((0.0, 1.0), np.array([0.0, 0.5, 1.0])), ((1.0, 0.0), np.array([1.0, 0.5, 0.0]))):
        assert solve_ivp(**(call | dict(y0=np.array([1.0, 2.0]), t_span=t_span, t_eval=t_eval))).success
        assert solve_ivp(**(call | dict(y0=np.array([1.0, 2.0]), t_span=t_span))).success  # checked before now
    bad = {k: np.array(v, dtype=float) if k != "t_span" else v for k, v in bad.items()}
    if "y0" in bad:
        bad["y0"] = np.resize(bad["y0"], 2)
    with pytest.raises(ValueError, match=match):
        solve_ivp(**(call | bad))


@given(y0=st.lists(T_VALUES, min_size=1, max_size=3), t_eval=st.lists(T_VALUES, min_size=0, max_size=5),
       backward=st.booleans(), sort=st.booleans())
def test_values_valid_accepts_exactly_what_the_python_checks_accept(y0, t_eval, backward, sort):
    from numba import njit

    from hnn_np.integrate._compiled.jit import load
    from hnn_np.integrate.checks import T_EVAL_INVALID, Y0_NOT_FINITE, check_t_eval, check_y0, values_valid

    load()
    t0, t_end = (1.0, 0.0) if backward else (0.0, 1.0)
    y0, t_eval = np.array(y0), np.array(sorted(t_eval, reverse=backward) if sort else t_eval)
    try:
        check_y0(y0)
        if t_eval.size:
            check_t_eval(t_eval, t0, t_end)
        expected = 0
    except ValueError as error:
        expected = Y0_NOT_FINITE if "y0" in str(error) else T_EVAL_INVALID
    assert values_valid(y0, t0, t_end, t_eval) == expected  # the interpreted twin
    assert njit(values_valid)(y0, t0, t_end, t_eval) == expected  # compiled, as in the driver
