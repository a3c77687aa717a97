"""Renormalizing redoes (policy − random) / (reference − random) with the published runs, and
loses or changes nothing else."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from click.testing import CliRunner

from benchmark import results
from benchmark.cli import main
from benchmark.metrics.transfer import (
    PROTOCOL_VERSION,
    REFERENCE_SEEDS,
    committed_reference_path,
)
from benchmark.results.renormalize import mixed_normalizers, renormalize_transfer
from benchmark.tasks import load_task
from benchmark.tasks.task import budget_hash

# Published runs with hand-checkable statistics: means -176 and -48, deviations
# (-4, -2, 0, 2, 4), so both sample standard deviations are sqrt(40 / 4) = sqrt(10).
RANDOM = (-180.0, -178.0, -176.0, -174.0, -172.0)
REFERENCE = (-52.0, -50.0, -48.0, -46.0, -44.0)


@pytest.fixture
def published(tmp_path, monkeypatch):
    monkeypatch.setenv("EPIC_BENCH_REFERENCES", str(tmp_path / "references"))
    task = load_task("pointmass")
    for seed, r_random, r_ref in zip(REFERENCE_SEEDS, RANDOM, REFERENCE, strict=True):
        path = committed_reference_path(task, "test", "standard", seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"seed": seed, "protocol": PROTOCOL_VERSION,
                                    "budget_hash": budget_hash(task.budgets["standard"]),
                                    "random_return": r_random, "reference_return": r_ref}))  # fmt: skip
    return task


def _row(task: str, metric: str, seed: int, **fields):
    return results.make_row(submission=f"{task}-x", submission_sha256="0" * 64, method="m",
                            task=task, task_version="1", metric=metric, seed=seed,
                            schema_version=results.SCHEMA_VERSION, **fields)  # fmt: skip


def _transfer(task: str, seed: int, policy: float):
    """A row scored against an earlier machine's reference (random -170, reference -40)."""
    return _row(task, "transfer", seed, budget="standard", policy_return=policy,
                value=(policy + 170.0) / 130.0, random_return=-170.0, random_std=1.0,
                reference_return=-40.0, reference_std=2.0, n_reference_runs=5,
                eval_episodes=64, transfer_protocol=PROTOCOL_VERSION)  # fmt: skip


@pytest.fixture
def store(tmp_path, published):
    out = tmp_path / "results"
    results.write_batch([_transfer("pointmass", 0, -112.0), _transfer("pointmass", 1, -176.0),
                         _row("pointmass", "epic", 0, coverage="random", value=0.3)],
                        out, name="a")  # fmt: skip
    results.write_batch([_transfer("pointmaze", 0, -20.0)], out, name="b")
    return out


def test_dry_run_counts_and_changes_nothing(store):
    before = {p.name: p.read_bytes() for p in store.iterdir()}
    report = renormalize_transfer(store, task="pointmass")
    assert (report.changed, report.unchanged) == (2, 0)
    assert {p.name: p.read_bytes() for p in store.iterdir()} == before


def test_apply_recomputes_the_normalized_value_and_nothing_else(store):
    before = results.read_results(store)
    report = renormalize_transfer(store, task="pointmass", dry_run=False)
    assert report.changed == 2 and report.file_written.name.endswith("-renormalized.parquet")
    assert not (store / "a.parquet").exists() and (store / "b.parquet").exists()
    after = results.read_results(store)
    assert len(after) == len(before)
    rows = after[(after["task"] == "pointmass") & (after["metric"] == "transfer")].sort_values(
        "seed"
    )
    # (-112 + 176) / (-48 + 176) = 64 / 128; the random policy's own return scores 0.
    assert list(rows["value"]) == [0.5, 0.0]
    assert (rows["reference_return"] == -48.0).all() and (rows["random_return"] == -176.0).all()
    assert rows["reference_std"].to_numpy() == pytest.approx(math.sqrt(10.0))
    assert rows["random_std"].to_numpy() == pytest.approx(math.sqrt(10.0))
    assert list(rows["policy_return"]) == [-112.0, -176.0]
    assert report.max_value_change == pytest.approx(0.5 - 58 / 130)
    untouched = ["seed", "run_id", "git_commit", "timestamp", "eval_episodes", "wall_time_s"]
    old = before[(before["task"] == "pointmass") & (before["metric"] == "transfer")]
    assert (
        rows[untouched]
        .reset_index(drop=True)
        .equals(old.sort_values("seed")[untouched].reset_index(drop=True))
    )
    epic = after[after["metric"] == "epic"]
    assert list(epic["value"]) == [0.3]
    maze = after[after["task"] == "pointmaze"]
    assert list(maze["reference_return"]) == [-40.0]  # another task: not its normalizer
    # A second pass finds every row already on the published reference.
    again = renormalize_transfer(store, task="pointmass", dry_run=False)
    assert (again.changed, again.unchanged, again.file_written) == (0, 2, None)


