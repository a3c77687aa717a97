"""The committed leaderboard holds what the project promises: every shipped submission on
its task with EPIC, NPEC and ERC on every coverage (several seeds) and transfer at the
standard budget, all current (the shipped task version and model), none failed.

Why a test: the store is data, built by long runs over several sessions; a submission
that was retrained but not re-evaluated, or a metric that was never run, would otherwise
silently drop out of a table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.evaluation import NO_EPISODES
from benchmark.leaderboard import aggregate, select_rows
from benchmark.results import read_results
from benchmark.submissions import list_submissions
from benchmark.tasks import load_task

REPO = Path(__file__).resolve().parents[1]
MIN_DISTANCE_SEEDS = 2


@pytest.fixture(scope="module")
def results():
    return read_results(REPO / "leaderboard" / "results")


@pytest.fixture(scope="module")
def board_rows(results):
    return select_rows(results)


def test_no_unit_of_the_board_is_left_failed(results):
    board = aggregate(results)
    failed = board[board["n_failed"] > 0]
    assert failed.empty, failed[["task", "metric", "coverage", "submission", "n_failed"]]


SUBMISSIONS = list_submissions(REPO / "submissions")


@pytest.mark.parametrize("submission", SUBMISSIONS, ids=lambda s: s.name)
def test_every_submission_has_every_metric_on_every_coverage(board_rows, submission):
    task = load_task(submission.task)
    rows = board_rows[
        (board_rows["submission"] == submission.name)
        & (board_rows["submission_sha256"] == submission.sha256)
        & (board_rows["task_version"] == str(task.version))
    ]
    for metric in ("epic", "npec", "erc"):
        coverages = [
            c
            for c in task.coverage_names
            if metric != "erc" or task.coverage(c).spec.policy not in NO_EPISODES
        ]
        for coverage in coverages:
            seeds = rows[(rows["metric"] == metric) & (rows["coverage"] == coverage)]["seed"]
            assert seeds.nunique() >= MIN_DISTANCE_SEEDS, (
                f"{submission.name}: {metric} on {coverage} has {seeds.nunique()} seeds"
            )
    transfer = rows[(rows["metric"] == "transfer") & (rows["budget"] == "standard")]
    assert len(transfer) >= 1, f"{submission.name}: no transfer at the standard budget"
