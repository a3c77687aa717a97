"""Does a distance rank *learned* rewards as transfer does? Rank correlations with intervals.

Gleave et al. (ICLR 2021, Sec. 6) read EPIC's value off its rank agreement with
reoptimization transfer. Over all board entries that agreement is carried by the sanity
anchors (ground truth and shaped at distance 0, negated at 1), which any distance orders
correctly; the question a reader has is whether the distance orders the *learned* rewards.
So the correlation here is over learned entries only (method other than ``sanity``), and
the anchors' correlation is reported beside it, never mixed in.

Per submission i: distance d_i = mean over coverages of the per-coverage seed means,
transfer t_i = mean of its transfer seeds (test variant). Spearman's ρ (Pearson of average
ranks) and Kendall's τ_b = Σ_{i<j} sgn(Δd) sgn(Δt) / sqrt(Σ sgn(Δd)² · Σ sgn(Δt)²) over
the learned entries. Interval: a two-level percentile bootstrap (Davison & Hinkley 1997,
Sec. 3.8): each replicate draws the submissions with replacement and, within each drawn
submission, its transfer seeds and each coverage's distance seeds with replacement, so
the interval carries both the choice of entries and their seed noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from benchmark.leaderboard.metabench import pair_accuracy

SANITY = "sanity"
MIN_ENTRIES = 3  # below three points a rank correlation says nothing
RESAMPLES = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class EntrySeeds:
    """One submission's per-seed values: ``distance[c]`` are coverage c's seeds ``[n_c]``.

    ``*_exact``: the values are exact (finite tasks: no sampling, no RL noise), so one
    value per coverage or seed is the whole truth, not a single noisy draw.
    """

    submission: str
    distance: tuple[np.ndarray, ...]
    transfer: np.ndarray
    distance_exact: bool = False
    transfer_exact: bool = False

    def single_seed(self) -> bool:
        """Whether some noisy estimate has one seed only (its spread is unknown)."""
        thin_distance = not self.distance_exact and any(len(d) < 2 for d in self.distance)
        return thin_distance or (not self.transfer_exact and len(self.transfer) < 2)

    @property
    def distance_mean(self) -> float:
        return float(np.mean([d.mean() for d in self.distance]))

    @property
    def transfer_mean(self) -> float:
        return float(self.transfer.mean())


@dataclass(frozen=True)
class RankCorrelation:
    """ρ and τ_b with percentile intervals; NaN where ``reason`` says why not."""

    n: int
    spearman: float
    kendall: float
    spearman_ci: tuple[float, float]
    kendall_ci: tuple[float, float]
    reason: str = ""
    pairs: float = np.nan  # share of pairs of different transfer the distance orders right


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's ρ per row of ``x, y`` ``[B, n]`` (average ranks); NaN where one is constant."""
    rx, ry = rankdata(x, axis=1), rankdata(y, axis=1)
    rx = rx - rx.mean(axis=1, keepdims=True)
    ry = ry - ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(axis=1) / np.where(den > 0, den, 1), np.nan)


def kendall_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's τ_b per row of ``x, y`` ``[B, n]``; NaN where one row is constant.

    τ_b = Σ a_ij b_ij / sqrt(Σ a_ij² Σ b_ij²) with a_ij = sgn(x_i − x_j), b likewise
    (Kendall 1945): pairs tied in one variable drop out of that variable's count.
    """
    a = np.sign(x[:, :, None] - x[:, None, :])
    b = np.sign(y[:, :, None] - y[:, None, :])
    den = np.sqrt((a * a).sum(axis=(1, 2)) * (b * b).sum(axis=(1, 2)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(axis=(1, 2)) / np.where(den > 0, den, 1), np.nan)


def _seed_means(values: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``values`` resampled with replacement ``[resamples]`` (the inner level)."""
    draws = rng.integers(0, len(values), size=(resamples, len(values)))
    return values[draws].mean(axis=1)


