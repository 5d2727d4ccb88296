"""Check that every exercise's tests fail on its stub, each test with the stub's NotImplementedError.

Runs pytest on this folder with the stubs in place (``HNN_NP_SOLUTIONS=0``)
and records the outcome of every test. It passes when each stub
``exN_*.py`` has a test file ``test_exN_*.py`` with tests, and every one of
those tests fails by the stub's ``NotImplementedError``: a test that passes
on a stub checks nothing, and one that fails for another reason is broken.
CI runs it after ``make exercises SOLUTIONS=1``, which shows the same tests
pass on the package's code. Exit status 0 when all hold, 1 otherwise.

    .venv/bin/python docs/exercises/check_stubs.py
"""

import os
import sys
from collections import defaultdict
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


class Outcomes:
    """A pytest plugin: per test file, each test's nodeid and how it ended."""

    def __init__(self):
        self.by_file = defaultdict(list)  # file name -> [(nodeid, "stub" | "passed" | "other: ...")]

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = (yield).get_result()
        if report.when == "call" or report.outcome != "passed":  # the call, or a failed set-up/teardown
            if report.passed:
                how = "passed"
            elif report.when == "call" and call.excinfo is not None and call.excinfo.errisinstance(NotImplementedError):
                how = "stub"
            else:
                how = f"other: {report.when} {report.outcome}"
                if call.excinfo is not None:
                    how += f" ({call.excinfo.typename})"
            self.by_file[Path(str(item.fspath)).name].append((item.nodeid, how))


def main() -> int:
    os.environ["HNN_NP_SOLUTIONS"] = "0"
    stubs = sorted(p.name for p in HERE.glob("ex[0-9]*_*.py"))
    outcomes = Outcomes()
    pytest.main(["-q", "-p", "no:cacheprovider", "--no-header", "-o", "addopts=", "--tb=no", "-rN", str(HERE)],
                plugins=[outcomes])
    problems = []
    print()
    for stub in stubs:
        test_file = f"test_{stub}"
        results = outcomes.by_file.get(test_file, [])
        n_stub = sum(how == "stub" for _, how in results)
        print(f"{stub:24s} {len(results):3d} tests, {n_stub:3d} fail on the stub (NotImplementedError)")
        if not (HERE / test_file).is_file():
            problems.append(f"{stub}: no test file {test_file}")
        elif not results:
            problems.append(f"{test_file}: no tests ran")
        problems += [f"{nodeid}: {how}, not the stub's NotImplementedError" for nodeid, how in results if how != "stub"]
    orphans = sorted(set(p.name for p in HERE.glob("test_ex*.py")) - {f"test_{s}" for s in stubs})
    problems += [f"{name}: no stub it tests" for name in orphans]
    if not stubs:
        problems.append(f"no exercise stubs in {HERE}")
    for problem in problems:
        print("FAIL", problem)
    print(f"every test of all {len(stubs)} exercises fails on its stub" if not problems
          else f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
