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

Why it refuses so readily: "stale" is judged against the submissions root and the task
files, so a root that is empty, missing or half-copied would make every row look stale.
So pruning refuses outright when there is no task or no valid submission to compare with,
keeps the rows of a submission folder or task file that exists but fails to load (broken
now is not gone), counts only by default (``dry_run``), and refuses to drop more than
``max_drop_fraction`` of the store without ``confirm_large_drop``.

Opt-in (``old_transfer_protocol=True``, ``epic-bench results prune --old-transfer-protocol``):
transfer rows measured under an older transfer protocol (`benchmark.metrics.transfer.
PROTOCOL_VERSION`, `benchmark.vocabulary.TRANSFER_PROTOCOL_VERSION`; rows without the
column are protocol 1) are retired too. Opt-in,
with an optional task filter, because a protocol change is re-measured task by task:
a task whose transfer is not yet recomputed keeps its old rows.

A transfer row records the digest of the budget it trained with (``transfer_budget_hash``,
`benchmark.tasks.task.budget_hash`); when the task's budget of that name has changed
since, the row is retired ("transfer budget changed"): its number measured other
training settings. Rows written before the digest was stored cannot be judged; opt-in
``old_transfer_budget=True`` (``--old-transfer-budget``, with ``--task``) retires them
("transfer budget not recorded") once a task's budget has changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pandas as pd

import benchmark.results.rewrite as rewrite
import benchmark.results.store as store
from benchmark.paths import tasks_root
from benchmark.results.current import stale_reason
from benchmark.submissions import Submission, scan_submissions
from benchmark.tasks import TaskError, list_tasks, load_task
from benchmark.tasks.task import budget_hash
from benchmark.vocabulary import (
    DETERMINISTIC_COVERAGE_POLICIES,
    TRANSFER_METRICS,
    TRANSFER_PROTOCOL_VERSION,
)

MAX_DROP_FRACTION = 0.1


class PruneRefused(store.ResultsError):
    """Pruning would risk dropping rows that are not stale; the message says how to go on."""


@dataclass(frozen=True)
class CurrentVersions:
    """What the shipped tasks and submissions are now, as rows are compared with them.

    versions: task name -> version (as stored, a string) of every loadable task file.
    models: (task, submission name) -> sha256 of every valid submission.
    unverifiable: names of tasks and submissions whose files exist but do not load;
        their rows are kept, since a broken file is not a removed one.
    """

    versions: dict[str, str]
    models: dict[tuple[str, str], str]
    unverifiable: frozenset[str] = frozenset()


FAITHFUL_METRICS = ("epic", "npec", "erc")  # redefined with results schema version 3
# Sampled rows of these carry the interval over episodes from results schema version 4 on.
EPISODE_INTERVAL_METRICS = ("epic", "dard", "starc")
# Fitted NPEC rows measure their residuals on held-out transitions from this schema on.
HELD_OUT_NPEC_SCHEMA = 5
NPEC_IN_SAMPLE = "npec fitted in-sample"


@dataclass(frozen=True)
class PruneReport:
    """What a prune kept and dropped, with the reason for every dropped row."""

    kept: int
    dropped: int
    reasons: dict[str, int] = field(default_factory=dict)
    files_removed: tuple[Path, ...] = ()
    file_written: Path | None = None


def read_current_versions(submissions_root: str | Path = "submissions") -> CurrentVersions:
    """The task files' versions and the valid submissions' sha256 (none if the root is absent)."""
    versions, unverifiable = {}, set()
    for name in list_tasks():
        try:
            versions[name] = str(load_task(name).version)
        except TaskError:
            unverifiable.add(name)
    models = {}
    root = Path(submissions_root)
    for entry in scan_submissions(root) if root.is_dir() else []:
        if isinstance(entry, Submission):
            models[(entry.task, entry.name)] = entry.sha256
        else:
            unverifiable.add(entry.submission)
    return CurrentVersions(versions, models, frozenset(unverifiable))


