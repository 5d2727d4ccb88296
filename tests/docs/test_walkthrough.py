"""docs/walkthrough.py runs top to bottom, and its checks can fail.

The walkthrough is a Jupytext percent-format script whose every step ends in
an assert. Run in a subprocess (with the Agg backend, figures into a temporary
folder), it must exit 0 and write its figures there, not into the repository;
a copy with the tanh'' line of its inline backprop removed must stop with an
AssertionError.
"""

import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
WALKTHROUGH = ROOT / "docs" / "walkthrough.py"
TANH_LINE = "a1_bar = -2 * a1 * s1_bar if tanh_second_term else 0 * s1_bar"


def run(script, out_dir, timeout=600):
    env = dict(os.environ, MPLBACKEND="Agg", HNN_WALKTHROUGH_OUT=str(out_dir), OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_walkthrough_runs_to_the_end_and_writes_its_figures(tmp_path):
    before = set(ROOT.rglob("*.png"))
    result = run(WALKTHROUGH, tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "walkthrough done" in result.stdout
    assert {p.name for p in tmp_path.glob("*.png")} == {"hnn_spring.png", "dop853_vs_rk45.png",
                                                        "leapfrog_energy.png"}
    assert set(ROOT.rglob("*.png")) == before  # nothing written into the repository


def test_walkthrough_fails_when_its_backprop_drops_the_tanh_second_term(tmp_path):
    source = WALKTHROUGH.read_text()
    assert source.count(TANH_LINE) == 1
    broken = tmp_path / "walkthrough_broken.py"
    broken.write_text(source.replace(TANH_LINE, "a1_bar = 0 * s1_bar"))
    result = run(broken, tmp_path)
    assert result.returncode != 0
    assert "AssertionError" in result.stderr


def test_walkthrough_is_a_percent_format_script():
    source = WALKTHROUGH.read_text()
    assert "format_name: percent" in source
    cells = re.findall(r"^# %%( \[markdown\])?$", source, flags=re.M)
    assert sum(1 for c in cells if c) >= 8 and sum(1 for c in cells if not c) >= 8


# --- the other documents of docs/ ---------------------------------------------

DOCS = ROOT / "docs"
CITATION = re.compile(r"(tests/[\w/]+\.py)::(test_\w+)")


def test_derivation_cites_only_tests_that_exist():
    text = (DOCS / "derivation.md").read_text()
    cited = CITATION.findall(text)
    assert len(cited) >= 30

    def defines(path, name):  # written out in the file itself, so that grep finds it
        return re.search(rf"^def {name}\(", (ROOT / path).read_text(), flags=re.M) is not None

    missing = [f"{path}::{name}" for path, name in cited
               if not (ROOT / path).is_file() or not defines(path, name)]
    assert not missing, missing


def test_derivation_math_is_balanced():
    """Every $$ stands on its own line and opens or closes a block; inline $ pair up per paragraph."""
    in_code, in_block, paragraph = False, False, []
    lines = (DOCS / "derivation.md").read_text().splitlines() + [""]
    for number, line in enumerate(lines, 1):
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        if "$$" in line:
            assert line.strip() == "$$", f"line {number}: $$ must stand on its own line"
            in_block = not in_block
            continue
        if in_block:
            continue
        if not line.strip():
            dollars = sum(re.sub(r"`[^`]*`", "", text).count("$") for text in paragraph)
            assert dollars % 2 == 0, f"paragraph ending at line {number}: unpaired $"
            paragraph = []
        else:
            paragraph.append(line)
    assert not in_block and not in_code


def test_code_in_testing_your_model_runs():
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / "testing_your_model.md").read_text(), flags=re.S)
    assert len(blocks) >= 4
    for block in blocks:
        exec(compile(block, "testing_your_model.md", "exec"), {})


def test_derivation_tables_quote_the_code_of_loss_and_grad_as_it_is():
    """Each code cell of the tables 'in `hnn.loss_and_grad`' is a line of hnn.py, character for character."""
    source = (ROOT / "hnn_np" / "hnn.py").read_text()
    quoted, in_table = [], False
    for line in (DOCS / "derivation.md").read_text().splitlines():
        if line.startswith("|") and line.rstrip().endswith("in `hnn.loss_and_grad` |"):
            in_table = True
        elif not line.startswith("|"):
            in_table = False
        elif in_table and not line.startswith("|---"):
            quoted.append(re.fullmatch(r"\|.*\| `([^`]+)` \|", line.strip()).group(1))
    assert len(quoted) >= 10
    assert [q for q in quoted if q not in source] == []


def test_derivation_tables_quote_the_trajectory_code_as_it_is():
    """Every code span in the last cell of a table 'in `trajectory.…`' or 'in `vjp.…`' is in that module's source."""
    quoted, source = [], None
    for line in (DOCS / "derivation.md").read_text().splitlines():
        header = re.fullmatch(r"\|.*\| in `(trajectory|vjp)\.\w+` \|", line.strip())
        if header:
            source = (ROOT / "hnn_np" / f"{header.group(1)}.py").read_text()
        elif not line.startswith("|"):
            source = None
        elif source is not None and not line.startswith("|---"):
            cell = line.strip().rstrip("|").rsplit("|", 1)[1]
            quoted.extend((span, span in source) for span in re.findall(r"`([^`]+)`", cell))
    assert len(quoted) >= 25
    assert [span for span, found in quoted if not found] == []
