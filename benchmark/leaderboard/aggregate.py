"""Leaderboard aggregation: which rows count, seeds aggregated, submissions ranked.

Aggregation (per task, metric, coverage, submission): the seeds' values as a score
vector ``[num_seeds]`` go to `benchmark.metrics.stats.aggregate_seeds`, which gives the
mean and interquartile mean (IQM) with 95% stratified-bootstrap CIs (rliable). Rank 1 is
the best mean: lowest for distances (EPIC, NPEC, ERC, DARD, STARC), highest for transfer;
ranks count ordinary entries only (a checkpoint of a family: its rank among them).

Which rows count: only ``ok`` rows; of a unit run more than once (``--force``) the
newest; of a task only its newest ``task_version``; of a submission name only its
newest model (sha256); and per task and metric one
configuration (budget, N_T, M): the one with the most rows, ties to the most precise,
named in each table's title so precisions are never silently mixed.

Intervals: none from a single seed (NaN, shown "n/a": one value says nothing about the
spread across seeds). A transfer group whose rows carry the raw returns (results schema
v2) gets `stats.normalized_return_ci`, which adds the K-run reference's own noise to the
resampling of seeds; its raw returns are averaged into the ``*_return`` columns.

Rendering lives in `benchmark.leaderboard.render` (text) and `.site` (HTML).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from benchmark.leaderboard.families import is_checkpoint
from benchmark.metrics.registry import REGISTRY
from benchmark.metrics.stats import aggregate_seeds, normalized_return_ci
from benchmark.results import STATUS_OK, TRANSFER_COLUMNS, current_rows, unit_key
from benchmark.results.current import newest_models, newest_versions
from benchmark.results.pruning import CurrentVersions
from benchmark.vocabulary import BUDGETS

# Direction and table order come from the metric registry; budgets rank by precision.
HIGHER_IS_BETTER = {name: spec.higher_is_better for name, spec in REGISTRY.items()}
METRIC_ORDER = list(REGISTRY)
BUDGET_ORDER = {"": 0, **{b: i + 1 for i, b in enumerate(BUDGETS)}}
RANK_DECIMALS = 6
CONFIG = ("budget", "n_transitions", "n_samples")  # what makes two rows' estimates comparable

AGGREGATE_COLUMNS = [
    "task",
    "metric",
    "coverage",
    "rank",
    "submission",
    "method",
    "n_seeds",
    "mean",
    "mean_ci_low",
    "mean_ci_high",
    "iqm",
    "iqm_ci_low",
    "iqm_ci_high",
    "budget",
    "n_transitions",
    "n_samples",
    "n_failed",
    # transfer only (NaN otherwise): raw returns behind the normalized mean
    "policy_return",
    "random_return",
    "reference_return",
    "reference_std",
    "n_reference_runs",
    "eval_episodes",
]
# The raw-return columns of AGGREGATE_COLUMNS (means over a group's rows).
RETURN_COLUMNS = [
    "policy_return",
    "random_return",
    "reference_return",
    "reference_std",
    "n_reference_runs",
    "eval_episodes",
]


def higher_is_better(metric: str) -> bool:
    """The registry's direction: transfer is a normalized return, the rest are distances."""
    return HIGHER_IS_BETTER.get(metric, False)


def shipped_currency(
    results: pd.DataFrame, shipped: CurrentVersions
) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """(versions, models) for `current_rows`, bounded by what is shipped.

    Why: "newest in the store" alone lets one forged or stray row (task_version "999",
    an unknown sha256 with a late timestamp) replace a whole table. So a row may not claim
    a version newer than its shipped task file (nor a task that is not shipped), and a
    shipped submission counts only with its shipped sha256; within those bounds the
    store's newest still wins (a store of an older task version stays readable).
    """
    ok = results[results["status"] == STATUS_OK]
    version = pd.to_numeric(ok["task_version"], errors="coerce")
    bound = pd.to_numeric(ok["task"].map(shipped.versions), errors="coerce")
    unverifiable = ok["task"].isin(shipped.unverifiable)
    ok = ok[(version <= bound) | unverifiable]
    versions = newest_versions(ok)
    in_version = ok[ok["task"].map(versions).eq(ok["task_version"].astype(str))]
    return versions, {**newest_models(in_version), **shipped.models}