def current_versions(submissions_root: str | Path = "submissions") -> CurrentVersions:
    """`read_current_versions`, refused (PruneRefused) if the root or the task dir is empty."""
    root = Path(submissions_root)
    if not root.is_dir():
        raise PruneRefused(
            f"submissions root {root} does not exist or is not a directory; pruning compares "
            "rows with the shipped submissions, so it refuses rather than drop all of them"
        )
    if not list_tasks():
        raise PruneRefused(
            f"no task files in {tasks_root()} (check $EPIC_BENCH_TASKS); pruning refuses "
            "rather than drop every row as an unknown task"
        )
    current = read_current_versions(root)
    if not current.models:
        raise PruneRefused(
            f"no valid submission under {root}; pruning refuses rather than drop every row "
            "as a removed submission (is the root empty, or the wrong folder?)"
        )
    return current


def stale_reasons(
    frame: pd.DataFrame,
    *,
    submissions_root: str | Path = "submissions",
    drop_failed: bool = False,
    old_transfer_protocol: bool = False,
    tasks: tuple[str, ...] | list[str] = (),
    old_transfer_budget: bool = False,
) -> pd.Series:
    """Per row: why it is stale ("" when it is current).

    Args:
        frame: rows of the results store (``store.read_results``).
        submissions_root: where the shipped submissions live.
        drop_failed: also retire failed rows (their errors stay in W&B and git history).
        old_transfer_protocol: also retire transfer rows of an older transfer protocol.
        tasks: only rows of these tasks can be stale (empty: every task).
        old_transfer_budget: also retire transfer rows that did not record their budget.

    Returns:
        A string Series aligned with ``frame``.
    """
    shipped = current_versions(submissions_root)  # PruneRefused on an empty or missing root
    # The shared currency rule first (`current.stale_reason`), then pruning's own reasons.
    current = stale_reason(frame, versions=shipped.versions, models=shipped.models)

    def reason(row: pd.Series) -> str:
        if tasks and row["task"] not in tasks:
            return ""
        if row["task"] in shipped.unverifiable or row["submission"] in shipped.unverifiable:
            return ""
        if current[row.name]:
            return current[row.name]
        if row["metric"] == "erc" and int(row["n_samples"]) != 0:
            # Before ERC units used complete episodes (n_samples = 0), ERC ran on the
            # EPIC sample, whose cut rollout streams counted as episodes.
            return "erc on episode fragments"
        if row["metric"] in FAITHFUL_METRICS and int(row["schema_version"]) < 3:
            # Schema 1-2 rows predate issue 18: sampled gridworld values, NPEC without a
            # shift or convergence, the epsilon-noisy "mixture", ERC on 32+ undiscounted
            # episodes, EPIC intervals over transitions only.
            return "distance before exact/faithful definitions"
        if (
            row["metric"] == "npec"
            and not pd.isna(row["fit_steps"])
            and int(row["fit_steps"]) != 0
            and _coverage_policy(row["task"], row["coverage"]) in DETERMINISTIC_COVERAGE_POLICIES
        ):
            # Fitted before NPEC units took the zero-denominator limit there (0, no fit).
            return "npec fitted on deterministic coverage"
        if (
            row["metric"] == "npec"
            and not bool(row["exact"])
            and not pd.isna(row["fit_steps"])
            and int(row["fit_steps"]) != 0
            and int(row["schema_version"]) < HELD_OUT_NPEC_SCHEMA
        ):
            # Fitted and measured on the same sample: on continuous states the potential
            # over-fits it and the ratio of two in-sample residuals is arbitrary (issue 18).
            return NPEC_IN_SAMPLE
        if (
            row["metric"] in EPISODE_INTERVAL_METRICS
            and not bool(row["exact"])
            and int(row["schema_version"]) < 4
        ):
            # Their intervals resampled transitions as independent rows (and EPIC's the
            # mean-term samples too): narrower than the draw-to-draw spread (issue 18).
            return "interval before the episode bootstrap"
        if drop_failed and row["status"] == store.STATUS_FAILED:
            return "failed"
        if old_transfer_protocol and row["metric"] in TRANSFER_METRICS:
            protocol = row.get("transfer_protocol")
            protocol = 1 if protocol is None or pd.isna(protocol) else int(protocol)
            if protocol < TRANSFER_PROTOCOL_VERSION:
                return "old transfer protocol"
        if row["metric"] in TRANSFER_METRICS:
            return _transfer_budget_reason(row, unrecorded=old_transfer_budget)
        return ""

    if frame.empty:
        return pd.Series([], dtype=str)
    return frame.apply(reason, axis=1)


