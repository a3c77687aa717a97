"""Leaderboard aggregation and rendering, from real Parquet result files."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from benchmark.leaderboard import aggregate, build, hidden_configurations, render, sections
from benchmark.leaderboard.analysis import spearman
from benchmark.results import make_row, read_results, write_batch


def _row(submission: str, metric: str, seed: int, value: float, **kw) -> dict:
    fields = dict(
        run_id="r",
        submission=submission,
        submission_sha256=submission * 4,
        method=f"m-{submission}",
        task="gridworld",
        task_version="1",
        metric=metric,
        coverage="uniform" if metric != "transfer" else "",
        seed=seed,
        n_transitions=64 if metric != "transfer" else 0,
        n_samples=32 if metric != "transfer" else 0,
        budget="" if metric != "transfer" else "standard",
        value=value,
    )
    fields.update(kw)
    return make_row(**fields)


def _store(tmp_path, rows, name="a"):
    write_batch(rows, tmp_path, name=name)
    return read_results(tmp_path)


def test_mean_iqm_and_ci_over_seeds(tmp_path):
    values = [0.1, 0.2, 0.3, 0.4, 10.0]
    df = _store(tmp_path, [_row("a", "epic", s, v) for s, v in enumerate(values)])
    (row,) = aggregate(df).itertuples()
    assert row.n_seeds == 5
    assert row.mean == pytest.approx(np.mean(values))
    # IQM of 5 scores cuts int(0.25 * 5) = 1 from each end.
    assert row.iqm == pytest.approx(np.mean([0.2, 0.3, 0.4]))
    assert min(values) <= row.mean_ci_low <= row.mean <= row.mean_ci_high <= max(values)


def test_rank_direction_distance_low_transfer_high(tmp_path):
    rows = []
    for s in range(3):
        rows += [_row("good", "epic", s, 0.1), _row("bad", "epic", s, 0.6)]
        rows += [_row("good", "transfer", s, 0.9), _row("bad", "transfer", s, 0.2)]
    board = aggregate(_store(tmp_path, rows))
    ranks = {(r.metric, r.submission): r.rank for r in board.itertuples()}
    assert ranks[("epic", "good")] == 1 and ranks[("epic", "bad")] == 2
    assert ranks[("transfer", "good")] == 1 and ranks[("transfer", "bad")] == 2


def test_forced_rerun_replaces_old_row_and_clears_failure(tmp_path):
    old = _row("a", "epic", 0, 0.9, timestamp=pd.Timestamp("2026-01-01", tz="UTC"))
    failed = _row("a", "epic", 1, math.nan, status="failed", error="boom")
    new = _row("a", "epic", 0, 0.1, timestamp=pd.Timestamp("2026-02-01", tz="UTC"))
    board = aggregate(_store(tmp_path, [old, failed]))
    assert board.loc[0, "mean"] == pytest.approx(0.9) and board.loc[0, "n_failed"] == 1
    write_batch([new, _row("a", "epic", 1, 0.3)], tmp_path, name="b")
    board = aggregate(read_results(tmp_path))
    assert board.loc[0, "mean"] == pytest.approx(0.2) and board.loc[0, "n_failed"] == 0


def test_most_precise_configuration_wins(tmp_path):
    rows = [_row("a", "epic", 0, 0.5), _row("a", "epic", 0, 0.2, n_transitions=4096)]
    board = aggregate(_store(tmp_path, rows))
    assert len(board) == 1 and board.loc[0, "n_transitions"] == 4096
    assert board.loc[0, "mean"] == pytest.approx(0.2)


def test_filters_and_formats(tmp_path):
    rows = [_row("a", "epic", s, 0.1 * (s + 1)) for s in range(3)]
    rows += [_row("a", "npec", s, 0.3, task="pointmass") for s in range(3)]
    df = _store(tmp_path, rows)
    board = aggregate(df, tasks=["gridworld"], metrics=["epic"])
    assert set(board["task"]) == {"gridworld"} and set(board["metric"]) == {"epic"}
    assert "gridworld — epic" in render(board, "table")
    assert "| uniform | 1 | a |" in render(board, "markdown")
    assert "N_T=64, M=32" in render(board, "markdown")
    assert pd.read_csv(__import__("io").StringIO(render(board, "csv")))["mean"][0] == pytest.approx(
        0.2
    )
    assert json.loads(render(board, "json"))[0]["submission"] == "a"
    assert "<table" in render(board, "html")
    with pytest.raises(ValueError, match="unknown format"):
        render(board, "xml")


def test_spearman_matches_definition():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 2], [2, 1]))


def test_build_writes_readme_and_site(tmp_path):
    rows = []
    for i, sub in enumerate(["a", "b", "c"]):
        for s in range(2):
            rows.append(_row(sub, "epic", s, 0.1 * (i + 1)))
            rows.append(_row(sub, "epic", s, 0.15 * (i + 1), coverage="expert"))
            rows.append(_row(sub, "transfer", s, 1.0 - 0.3 * i))
    write_batch(rows, tmp_path / "results", name="x")
    readme, site = build(tmp_path / "results", tmp_path)
    text = readme.read_text()
    assert "Does a distance predict transfer?" in text
    assert "| gridworld | EPIC | 3 | -1.000 [-1.000, -1.000] |" in text
    page = site.read_text()
    assert page.count("<svg") == 2 and "https://" not in page.split("<svg")[0]


def test_rounding_level_differences_tie(tmp_path):
    rows = [
        _row("truth", "epic", 0, 1e-8),
        _row("shaped", "epic", 0, 3e-8),
        _row("x", "epic", 0, 0.2),
    ]
    board = aggregate(_store(tmp_path, rows))
    ranks = dict(zip(board["submission"], board["rank"], strict=True))
    assert ranks == {"truth": 1, "shaped": 1, "x": 3}


def test_one_configuration_per_table_the_most_complete(tmp_path):
    rows = [_row(s, "epic", 0, 0.1) for s in ("a", "b", "c")]
    rows.append(_row("a", "epic", 0, 0.3, n_transitions=4096, n_samples=4096))
    board = aggregate(_store(tmp_path, rows))
    assert set(board["n_transitions"]) == {64} and len(board) == 3


def test_resubmitted_model_replaces_the_old_one(tmp_path):
    old = [
        _row("a", "epic", s, 0.5, timestamp=pd.Timestamp("2026-01-01", tz="UTC")) for s in range(2)
    ]
    new = [_row("a", "epic", s, 0.1, submission_sha256="f" * 64) for s in range(2)]
    board = aggregate(_store(tmp_path, old + new))
    assert len(board) == 1 and board.loc[0, "mean"] == pytest.approx(0.1)


def test_failures_of_a_replaced_model_are_not_counted(tmp_path):
    old = _row("a", "epic", 0, math.nan, status="failed", error="x",
               timestamp=pd.Timestamp("2026-01-01", tz="UTC"))  # fmt: skip
    new = [_row("a", "epic", s, 0.1, submission_sha256="f" * 64) for s in range(2)]
    board = aggregate(_store(tmp_path, [old, *new]))
    assert board.loc[0, "n_failed"] == 0


def test_only_the_newest_task_version_counts_compared_as_numbers(tmp_path):
    rows = [
        _row("a", "epic", 0, 0.9, task_version="9"),
        _row("a", "epic", 1, 0.1, task_version="10"),
    ]
    board = aggregate(_store(tmp_path, rows))
    assert len(board) == 1
    assert board.iloc[0]["mean"] == pytest.approx(0.1)


def test_table_titles_say_what_sample_each_metric_used(tmp_path):
    rows = [_row("a", "epic", 0, 0.1), _row("a", "transfer", 0, 0.9)]
    rows.append(_row("a", "erc", 0, 0.2, coverage="random", n_transitions=800, n_samples=0))
    text = render(aggregate(_store(tmp_path, rows)), "markdown")
    assert "gridworld — epic (lower is better, N_T=64, M=32)" in text
    assert (
        "gridworld — erc (lower is better, complete episodes of 800 rolled-out transitions)" in text
    )
    assert "gridworld — transfer (higher is better, budget standard)" in text


# Each metric's direction, from its definition: the distances (EPIC, NPEC, ERC, DARD, STARC)
# are 0 for equivalent rewards, the transfer scores are 1 for a policy as good as the ground
# truth's.
DIRECTION = {"epic": "lower", "npec": "lower", "erc": "lower", "dard": "lower", "starc": "lower",
             "transfer": "higher", "transfer_train": "higher"}  # fmt: skip


def test_every_metric_of_the_runner_has_a_declared_direction():
    from benchmark.evaluation import METRICS

    assert set(METRICS) == set(DIRECTION)


@pytest.mark.parametrize("metric", sorted(DIRECTION))
def test_rank_one_is_the_better_value_in_the_metrics_direction(tmp_path, metric):
    transfer = metric.startswith("transfer")
    config = dict(coverage="", budget="standard", n_transitions=0, n_samples=0) if transfer else {}
    rows = [
        _row(name, metric, s, value, **config)
        for s in range(3)
        for name, value in (("low", 0.2 + 0.01 * s), ("high", 0.7 - 0.01 * s))
    ]
    board = aggregate(_store(tmp_path, rows))
    ranks = {r.submission: r.rank for r in board.itertuples()}
    best = "high" if DIRECTION[metric] == "higher" else "low"
    assert ranks[best] == 1 and len(ranks) == 2 and set(ranks.values()) == {1, 2}


def test_mean_is_the_mean_of_unequal_seeds_not_their_iqm(tmp_path):
    values = [0.0, 0.1, 0.2, 1.0]  # mean 0.325, IQM (middle two) 0.15
    rows = [
        _row("a", "transfer", s, v, coverage="", budget="standard", n_transitions=0, n_samples=0)
        for s, v in enumerate(values)
    ]
    (row,) = aggregate(_store(tmp_path, rows)).itertuples()
    assert row.mean == pytest.approx(0.325, abs=1e-12)
    assert row.iqm == pytest.approx(0.15, abs=1e-12)


def _transfer_row(submission: str, seed: int, policy_return: float, **kw) -> dict:
    """A protocol-2 transfer row: reference -20 ± 6 (5 runs), random -80 ± 2."""
    ref, rand = -20.0, -80.0
    return _row(submission, "transfer", seed, (policy_return - rand) / (ref - rand),
                policy_return=policy_return, random_return=rand, random_std=2.0,
                reference_return=ref, n_reference_runs=5, eval_episodes=64,
                transfer_protocol=2, **{"reference_std": 6.0, **kw})  # fmt: skip


def test_transfer_rows_show_raw_returns_and_the_legend(tmp_path):
    rows = [_transfer_row("a", s, r) for s, r in enumerate([-30.0, -20.0, -25.0])]
    rows += [_transfer_row("one-seed", 0, -50.0)]
    board = aggregate(_store(tmp_path, rows))
    a = board.set_index("submission").loc["a"]
    assert a["policy_return"] == pytest.approx(-25.0)
    assert a["mean"] == pytest.approx(55.0 / 60.0)
    assert (a["reference_return"], a["reference_std"], a["n_reference_runs"]) == (-20.0, 6.0, 5)
    single = board.set_index("submission").loc["one-seed"]
    assert math.isnan(single["mean_ci_low"]) and math.isnan(single["mean_ci_high"])
    for fmt in ("table", "markdown"):
        text = render(board, fmt)
        assert "policy return" in text and "-25.0" in text and "-80.0" in text
        assert "-20.0 ± 6.0 (5)" in text and "n/a" in text
        assert "0 = random policy, 1 = ground-truth-trained" in text
        assert "< 0 worse than random, > 1 better than the reference" in text


def test_transfer_interval_carries_the_reference_noise(tmp_path):
    """Same seed returns, a noisier reference: a wider interval of the mean score."""
    returns = [-30.0, -20.0, -25.0, -22.0, -28.0]
    quiet = [_transfer_row("q", s, r, reference_std=0.0) for s, r in enumerate(returns)]
    noisy = [_transfer_row("n", s, r) for s, r in enumerate(returns)]
    board = aggregate(_store(tmp_path, quiet + noisy)).set_index("submission")
    width = board["mean_ci_high"] - board["mean_ci_low"]
    assert width["n"] > 1.5 * width["q"]


def test_rows_without_raw_returns_aggregate_as_before(tmp_path):
    """Transfer rows written before schema v2 (no raw returns) keep their plain interval."""
    board = aggregate(_store(tmp_path, [_row("old", "transfer", s, v)
                                        for s, v in enumerate([0.5, 0.7, 0.6])]))  # fmt: skip
    (row,) = board.itertuples()
    assert math.isnan(row.policy_return) and 0.5 <= row.mean_ci_low <= row.mean_ci_high <= 0.7
    assert "policy return" not in render(board, "markdown")


def test_board_shows_the_ground_truth_noise_floor(tmp_path):
    """The ground-truth entry retrained on submission seeds, against its 5-run reference
    (-20 ± 6, random -80): one reference std is 6 / 60 = 0.10 on the normalized scale."""
    rows = [_transfer_row("gridworld-ground-truth", s, r)
            for s, r in enumerate([-26.0, -14.0, -20.0, -23.0, -17.0])]  # fmt: skip
    write_batch(rows, tmp_path / "results", name="a")
    readme, site = build(tmp_path / "results", tmp_path / "out")
    text = readme.read_text()
    assert "Noise floor (transfer): the ground truth retrained on 5 submission seeds" in text
    assert "scores 1.00" in text and "-20.0 ± 6.0 (random -80.0)" in text
    assert "one reference std is 0.10 on the normalized scale" in text
    assert "Noise floor (transfer)" in site.read_text()


def test_a_forged_row_cannot_replace_a_table(tmp_path):
    """Of a task only its current version and of a submission only its current sha256 count."""
    from datetime import UTC, datetime

    from benchmark.results.pruning import CurrentVersions

    LATE = datetime(2999, 1, 1, tzinfo=UTC)  # noqa: N806
    shipped = CurrentVersions(versions={"gridworld": "1"}, models={("gridworld", "a"): "aaaa"})
    honest = [_row("a", "epic", s, 0.2) for s in range(3)] + [_row("b", "epic", 0, 0.5)]
    forged = [
        _row("x", "epic", 0, 0.0, task_version="999"),  # a task version that does not exist
        _row("a", "epic", 0, 0.9, submission_sha256="f" * 64, timestamp=LATE),
    ]
    df = _store(tmp_path, honest + forged)
    assert set(aggregate(df)["submission"]) == {"x"}  # the "newest version" rule alone
    board = aggregate(df, shipped=shipped)
    assert set(board["submission"]) == {"a", "b"}
    assert board.set_index("submission").loc["a", "mean"] == pytest.approx(0.2)


# --- mutation-run gaps (docs/testing.md): expected frames written out by hand.

HIDDEN_COLUMNS = ["task", "metric", "budget", "n_transitions", "n_samples", "rows"]


def test_hidden_configurations_name_each_unshown_configuration_with_its_row_count(tmp_path):
    rows = [_row("a", "epic", s, 0.1) for s in range(3)]
    rows += [_row("mine", "epic", s, 0.3, n_transitions=256, n_samples=64) for s in range(2)]
    df = _store(tmp_path, rows)
    hidden = hidden_configurations(df, aggregate(df))
    assert list(hidden.columns) == HIDDEN_COLUMNS
    assert hidden.to_dict("records") == [
        {"task": "gridworld", "metric": "epic", "budget": "", "n_transitions": 256,
         "n_samples": 64, "rows": 2}
    ]  # fmt: skip


def test_an_empty_board_hides_every_configuration(tmp_path):
    df = _store(tmp_path, [_row("a", "epic", s, 0.1) for s in range(3)])
    board = aggregate(df, tasks=["pointmass"])
    assert len(board) == 0
    hidden = hidden_configurations(df, board)
    assert hidden.to_dict("records") == [
        {"task": "gridworld", "metric": "epic", "budget": "", "n_transitions": 64,
         "n_samples": 32, "rows": 3}
    ]  # fmt: skip


def test_an_empty_store_hides_nothing_and_keeps_the_columns(tmp_path):
    df = read_results(tmp_path / "empty")
    hidden = hidden_configurations(df, aggregate(df))
    assert len(hidden) == 0 and list(hidden.columns) == HIDDEN_COLUMNS


def test_a_row_with_a_non_numeric_task_version_does_not_count_when_shipped(tmp_path):
    from benchmark.results.pruning import CurrentVersions

    shipped = CurrentVersions(versions={"gridworld": "1"}, models={})
    honest = [_row("a", "epic", s, 0.2) for s in range(2)]
    df = _store(tmp_path, [*honest, _row("x", "epic", 0, 0.0, task_version="latest")])
    board = aggregate(df, shipped=shipped)
    assert board["submission"].tolist() == ["a"]
    assert board.loc[0, "mean"] == pytest.approx(0.2)


def test_a_metric_the_registry_does_not_know_ranks_as_a_distance(tmp_path):
    """Rows of a retired metric stay readable; like every distance, lower ranks first."""
    rows = [_row(name, "retired_distance", 0, value) for name, value in (("a", 0.1), ("b", 0.7))]
    board = aggregate(_store(tmp_path, rows))
    assert dict(zip(board["submission"], board["rank"], strict=True)) == {"a": 1, "b": 2}


def test_sections_follow_the_registry_order_with_fresh_row_numbers(tmp_path):
    """Tables come in the registry's order (epic, npec, erc, dard, starc, transfer,
    transfer_train), not alphabetically; each table's rows are numbered from 0."""
    rows = []
    for metric in ("starc", "dard", "transfer", "epic"):
        config = dict(coverage="", budget="standard", n_transitions=0, n_samples=0)
        rows += [_row(name, metric, 0, value, **(config if metric == "transfer" else {}))
                 for name, value in (("a", 0.1), ("b", 0.7))]  # fmt: skip
    parts = sections(aggregate(_store(tmp_path, rows)))
    assert [(task, metric) for task, metric, _ in parts] == [
        ("gridworld", "epic"), ("gridworld", "dard"), ("gridworld", "starc"),
        ("gridworld", "transfer"),
    ]  # fmt: skip
    for _, _, table in parts:
        assert table.index.tolist() == [0, 1] and "index" not in table.columns


