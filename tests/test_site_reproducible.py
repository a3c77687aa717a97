"""`leaderboard build` is a pure function of the results: two builds are byte-identical.

A build time in the page and matplotlib's random SVG ids made every rebuild a
~2 000-line diff, so submission pull requests conflicted on the generated files.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmark.leaderboard import build
from benchmark.results import make_row, write_batch

REPO = Path(__file__).resolve().parents[1]


def results(tmp_path: Path) -> Path:
    rows = []
    for name, epic in (("gridworld-airl", 0.4), ("gridworld-regression", 0.1)):
        for seed in range(2):
            common = dict(submission=name, submission_sha256=name[-8:] * 8, method="m",
                          task="gridworld", task_version="1", seed=seed)  # fmt: skip
            rows.append(make_row(**common, metric="epic", coverage="random", n_transitions=64,
                                 n_samples=32, value=epic + 0.01 * seed))  # fmt: skip
            rows.append(make_row(**common, metric="transfer", budget="smoke", value=1 - epic))
    write_batch(rows, tmp_path / "results", name="a")
    return tmp_path / "results"


def test_two_builds_in_separate_processes_are_byte_identical(tmp_path):
    store = results(tmp_path)
    build(store, tmp_path / "one")
    code = (
        f"from benchmark.leaderboard import build; build({str(store)!r}, {str(tmp_path / 'two')!r})"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    for rel in ("README.md", "site/index.html"):
        one = (tmp_path / "one" / rel).read_bytes()
        two = (tmp_path / "two" / rel).read_bytes()
        assert one == two, f"{rel} differs between builds"
    page = (tmp_path / "one" / "site" / "index.html").read_text()
    assert page.count("<svg") == 2
    assert "Generated" not in page and "<dc:date>" not in page
    # Build information lives in one place, derived from the results (newest row's time).
    assert page.count('id="build-info"') == 1 and "from 8 result rows" in page
