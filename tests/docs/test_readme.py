"""The README's Python snippets run as written, one after another in one Python process.

Each ```python block is taken from README.md in order and the blocks are run
as one script in a fresh interpreter, in a temporary folder (the snippets save
``spring.npz`` in the working directory). The training snippet reports its
progress on stderr, a pipe here: one line per tenth of the run.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```python\n(.*?)^```", flags=re.S | re.M)


def readme_blocks():
    return BLOCK.findall((ROOT / "README.md").read_text())


def test_the_readme_has_its_snippets():
    blocks = readme_blocks()
    assert len(blocks) >= 4
    assert any("hnn_np.fit(" in b for b in blocks) and any("readable()" in b for b in blocks)


def test_readme_snippets_run_in_one_process(tmp_path):
    script = "\n".join(readme_blocks()) + "\nprint('readme done', flush=True)\n"
    (tmp_path / "readme.py").write_text(script)
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    t0 = time.perf_counter()
    result = subprocess.run([sys.executable, "readme.py"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=900)
    seconds = time.perf_counter() - t0
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.splitlines()[-1] == "readme done"
    assert (tmp_path / "spring.npz").is_file()
    progress = [line for line in result.stderr.splitlines() if line.startswith("fit: step")]
    runs = sum("(100%)" in line for line in progress)  # one line per tenth of each training run
    assert runs == 2 and len(progress) == 10 * runs and "(100%)" in progress[-1], result.stderr[-2000:]
    print(f"README snippets: {seconds:.1f} s")


def readme_reading_order():
    """[{module, ...} per row] of the README's table 'Read it in this order'."""
    text = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| \d+ \| (.*) \|$", text.split("## Read it in this order")[1], flags=re.M)
    return [set(re.findall(r"\]\(hnn_np/(\w+)(?:\.py|/)\)", row)) for row in rows]


def init_reading_order():
    """[{module, ...} per numbered item] of hnn_np/__init__.py's docstring."""
    import hnn_np

    items = re.split(r"^\d+\. ", hnn_np.__doc__.split("Read in this order")[1].split("\n\n", 2)[1], flags=re.M)
    return [set(re.findall(r":mod:`~hnn_np\.(\w+)`", item)) for item in items if item.strip()]


def test_the_readme_and_the_package_docstring_give_one_reading_order():
    readme = readme_reading_order()
    assert len(readme) >= 6 and {"mlp", "hnn", "mode", "integrate"} <= set().union(*readme)
    assert readme == init_reading_order()
