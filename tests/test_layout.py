"""The package layout keeps its promises (docs/architecture.md, "The stages").

Why tests: a layout rots one import at a time. These read the source (AST), so they check
the rules themselves: modules stay small, stages import no later stage in a two-module
cycle (one documented exception), and the CLI stays quick to start (no torch on import).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import benchmark

PACKAGE = Path(benchmark.__file__).resolve().parent
MAX_LINES = 450
# spec reads submission metadata without torch; formats (the loaders) import it back.
ALLOWED_CYCLES = {("benchmark.submissions.formats", "benchmark.submissions.spec")}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _runtime_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """benchmark modules imported anywhere in ``path`` except under ``if TYPE_CHECKING``."""
    tree = ast.parse(path.read_text())
    skip = {
        id(sub)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for sub in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name.startswith("benchmark"):
                found.add(name)
    return found


def test_no_module_is_longer_than_450_lines():
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these modules (one job each): {long}"


def test_only_the_documented_two_module_import_cycle_remains():
    modules = _modules()
    imports = {name: _runtime_imports(path, modules) - {name} for name, path in modules.items()}
    cycles = {
        tuple(sorted((a, b))) for a, targets in imports.items() for b in targets if a in imports[b]
    }
    assert cycles <= ALLOWED_CYCLES, f"new import cycles: {cycles - ALLOWED_CYCLES}"


def test_cli_and_metric_registry_import_without_torch():
    code = (
        "import sys, benchmark.cli, benchmark.metrics.registry; "
        "print(sorted(m for m in ('torch', 'stable_baselines3', 'wandb') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
