"""Inside ``with hnn_np.readable():`` the integrator runs the code a reader opens: controller.py, rk.py, dense.py.

* no Numba dispatcher of hnn_np is called inside the block (every call of a
  dispatcher from Python is recorded; outside the block the same calls reach
  the compiled driver, so the record can tell), and a jitted ``fun`` is
  called as a Python function;
* the steps are Hairer's (the Fortran's counts) and the numbers those of the
  fast path, bit for bit;
* in a copy of the package whose rk.py or dense.py is edited as a learner
  would edit it (found by the AST, so that formatting cannot break it),
  solve_ivp changes inside the block and stays bit for bit the same outside.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _ivp_problems import FORTRAN_COUNTS, PROBLEMS
from numba import njit
from numba.core.registry import CPUDispatcher

import hnn_np
from hnn_np.integrate import solve_ivp, solve_ivp_batch

ROOT = Path(hnn_np.__file__).resolve().parents[1]  # the tree whose package is imported


@njit(cache=True)
def pendulum(t, y):
    return np.array([y[1], -np.sin(y[0])])


@njit(cache=True)
def pendulum_into(t, y, dy_dt, params):
    dy_dt[0] = y[1]
    dy_dt[1] = -params[0] * np.sin(y[0])


@pytest.fixture
def dispatcher_calls(monkeypatch):
    """The qualified names of the Numba dispatchers called from Python, in order."""
    calls = []
    call = CPUDispatcher.__call__

    def recorded(self, *args, **kwargs):
        calls.append(f"{self.py_func.__module__}.{self.py_func.__qualname__}")
        return call(self, *args, **kwargs)

    monkeypatch.setattr(CPUDispatcher, "__call__", recorded)
    return calls


def runs():
    """Every way in: solve_ivp (t_eval, dense output, backwards, RK45) and the batch, both conventions."""
    y0s = np.array([[1.0, 0.0], [0.3, -0.4]])
    t_eval = np.linspace(0.0, 4.0, 9)
    params = (np.array([2.0]),)
    return {
        "t_eval": lambda: solve_ivp(pendulum, (0.0, 4.0), y0s[0], t_eval=t_eval, rtol=1e-8, atol=1e-8),
        "dense": lambda: solve_ivp(pendulum, (0.0, 4.0), y0s[0], dense_output=True, rtol=1e-8, atol=1e-8),
        "backwards, RK45": lambda: solve_ivp(pendulum, (4.0, 0.0), y0s[1], method="RK45", rtol=1e-6, atol=1e-6),
        "in place": lambda: solve_ivp(pendulum_into, (0.0, 4.0), y0s[1], args=params, inplace=True),
        "batch": lambda: solve_ivp_batch(pendulum, (0.0, 4.0), y0s, t_eval, workers=2),
        "batch in place": lambda: solve_ivp_batch(pendulum_into, (0.0, 4.0), y0s, t_eval, args=params,
                                                  inplace=True, method="RK45"),  # fmt: skip
    }


@pytest.mark.parametrize("way", list(runs()))
def test_inside_readable_no_numba_kernel_of_hnn_np_runs(way, dispatcher_calls):
    """Only the user's jitted fun is called inside the block; the results are the fast path's, bit for bit."""
    run = runs()[way]
    fast = run()
    assert any(name.startswith("hnn_np.") for name in dispatcher_calls), "the record misses the driver"
    dispatcher_calls.clear()
    with hnn_np.readable():
        readable = run()
    assert dispatcher_calls, "the jitted fun was not called from Python"
    assert set(dispatcher_calls) <= {f"{__name__}.pendulum", f"{__name__}.pendulum_into"}, set(dispatcher_calls)
    np.testing.assert_array_equal(readable.y, fast.y)
    np.testing.assert_array_equal(readable.nfev, fast.nfev)


def test_inside_readable_the_loop_is_the_controller_calling_rk_and_dense(monkeypatch):
    """The functions of rk.py and dense.py that controller.loops() hands controller.integrate are the ones called."""
    from hnn_np.integrate import dense, rk

    counts = {"rk_step": 0, "error_norm": 0, "dense_coefficients": 0, "interpolate": 0}

    def counted(module, name):
        function = getattr(module, name)

        def wrapper(*args):
            counts[name] += 1
            return function(*args)

        return wrapper

    for module, name in ((rk, "rk_step"), (rk, "error_norm"), (dense, "dense_coefficients"), (dense, "interpolate")):
        monkeypatch.setattr(module, name, counted(module, name))  # looked up by controller.loops() at each run
    with hnn_np.readable():
        result = solve_ivp(pendulum.py_func, (0.0, 4.0), [1.0, 0.0], t_eval=[1.0, 2.0], rtol=1e-8, atol=1e-8)
    assert counts["rk_step"] == counts["error_norm"] == result.nsteps
    assert counts["dense_coefficients"] == counts["interpolate"] == result.naccepted
    counts.update(dict.fromkeys(counts, 0))
    solve_ivp(pendulum.py_func, (0.0, 4.0), [1.0, 0.0], t_eval=[1.0, 2.0], rtol=1e-8, atol=1e-8)
    assert set(counts.values()) == {0}  # outside: the written-out step


@pytest.mark.parametrize(
    "problem, method, t_span, rtol, atol, options, counts", FORTRAN_COUNTS,
    ids=[f"{c[0]}-{c[1]}-{c[3]:g}-{'-'.join(c[5]) or 'default'}-{'back' if c[2][0] else 'fwd'}" for c in FORTRAN_COUNTS],
)  # fmt: skip
def test_inside_readable_the_counts_are_hairers_fortran(problem, method, t_span, rtol, atol, options, counts):
    fun, y0 = PROBLEMS[problem]
    with hnn_np.readable():
        result = solve_ivp(fun, t_span, y0, method=method, rtol=rtol, atol=atol, **options)
    assert result.success
    nfcn, nstep, naccpt, nrejct = counts
    if "first_step" in options:
        nfcn -= 1  # dop853.f / dopri5.f count HINIT's evaluation even when it is skipped
    assert (result.nfev, result.nsteps, result.naccepted, result.nrejected) == (nfcn, nstep, naccpt, nrejct)


# --- a learner's edit takes effect inside the block, and only there ---------------------------------------------


def edited(source: str, function: str, old: str, new: str) -> str:
    """``source`` with the expression ``old`` inside ``def function`` replaced by ``new``, found by the AST.

    ``old`` is compared as ``ast.unparse`` prints it, so that the layout of
    the file (spaces, line breaks, comments) does not matter; it must occur
    exactly once in the function.
    """
    tree = ast.parse(source)
    target = next(node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == function)
    wanted = ast.unparse(ast.parse(old, mode="eval").body)
    found = [node for node in ast.walk(target) if isinstance(node, ast.expr) and ast.unparse(node) == wanted]
    assert len(found) == 1, f"{old!r} occurs {len(found)} times in {function}()"
    node = found[0]
    encoded = source.encode()  # the AST's columns count UTF-8 bytes
    line_starts = np.cumsum([0] + [len(line) for line in encoded.splitlines(keepends=True)])
    start = line_starts[node.lineno - 1] + node.col_offset
    end = line_starts[node.end_lineno - 1] + node.end_col_offset
    return (encoded[:start] + new.encode() + encoded[end:]).decode()


EDITS = {  # (file, function, expression, the learner's version)
    "rk.py: the weights B of y_new, times 1.001": (
        "rk.py", "rk_step", "stage_state(y_new, y, h, tab.A, s, K, s)", "stage_state(y_new, y, 1.001 * h, tab.A, s, K, s)"),
    "rk.py: the error scale sk, times 10": (
        "rk.py", "error_norm", "atol[i] + rtol[i] * max(abs(y[i]), abs(y_new[i]))",
        "10.0 * (atol[i] + rtol[i] * max(abs(y[i]), abs(y_new[i])))"),
    "dense.py: the interpolant's Q_3": (
        "dense.py", "dense_coefficients", "y_diff - h * K[s, i] - bspl", "y_diff - 1.001 * h * K[s, i] - bspl"),
}  # fmt: skip

SOLVE = """
import json, sys
import numpy as np
from numba import njit
import hnn_np
from hnn_np.integrate import solve_ivp, solve_ivp_batch

