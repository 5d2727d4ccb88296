"""Start-up costs, each measured in fresh processes: import, first integration, a first script.

* ``import hnn_np`` and ``import hnn_np.integrate, hnn_np.systems``;
* ``startup/first_script.py`` -- import, one ``solve_ivp`` with a built-in
  system's jitted ``fun``, one ``solve_ivp`` and one ``solve_ivp_batch``
  with the user's own ``@njit(cache=True)`` function, one in-place batch:
  the first time its functions are seen (a fresh copy of the script, so
  that Numba has nothing cached for them; the package's own compiled code
  is in the cache, from an earlier run), and on later runs (the same copy
  again); it reports the first system ``solve_ivp`` on its own too;
* later runs again in processes where ``import scipy`` fails, as in an
  installation without scipy (Numba imports ``scipy.linalg`` when its
  compiler starts, if it can);
* the same script with scipy (``startup/first_script_scipy.py``);
* with ``cold=True`` also once with an empty Numba cache: what the very
  first run after installing costs (the driver compiled and stored).

Medians over ``repeats`` processes; the machine is shared, so only the
ratios of one run mean much.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "startup", "first_script.py")
SCIPY_SCRIPT = os.path.join(HERE, "startup", "first_script_scipy.py")
IMPORT = "import time; t = time.perf_counter(); import {}; print(time.perf_counter() - t)"


def _process(args, env=None, cwd=None) -> str:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


# Numba imports scipy.linalg (for its BLAS) when it starts its compiler, if scipy is installed; a
# process where ``import scipy`` fails stands for an installation without scipy (hnn_np does not need it).
WITHOUT_SCIPY = "import sys, runpy; sys.modules['scipy'] = None; runpy.run_path({!r}, run_name='__main__')"


def _script(path, env=None, without_scipy=False) -> dict:
    start = time.perf_counter()
    args = ["-c", WITHOUT_SCIPY.format(path)] if without_scipy else [path]
    out = json.loads(_process(args, env=env, cwd=os.path.dirname(path)))
    out["process_s"] = time.perf_counter() - start  # with the interpreter's own start and exit
    return out


def _median(rows, key) -> float:
    return float(np.median([r[key] for r in rows]))


def run(repeats: int = 3, cold: bool = False, verbose: bool = True) -> dict:
    out = {"repeats": repeats}
    with tempfile.TemporaryDirectory() as tmp:
        _script(SCRIPT)  # the package's compiled code into the cache (a load if it is there already)
        out["import_hnn_np_s"] = float(np.median([float(_process(["-c", IMPORT.format("hnn_np")]))
                                                  for _ in range(repeats + 2)]))  # fmt: skip
        out["import_integrate_systems_s"] = float(np.median(
            [float(_process(["-c", IMPORT.format("hnn_np.integrate, hnn_np.systems")])) for _ in range(repeats + 2)]))
        copies = []
        for i in range(repeats):
            folder = os.path.join(tmp, f"copy{i}")
            os.makedirs(folder)
            copies.append(shutil.copy(SCRIPT, folder))
        first = [_script(path) for path in copies]  # each copy's functions are new to Numba's cache
        later = [_script(copies[0]) for _ in range(repeats)]
        no_scipy = [_script(copies[0], without_scipy=True) for _ in range(repeats)]
        scipy_rows = [_script(SCIPY_SCRIPT) for _ in range(repeats)]
        for name, rows in (("first_time", first), ("later", later), ("later_without_scipy", no_scipy),
                           ("scipy", scipy_rows)):
            out[name] = {key: _median(rows, key) for key in rows[0]}
        if cold:
            env = {**os.environ, "NUMBA_CACHE_DIR": os.path.join(tmp, "empty-cache")}
            out["empty_cache"] = _script(shutil.copy(SCRIPT, os.path.join(tmp, "cold.py")), env=env)
    if verbose:
        print_table(out)
    return out


def print_table(r: dict) -> None:
    print(f"fresh processes, medians of {r['repeats']}")
    print(f"import hnn_np: {r['import_hnn_np_s']:.3f} s; import hnn_np.integrate, hnn_np.systems: "
          f"{r['import_integrate_systems_s']:.3f} s")
    print(f"{'first script':34} {'import':>8} {'1st system solve_ivp':>21} {'import to last result':>22}")
    rows = [("its functions seen the first time", "first_time"), ("later runs", "later"),
            ("later runs, scipy not installed", "later_without_scipy"), ("the same with scipy", "scipy")] + ([("empty Numba cache", "empty_cache")] if "empty_cache" in r else [])
    for label, key in rows:
        x = r[key]
        print(f"{label:34} {x['import_s']:8.3f} {x['first_system_solve_ivp_s']:21.3f} "
              f"{x['import_to_last_result_s']:22.3f}")


if __name__ == "__main__":
    run(cold="--cold" in sys.argv)
