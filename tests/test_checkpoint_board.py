"""Checkpoint families on the board: ranks count ordinary entries, one README row per family,
a collapsed block on the site. Boards are real Parquet rows; expectations are by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from benchmark.leaderboard import aggregate, render, render_site
from benchmark.leaderboard.families import checkpoint_family, checkpoint_index
from benchmark.leaderboard.standing import standing
from benchmark.results import make_row, read_results, write_batch

# EPIC per entry (lower is better): two ordinary entries, a family of three checkpoints.
EPIC = {"a": 0.10, "b": 0.30, "f-ckpt1": 0.40, "f-ckpt2": 0.20, "f-ckpt3": 0.05}


def _rows(values: dict[str, float], metric: str = "epic") -> list[dict]:
    return [
        make_row(run_id="r", submission=name, submission_sha256=(name * 20)[:64],
                 method="regression", task="gridworld", task_version="1", metric=metric,
                 coverage="random", seed=s, n_transitions=64, n_samples=32, value=v + 0.001 * s)
        for name, v in values.items()
        for s in range(2)
    ]  # fmt: skip


@pytest.fixture
def results(tmp_path) -> pd.DataFrame:
    write_batch(_rows(EPIC), tmp_path, name="board")
    return read_results(tmp_path)


def test_family_names_follow_the_checkpoint_suffix():
    assert checkpoint_family("pointmass-airl-ckpt3") == "pointmass-airl"
    assert checkpoint_index("pointmass-airl-ckpt12") == 12
    assert checkpoint_family("pointmass-airl") is None and checkpoint_index("a") == 0
    assert checkpoint_family("x-ckpt0") is None  # checkpoints count from 1


def test_checkpoints_take_their_rank_among_ordinary_entries_and_move_none(results):
    ranks = dict(zip(*aggregate(results)[["submission", "rank"]].T.values, strict=True))
    # ordinary: a (0.10) first, b (0.30) second, as without the family
    assert ranks["a"] == 1 and ranks["b"] == 2
    # each checkpoint: 1 + ordinary entries strictly better
    assert (ranks["f-ckpt3"], ranks["f-ckpt2"], ranks["f-ckpt1"]) == (1, 2, 3)


def test_readme_shows_one_row_per_family_with_count_best_and_worst(results):
    text = render(aggregate(results), "markdown")
    assert "f-ckpt" not in text
    (row,) = [line for line in text.splitlines() if "f (3 checkpoints)" in line]
    assert "| 1–3 |" in row and "best 0.051 · worst 0.401" in row
    assert text.index("| a |") < text.index("| b |") < text.index("f (3 checkpoints)")


def test_site_shows_a_family_collapsed_apart_from_the_task_table(results):
    page = render_site(aggregate(results))
    main, rest = page.split('<details class="family"', 1)
    assert "f-ckpt" not in main  # neither in the overview nor in the task table
    block = rest.split("</details>", 1)[0]
    assert block.startswith(' data-family="f">')  # no ``open``: collapsed by default
    assert "f: 3 checkpoints along one training run; EPIC best 0.051, worst 0.401" in block
    order = [block.index(f'data-submission="f-ckpt{k}"') for k in (1, 2, 3)]
    assert order == sorted(order)  # training order, not EPIC order


def test_standing_does_not_count_a_familys_checkpoints(results, tmp_path):
    write_batch(_rows({"new": 0.2}), tmp_path / "new", name="new")
    (row,) = standing(read_results(tmp_path / "new"), results).itertuples()
    assert (row.rank, row.of) == (2, 3)  # behind a, ahead of b; the family is not counted