def _transfer_budget_reason(row: pd.Series, *, unrecorded: bool) -> str:
    """Why a transfer row's training budget is not the task's budget of that name now."""
    recorded = row.get("transfer_budget_hash")
    if recorded is None or pd.isna(recorded) or recorded == "":
        return "transfer budget not recorded" if unrecorded else ""
    current = _current_budget_hash(row["task"], row["budget"])
    if current is not None and recorded != current:
        return "transfer budget changed"
    return ""


@cache
def _current_budget_hash(task: str, budget: str) -> str | None:
    """`budget_hash` of ``task``'s budget named ``budget`` (None when either is unknown now)."""
    try:
        found = load_task(task).budgets.get(budget)
    except (TaskError, ValueError):
        return None
    return None if found is None else budget_hash(found)


@cache
def _coverage_policy(task: str, coverage: str) -> str:
    """The policy drawing ``coverage`` of ``task`` ("" when either is unknown now)."""
    try:
        spec = load_task(task).coverage_specs.get(coverage)
    except (TaskError, ValueError):
        return ""
    return "" if spec is None else spec.policy


def prune_results(
    results_dir: str | Path = store.DEFAULT_RESULTS_DIR,
    *,
    submissions_root: str | Path = "submissions",
    drop_failed: bool = False,
    dry_run: bool = True,
    old_transfer_protocol: bool = False,
    tasks: tuple[str, ...] | list[str] = (),
    old_transfer_budget: bool = False,
    max_drop_fraction: float = MAX_DROP_FRACTION,
    confirm_large_drop: bool = False,
) -> PruneReport:
    """Rewrite the files holding stale rows without them (see `stale_reasons`).

    The kept rows of those files go to one new file; files without a stale row are not
    touched. ``dry_run`` (the default) only counts. Otherwise PruneRefused when more than
    ``max_drop_fraction`` of the rows would go and ``confirm_large_drop`` is not set.
    """
    frame = rewrite.read_with_files(results_dir)
    if frame.empty:
        return PruneReport(kept=0, dropped=0)
    why = stale_reasons(frame, submissions_root=submissions_root, drop_failed=drop_failed,
                        old_transfer_protocol=old_transfer_protocol, tasks=tasks,
                        old_transfer_budget=old_transfer_budget)  # fmt: skip
    stale = why != ""
    reasons = why[stale].value_counts().to_dict()
    report = PruneReport(kept=int((~stale).sum()), dropped=int(stale.sum()), reasons=reasons)
    if dry_run or report.dropped == 0:
        return report
    if report.dropped > max_drop_fraction * len(frame) and not confirm_large_drop:
        raise PruneRefused(
            f"pruning would drop {report.dropped} of {len(frame)} rows "
            f"({report.dropped / len(frame):.0%}, above {max_drop_fraction:.0%}): "
            f"{', '.join(f'{n} {r}' for r, n in sorted(reasons.items()))}; check the "
            "dry run, then confirm with --confirm-large-drop (confirm_large_drop=True)"
        )
    touched = set(frame.loc[stale, "_file"])
    files, written = rewrite.replace_files(frame[~stale], touched, results_dir, suffix="pruned")
    return PruneReport(
        kept=report.kept,
        dropped=report.dropped,
        reasons=reasons,
        files_removed=files,
        file_written=written,
    )
