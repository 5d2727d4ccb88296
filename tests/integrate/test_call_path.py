"""The path of ``fun`` written in hnn_np/integrate/__init__.py is the one that runs.

Every ``file:function`` hop of the docstring must name a function defined in
that file (found in its syntax tree, nested functions by their dotted path),
and the hops that run as Python must be called in the order written: traced
with :func:`sys.setprofile` during a solve_ivp with a Python ``fun`` (every
hop), and with a jitted one (the hops up to the compiled entry).
"""

import ast
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from numba import njit

import hnn_np.integrate as integrate
from hnn_np.integrate import solve_ivp

PACKAGE = Path(integrate.__file__).resolve().parent
HOP = re.compile(r"^\s+(\w+\.py):([\w.]+) -- ")


def blocks() -> list:
    """The two literal blocks of the docstring (jitted fun, Python fun), each a list of (file, dotted name)."""
    found, current = [], None
    for line in integrate.__doc__.splitlines():
        match = HOP.match(line)
        if match:
            current = current if current is not None else []
            current.append(match.groups())
        elif current is not None and line.strip() == "fun":
            found.append(current)
            current = None
    return found


def path_of(file: str) -> Path:
    for folder in (PACKAGE, PACKAGE / "_compiled"):
        if (folder / file).is_file():
            return folder / file
    raise AssertionError(f"{file} is neither in {PACKAGE} nor in its _compiled/")


def defined(file: str) -> set:
    """Dotted paths of every function defined in ``file`` (``outer.inner`` for a nested one)."""
    names = set()

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.ClassDef)):
                names.add(prefix + child.name)
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(path_of(file).read_text()), "")
    return names


def test_the_docstring_has_both_paths():
    jitted, python = blocks()
    assert jitted[0] == python[0] == ("ivp.py", "solve_ivp")
    assert ("rhs.py", "call_rhs") in jitted and ("controller.py", "integrate") in python


@pytest.mark.parametrize("path", [0, 1], ids=["jitted fun", "Python fun"])
def test_every_named_function_is_in_its_file(path):
    hops = blocks()[path]
    missing = [f"{file}:{name}" for file, name in hops if name not in defined(file)]
    assert not missing, f"named in the call path but not defined there: {missing}"
    # the names in the explanations too (``(rk45_kernels.py:rk45_step for RK45)`` and the like)
    for file, name in re.findall(r"(\w+\.py):([\w]+(?:\.[\w]+)*)", integrate.__doc__):
        assert name.rstrip(".") in defined(file), f"{file}:{name}"


def traced(call) -> list:
    """(file name, qualified name) of every Python function of hnn_np/integrate/ called while ``call()`` runs."""
    calls = []

    def profile(frame, event, arg):
        if event == "call":
            path = Path(frame.f_code.co_filename)
            if PACKAGE in path.parents:
                calls.append((path.name, frame.f_code.co_qualname.replace(".<locals>", "")))

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return calls


def in_order(hops, calls) -> list:
    """The hops not found, in order, in the calls (empty when every hop is called after the one before)."""
    position = 0
    for k, hop in enumerate(hops):
        try:
            position = calls.index(hop, position) + 1
        except ValueError:
            return hops[k:]
    return []


def spring(t, y):
    return np.array([y[1], -4.0 * y[0]])


def test_a_python_fun_takes_the_written_path():
    hops = blocks()[1]
    calls = traced(lambda: solve_ivp(spring, (0.0, 1.0), np.array([1.0, 0.0]), rtol=1e-8, atol=1e-8))
    assert in_order(hops, calls) == []


def test_a_jitted_fun_takes_the_written_path_up_to_the_compiled_entry():
    @njit
    def spring_into(t, y, dy_dt, k):  # a new fun: its adapter is found for the first time
        dy_dt[0] = y[1]
        dy_dt[1] = -k * y[0]

    from hnn_np.integrate.ivp import _driver

    _driver()[0]("DOP853")  # the entry compiled or loaded before the trace (a compilation traced would take minutes)
    hops = blocks()[0]
    python_side = hops[: hops.index(("driver.py", "entry")) + 1]
    calls = traced(lambda: solve_ivp(spring_into, (0.0, 1.0), np.array([1.0, 0.0]), args=(4.0,), inplace=True))
    assert in_order(python_side, calls) == []
    # the rest runs as machine code; Numba reports the call of the jitted entry itself to a profiler (without
    # running its Python), none of the functions it calls
    compiled_side = hops[len(python_side) + 1:]
    assert hops[len(python_side)] == ("driver.py", "_entry_function.entry")
    assert not set(compiled_side) & set(calls), [c for c in calls if c in set(compiled_side)][:5]
