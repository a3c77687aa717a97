"""The paper-findings section: verdicts and numbers on boards whose answers are known.

Each board is real Parquet rows through the store and the board's own aggregation; the
values are chosen so the verdict and the numbers follow by hand from the stated rules
(`findings.RULES`), e.g. AIRL at EPIC 0.6 and preferences at 0.1 leave a gap of 0.5.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.leaderboard import aggregate, build
from benchmark.leaderboard.findings import (
    FINDINGS,
    NOT_MEASURABLE,
    NOT_REPRODUCED,
    REPRODUCED,
    VERDICTS,
    airl_epic_above,
    coverage_spread,
    paper_findings,
    shaped_at_zero,
    transfer_split,
)
from benchmark.results import make_row, read_results, write_batch

REPO = Path(__file__).resolve().parents[1]
TASK = "gridworld"
METHODS = {
    "airl": "AIRL",
    "airl-state-only": "AIRL (state-only)",
    "preferences": "preference comparisons",
    "regression": "regression",
    "shaped": "sanity",
}


def _rows(entry: str, metric: str, values: list[float], coverage: str = "random") -> list[dict]:
    """One row per seed of ``gridworld-<entry>`` (transfer: standard budget, no coverage)."""
    transfer = metric.startswith("transfer")
    method = METHODS.get(entry.split("-ckpt")[0], "regression")
    return [
        make_row(
            submission=f"{TASK}-{entry}",
            submission_sha256=entry * 2,
            method=method,
            task=TASK,
            task_version="1",
            metric=metric,
            coverage="" if transfer else coverage,
            seed=seed,
            budget="standard" if transfer else "",
            n_transitions=0 if transfer else 1024,
            n_samples=0 if transfer else 256,
            value=value,
        )
        for seed, value in enumerate(values)
    ]


def _board(tmp_path, rows):
    write_batch(rows, tmp_path, name="board")
    return aggregate(read_results(tmp_path))


def _epic(airl, airl_so, preferences, regression, coverage="random"):
    return (
        _rows("airl", "epic", airl, coverage)
        + _rows("airl-state-only", "epic", airl_so, coverage)
        + _rows("preferences", "epic", preferences, coverage)
        + _rows("regression", "epic", regression, coverage)
    )


def test_airl_far_above_preferences_and_regression_is_reproduced_with_the_gap(tmp_path):
    board = _board(tmp_path, _epic([0.59, 0.61], [0.69, 0.71], [0.09, 0.11], [0.04, 0.06]))
    finding = airl_epic_above(board, TASK)
    assert finding.verdict == REPRODUCED
    assert finding.numbers["gap:random"] == pytest.approx(0.6 - 0.1)
    assert "random 0.600 vs 0.100 (gap 0.500)" in finding.measured


def test_airl_below_preferences_is_not_reproduced_and_says_so(tmp_path):
    board = _board(tmp_path, _epic([0.09, 0.11], [0.19, 0.21], [0.59, 0.61], [0.04, 0.06]))
    finding = airl_epic_above(board, TASK)
    assert finding.verdict == NOT_REPRODUCED
    assert finding.numbers["gap:random"] == pytest.approx(0.1 - 0.6)
    assert "gap -0.500 < 0.1" in finding.reason


def test_a_gap_below_the_margin_is_not_well_above(tmp_path):
    board = _board(tmp_path, _epic([0.15, 0.15], [0.2, 0.2], [0.1, 0.1], [0.05, 0.05]))
    finding = airl_epic_above(board, TASK)
    assert finding.verdict == NOT_REPRODUCED and "gap 0.050 < 0.1" in finding.reason


def test_overlapping_intervals_are_not_well_above_whatever_the_means(tmp_path):
    # Two seeds each: the bootstrap means of AIRL are 0.3, 0.6, 0.9, of preferences 0.0,
    # 0.3, 0.6, so the 95% intervals [0.3, 0.9] and [0.0, 0.6] overlap; the means' gap is 0.3.
    board = _board(tmp_path, _epic([0.3, 0.9], [0.8, 0.8], [0.0, 0.6], [0.05, 0.05]))
    finding = airl_epic_above(board, TASK)
    assert finding.numbers["gap:random"] == pytest.approx(0.3)
    assert finding.verdict == NOT_REPRODUCED and "random: intervals overlap" in finding.reason


def test_every_coverage_must_hold(tmp_path):
    rows = _epic([0.6], [0.6], [0.1], [0.1], "random") + _epic(
        [0.15], [0.2], [0.1], [0.1], "expert"
    )
    finding = airl_epic_above(_board(tmp_path, rows), TASK)
    assert finding.verdict == NOT_REPRODUCED
    assert finding.reason == "holds on 1 of 2 coverages; fails on expert: gap 0.050 < 0.1"
    assert finding.numbers == pytest.approx({"gap:expert": 0.05, "gap:random": 0.5})


def test_a_missing_entry_makes_the_comparison_not_measurable(tmp_path):
    rows = _rows("airl", "epic", [0.6]) + _rows("preferences", "epic", [0.1])
    finding = airl_epic_above(_board(tmp_path, rows), TASK)
    assert finding.verdict == NOT_MEASURABLE
    assert finding.reason == "no EPIC rows for gridworld-airl-state-only, gridworld-regression"


def _transfer(preferences, regression, airl, airl_so):
    return (
        _rows("preferences", "transfer", preferences)
        + _rows("regression", "transfer", regression)
        + _rows("airl", "transfer", airl)
        + _rows("airl-state-only", "transfer", airl_so)
    )


def test_supervised_rewards_transferring_and_airl_failing_is_reproduced(tmp_path):
    board = _board(tmp_path, _transfer([0.9, 0.9], [1.0, 1.0], [0.2, 0.2], [0.1, 0.1]))
    finding = transfer_split(board, TASK)
    assert finding.verdict == REPRODUCED
    assert finding.numbers == pytest.approx(
        {"preferences": 0.9, "regression": 1.0, "airl": 0.2, "airl-state-only": 0.1}
    )


def test_airl_transferring_is_not_reproduced(tmp_path):
    board = _board(tmp_path, _transfer([0.9], [1.0], [0.95], [0.1]))
    finding = transfer_split(board, TASK)
    assert finding.verdict == NOT_REPRODUCED and finding.reason == "airl transfers (0.950 ≥ 0.5)"


def test_a_supervised_reward_short_of_the_reference_is_not_reproduced(tmp_path):
    board = _board(tmp_path, _transfer([0.7], [1.0], [0.2], [0.1]))
    finding = transfer_split(board, TASK)
    assert finding.verdict == NOT_REPRODUCED
    assert finding.reason == "preferences does not transfer (0.700 < 0.8)"


def test_no_transfer_rows_is_not_measurable_and_names_the_entries(tmp_path):
    board = _board(tmp_path, _epic([0.6], [0.6], [0.1], [0.1]))
    finding = transfer_split(board, TASK)
    assert finding.verdict == NOT_MEASURABLE
    assert finding.reason == (
        "no transfer rows for gridworld-preferences, gridworld-regression, gridworld-airl, "
        "gridworld-airl-state-only"
    )


def _shaped(npec_random: float, *, with_npec: bool = True) -> list[dict]:
    rows = []
    for coverage in ("expert", "random"):
        for metric in ("epic", "dard", "starc"):
            rows += _rows("shaped", metric, [1e-7, 3e-7], coverage)
        rows += _rows("shaped", "erc", [0.05, 0.07], coverage)
    if with_npec:
        # expert coverage: 0 by the zero-denominator convention, whatever the reward
        rows += _rows("shaped", "npec", [0.0, 0.0], "expert")
        rows += _rows("shaped", "npec", [npec_random, npec_random], "random")
    return rows


def test_shaped_at_zero_for_epic_only_is_reproduced_and_npec_expert_is_not_counted(tmp_path):
    finding = shaped_at_zero(_board(tmp_path, _shaped(0.03)), TASK)
    assert finding.verdict == REPRODUCED
    assert finding.numbers["epic:random"] == pytest.approx(2e-7)
    assert finding.numbers["erc:expert"] == pytest.approx(0.06)
    assert "npec:expert" not in finding.numbers and finding.numbers["npec:random"] == 0.03
    assert "EPIC 2.0e-07 (2 coverages)" in finding.measured
    assert "NPEC 0.030 (1 coverages), expert 0 by convention (not counted)" in finding.measured


def test_epic_away_from_zero_for_the_shaped_entry_is_not_reproduced(tmp_path):
    rows = [r for r in _shaped(0.03) if r["metric"] != "epic"]
    rows += _rows("shaped", "epic", [0.01, 0.03], "random") + _rows(
        "shaped", "epic", [0.0], "expert"
    )
    finding = shaped_at_zero(_board(tmp_path, rows), TASK)
    assert finding.verdict == NOT_REPRODUCED
    assert finding.reason == "EPIC above 0.001 (max 0.020)"


def test_npec_at_zero_for_the_shaped_entry_is_not_reproduced(tmp_path):
    finding = shaped_at_zero(_board(tmp_path, _shaped(0.0)), TASK)
    assert finding.verdict == NOT_REPRODUCED and finding.reason.startswith("NPEC also at 0")


def test_shaped_without_npec_rows_is_not_measurable(tmp_path):
    finding = shaped_at_zero(_board(tmp_path, _shaped(0.0, with_npec=False)), TASK)
    assert finding.verdict == NOT_MEASURABLE
    assert finding.reason == "no NPEC rows for gridworld-shaped"


def _robustness(epic_step: float, npec_step: float, erc_step: float, *, extra=()) -> list[dict]:
    """Three learned entries whose metric moves by ``k * step`` from mixture to random
    (k = 1, 2, 3), so each metric's mean spread is 2 * step; NPEC also has its expert 0
    and EPIC a `uniform` coverage, which the comparison must leave out (ERC has none)."""
    rows = []
    for k, entry in enumerate(("airl", "preferences", "regression", *extra), start=1):
        for metric, step in (("epic", epic_step), ("npec", npec_step), ("erc", erc_step)):
            rows += _rows(entry, metric, [0.1], "mixture")
            rows += _rows(entry, metric, [0.1 + k * step], "random")
        rows += _rows(entry, "npec", [0.0], "expert")
        rows += _rows(entry, "epic", [0.9], "uniform")
    return rows


def test_epic_moving_least_with_the_coverage_is_reproduced_with_mean_spreads(tmp_path):
    finding = coverage_spread(_board(tmp_path, _robustness(0.01, 0.1, 0.05)), TASK)
    assert finding.verdict == REPRODUCED
    assert finding.numbers == pytest.approx(
        {"spread:epic": 0.02, "spread:npec": 0.2, "spread:erc": 0.1}
    )
    assert "3 learned entries on mixture, random" in finding.measured
    assert "3/3 entries vs NPEC, 3/3 entries vs ERC" in finding.measured


def test_epic_moving_more_than_erc_is_not_reproduced(tmp_path):
    finding = coverage_spread(_board(tmp_path, _robustness(0.05, 0.1, 0.01)), TASK)
    assert finding.verdict == NOT_REPRODUCED
    assert finding.reason == "EPIC's mean spread is not smaller than ERC's"


def test_checkpoints_are_not_entries_of_the_findings(tmp_path):
    rows = _robustness(0.01, 0.1, 0.05)
    rows += _rows("airl-ckpt1", "epic", [0.1], "mixture") + _rows("airl-ckpt1", "epic", [0.9])
    for metric in ("npec", "erc"):
        rows += _rows("airl-ckpt1", metric, [0.1], "mixture") + _rows("airl-ckpt1", metric, [0.1])
    (finding,) = [f for f in paper_findings(_board(tmp_path, rows)) if f.finding == "d"]
    assert finding.numbers["spread:epic"] == pytest.approx(0.02)


def test_too_few_learned_entries_make_robustness_not_measurable(tmp_path):
    rows = [r for r in _robustness(0.01, 0.1, 0.05) if r["submission"] != "gridworld-regression"]
    finding = coverage_spread(_board(tmp_path, rows), TASK)
    assert finding.verdict == NOT_MEASURABLE and "(need 3)" in finding.reason


def test_build_shows_the_findings_with_their_rules_in_readme_and_site(tmp_path):
    rows = _epic([0.59, 0.61], [0.69, 0.71], [0.09, 0.11], [0.04, 0.06])
    write_batch(rows, tmp_path / "results", name="x")
    readme, site = build(tmp_path / "results", tmp_path)
    text = readme.read_text()
    assert "## Paper findings" in text and "by at least 0.1" in text
    assert "| gridworld | (b) | reproduced |" in text
    assert "| gridworld | (c) | not measurable yet |" in text
    page = site.read_text()
    assert 'id="findings-table"' in page and 'href="#findings"' in page


def test_every_task_on_the_committed_board_has_the_four_findings_with_a_verdict():
    board = aggregate(read_results(REPO / "leaderboard" / "results"))
    findings = paper_findings(board)
    tasks = list(dict.fromkeys(board["task"]))
    assert [(f.task, f.finding) for f in findings] == [(t, x) for t in tasks for x in FINDINGS]
    for f in findings:
        assert f.verdict in VERDICTS and f.reason, f
