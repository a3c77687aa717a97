"""Pruning retires rows of old task versions and retrained submissions, and loses nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmark import results
from benchmark.cli import main
from benchmark.results.pruning import prune_results
from benchmark.submissions import load_submission
from benchmark.tasks import load_task

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path):
    """A submissions root with one real submission and a results store of real Parquet files."""
    root = tmp_path / "submissions"
    shutil.copytree(REPO / "submissions" / "gridworld-random", root / "gridworld-random")
    sub = load_submission(root / "gridworld-random")
    version = str(load_task("gridworld").version)

    def row(seed, *, task_version=version, sha=sub.sha256, status="ok"):
        return results.make_row(
            submission=sub.name,
            submission_sha256=sha,
            method=sub.method,
            task="gridworld",
            task_version=task_version,
            metric="epic",
            coverage="random",
            seed=seed,
            value=0.5 if status == "ok" else float("nan"),
            status=status,
            error="" if status == "ok" else "ValueError: boom",
            schema_version=results.SCHEMA_VERSION,
        )

    out = tmp_path / "results"
    results.write_batch([row(0), row(1, task_version="0")], out, name="a")
    results.write_batch([row(2, sha="0" * 64), row(3, status="failed")], out, name="b")
    return root, out


def test_dry_run_counts_and_changes_nothing(store):
    root, out = store
    before = sorted(p.name for p in out.iterdir())
    report = prune_results(out, submissions_root=root, dry_run=True)
    assert (report.kept, report.dropped) == (2, 2)
    assert report.reasons == {"old task version": 1, "submission retrained": 1}
    assert sorted(p.name for p in out.iterdir()) == before


def test_prune_keeps_exactly_the_current_rows(store):
    root, out = store
    report = prune_results(out, submissions_root=root, drop_failed=True)
    assert report.dropped == 3 and report.reasons["failed"] == 1
    frame = results.read_results(out)
    assert frame["seed"].tolist() == [0]
    assert results.result_files(out) == [report.file_written]


def test_cli_prune_reports_reasons(store):
    root, out = store
    result = CliRunner().invoke(
        main, ["results", "prune", "--results-dir", str(out), "--submissions-root", str(root)]
    )
    assert result.exit_code == 0, result.output
    assert "kept 2 rows, dropped 2" in result.output
    assert sorted(results.read_results(out)["seed"]) == [0, 3]


def test_erc_rows_on_episode_fragments_are_retired(store):
    root, out = store
    sub = load_submission(root / "gridworld-random")
    common = dict(
        submission=sub.name,
        submission_sha256=sub.sha256,
        method=sub.method,
        task="gridworld",
        task_version=str(load_task("gridworld").version),
        metric="erc",
        coverage="random",
        seed=0,
        value=0.5,
    )
    old = results.make_row(**common, n_transitions=1024, n_samples=256)
    new = results.make_row(**common, n_transitions=1024, n_samples=0)
    results.write_batch([old, new], out, name="c")
    report = prune_results(out, submissions_root=root, dry_run=True)
    assert report.reasons["erc on episode fragments"] == 1
    assert report.kept == 3  # the two current epic rows and the episode-based erc row
