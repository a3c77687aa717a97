"""The README's Python is runnable: every ```python block executes as written.

Blocks whose first line is ``# file: PATH`` (Python or TOML) are files of a worked example:
they are written under a scratch working directory instead, before the other blocks run
there, each in a fresh namespace (the repository's submissions/ and leaderboard/ are
linked in, so relative paths in the snippets resolve as in a checkout).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```(python|toml)\n(.*?)^```", re.DOTALL | re.MULTILINE)


def readme_blocks() -> list[tuple[str, str]]:
    return BLOCK.findall((REPO / "README.md").read_text())


def split(blocks):
    files, snippets = {}, []
    for lang, text in blocks:
        first = text.splitlines()[0] if text else ""
        if first.startswith("# file: "):
            files[first.removeprefix("# file: ").strip()] = text
        elif lang == "python":
            snippets.append(text)
    return files, snippets


def test_readme_has_python_snippets_and_example_files():
    files, snippets = split(readme_blocks())
    assert len(snippets) >= 4
    assert {"mytasks/mylab/line.py", "mytasks/line.toml"} <= set(files)


@pytest.mark.parametrize("index", range(len(split(readme_blocks())[1])))
def test_readme_python_block_runs(index, tmp_path, monkeypatch):
    files, snippets = split(readme_blocks())
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for name in ("submissions", "leaderboard", "tasks", "experts"):
        (tmp_path / name).symlink_to(REPO / name)
    monkeypatch.chdir(tmp_path)
    # Recorded (set to "": no added directories), so whatever a snippet sets is undone after.
    monkeypatch.setenv("EPIC_BENCH_TASKS", "")
    monkeypatch.setattr(sys, "path", list(sys.path))
    modules = set(sys.modules)
    try:
        exec(compile(snippets[index], f"README.md python block {index}", "exec"), {})
    finally:
        for name in set(sys.modules) - modules:
            if name == "mylab" or name.startswith("mylab."):
                del sys.modules[name]
    assert os.getcwd() == str(tmp_path)