def pendulum(t, y):
    return np.array([y[1], -np.sin(y[0])])

t_eval = np.linspace(0.0, 6.0, 13)
out = {}
for mode in ("readable", "fast"):
    with hnn_np.readable(mode == "readable"):
        one = solve_ivp(pendulum, (0.0, 6.0), [2.0, 0.0], t_eval=t_eval, rtol=1e-7, atol=1e-7)
        batch = solve_ivp_batch(pendulum, (0.0, 6.0), [[2.0, 0.0], [0.5, 0.5]], t_eval, method="RK45")
    out[mode] = {"y": one.y.ravel().tolist(), "nfev": one.nfev, "batch": batch.y.ravel().tolist()}
if "--jitted" in sys.argv:  # the compiled driver outside the block (compiled anew: the sources changed)
    jitted = njit(pendulum)
    out["compiled"] = solve_ivp(jitted, (0.0, 6.0), [2.0, 0.0], t_eval=t_eval, rtol=1e-7, atol=1e-7).y.ravel().tolist()
print(json.dumps(out))
"""


def solve_in(folder: Path, *flags):
    env = dict(os.environ, PYTHONPATH=str(folder))
    result = subprocess.run([sys.executable, "-c", SOLVE, *flags], cwd=folder, env=env, capture_output=True,
                            text=True, timeout=900)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("learner")
    shutil.copytree(ROOT / "hnn_np", folder / "hnn_np")
    return folder


@pytest.fixture(scope="module")
def unedited(package_copy):
    out = solve_in(package_copy)
    for key in ("y", "nfev", "batch"):  # the readable path gives the fast path's numbers
        assert out["readable"][key] == out["fast"][key], key
    return out


@pytest.mark.slow
@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edit_of_rk_or_dense_changes_solve_ivp_inside_readable_only(package_copy, unedited, edit):
    name, function, old, new = EDITS[edit]
    path = package_copy / "hnn_np" / "integrate" / name
    source = path.read_text()
    path.write_text(edited(source, function, old, new))
    jitted = edit == next(iter(EDITS))  # once: the compiled driver is compiled anew for the changed sources
    try:
        out = solve_in(package_copy, *(["--jitted"] if jitted else []))
    finally:
        path.write_text(source)
    for key in ("y", "nfev", "batch"):
        assert out["fast"][key] == unedited["fast"][key], f"{key}: the fast path read {name}"
    inside, before = np.array(out["readable"]["y"]), np.array(unedited["readable"]["y"])
    assert np.abs(inside - before).max() > 1e-6, f"the edit of {name} did not take effect"
    assert out["readable"]["batch"] != unedited["readable"]["batch"]
    if jitted:
        assert out["compiled"] == unedited["fast"]["y"]


def test_the_ast_edit_finds_its_expression_whatever_the_layout():
    """The helper above, on a reformatted function: same result; an absent expression is an error."""
    plain = "def f(a, b):\n    x = a + b * 2  # note\n    return x\n"
    spaced = "def f(a, b):\n    x = (a +\n         b*2)  # note\n    return x\n"
    for source in (plain, spaced):
        namespace = {}
        exec(edited(source, "f", "a + b * 2", "a - b"), namespace)  # noqa: S102
        assert namespace["f"](5, 1) == 4
    with pytest.raises(AssertionError, match="occurs 0 times"):
        edited(plain, "f", "a * b", "a")