def test_a_missing_published_run_is_named_and_nothing_changes(store, published):
    committed_reference_path(published, "test", "standard", REFERENCE_SEEDS[-1]).unlink()
    before = {p.name: p.read_bytes() for p in store.iterdir()}
    with pytest.raises(results.ResultsError, match=r"seed1004.*transfer refs --task pointmass"):
        renormalize_transfer(store, task="pointmass", dry_run=False)
    assert {p.name: p.read_bytes() for p in store.iterdir()} == before


def test_a_stale_or_corrupt_published_run_is_named_with_its_reason(store, published):
    stale = committed_reference_path(published, "test", "standard", REFERENCE_SEEDS[0])
    stale.write_text(json.dumps({"protocol": PROTOCOL_VERSION, "budget_hash": "0" * 16,
                                 "random_return": -1.0, "reference_return": 0.0}))  # fmt: skip
    committed_reference_path(published, "test", "standard", REFERENCE_SEEDS[1]).write_text("{")
    before = {p.name: p.read_bytes() for p in store.iterdir()}
    with pytest.raises(results.ResultsError) as err:
        renormalize_transfer(store, task="pointmass", dry_run=False)
    message = str(err.value)
    assert "seed1000.json (another budget or protocol (budget hash 0000000000000000" in message
    assert "seed1001.json (corrupt" in message and "seed1002" not in message
    assert "rerun `epic-bench transfer refs --task pointmass" in message
    assert {p.name: p.read_bytes() for p in store.iterdir()} == before


def test_cli_counts_then_applies(store):
    out = CliRunner().invoke(main, ["results", "renormalize", "--task", "pointmass",
                                    "--results-dir", str(store)])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "would renormalize 2 transfer rows" in out.output and "--apply" in out.output
    out = CliRunner().invoke(main, ["results", "renormalize", "--task", "pointmass",
                                    "--results-dir", str(store), "--apply"])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "renormalized 2 transfer rows" in out.output and "removed 1 old files" in out.output


def test_a_new_row_on_the_published_reference_beside_old_ones_is_reported_until_renormalized(
    store,
):
    """The situation renormalizing exists for: rows scored on an earlier machine's reference,
    then a new evaluation scored on the published one. Means over both mix two scales."""
    published_row = _transfer("pointmass", 2, -112.0)
    published_row.update(value=0.5, random_return=-176.0, random_std=math.sqrt(10.0),
                         reference_return=-48.0, reference_std=math.sqrt(10.0))  # fmt: skip
    results.write_batch([published_row], store, name="c")
    frame = results.read_results(store)
    assert mixed_normalizers(frame) == ["pointmass transfer standard (2 references)"]
    report = renormalize_transfer(store, task="pointmass", dry_run=False)
    assert (report.changed, report.unchanged) == (2, 1)
    assert mixed_normalizers(results.read_results(store)) == []


def test_rows_without_reference_columns_are_not_counted_as_references():
    # Rows written before schema v2 (reference columns null) carry no normalizer: four such
    # rows used to read as "4 references", since NaN != NaN.
    rows = [_row("gridworld", "transfer", seed, budget="smoke", value=0.5) for seed in range(4)]
    frame = pd.DataFrame(rows)
    assert frame["reference_return"].isna().all()
    assert mixed_normalizers(frame) == []
    frame.loc[0, ["reference_return", "random_return"]] = (1.0, 0.0)
    frame.loc[1, ["reference_return", "random_return"]] = (2.0, 0.0)
    assert mixed_normalizers(frame) == ["gridworld transfer smoke (2 references)"]


def test_leaderboard_build_warns_about_mixed_references(store, tmp_path):
    from benchmark.leaderboard.build import build

    published_row = _transfer("pointmass", 2, -112.0)
    published_row.update(reference_return=-48.0)
    results.write_batch([published_row], store, name="c")
    with pytest.warns(UserWarning, match=r"pointmass transfer standard.*results renormalize"):
        build(store, tmp_path / "board")