def _transfer_at(budget: str, value: float) -> dict:
    return _row("a", "transfer", 0, value, coverage="", budget=budget, n_transitions=0,
                n_samples=0)  # fmt: skip


def test_equal_row_counts_go_to_the_more_precise_budget(tmp_path):
    """vocabulary.BUDGETS runs smoke < standard < full in precision."""
    board = aggregate(_store(tmp_path, [_transfer_at("standard", 0.8), _transfer_at("smoke", 0.2)]))
    assert board["budget"].tolist() == ["standard"] and board["mean"].tolist() == [0.8]


def test_a_budget_no_longer_known_loses_a_tie_to_any_known_one(tmp_path):
    """A retired budget name (here "xl", sorting after the known ones) has precision 0."""
    board = aggregate(_store(tmp_path, [_transfer_at("xl", 0.9), _transfer_at("smoke", 0.2)]))
    assert board["budget"].tolist() == ["smoke"]


def test_a_group_without_finite_values_is_skipped_not_the_end_of_the_board(tmp_path):
    rows = [_row("a", "epic", s, math.nan) for s in range(2)]  # ok rows, no value
    rows += [_row("b", "epic", s, 0.3) for s in range(2)]
    board = aggregate(_store(tmp_path, rows))
    assert board["submission"].tolist() == ["b"]


