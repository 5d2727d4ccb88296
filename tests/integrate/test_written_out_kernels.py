"""The written-out step (``_compiled/dop853_kernels.py``, ``rk45_kernels.py``) equals the loops of rk.py and dense.py.

The loops in :mod:`hnn_np.integrate.rk` and :mod:`hnn_np.integrate.dense` are
the reference a reader studies; the driver runs the code written out from the
same tableau. Both sum the same nonzero terms in the same order, so every
stage, the error and the dense coefficients must agree to the last bit, for
any state, step and right-hand side. The written files are what the generator
writes today; nothing under hnn_np/integrate/ rewrites code at run time. Also:
the in-place calling convention, and the threaded batch.
"""

import ast
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numba import njit

import hnn_np.integrate

from hnn_np.integrate import METHODS, solve_ivp, solve_ivp_batch
from hnn_np.integrate._compiled import KERNELS
from hnn_np.integrate._compiled.write_kernels import kernels_source, path_of
from hnn_np.integrate.dense import dense_coefficients, dense_eval
from hnn_np.integrate.rk import error_norm, rk_step

INTEGRATE = Path(hnn_np.integrate.__file__).parent

finite = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False)


def nonlinear(t, y, dy_dt):
    """A right-hand side that mixes the components and depends on t (in place)."""
    n = y.shape[0]
    for i in range(n):
        dy_dt[i] = np.sin(y[(i + 1) % n]) - 0.3 * y[i] * y[i - 1] + 0.1 * t


@pytest.mark.parametrize("method", ["DOP853", "RK45"])
@given(y=hnp.arrays(np.float64, st.integers(1, 4), elements=finite), h=st.floats(-0.5, 0.5).filter(lambda h: h != 0),
       t=finite, tol=st.floats(1e-12, 1e-2))
def test_written_out_step_error_and_dense_equal_the_loops(method, y, h, t, tol):
    tab = METHODS[method]
    n = y.shape[0]
    atol = np.full(n, tol)
    rtol = np.full(n, tol)
    out = {}
    for name, (step_fn, error_fn, dense_fn) in {
        "loops": (rk_step, error_norm, dense_coefficients),
        "written out": (KERNELS[method].rk_step, KERNELS[method].error_norm, KERNELS[method].dense_coefficients),
    }.items():  # fmt: skip
        K = np.zeros((tab.A.shape[0], n))
        nonlinear(t, y, K[0])
        y_stage, y_new, Q = np.empty(n), np.empty(n), np.empty((4 + tab.D.shape[0], n))
        n_evals = step_fn(nonlinear, t, y, h, K, y_stage, y_new, tab, ())
        err = error_fn(K, y, y_new, h, tab, atol, rtol)
        if not tab.fsal_in_error:
            nonlinear(t + h, y_new, K[tab.n_stages])
        n_dense = dense_fn(nonlinear, t, y, y_new, h, K, y_stage, Q, tab, ())
        out[name] = (n_evals, n_dense, err, y_new.copy(), K.copy(), Q.copy())
    loops, written = out["loops"], out["written out"]
    assert loops[:2] == written[:2]  # stage and dense evaluations
    for a, b in zip(loops[2:], written[2:]):  # err, y_new, K, Q; a NaN (overflowing states) must be NaN in both
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("method", ["DOP853", "RK45"])
@given(Q=st.integers(1, 3).flatmap(lambda n: hnp.arrays(np.float64, (8, n), elements=finite)),
       theta=st.floats(-0.5, 1.5))
def test_written_out_interpolant_equals_the_loop(method, Q, theta):
    Q = np.ascontiguousarray(Q[:4 + METHODS[method].D.shape[0]])
    t_old, h = 0.3, -0.7  # a step backwards in time, for once
    t_eval = t_old + h * np.array([0.0, theta, 0.5 * theta, 1.0])
    loop, written = np.zeros((4, Q.shape[1])), np.zeros((4, Q.shape[1]))
    for j in (1, 2):
        dense_eval(loop, j, Q, (t_eval[j] - t_old) / h)
    KERNELS[method].interpolate(written, t_eval, 1, 3, t_old, h, Q)  # rows 0 and 3 stay untouched
    np.testing.assert_array_equal(loop, written)


def test_generated_source_has_every_nonzero_coefficient_once():
    """The source of DOP853's step names each nonzero A entry as its repr; fun is called once per stage."""
    tab = METHODS["DOP853"]
    source = kernels_source("dop853")
    for row in range(1, tab.A.shape[0]):
        for j in range(row):
            if tab.A[row, j] != 0:
                assert f"{abs(float(tab.A[row, j]))!r} * K[{j}, i]" in source
    assert source.count("fun(") == tab.A.shape[0] - 2  # stages 1..11 and 13..15: FSAL is the controller's


@pytest.mark.parametrize("stem", ["dop853", "rk45"])
def test_the_written_files_are_what_the_generator_writes(stem):
    assert path_of(stem).read_text() == kernels_source(stem), f"run python -m hnn_np.integrate._compiled.write_kernels"


