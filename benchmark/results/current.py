"""Which rows of the store are current: the one rule the leaderboard and pruning share.

A row is current when it is ``ok``, the newest row of its unit (a unit run again with
``--force`` replaces the old row), of its task's current version, and of its
submission's current model (sha256). What "current" means for versions and models is
the caller's: the leaderboard takes the newest in the store itself, pruning takes the
shipped task files and submission folders (`benchmark.results.pruning` drops the rows
that fail `stale_reason`, the complement of this rule).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from benchmark.results.store import STATUS_OK, UNIT_KEY

# The reasons `stale_reason` gives, "" for a current row.
UNKNOWN_TASK = "unknown task"
OLD_TASK_VERSION = "old task version"
SUBMISSION_REMOVED = "submission removed or invalid"
SUBMISSION_RETRAINED = "submission retrained"


def newest_versions(frame: pd.DataFrame) -> dict[str, str]:
    """task -> its newest ``task_version`` in ``frame`` (compared as numbers: "10" > "9")."""
    if frame.empty:
        return {}
    version = pd.to_numeric(frame["task_version"], errors="coerce")
    newest = version.groupby(frame["task"]).max()
    return {task: str(int(v)) for task, v in newest.items() if pd.notna(v)}


def newest_models(frame: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(task, submission) -> the sha256 of its newest row by timestamp in ``frame``."""
    if frame.empty:
        return {}
    last = frame.sort_values("timestamp").groupby(["task", "submission"])["submission_sha256"]
    return {key: sha for key, sha in last.last().items()}


def stale_reason(
    frame: pd.DataFrame,
    *,
    versions: Mapping[str, str],
    models: Mapping[tuple[str, str], str],
) -> pd.Series:
    """Per row: why its task version or model is not current ("" when both are).

    Args:
        frame: store rows (``read_results``).
        versions: task -> current task version (as stored: a string).
        models: (task, submission name) -> current sha256.
    """

    def reason(row: pd.Series) -> str:
        if row["task"] not in versions:
            return UNKNOWN_TASK
        if str(row["task_version"]) != versions[row["task"]]:
            return OLD_TASK_VERSION
        sha = models.get((row["task"], row["submission"]))
        if sha is None:
            return SUBMISSION_REMOVED
        if row["submission_sha256"] != sha:
            return SUBMISSION_RETRAINED
        return ""

    if frame.empty:
        return pd.Series([], dtype=str)
    return frame.apply(reason, axis=1)


def current_rows(
    frame: pd.DataFrame,
    *,
    versions: Mapping[str, str] | None = None,
    models: Mapping[tuple[str, str], str] | None = None,
) -> pd.DataFrame:
    """The current rows of ``frame``: ok, newest of each unit, current version and model.

    ``versions`` / ``models`` default to the newest in ``frame`` (versions first, then
    the newest model among the rows of current versions).
    """
    df = frame[frame["status"] == STATUS_OK].copy()
    if df.empty:
        return df
    df = df.sort_values("timestamp").drop_duplicates(list(UNIT_KEY) + ["submission"], keep="last")
    versions = newest_versions(df) if versions is None else versions
    df = df[df["task"].map(dict(versions)).eq(df["task_version"].astype(str))]
    models = newest_models(df) if models is None else models
    return df[stale_reason(df, versions=versions, models=models) == ""]
