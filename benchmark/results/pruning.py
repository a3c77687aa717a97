"""Retire results that no longer describe the shipped tasks and submissions.

Why: a result row is keyed by the task's version and the submission's sha256. When a
task is re-versioned (its dynamics, expert or coverage changed) or a submission is
retrained, the old rows stay valid records of what was measured, but they are no longer
the leaderboard's numbers. ``evaluate`` already ignores them when deciding what to run;
pruning removes them from the store so tables and plots cannot mix versions.

Pruning is the one operation that deletes result files, and it is explicit: the kept
rows are first written to a new file (atomically, like every batch), and only then are
the old files removed, so an interruption leaves duplicates, never a loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

import benchmark.results.store as store
from benchmark.results.current import stale_reason
from benchmark.submissions import list_submissions
from benchmark.tasks import TaskError, list_tasks, load_task


@dataclass(frozen=True)
class PruneReport:
    """What a prune kept and dropped, with the reason for every dropped row."""

    kept: int
    dropped: int
    reasons: dict[str, int] = field(default_factory=dict)
    files_removed: tuple[Path, ...] = ()
    file_written: Path | None = None


def stale_reasons(
    frame: pd.DataFrame, *, submissions_root: str | Path = "submissions", drop_failed: bool = False
) -> pd.Series:
    """Per row: why it is stale ("" when it is current).

    Args:
        frame: rows of the results store (``store.read_results``).
        submissions_root: where the shipped submissions live.
        drop_failed: also retire failed rows (their errors stay in W&B and git history).

    Returns:
        A string Series aligned with ``frame``.
    """
    versions = {}
    for name in list_tasks():
        try:
            versions[name] = str(load_task(name).version)
        except TaskError:
            continue
    models = {(s.task, s.name): s.sha256 for s in list_submissions(submissions_root)}
    # The shared currency rule first (`current.stale_reason`), then pruning's own reasons.
    current = stale_reason(frame, versions=versions, models=models)

    def reason(row: pd.Series) -> str:
        if current[row.name]:
            return current[row.name]
        if row["metric"] == "erc" and int(row["n_samples"]) != 0:
            # Before ERC units used complete episodes (n_samples = 0), ERC ran on the
            # EPIC sample, whose cut rollout streams counted as episodes.
            return "erc on episode fragments"
        if drop_failed and row["status"] == store.STATUS_FAILED:
            return "failed"
        return ""

    if frame.empty:
        return pd.Series([], dtype=str)
    return frame.apply(reason, axis=1)


def prune_results(
    results_dir: str | Path = store.DEFAULT_RESULTS_DIR,
    *,
    submissions_root: str | Path = "submissions",
    drop_failed: bool = False,
    dry_run: bool = False,
) -> PruneReport:
    """Rewrite the store without stale rows (see `stale_reasons`); ``dry_run`` only counts."""
    files = store.result_files(results_dir)
    frame = store.read_results(results_dir)
    why = stale_reasons(frame, submissions_root=submissions_root, drop_failed=drop_failed)
    stale = why != ""
    reasons = why[stale].value_counts().to_dict()
    report = PruneReport(kept=int((~stale).sum()), dropped=int(stale.sum()), reasons=reasons)
    if dry_run or report.dropped == 0:
        return report
    kept = frame[~stale]
    written = None
    if len(kept):
        name = f"{store.new_run_id()}-pruned"
        written = store.write_batch(kept.to_dict("records"), results_dir, name=name)
    for path in files:
        path.unlink()
    return PruneReport(
        kept=report.kept,
        dropped=report.dropped,
        reasons=reasons,
        files_removed=tuple(files),
        file_written=written,
    )
