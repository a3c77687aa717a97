"""The results store: Parquet rows under ``leaderboard/results``, the one interface between
running an evaluation and publishing it.

    make_row(**fields) -> dict; write_batch(rows, results_dir, name=...) -> Path
    read_results(results_dir) -> DataFrame; unit_key(row) -> tuple (UNIT_KEY order)
    current_rows(frame) -> DataFrame                 # ok, newest per unit, current version/model
    prune_results(results_dir, ...) -> PruneReport   # retire stale rows
"""

from benchmark.paths import DEFAULT_RESULTS_DIR
from benchmark.results.current import current_rows, newest_models, newest_versions, stale_reason
from benchmark.results.pruning import PruneReport, prune_results, stale_reasons
from benchmark.results.store import (
    READABLE_SCHEMA_VERSIONS,
    SCHEMA,
    SCHEMA_VERSION,
    STATUS_FAILED,
    STATUS_OK,
    TRANSFER_COLUMNS,
    UNIT_KEY,
    ResultsError,
    ResultsWriter,
    check_writable,
    finished_units,
    git_commit,
    make_row,
    new_run_id,
    package_versions,
    provenance,
    read_file,
    read_results,
    result_files,
    rows_to_table,
    unit_key,
    write_batch,
)

__all__ = [
    "DEFAULT_RESULTS_DIR",
    "SCHEMA",
    "READABLE_SCHEMA_VERSIONS",
    "SCHEMA_VERSION",
    "STATUS_FAILED",
    "STATUS_OK",
    "TRANSFER_COLUMNS",
    "UNIT_KEY",
    "PruneReport",
    "ResultsError",
    "ResultsWriter",
    "check_writable",
    "current_rows",
    "finished_units",
    "git_commit",
    "make_row",
    "new_run_id",
    "newest_models",
    "newest_versions",
    "package_versions",
    "prune_results",
    "provenance",
    "read_file",
    "read_results",
    "result_files",
    "rows_to_table",
    "stale_reason",
    "stale_reasons",
    "unit_key",
    "write_batch",
]
