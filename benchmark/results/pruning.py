"""Retire results that no longer describe the shipped tasks and submissions.

Why: a result row is keyed by the task's version and the submission's sha256. When a
task is re-versioned (its dynamics, expert or coverage changed) or a submission is
retrained, the old rows stay valid records of what was measured, but they are no longer
the leaderboard's numbers. ``evaluate`` already ignores them when deciding what to run;
pruning removes them from the store so tables and plots cannot mix versions.

Pruning is the one operation that deletes result files, and it is explicit: the kept
rows are first written to a new file (atomically, like every batch), and only then are
the old files removed, so an interruption leaves duplicates, never a loss. Only files
that hold a stale row are rewritten; the others are left as they are.

Opt-in (``old_transfer_protocol=True``, ``epic-bench results prune --old-transfer-protocol``):
transfer rows measured under an older transfer protocol (`benchmark.metrics.transfer.
PROTOCOL_VERSION`, `benchmark.vocabulary.TRANSFER_PROTOCOL_VERSION`; rows without the
column are protocol 1) are retired too. Opt-in,
with an optional task filter, because a protocol change is re-measured task by task:
a task whose transfer is not yet recomputed keeps its old rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

import benchmark.results.store as store
from benchmark.results.current import stale_reason
from benchmark.submissions import list_submissions
from benchmark.tasks import TaskError, list_tasks, load_task
from benchmark.vocabulary import TRANSFER_METRICS, TRANSFER_PROTOCOL_VERSION


@dataclass(frozen=True)
class PruneReport:
    """What a prune kept and dropped, with the reason for every dropped row."""

    kept: int
    dropped: int
    reasons: dict[str, int] = field(default_factory=dict)
    files_removed: tuple[Path, ...] = ()
    file_written: Path | None = None


def stale_reasons(
    frame: pd.DataFrame,
    *,
    submissions_root: str | Path = "submissions",
    drop_failed: bool = False,
    old_transfer_protocol: bool = False,
    tasks: tuple[str, ...] | list[str] = (),
) -> pd.Series:
    """Per row: why it is stale ("" when it is current).

    Args:
        frame: rows of the results store (``store.read_results``).
        submissions_root: where the shipped submissions live.
        drop_failed: also retire failed rows (their errors stay in W&B and git history).
        old_transfer_protocol: also retire transfer rows of an older transfer protocol.
        tasks: only rows of these tasks can be stale (empty: every task).

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
        if tasks and row["task"] not in tasks:
            return ""
        if current[row.name]:
            return current[row.name]
        if row["metric"] == "erc" and int(row["n_samples"]) != 0:
            # Before ERC units used complete episodes (n_samples = 0), ERC ran on the
            # EPIC sample, whose cut rollout streams counted as episodes.
            return "erc on episode fragments"
        if drop_failed and row["status"] == store.STATUS_FAILED:
            return "failed"
        if old_transfer_protocol and row["metric"] in TRANSFER_METRICS:
            protocol = row.get("transfer_protocol")
            protocol = 1 if protocol is None or pd.isna(protocol) else int(protocol)
            if protocol < TRANSFER_PROTOCOL_VERSION:
                return "old transfer protocol"
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
    old_transfer_protocol: bool = False,
    tasks: tuple[str, ...] | list[str] = (),
) -> PruneReport:
    """Rewrite the files holding stale rows without them (see `stale_reasons`).

    The kept rows of those files go to one new file; files without a stale row are not
    touched. ``dry_run`` only counts.
    """
    paths = store.result_files(results_dir)
    frames = [store.read_file(p).assign(_file=str(p)) for p in paths]
    frames = [f for f in frames if len(f)]
    if not frames:
        return PruneReport(kept=0, dropped=0)
    frame = pd.concat(frames, ignore_index=True)
    why = stale_reasons(frame, submissions_root=submissions_root, drop_failed=drop_failed,
                        old_transfer_protocol=old_transfer_protocol, tasks=tasks)  # fmt: skip
    stale = why != ""
    reasons = why[stale].value_counts().to_dict()
    report = PruneReport(kept=int((~stale).sum()), dropped=int(stale.sum()), reasons=reasons)
    if dry_run or report.dropped == 0:
        return report
    touched = set(frame.loc[stale, "_file"])
    files = [p for p in paths if str(p) in touched]
    kept = frame[~stale & frame["_file"].isin(touched)].drop(columns="_file")
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
