"""A second process loads the compiled driver and the adapter of a fun from Numba's disk cache.

Each process runs a short script in a fresh interpreter with its own,
initially empty, ``NUMBA_CACHE_DIR``: the first compiles the driver, the
user's ``@njit(cache=True)`` right-hand side (defined in a module of its own)
and its adapter, and stores them; the second must find all three there. What is compared is
Numba's own record of each dispatcher (``.stats.cache_hits`` and
``.stats.cache_misses``) and the numbers computed, which must be the same
bits in both processes.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import hnn_np

ROOT = Path(hnn_np.__file__).resolve().parents[1]  # the tree under test, not another installed copy

USER_MODULE = textwrap.dedent('''
    import numpy as np
    from numba import njit


    @njit(cache=True)
    def user_rhs(t, y, dy_dt, params):
        dy_dt[0] = y[1]
        dy_dt[1] = -params[0] * y[0]
''')

SCRIPT = textwrap.dedent('''
    import json

    import numpy as np

    from hnn_np.integrate import solve_ivp
    from hnn_np.integrate.checks import METHODS
    from user_rhs_module import user_rhs

    result = solve_ivp(user_rhs, (0.0, 3.0), np.array([1.0, 0.0]), rtol=1e-9, atol=1e-9,
                       args=(np.array([4.0]),), inplace=True)
    from hnn_np.integrate._compiled.adapters import adapters
    from hnn_np.integrate._compiled.driver import entry

    one = entry("DOP853")
    (adapter,) = adapters(user_rhs)
    print(json.dumps(dict(
        driver_hits=sum(one.stats.cache_hits.values()), driver_misses=sum(one.stats.cache_misses.values()),
        user_hits=sum(user_rhs.stats.cache_hits.values()), user_misses=sum(user_rhs.stats.cache_misses.values()),
        adapter_hits=sum(adapter.stats.cache_hits.values()), adapter_misses=sum(adapter.stats.cache_misses.values()),
        y=result.y[:, -1].tolist(), nfev=result.nfev)))
''')


def run_fresh_process(folder, cache_dir):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), "PYTHONPATH": os.pathsep.join((str(folder), str(ROOT)))}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=folder, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_second_process_loads_the_driver_and_the_user_function_from_the_cache(tmp_path):
    (tmp_path / "user_rhs_module.py").write_text(USER_MODULE)
    cache_dir = tmp_path / "numba-cache"
    first = run_fresh_process(tmp_path, cache_dir)
    second = run_fresh_process(tmp_path, cache_dir)
    assert first["driver_misses"] == 1 and first["driver_hits"] == 0  # compiled and stored
    assert first["user_misses"] == 1
    assert second["driver_hits"] == 1 and second["driver_misses"] == 0  # loaded, not compiled
    assert second["user_hits"] == 1 and second["user_misses"] == 0
    assert first["adapter_misses"] == 1 and second["adapter_hits"] == 1 and second["adapter_misses"] == 0
    assert second["y"] == first["y"] and second["nfev"] == first["nfev"]
    assert any(name.endswith(".nbi") for _, _, files in os.walk(cache_dir) for name in files)
