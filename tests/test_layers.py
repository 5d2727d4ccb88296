"""The package's layers: every import of a module of hnn_np goes to its own layer or one below.

The layers, lowest first, are the reading order of the README: the readable
core, the fast twins, the integrator and the systems, data and training, the
experiments, the command line. The imports are read from the source with
``ast`` (imports inside functions included), so a lazy import that climbs a
layer is caught as well as a top-level one.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hnn_np"

LAYERS = [
    {"_checks", "mode", "symplectic", "npz", "io", "outputs", "interrupts", "losses", "plotting", "scale",
     "time_grid"},
    {"mlp", "optim", "lbfgs"},
    {"hnn", "dhnn", "baseline", "refine", "vjp", "trajectory"},
    {"fast", "testing"},
    {"integrate"},
    {"systems"},
    {"data", "rollout", "evaluate", "checkpoint"},
    {"model", "ensemble"},
    {"train", "train_trajectory"},
    {"differences"},
    {"measured"},
    {"datasets", "fit_data"},
    {"paper"},
    {"studies"},
    {"catalog"},
    {"cli"},
    {"__main__", "__init__"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def part(path: Path) -> str:
    """The top-level part of hnn_np a file belongs to: ``hnn_np/fast/step.py`` -> ``fast``."""
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imported_parts(path: Path, source: str):
    """(line, part) for every import of hnn_np in ``source``, relative or absolute."""
    rel = path.relative_to(PACKAGE)
    package = list(rel.parts[:-1])  # the file's package, below hnn_np
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = base + (node.module.split(".") if node.module else [])
                if not target:  # from . import name (at the top of the package)
                    for alias in node.names:
                        yield node.lineno, alias.name
                    continue
                yield node.lineno, target[0]
            elif node.module and node.module.split(".")[0] == "hnn_np":
                parts = node.module.split(".")
                if len(parts) > 1:
                    yield node.lineno, parts[1]
                else:
                    for alias in node.names:
                        yield node.lineno, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "hnn_np" and len(parts) > 1:
                    yield node.lineno, parts[1]


def upward_imports(path: Path, source: str):
    """Imports in ``source`` of a part in a higher layer than the file's own."""
    own = LAYER[part(path)]
    return [(line, target) for line, target in imported_parts(path, source)
            if target in LAYER and LAYER[target] > own]


FILES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_part_of_the_package_has_a_layer():
    assert {part(p) for p in FILES} <= set(LAYER), {part(p) for p in FILES} - set(LAYER)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_one_of_a_layer_above_it(path):
    assert upward_imports(path, path.read_text()) == []


def test_an_upward_import_is_caught():
    """The check itself can fail: the core importing training code, at the top or lazily."""
    hnn = PACKAGE / "hnn.py"
    assert upward_imports(hnn, "from .train import fit\n") == [(1, "train")]
    assert upward_imports(hnn, "def f():\n    from hnn_np.paper import experiments\n") == [(2, "paper")]
    assert upward_imports(PACKAGE / "fast" / "step.py", "from ..model import Model\n") == [(1, "model")]
    assert upward_imports(hnn, "from . import mlp\n") == []


def test_no_module_but_a_coefficients_table_is_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in FILES
            if (n := len(p.read_text().splitlines())) > 400 and not p.stem.endswith("_coefficients")}
    assert long == {}