def rank_correlation(
    entries: list[EntrySeeds],
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> RankCorrelation:
    """ρ and τ_b between distance and transfer over ``entries``, with bootstrap intervals.

    Fewer than MIN_ENTRIES entries: all NaN. An entry with a single transfer seed (or a
    coverage with a single distance seed) cannot show its seed noise, so the interval is
    NaN (the point estimates stay); exact values need no second seed. Replicates where every drawn entry ties (one entry
    drawn n times) have no correlation and are left out of the percentiles.
    """
    n = len(entries)
    if n < MIN_ENTRIES:
        reason = f"{n} learned entries with distance and transfer (need {MIN_ENTRIES})"
        return RankCorrelation(n, np.nan, np.nan, (np.nan, np.nan), (np.nan, np.nan), reason)
    x = np.array([[e.distance_mean for e in entries]])
    y = np.array([[e.transfer_mean for e in entries]])
    rho, tau = float(spearman_rows(x, y)[0]), float(kendall_rows(x, y)[0])
    # The meta-benchmark's pair measure: a lower distance should mean a higher transfer,
    # i.e. the same order as regret = -transfer; distance ties count one half.
    pairs = pair_accuracy(x[0], -y[0], tie=0.0)
    single = [e.submission for e in entries if e.single_seed()]
    if single:
        reason = f"single seed: {', '.join(single)}"
        return RankCorrelation(n, rho, tau, (np.nan, np.nan), (np.nan, np.nan), reason, pairs)
    rng = np.random.default_rng(seed)
    d_rep = np.stack(
        [np.mean([_seed_means(d, resamples, rng) for d in e.distance], axis=0) for e in entries],
        axis=1,
    )
    t_rep = np.stack([_seed_means(e.transfer, resamples, rng) for e in entries], axis=1)
    drawn = rng.integers(0, n, size=(resamples, n))
    xb = np.take_along_axis(d_rep, drawn, axis=1)
    yb = np.take_along_axis(t_rep, drawn, axis=1)
    tail = 100 * (1 - confidence) / 2
    intervals = []
    for values in (spearman_rows(xb, yb), kendall_rows(xb, yb)):
        finite = values[np.isfinite(values)]
        low, high = np.percentile(finite, [tail, 100 - tail]) if len(finite) else (np.nan,) * 2
        intervals.append((float(low), float(high)))
    return RankCorrelation(n, rho, tau, intervals[0], intervals[1], pairs=pairs)


def entry_seeds(
    selected: pd.DataFrame, task: str, metric: str, transfer: str = "transfer"
) -> tuple[list[EntrySeeds], list[EntrySeeds]]:
    """(learned, sanity) entries of ``task`` with both ``metric`` and ``transfer`` rows.

    ``selected``: the per-seed rows the leaderboard counts (`aggregate.select_rows`).
    The distance averages over the coverages every one of these entries has, so no
    entry's mean is over an easier or harder set of coverages than another's.
    """
    rows = selected[(selected["task"] == task) & (selected["status"] == "ok")]
    rows = rows[np.isfinite(rows["value"].to_numpy(dtype=np.float64))]
    dist, trans = rows[rows["metric"] == metric], rows[rows["metric"] == transfer]
    names = _one_name_per_reward(rows, sorted(set(dist["submission"]) & set(trans["submission"])))
    if not names:
        return [], []
    coverages = sorted(
        set.intersection(*(set(dist.loc[dist["submission"] == s, "coverage"]) for s in names))
    )
    if not coverages:
        return [], []
    learned, sanity = [], []
    for s in names:
        d = dist[(dist["submission"] == s) & dist["coverage"].isin(coverages)]
        t = trans[trans["submission"] == s]
        entry = EntrySeeds(
            submission=s,
            distance=tuple(
                d.loc[d["coverage"] == c, "value"].to_numpy(np.float64) for c in coverages
            ),
            transfer=t["value"].to_numpy(dtype=np.float64),
            distance_exact=_all_exact(d),
            transfer_exact=_all_exact(t),
        )
        (sanity if d["method"].iloc[0] == SANITY else learned).append(entry)
    return learned, sanity


def _one_name_per_reward(rows: pd.DataFrame, names: list[str]) -> list[str]:
    """The first of ``names`` per model hash: a checkpoint that is bitwise another entry
    (a family's last is the standard model) is one reward, not a second data point."""
    sha = rows.drop_duplicates("submission").set_index("submission")["submission_sha256"]
    seen: set[str] = set()
    return [n for n in names if not (sha[n] in seen or seen.add(sha[n]))]


def _all_exact(rows: pd.DataFrame) -> bool:
    """Exact distances carry ``exact``; exact transfer (value iteration) has 0 episodes."""
    exact = rows["exact"].fillna(False).astype(bool) if "exact" in rows else False
    if "eval_episodes" in rows:
        exact = exact | (rows["eval_episodes"] == 0)
    return bool(np.all(exact))


def correlation_table(
    selected: pd.DataFrame,
    metrics: list[str],
    *,
    transfer: str = "transfer",
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> pd.DataFrame:
    """Per task and distance: learned-only ρ and τ_b with intervals, and the anchors apart.

    Columns: task, metric, n_learned, spearman, spearman_low, spearman_high, kendall,
    kendall_low, kendall_high, pairs, reason, n_sanity, sanity_spearman, sanity_kendall (over
    the sanity anchors alone, for comparison). Only tasks with ``transfer`` rows appear.
    """
    if selected.empty:
        return pd.DataFrame()
    records = []
    tasks = dict.fromkeys(selected.loc[selected["metric"] == transfer, "task"])
    for task in tasks:
        for metric in metrics:
            learned, sanity = entry_seeds(selected, task, metric, transfer)
            if not learned and not sanity:
                continue
            r = rank_correlation(learned, resamples=resamples, seed=seed)
            anchors = rank_correlation(sanity, resamples=1, seed=seed)
            records.append(
                {
                    "task": task,
                    "metric": metric,
                    "n_learned": r.n,
                    "spearman": r.spearman,
                    "spearman_low": r.spearman_ci[0],
                    "spearman_high": r.spearman_ci[1],
                    "kendall": r.kendall,
                    "kendall_low": r.kendall_ci[0],
                    "kendall_high": r.kendall_ci[1],
                    "pairs": r.pairs,
                    "reason": r.reason,
                    "n_sanity": anchors.n,
                    "sanity_spearman": anchors.spearman,
                    "sanity_kendall": anchors.kendall,
                }
            )
    return pd.DataFrame.from_records(records)