def select_rows(results: pd.DataFrame, shipped: CurrentVersions | None = None) -> pd.DataFrame:
    """The ok rows the leaderboard counts (see module docstring and `shipped_currency`)."""
    # The store's current rows: ok, newest per unit, current task version and model.
    if shipped is None:
        df = current_rows(results)
    else:
        versions, models = shipped_currency(results, shipped)
        df = current_rows(results, versions=versions, models=models)
    if df.empty:
        return df
    # One configuration per task and metric, so a table compares like with like: the
    # one with the most rows, ties broken by precision (budget, then sample sizes).
    config = list(CONFIG)
    counts = df.groupby(["task", "metric", *config]).size().rename("_rows").reset_index()
    counts["_precision"] = counts["budget"].map(BUDGET_ORDER).fillna(0)
    counts = counts.sort_values(["_rows", "_precision", "n_transitions", "n_samples"])
    chosen = counts.drop_duplicates(["task", "metric"], keep="last")[["task", "metric", *config]]
    return df.merge(chosen, on=["task", "metric", *config], how="inner")


def hidden_configurations(results: pd.DataFrame, board: pd.DataFrame) -> pd.DataFrame:
    """Current rows the board does not show: (task, metric, configuration) -> row count.

    Why: the board shows one configuration per task and metric; a user's smoke-budget
    rows must never vanish silently, so every caller reports what this returns.
    """
    keys = ["task", "metric", *CONFIG]
    df = current_rows(results)
    if df.empty:
        return pd.DataFrame(columns=[*keys, "rows"])
    shown = board[keys].drop_duplicates() if len(board) else pd.DataFrame(columns=keys)
    counts = df.groupby(keys).size().rename("rows").reset_index()
    merged = counts.merge(shown.astype(counts[keys].dtypes.to_dict()), on=keys, how="left",
                          indicator=True)  # fmt: skip
    return merged[merged["_merge"] == "left_only"].drop(columns="_merge").reset_index(drop=True)


