"""The README's Python snippets, run one after another in one fresh process, as a reader would paste them.

Each ```python block of README.md, in order, goes into one script run in an
empty folder (the snippets save a model there); the process must finish
without error, and the training snippets must report progress when stderr is
not a terminal (a line per tenth of the run). A snippet that breaks --
a renamed function, a name reused for another object, a file written where
the next snippet does not find it -- fails here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_snippets() -> list[str]:
    """The source of every ```python block of README.md, in order."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        return re.findall(r"^```python\n(.*?)^```", f.read(), flags=re.S | re.M)


def test_the_readme_has_the_snippets_this_test_runs():
    snippets = readme_snippets()
    assert len(snippets) >= 4
    joined = "\n".join(snippets)
    for call in ("hnn_np.fit(", "hnn_np.fit_trajectories(", "hnn_np.solve_ivp(", "hnn_np.readable()"):
        assert call in joined, call


@pytest.mark.slow
def test_the_readme_snippets_run_in_one_process(tmp_path):
    script = tmp_path / "readme.py"
    markers = [f"print('snippet {i} done', flush=True)" for i in range(len(readme_snippets()))]
    script.write_text("\n".join(f"{code}\n{marker}" for code, marker in zip(readme_snippets(), markers)),
                      encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    for i in range(len(markers)):
        assert f"snippet {i} done" in done.stdout
    assert (tmp_path / "spring.npz").is_file()
    progress = re.findall(r"^fit: step (\d+)/(\d+) \((\d+)%\)", done.stderr, flags=re.M)
    assert {"100"} <= {p for _, _, p in progress}, done.stderr[-2000:]  # each fit reports its end, not a terminal
    assert len(progress) >= 2 * 10, done.stderr[-2000:]  # a line per tenth of the run, in both fits
