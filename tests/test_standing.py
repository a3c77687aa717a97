"""Standing: a scored model's rank among board entries measured the same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from imitation.rewards.reward_nets import BasicRewardNet

from benchmark.cli import main
from benchmark.leaderboard import standing, standing_text
from benchmark.results import read_results
from benchmark.submissions import export_reward
from benchmark.submissions.conversion import example_inputs
from benchmark.tasks import load_task

REPO = Path(__file__).resolve().parents[1]


def test_rank_counts_only_board_entries_at_the_same_configuration(seed_rows):
    board = pd.DataFrame(
        seed_rows("a", [0.1, 0.1])
        + seed_rows("b", [0.3, 0.5])
        + seed_rows("c", [0.05], n_t=256, m=64)
    )
    mine = pd.DataFrame(seed_rows("mine", [0.2, 0.2, 0.2]))
    table = standing(mine, board)
    (r,) = table.to_dict("records")
    # At 1024 x 256 the board has a (0.1) and b (0.4): 0.2 is second of three; c is elsewhere.
    assert (r["rank"], r["of"], r["best"], r["n_seeds"]) == (2, 3, pytest.approx(0.1), 3)
    assert "rank 2 of 3 at N_T x M = 1024 x 256" in standing_text(table)


def test_transfer_ranks_higher_as_better_and_a_missing_configuration_is_named(seed_rows):
    board = pd.DataFrame(
        seed_rows("a", [0.9], metric="transfer", n_t=0, m=0, budget="standard", coverage="")
        + seed_rows("b", [0.2], metric="transfer", n_t=0, m=0, budget="standard", coverage="")
    )
    mine = pd.DataFrame(
        seed_rows("mine", [0.5], metric="transfer", n_t=0, m=0, budget="standard", coverage="")
    )
    assert standing(mine, board)["rank"].tolist() == [2]
    smoke = pd.DataFrame(
        seed_rows("mine", [0.5], metric="transfer", n_t=0, m=0, budget="smoke", coverage="")
    )
    table = standing(smoke, board)
    assert np.isnan(table["rank"].iloc[0])
    assert "no other board entries at budget smoke (they are at: budget standard)" in (
        standing_text(table)
    )
    # The first entry of a task at a configuration: its own rows are no company (the
    # message once listed them as what the board has).
    alone = standing(mine, pd.DataFrame(
        seed_rows("mine", [0.5], metric="transfer", n_t=0, m=0, budget="standard", coverage="")
    ))  # fmt: skip
    assert "no other board entries at budget standard (they are at: none)" in standing_text(alone)


def test_evaluate_scores_a_model_file_into_scratch_and_shows_its_rank(tmp_path, monkeypatch):
    monkeypatch.setenv("EPIC_BENCH_SCRATCH", str(tmp_path / "scratch"))
    task = load_task("gridworld")
    torch.manual_seed(0)
    net = BasicRewardNet(task.observation_space, task.action_space, hid_sizes=(8,)).eval()
    export_reward(net, example_inputs(task), tmp_path / "my_reward.pt2")
    board_dir = REPO / "leaderboard" / "results"
    board_files = sorted(board_dir.iterdir())
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path / "my_reward.pt2"), "--task", "gridworld",
                                       "--metric", "epic", "--coverage", "random", "--seeds", "1",
                                       "--no-wandb"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(board_dir.iterdir()) == board_files  # the board is untouched
    assert list((tmp_path / "scratch" / "results").glob("*.parquet"))
    scored = pd.read_parquet(tmp_path / "scratch" / "results")
    value = float(scored["value"].iloc[0])
    # Independently: the board's exact gridworld EPIC on random (one row per submission).
    board = read_results(board_dir)
    board = board[(board.task == "gridworld") & (board.metric == "epic") & (board.coverage == "random")
                  & board.exact & (board.status == "ok")]  # fmt: skip
    # Ranks are among ordinary entries: checkpoints (named <family>-ckpt<k>) do not count.
    board = board[~board.submission.str.fullmatch(r".+-ckpt\d+")]
    means = board.groupby("submission")["value"].mean()
    expected = 1 + int((means.round(6) < round(value, 6)).sum())
    line = next(ln for ln in result.output.splitlines() if "my-reward" in ln and "rank" in ln)
    assert f"rank {expected} of {len(means) + 1} at exact" in line
    assert "scoring into the scratch store" in result.output


def test_evaluate_of_a_model_file_without_task_is_a_usage_error(tmp_path):
    (tmp_path / "x.pt2").write_bytes(b"not a model")
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path / "x.pt2"), "--no-wandb"])
    assert result.exit_code == 2 and "needs exactly one --task" in result.output
