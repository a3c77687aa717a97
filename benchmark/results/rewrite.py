"""Whole-file rewrites of the results store, for the maintenance operations.

Why: pruning and renormalizing change rows in place, and the store's files are append-only
batches; both read every row with the file holding it and write the touched files' rows
anew (new file first, then the old files go), so an interruption leaves duplicates, never
a loss.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmark.results.store import new_run_id, read_file, result_files, write_batch


def read_with_files(results_dir: str | Path) -> pd.DataFrame:
    """Every row of the store with ``_file``, the path of the file holding it (empty: none).

    For the maintenance operations that rewrite whole files (`pruning`, `renormalize`).
    """
    frames = [read_file(p).assign(_file=str(p)) for p in result_files(results_dir)]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def replace_files(
    rows: pd.DataFrame, touched: set[str], results_dir: str | Path, *, suffix: str
) -> tuple[tuple[Path, ...], Path | None]:
    """Write the ``rows`` (from `read_with_files`) that came from the ``touched`` files to one
    new file ``<run id>-<suffix>``, then remove those files; returns (removed, written).

    New file first: an interruption leaves duplicates, never a loss.
    """
    kept = rows[rows["_file"].isin(touched)].drop(columns="_file")
    written = None
    if len(kept):
        name = f"{new_run_id()}-{suffix}"
        written = write_batch(kept.to_dict("records"), results_dir, name=name)
    files = tuple(p for p in result_files(results_dir) if str(p) in touched)
    for path in files:
        path.unlink()
    return files, written