def aggregate(
    results: pd.DataFrame,
    *,
    tasks: Sequence[str] = (),
    metrics: Sequence[str] = (),
    seed: int = 0,
    shipped: CurrentVersions | None = None,
) -> pd.DataFrame:
    """One row per (task, metric, coverage, submission): mean, IQM, 95% CIs and rank.

    Args:
        results: rows as read by `benchmark.results.read_results`.
        tasks, metrics: keep only these (empty: all).
        seed: seed of the bootstrap resampling (same seed, same intervals).
        shipped: the shipped task versions and submission hashes
            (`results.pruning.read_current_versions`); when given, only rows of those
            count, so a forged row cannot replace a table (`shipped_currency`).

    Returns:
        DataFrame with AGGREGATE_COLUMNS, sorted by task, metric, coverage, rank.
    """
    if tasks:
        results = results[results["task"].isin(tasks)]
    if metrics:
        results = results[results["metric"].isin(metrics)]
    # A failure counts only while the unit has no ok row (a re-run may have fixed it).
    ok_keys = {unit_key(r) for r in results[results["status"] == STATUS_OK].to_dict("records")}
    failed_rows = results[results["status"] != STATUS_OK]
    # ... and only for the submission's current model (its newest sha256).
    current = (
        results.sort_values("timestamp").groupby(["task", "submission"])["submission_sha256"].last()
    )
    still_failed = [
        unit_key(r) not in ok_keys
        and current.get((r["task"], r["submission"])) == r["submission_sha256"]
        for r in failed_rows.to_dict("records")
    ]
    failed = (
        failed_rows[np.array(still_failed, dtype=bool)]
        .groupby(["task", "metric", "coverage", "submission"])
        .size()
    )
    df = select_rows(results, shipped)
    records = []
    for (task, metric, coverage, submission), group in df.groupby(
        ["task", "metric", "coverage", "submission"], sort=False
    ):
        finite = np.isfinite(group["value"].to_numpy(dtype=np.float64))
        group = group[finite]
        values = group["value"].to_numpy(dtype=np.float64)
        if len(values) == 0:
            continue
        stats = aggregate_seeds(values, seed=seed)
        mean_ci = stats["mean"]
        returns = _returns(group)
        if np.isfinite(returns["reference_return"]):
            mean_ci = normalized_return_ci(
                group["policy_return"].to_numpy(dtype=np.float64),
                random_mean=returns["random_return"],
                random_std=float(group["random_std"].mean()),
                reference_mean=returns["reference_return"],
                reference_std=returns["reference_std"],
                n_reference_runs=int(returns["n_reference_runs"]),
                seed=seed,
            )
        mean_low, mean_high = (mean_ci.low, mean_ci.high) if len(values) > 1 else (np.nan, np.nan)
        iqm_low, iqm_high = (
            (stats["iqm"].low, stats["iqm"].high) if len(values) > 1 else (np.nan, np.nan)
        )
        first = group.iloc[0]
        records.append(
            {
                "task": task,
                "metric": metric,
                "coverage": coverage,
                "submission": submission,
                "method": first["method"],
                "n_seeds": len(values),
                "mean": stats["mean"].estimate,
                "mean_ci_low": mean_low,
                "mean_ci_high": mean_high,
                "iqm": stats["iqm"].estimate,
                "iqm_ci_low": iqm_low,
                "iqm_ci_high": iqm_high,
                "budget": first["budget"],
                "n_transitions": int(first["n_transitions"]),
                "n_samples": int(first["n_samples"]),
                "n_failed": int(failed.get((task, metric, coverage, submission), 0)),
                **returns,
            }
        )
    out = pd.DataFrame.from_records(records, columns=[c for c in AGGREGATE_COLUMNS if c != "rank"])
    if out.empty:
        return pd.DataFrame(columns=AGGREGATE_COLUMNS)
    # Means that agree to RANK_DECIMALS tie: below that is estimator rounding (e.g. a
    # shaped ground truth at EPIC 3e-8 vs the ground truth itself at 1e-8).
    signed = out["mean"].where(~out["metric"].map(higher_is_better), -out["mean"])
    signed = signed.round(RANK_DECIMALS)
    out["rank"] = _ranks(out, signed)
    out["_metric_order"] = out["metric"].map(
        lambda m: METRIC_ORDER.index(m) if m in METRIC_ORDER else len(METRIC_ORDER)
    )
    out = out.sort_values(["task", "_metric_order", "coverage", "rank", "submission"])
    return out.drop(columns="_metric_order")[AGGREGATE_COLUMNS].reset_index(drop=True)


def _ranks(out: pd.DataFrame, signed: pd.Series) -> pd.Series:
    """1 + the number of *ordinary* entries strictly better (ties share the better rank).

    For an ordinary entry this is its min-rank among ordinary entries; a checkpoint of a
    family (`families`) gets the rank it would have among them, so publishing K snapshots
    of a run moves no other entry's rank.
    """
    ordinary = ~is_checkpoint(out["submission"])
    ranks = pd.Series(0, index=out.index, dtype=int)
    for _, index in out.groupby(["task", "metric", "coverage"]).groups.items():
        base = signed.loc[index][ordinary.loc[index]].to_numpy()
        ranks.loc[index] = [1 + int((base < v).sum()) for v in signed.loc[index]]
    return ranks


def _returns(group: pd.DataFrame) -> dict[str, float]:
    """Means of a group's raw-return columns; all NaN unless every row carries them.

    Rows of one group share one reference (same task, variant, budget and protocol), so
    the reference columns are equal across them and their mean is that value.
    """
    if not set(TRANSFER_COLUMNS) <= set(group.columns):
        return dict.fromkeys(RETURN_COLUMNS, np.nan)
    cols = group[RETURN_COLUMNS].astype(np.float64)
    if cols.isna().any().any():
        return dict.fromkeys(RETURN_COLUMNS, np.nan)
    return {c: float(cols[c].mean()) for c in RETURN_COLUMNS}


def sections(board: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """Split an aggregate into (task, metric, rows) sections, in display order."""
    out = []
    for (task, metric), rows in board.groupby(["task", "metric"], sort=False):
        out.append((task, metric, rows.reset_index(drop=True)))
    return out
