"""Rank correlation of distance and transfer over learned rewards only, with bootstrap intervals.

Expectations come from scipy.stats (spearmanr, kendalltau: average ranks and τ_b) and from
cases whose bootstrap distribution is known by construction; boards are real Parquet rows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr

from benchmark.leaderboard import build
from benchmark.leaderboard.aggregate import select_rows
from benchmark.leaderboard.correlation import (
    EntrySeeds,
    correlation_table,
    kendall_rows,
    rank_correlation,
    spearman_rows,
)
from benchmark.results import make_row, read_results, write_batch


def _rows(submission, method, metric, values, *, coverage="random", exact=False):
    """One row per seed of a gridworld entry (transfer: budget standard, no coverage)."""
    transfer = metric.startswith("transfer")
    return [
        make_row(
            run_id="r",
            submission=submission,
            submission_sha256=submission * 2,
            method=method,
            task="gridworld",
            task_version="1",
            metric=metric,
            coverage="" if transfer else coverage,
            seed=s,
            budget="standard" if transfer else "",
            n_transitions=0 if exact or transfer else 1024,
            n_samples=0 if exact or transfer else 256,
            value=v,
            exact=exact,
        )
        for s, v in enumerate(values)
    ]


def _selected(tmp_path, rows):
    write_batch(rows, tmp_path, name="board")
    return select_rows(read_results(tmp_path))


def test_row_statistics_equal_scipy_with_ties():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, size=(200, 7)).astype(float)  # few levels: many ties
    y = rng.integers(0, 4, size=(200, 7)).astype(float)
    rho, tau = spearman_rows(x, y), kendall_rows(x, y)
    for i in range(len(x)):
        if np.ptp(x[i]) == 0 or np.ptp(y[i]) == 0:
            assert math.isnan(rho[i]) and math.isnan(tau[i])
            continue
        assert rho[i] == pytest.approx(spearmanr(x[i], y[i]).statistic, abs=1e-12)
        assert tau[i] == pytest.approx(kendalltau(x[i], y[i]).statistic, abs=1e-12)


def test_board_correlation_counts_learned_entries_only(tmp_path):
    distance = {"a": [0.1, 0.3], "b": [0.5, 0.4], "c": [0.2, 0.2], "d": [0.9, 0.7], "e": [0.6, 0.6]}
    transfer = {"a": [0.7, 0.9], "b": [0.8, 0.6], "c": [0.5, 0.5], "d": [0.1, 0.3], "e": [0.5, 0.5]}
    rows = []
    for name in distance:
        rows += _rows(name, "learned", "epic", distance[name])
        rows += _rows(name, "learned", "epic", [0.0, 0.0], coverage="expert")
        rows += _rows(name, "learned", "transfer", transfer[name])
    # anchors that would make any correlation look perfect if they were mixed in
    for name, d, t in (("gt", 0.0, 1.0), ("noise", 0.5, 0.3), ("neg", 1.0, -2.0)):
        rows += _rows(name, "sanity", "epic", [d, d]) + _rows(name, "sanity", "transfer", [t, t])
        rows += _rows(name, "sanity", "epic", [d, d], coverage="expert")
    (row,) = correlation_table(_selected(tmp_path, rows), ["epic"]).itertuples()
    d = [np.mean(v) / 2 for v in distance.values()]  # expert coverage adds 0 to the mean
    t = [np.mean(v) for v in transfer.values()]
    assert row.n_learned == 5 and row.n_sanity == 3
    assert row.spearman == pytest.approx(spearmanr(d, t).statistic)
    assert row.kendall == pytest.approx(kendalltau(d, t).statistic)
    assert row.spearman_low <= row.spearman_high and row.kendall_low <= row.kendall_high
    assert -1 <= row.spearman_low and row.spearman_high <= 1
    assert row.sanity_spearman == pytest.approx(-1.0) and row.reason == ""


def test_a_checkpoint_identical_to_another_entry_counts_once(tmp_path):
    # "a-ckpt5" is bitwise "a" (same model hash): one reward, so three entries, not four.
    rows = []
    for name, d, t in (("a", 0.1, 0.9), ("b", 0.5, 0.5), ("c", 0.9, 0.1), ("a-ckpt5", 0.1, 0.9)):
        for r in _rows(name, "learned", "epic", [d, d]) + _rows(
            name, "learned", "transfer", [t, t]
        ):
            rows.append(
                {**r, "submission_sha256": "a" * 2 if name == "a-ckpt5" else r["submission_sha256"]}
            )
    (row,) = correlation_table(_selected(tmp_path, rows), ["epic"]).itertuples()
    assert row.n_learned == 3 and row.spearman == pytest.approx(-1.0)


def _entry(name, distance, transfer, **kw):
    return EntrySeeds(name, (np.asarray(distance, float),), np.asarray(transfer, float), **kw)


def test_perfectly_monotone_learned_rewards_give_the_interval_minus_one():
    # seed noise far smaller than the gaps: no resample of seeds or entries can reorder
    entries = [
        _entry(f"e{i}", [0.1 * i, 0.1 * i + 0.01], [1 - 0.2 * i, 0.99 - 0.2 * i]) for i in range(5)
    ]
    r = rank_correlation(entries, resamples=500)
    assert (r.spearman, r.kendall) == (pytest.approx(-1.0), pytest.approx(-1.0))
    assert r.spearman_ci == (pytest.approx(-1.0), pytest.approx(-1.0))
    assert r.kendall_ci == (pytest.approx(-1.0), pytest.approx(-1.0))


def test_entries_tied_in_both_distance_and_transfer_keep_the_interval_at_one():
    # two identical entries tie in both variables: such pairs count in neither τ_b term
    entries = [_entry("a", [0.1, 0.1], [0.1, 0.1]), _entry("b", [0.1, 0.1], [0.1, 0.1])]
    entries += [_entry("c", [0.5, 0.5], [0.6, 0.6]), _entry("d", [0.9, 0.9], [0.8, 0.8])]
    r = rank_correlation(entries, resamples=500)
    assert r.spearman == pytest.approx(spearmanr([0.1, 0.1, 0.5, 0.9], [0.1, 0.1, 0.6, 0.8])[0])
    assert r.spearman_ci == (pytest.approx(1.0), pytest.approx(1.0))
    assert r.kendall_ci == (pytest.approx(1.0), pytest.approx(1.0))


def test_the_interval_resamples_transfer_seeds():
    # entry means order perfectly (ρ = -1), but one entry's transfer seeds straddle the others
    entries = [_entry("a", [0.1, 0.1], [0.9, 0.9]), _entry("b", [0.5, 0.5], [0.95, 0.05])]
    entries += [_entry("c", [0.9, 0.9], [0.4, 0.4])]
    r = rank_correlation(entries, resamples=2000)
    assert r.spearman == pytest.approx(-1.0)
    assert r.spearman_ci[1] > -1 + 1e-9  # some replicate draws b's seed 0.95 twice


def test_the_interval_resamples_distance_seeds():
    entries = [_entry("a", [0.1, 0.1], [0.9, 0.9]), _entry("b", [0.0, 1.0], [0.6, 0.6])]
    entries += [_entry("c", [0.9, 0.9], [0.4, 0.4])]
    r = rank_correlation(entries, resamples=2000)
    assert r.spearman == pytest.approx(-1.0) and r.kendall_ci[1] > -1 + 1e-9


def test_fewer_than_three_learned_entries_give_no_correlation():
    r = rank_correlation([_entry("a", [0.1, 0.2], [1, 1]), _entry("b", [0.3, 0.2], [0, 0])])
    assert math.isnan(r.spearman) and math.isnan(r.kendall) and math.isnan(r.spearman_ci[0])
    assert "2 learned entries" in r.reason


def test_a_single_noisy_seed_gives_no_interval_but_exact_values_do():
    noisy = [_entry(n, [d], [t]) for n, d, t in (("a", 0.1, 0.9), ("b", 0.5, 0.5), ("c", 0.9, 0.1))]
    r = rank_correlation(noisy)
    assert r.spearman == pytest.approx(-1.0) and math.isnan(r.spearman_ci[0])
    assert r.reason == "single seed: a, b, c"
    exact = [
        _entry(n, [d], [t], distance_exact=True, transfer_exact=True)
        for n, d, t in (("a", 0.1, 0.9), ("b", 0.5, 0.5), ("c", 0.9, 0.1))
    ]
    assert rank_correlation(exact, resamples=200).spearman_ci == (-1.0, -1.0)


def test_exact_board_rows_are_not_single_seeds(tmp_path):
    rows = []
    for name, d, t in (("a", 0.1, 0.9), ("b", 0.5, 0.5), ("c", 0.9, 0.1)):
        rows += _rows(name, "learned", "epic", [d], exact=True)
        transfer = _rows(name, "learned", "transfer", [t, t])
        for r in transfer:  # value iteration: exact transfer has no evaluation episodes
            r.update(policy_return=t, random_return=0.0, random_std=0.0, reference_return=1.0,
                     reference_std=0.0, n_reference_runs=1, eval_episodes=0)  # fmt: skip
        rows += transfer
    (row,) = correlation_table(_selected(tmp_path, rows), ["epic"]).itertuples()
    assert (row.spearman_low, row.spearman_high) == (-1.0, -1.0) and row.reason == ""


def test_build_shows_the_learned_correlation_table_in_readme_and_site(tmp_path):
    rows = []
    for i, name in enumerate(["a", "b", "c"]):
        rows += _rows(name, "learned", "epic", [0.1 * (i + 1), 0.1 * (i + 1) + 0.01])
        rows += _rows(name, "learned", "transfer", [1.0 - 0.3 * i, 0.99 - 0.3 * i])
    write_batch(rows, tmp_path / "results", name="x")
    readme, site = build(tmp_path / "results", tmp_path)
    text = readme.read_text()
    assert "learned rewards only" in text and "95% percentile bootstrap" in text
    assert "| gridworld | EPIC | 3 | -1.000 [-1.000, -1.000] | -1.000 [-1.000, -1.000] |" in text
    page = site.read_text()
    assert 'id="correlation-table"' in page and 'href="#correlation"' in page


def test_pairs_ordered_counts_the_pairs_a_distance_gets_right(tmp_path):
    # Distances 0.1 < 0.2 < 0.3 < 0.4 and transfer 1.0, 0.9, 0.95, 0.1: of the six pairs
    # only (b, c) is ordered wrongly (b is closer but transfers worse) -> 5/6. A tie in
    # distance between c and d would make (c, d) count one half -> 4.5/6.
    rows = []
    for name, d, t in (("a", 0.1, 1.0), ("b", 0.2, 0.9), ("c", 0.3, 0.95), ("d", 0.4, 0.1)):
        rows += _rows(name, "learned", "epic", [d, d]) + _rows(name, "learned", "transfer", [t, t])
    (row,) = correlation_table(_selected(tmp_path, rows), ["epic"]).itertuples()
    assert row.pairs == pytest.approx(5 / 6)
    rows = [r for r in rows if not (r["submission"] == "d" and r["metric"] == "epic")]
    rows += _rows("d", "learned", "epic", [0.3, 0.3])
    (row,) = correlation_table(_selected(tmp_path / "tie", rows), ["epic"]).itertuples()
    assert row.pairs == pytest.approx(4.5 / 6)