def test_the_bootstrap_seed_reaches_the_intervals(tmp_path):
    """Same seed, same intervals; another seed, other resamples. Twelve unequal values:
    with few, the bootstrap means take few values and two seeds' percentiles can tie."""
    values = [0.1 + 0.07 * k + 0.003 * k * k for k in range(12)]
    df = _store(tmp_path, [_row("a", "epic", s, v) for s, v in enumerate(values)])
    columns = ["mean_ci_low", "mean_ci_high", "iqm_ci_low", "iqm_ci_high"]
    first, again, other = (aggregate(df, seed=s)[columns] for s in (7, 7, 8))
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_the_bootstrap_seed_reaches_the_transfer_intervals_with_reference_noise(tmp_path):
    rows = [_transfer_row("a", s, r) for s, r in enumerate([-30.0, -20.0, -25.0, -22.0, -28.0])]
    df = _store(tmp_path, rows)
    columns = ["mean_ci_low", "mean_ci_high"]
    first, again, other = (aggregate(df, seed=s)[columns] for s in (7, 7, 8))
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_intervals_need_at_least_two_seeds(tmp_path):
    """Module docstring: no interval from a single seed (NaN, shown "n/a")."""
    rows = [_row("one", "epic", 0, 0.2), _row("two", "epic", 0, 0.1), _row("two", "epic", 1, 0.3)]
    board = aggregate(_store(tmp_path, rows)).set_index("submission")
    bounds = ["mean_ci_low", "mean_ci_high", "iqm_ci_low", "iqm_ci_high"]
    assert board.loc["one", bounds].isna().all()
    two = board.loc["two"]
    assert two[bounds].notna().all()
    assert 0.1 <= two["mean_ci_low"] <= two["mean"] <= two["mean_ci_high"] <= 0.3
    assert 0.1 <= two["iqm_ci_low"] <= two["iqm_ci_high"] <= 0.3