def rewriting(source: str) -> list:
    """The builtins exec, eval and compile, functions made anew from code objects, and globals read or set."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("exec", "eval", "compile"):
            found.append((node.lineno, node.func.id))  # (a dispatcher's .compile(signature) is an attribute)
        elif isinstance(node, (ast.Name, ast.Attribute)) and getattr(node, "id", getattr(node, "attr", "")) in (
                "FunctionType", "__globals__", "globals"):
            found.append((node.lineno, getattr(node, "id", getattr(node, "attr", ""))))
    return found


def test_no_code_is_rewritten_at_run_time_under_integrate():
    """No exec, eval, compile of strings or swapped globals anywhere in hnn_np/integrate/."""
    files = sorted(INTEGRATE.rglob("*.py"))
    assert len(files) > 15
    assert {str(p.relative_to(INTEGRATE)): rewriting(p.read_text()) for p in files if rewriting(p.read_text())} == {}
    mutants = ["exec(source, namespace)\n", "code = compile(text, '<x>', 'exec')\n",
               "f = types.FunctionType(g.__code__, {**g.__globals__, 'x': 1})\n"]  # fmt: skip
    assert all(rewriting(mutant) for mutant in mutants)  # the check can fail


@njit(cache=True)
def spring_into(t, y, dy_dt, k, m):
    dy_dt[0] = y[1] / m
    dy_dt[1] = -k * y[0]


@njit(cache=True)
def spring(t, y, k, m):
    return np.array([y[1] / m, -k * y[0]])


Y0S = np.array([[1.0, 0.0], [0.0, 3.0], [-2.0, 0.5], [0.3, -0.2], [4.0, 4.0]])
T_EVAL = np.linspace(0.0, 5.0, 21)


def test_in_place_and_returning_funs_give_the_same_numbers():
    base = solve_ivp_batch(spring, (0.0, 5.0), Y0S, T_EVAL, rtol=1e-9, atol=1e-9, args=(2.0, 2.0))
    fast = solve_ivp_batch(spring_into, (0.0, 5.0), Y0S, T_EVAL, rtol=1e-9, atol=1e-9, args=(2.0, 2.0),
                           inplace=True)  # fmt: skip
    np.testing.assert_array_equal(base.y, fast.y)
    np.testing.assert_array_equal(base.nfev, fast.nfev)
    one = solve_ivp(spring_into.py_func, (0.0, 5.0), Y0S[2], t_eval=T_EVAL, rtol=1e-9, atol=1e-9,
                    args=(2.0, 2.0), inplace=True)  # fmt: skip
    np.testing.assert_array_equal(one.y, base.y[2])
    w = np.sqrt(2.0 / 2.0)  # against the closed form q = q0 cos wt + p0/(m w) sin wt
    q = Y0S[:, :1] * np.cos(w * T_EVAL) + Y0S[:, 1:] / (2.0 * w) * np.sin(w * T_EVAL)
    np.testing.assert_allclose(fast.y[:, 0], q, atol=1e-7)


def test_the_adapter_of_a_fun_is_made_once_per_convention_and_kind_of_args():
    from hnn_np.integrate._compiled.jit import load

    load()
    from hnn_np.integrate._compiled.adapters import compiled_rhs

    floats, twice = compiled_rhs(spring, False, (2.0, 2.0)), compiled_rhs(spring, False, (3.0, 1.0))
    assert floats[0] == twice[0] and twice[1].tolist() == [3.0, 1.0]  # one adapter, the new values
    assert compiled_rhs(spring_into, True, (2.0, 2.0))[0] != floats[0]


@pytest.mark.parametrize("workers", [2, 3, 7])
def test_threads_give_the_numbers_of_one_thread(workers):
    rng = np.random.default_rng(5)
    y0s = rng.normal(size=(11, 2))
    one = solve_ivp_batch(spring_into, (0.0, 5.0), y0s, T_EVAL, rtol=1e-10, atol=1e-10, args=(2.0, 2.0),
                          inplace=True)  # fmt: skip
    many = solve_ivp_batch(spring_into, (0.0, 5.0), y0s, T_EVAL, rtol=1e-10, atol=1e-10, args=(2.0, 2.0),
                           inplace=True, workers=workers)  # fmt: skip
    np.testing.assert_array_equal(one.y, many.y)
    for field in ("nfev", "naccepted", "nrejected", "nsteps", "status"):
        np.testing.assert_array_equal(getattr(one, field), getattr(many, field))


def test_an_in_place_fun_must_write_every_entry():
    def lazy(t, y, dy_dt):
        dy_dt[0] = y[1]  # forgets dy_dt[1]

    with pytest.raises(ValueError, match=r"left dy_dt\[1\] unwritten"):
        solve_ivp(lazy, (0.0, 1.0), [1.0, 0.0], inplace=True)


@pytest.mark.parametrize("workers", [0, -1, 1.5, "2"])
def test_workers_must_be_a_positive_integer(workers):
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        solve_ivp_batch(spring, (0.0, 1.0), Y0S, [0.0, 1.0], args=(2.0, 2.0), workers=workers)
