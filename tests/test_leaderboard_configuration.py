"""leaderboard: filter by configuration, and always say what other configurations hold."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from benchmark.cli import main
from benchmark.results import write_batch


@pytest.fixture
def store(tmp_path, seed_rows):
    """Entries a and b at the standard sizes (3 seeds), mine at smoke sizes, a's transfer."""
    standard = seed_rows("a", [0.1] * 3) + seed_rows("b", [0.2] * 3)
    smoke = seed_rows("mine", [0.3] * 2, n_t=256, m=64)
    transfer = seed_rows("a", [0.9], n_t=0, m=0, metric="transfer", budget="smoke", coverage="")
    write_batch(standard + smoke + transfer, tmp_path, name="x")
    return str(tmp_path)


def test_default_board_names_the_rows_it_hides(store):
    result = CliRunner().invoke(main, ["leaderboard", "--results-dir", store, "--metric", "epic"])
    assert result.exit_code == 0, result.output
    assert "mine" not in result.output.split("hidden")[0]
    assert (
        "2 rows at other configurations are hidden: gridworld epic N_T x M = 256 x 64 (2 rows)"
        in result.output
    )


def test_budget_selects_distance_sizes_and_transfer_budget(store):
    result = CliRunner().invoke(
        main,
        ["leaderboard", "--results-dir", store, "--budget", "smoke", "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert {(r["submission"], r["metric"]) for r in records} == {
        ("mine", "epic"),
        ("a", "transfer"),
    }
    assert "6 rows at other configurations are hidden" in result.stderr  # a and b at 1024 x 256


def test_sample_sizes_filter_distances_only(store):
    result = CliRunner().invoke(
        main,
        [
            "leaderboard",
            "--results-dir",
            store,
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


def test_piped_tables_use_full_width_instead_of_wrapping_at_80_columns(store):
    result = CliRunner().invoke(main, ["leaderboard", "--results-dir", store, "--metric", "epic"])
    rows = [ln for ln in result.stdout.splitlines() if "│ random" in ln]
    assert len(rows) == 2 and all(len(ln) > 80 for ln in rows)
    a = next(ln for ln in rows if " a " in ln)
    assert "test" in a and "0.100" in a and "[0.100, 0.100]" in a  # one row, one line
