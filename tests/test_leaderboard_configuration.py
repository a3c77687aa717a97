"""leaderboard: filter by configuration, and always say what other configurations hold."""

from __future__ import annotations

import json

from click.testing import CliRunner

from benchmark.cli import main
from benchmark.results import make_row, write_batch


def rows(submission, value, *, n_t, m, metric="epic", budget="", coverage="random", seeds=3):
    return [
        make_row(
            submission=submission,
            submission_sha256=submission * 2,
            method="test",
            task="gridworld",
            task_version="1",
            metric=metric,
            coverage=coverage,
            seed=s,
            budget=budget,
            n_transitions=n_t,
            n_samples=m,
            value=value,
        )  # fmt: skip
        for s in range(seeds)
    ]


def store(tmp_path):
    standard = rows("a", 0.1, n_t=1024, m=256) + rows("b", 0.2, n_t=1024, m=256)
    smoke = rows("mine", 0.3, n_t=256, m=64, seeds=2)
    transfer = rows("a", 0.9, n_t=0, m=0, metric="transfer", budget="smoke", coverage="", seeds=1)
    write_batch(standard + smoke + transfer, tmp_path, name="x")
    return str(tmp_path)


def test_default_board_names_the_rows_it_hides(tmp_path):
    result = CliRunner().invoke(
        main, ["leaderboard", "--results-dir", store(tmp_path), "--metric", "epic"]
    )
    assert result.exit_code == 0, result.output
    assert "mine" not in result.output.split("hidden")[0]
    assert (
        "2 rows at other configurations are hidden: gridworld epic N_T x M = 256 x 64 (2 rows)"
        in result.output
    )


def test_budget_selects_distance_sizes_and_transfer_budget(tmp_path):
    result = CliRunner().invoke(
        main,
        ["leaderboard", "--results-dir", store(tmp_path), "--budget", "smoke", "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert {(r["submission"], r["metric"]) for r in records} == {
        ("mine", "epic"),
        ("a", "transfer"),
    }
    assert "6 rows at other configurations are hidden" in result.stderr  # a and b at 1024 x 256


def test_sample_sizes_filter_distances_only(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "leaderboard",
            "--results-dir",
            store(tmp_path),
            "--n-transitions",
            "1024",
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()[1:]
    assert sorted(ln.split(",")[4] for ln in lines) == ["a", "b"]
    assert "hidden" in result.stderr and "transfer budget smoke (1 rows)" in result.stderr


def test_piped_tables_use_full_width_instead_of_wrapping_at_80_columns(tmp_path):
    result = CliRunner().invoke(
        main, ["leaderboard", "--results-dir", store(tmp_path), "--metric", "epic"]
    )
    rows = [ln for ln in result.stdout.splitlines() if "│ random" in ln]
    assert len(rows) == 2 and all(len(ln) > 80 for ln in rows)
    a = next(ln for ln in rows if " a " in ln)
    assert "test" in a and "0.100" in a and "[0.100, 0.100]" in a  # one row, one line
