"""Re-express a task's transfer rows against the board's published reference runs.

Why: a transfer row measures one thing, the return of a policy trained on the submission
(``policy_return``); its ``value`` is arithmetic on it, (policy − random) / (reference −
random), with the K-run reference of the machine that evaluated it. The K reference runs
are RL trainings, and RL retrained on another CPU agrees with an earlier machine's only to
rounding, which hundreds of thousands of steps amplify (measured: PointMaze's mean of the
5 runs moved 0.3 %, their std 3 %; the same machine reproduces them bit for bit). Rows of
one task must share one normalizer, and the board's is the published one
(``leaderboard/references``, `benchmark.metrics.transfer_reference.publish_reference_runs`).
Renormalizing redoes only that arithmetic: the rows' trainings, seeds, returns and
provenance stay as they were.

Like pruning it rewrites files: the touched files' rows go to one new file (atomically),
and only then are the old files removed; it only counts unless ``dry_run=False``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import benchmark.results.rewrite as rewrite
import benchmark.results.store as store
from benchmark.vocabulary import TRANSFER_METRICS, TRANSFER_PROTOCOL_VERSION

# The variant each transfer metric trains in (`benchmark.metrics.registry`).
METRIC_VARIANT = {"transfer": "test", "transfer_train": "train"}
REFERENCE_FIELDS = ("random_return", "random_std", "reference_return", "reference_std",
                    "n_reference_runs")  # fmt: skip


@dataclass(frozen=True)
class RenormalizeReport:
    """How many rows changed, and by how much their normalized value moved at most."""

    changed: int
    unchanged: int
    max_value_change: float = 0.0
    files_removed: tuple[Path, ...] = ()
    file_written: Path | None = None


def published_reference(task_name: str, variant: str, budget: str):
    """The `Reference` of the committed K runs; ResultsError naming each unusable run and why."""
    from benchmark.metrics.transfer_reference import (
        ABSENT,
        Reference,
        committed_reference_path,
        read_reference_record,
        reference_seeds,
    )
    from benchmark.tasks import load_task
    from benchmark.tasks.task import budget_hash

    task = load_task(task_name)
    key = budget_hash(task.budgets[budget])
    runs, problems = [], []
    for seed in reference_seeds(task):
        path = committed_reference_path(task, variant, budget, seed)
        found, problem = read_reference_record(path, key)
        runs.append(found)
        if found is None:
            problems.append(f"{path.name} ({problem})")
    if problems:
        remedy = "run" if all(p.endswith(f"({ABSENT})") for p in problems) else "rerun"
        raise store.ResultsError(
            f"{task_name}: the published reference is unusable: {'; '.join(problems)}; {remedy} "
            f"`epic-bench transfer refs --task {task_name} --variant {variant} --budget "
            f"{budget} --publish` first"
        )
    return Reference(
        seeds=reference_seeds(task),
        random_returns=tuple(r for r, _ in runs),
        reference_returns=tuple(g for _, g in runs),
    )


def renormalize_transfer(
    results_dir: str | Path = store.DEFAULT_RESULTS_DIR,
    *,
    task: str,
    budget: str = "standard",
    dry_run: bool = True,
) -> RenormalizeReport:
    """Recompute ``task``'s current-protocol transfer rows at ``budget`` with the published runs.

    Only sampled rows (K reference runs) that finished are rewritten; exact tabular rows
    have no runs to publish.
    """
    from benchmark.metrics.transfer import normalized_score

    frame = rewrite.read_with_files(results_dir)
    if frame.empty or "transfer_protocol" not in frame:
        return RenormalizeReport(changed=0, unchanged=0)
    target = (
        (frame["task"] == task)
        & frame["metric"].isin(TRANSFER_METRICS)
        & (frame["budget"] == budget)
        & (frame["transfer_protocol"] == TRANSFER_PROTOCOL_VERSION)
        & (frame["status"] == store.STATUS_OK)
        & (frame["n_reference_runs"] > 1)
    )
    changed, moved = [], 0.0
    for metric in frame.loc[target, "metric"].unique():
        ref = published_reference(task, METRIC_VARIANT[metric], budget)
        fields = {"random_return": ref.random_mean, "random_std": ref.random_std,
                  "reference_return": ref.reference_mean, "reference_std": ref.reference_std,
                  "n_reference_runs": ref.n_runs}  # fmt: skip
        for i in frame.index[target & (frame["metric"] == metric)]:
            if all(frame.at[i, k] == v for k, v in fields.items()):
                continue
            value = normalized_score(float(frame.at[i, "policy_return"]), ref.random_mean,
                                     ref.reference_mean, context=f"{task}/{budget}")  # fmt: skip
            old = float(frame.at[i, "value"])
            moved = max(moved, abs(value - old)) if math.isfinite(value) else math.inf
            for k, v in fields.items():
                frame.at[i, k] = v
            frame.at[i, "value"] = value
            changed.append(i)
    report = RenormalizeReport(changed=len(changed), unchanged=int(target.sum()) - len(changed),
                               max_value_change=moved)  # fmt: skip
    if dry_run or not changed:
        return report
    touched = set(frame.loc[changed, "_file"])
    files, written = rewrite.replace_files(frame, touched, results_dir, suffix="renormalized")
    return RenormalizeReport(changed=report.changed, unchanged=report.unchanged,
                             max_value_change=moved, files_removed=files,
                             file_written=written)  # fmt: skip


def mixed_normalizers(frame: pd.DataFrame) -> list[str]:
    """Tasks whose finished transfer rows of one metric and budget carry more than one
    reference: their normalized values are not on one scale (`renormalize_transfer` puts
    them there). Returns one "task metric budget" line per such group."""
    if frame.empty or "reference_return" not in frame:
        return []
    # Rows that predate the reference columns (null) carry no normalizer to compare; as
    # NaN != NaN, each would otherwise count as a reference of its own.
    rows = frame[frame["metric"].isin(TRANSFER_METRICS) & (frame["status"] == store.STATUS_OK)
                 & frame["reference_return"].notna() & frame["random_return"].notna()]  # fmt: skip
    mixed = []
    for (task, metric, budget), group in rows.groupby(["task", "metric", "budget"]):
        pairs = set(zip(group["reference_return"], group["random_return"], strict=True))
        if len(pairs) > 1:
            mixed.append(f"{task} {metric} {budget} ({len(pairs)} references)")
    return mixed
