"""The Parquet results store: one row per evaluation unit, one file per finished batch.

Why Parquet files and not a database: results are append-only, produced by many
machines, and committed to git. Each finished batch of units becomes one file,
written under a hidden temporary name and renamed into place, so an interrupted
run loses at most the units not yet flushed and never leaves a half-written file.
The directory reads as one dataset in pandas, pyarrow and DuckDB::

    pandas.read_parquet("leaderboard/results")
    pyarrow.dataset.dataset("leaderboard/results")
    duckdb.sql("SELECT * FROM 'leaderboard/results/*.parquet'")

Schema (version ``SCHEMA_VERSION``; ``SCHEMA`` is the authority):

- identifiers: ``run_id`` (one evaluate call), ``submission``, ``submission_sha256``,
  ``method``, ``task``, ``task_version``, ``metric`` (epic, npec, erc, dard, starc, transfer,
  transfer_train), ``coverage`` ("" for transfer), ``seed``, ``budget`` (transfer
  budget; "" for distances), ``n_transitions`` and ``n_samples`` (coverage sample
  sizes; 0 for transfer).
- values: ``value``, ``ci_low``, ``ci_high`` (NaN when the metric gives no interval).
- outcome: ``status`` ("ok" or "failed"), ``error`` ("" when ok).
- provenance: ``wall_time_s``, ``device``, ``git_commit``, package versions
  (``epic_bench_version``, ``torch_version``, ``imitation_version``, ``sb3_version``,
  ``gymnasium_version``, ``numpy_version``), ``hostname``, ``timestamp`` (UTC),
  ``schema_version``.
- transfer returns (schema v2; null for distances and for rows written before them,
  see ``TRANSFER_COLUMNS``): ``policy_return`` (the submission-trained policy's mean
  ground-truth return), ``random_return`` / ``random_std`` (uniform random policy, mean
  and std over its runs), ``reference_return`` / ``reference_std`` / ``n_reference_runs``
  (the ground-truth-trained reference: mean and std over its K runs), ``eval_episodes``
  and ``transfer_protocol`` (`benchmark.metrics.transfer.PROTOCOL_VERSION`). With them a
  reader can check ``value = (policy − random) / (reference − random)`` by hand.
  ``transfer_budget_hash`` (within v4; null in older rows): `benchmark.tasks.task.budget_hash`.
- faithful distances (schema v3): ``exact`` (true when the value is computed exactly
  from a finite task's tables: its interval has zero width), ``fit_steps`` (optimiser
  steps an NPEC unit used, both fits together; 0 otherwise), ``n_episodes`` (complete
  episodes of an ERC unit; 0 otherwise).
- schema v4: sampled EPIC, DARD, STARC intervals resample episodes (pruning retires older).
- schema v5: fitted NPEC rows are held out (`metrics.npec_held_out`; pruning retires older).

Old files stay readable: columns a file predates read as null (v2) or as false and 0 (v3).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from benchmark.paths import DEFAULT_RESULTS_DIR, atomic_write
from benchmark.results.origin import git_commit, package_versions

SCHEMA_VERSION = 5
# Versions this code reads (v1 lacks TRANSFER_COLUMNS: null; v1-2 FAITHFUL_COLUMNS: defaults).
READABLE_SCHEMA_VERSIONS = (1, 2, 3, 4, 5)
STATUS_OK = "ok"
STATUS_FAILED = "failed"

SCHEMA = pa.schema(
    [
        ("schema_version", pa.int32()),
        ("run_id", pa.string()),
        ("submission", pa.string()),
        ("submission_sha256", pa.string()),
        ("method", pa.string()),
        ("task", pa.string()),
        ("task_version", pa.string()),
        ("metric", pa.string()),
        ("coverage", pa.string()),
        ("seed", pa.int64()),
        ("budget", pa.string()),
        ("n_transitions", pa.int64()),
        ("n_samples", pa.int64()),
        ("value", pa.float64()),
        ("ci_low", pa.float64()),
        ("ci_high", pa.float64()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("wall_time_s", pa.float64()),
        ("device", pa.string()),
        ("git_commit", pa.string()),
        ("epic_bench_version", pa.string()),
        ("torch_version", pa.string()),
        ("imitation_version", pa.string()),
        ("sb3_version", pa.string()),
        ("gymnasium_version", pa.string()),
        ("numpy_version", pa.string()),
        ("hostname", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        # v2: the raw returns behind a transfer row's normalized value (null otherwise).
        ("policy_return", pa.float64()),
        ("random_return", pa.float64()),
        ("random_std", pa.float64()),
        ("reference_return", pa.float64()),
        ("reference_std", pa.float64()),
        ("n_reference_runs", pa.int64()),
        ("eval_episodes", pa.int64()),
        ("transfer_protocol", pa.int64()),
        # v3: exact values (finite tasks; zero-width interval), NPEC's optimiser steps,
        # ERC's complete episodes (issue 18's faithful distance definitions).
        ("exact", pa.bool_()),
        ("fit_steps", pa.int64()),
        ("n_episodes", pa.int64()),
        ("transfer_budget_hash", pa.string()),  # within v4, nullable: older readers drop it
    ]
)
# Columns added in v3 with the value an older row reads as.
FAITHFUL_COLUMNS = {"exact": False, "fit_steps": 0, "n_episodes": 0}
# Nullable columns added after v1: absent from older files, null where they do not apply.
TRANSFER_COLUMNS = (
    "policy_return",
    "random_return",
    "random_std",
    "reference_return",
    "reference_std",
    "n_reference_runs",
    "eval_episodes",
    "transfer_protocol",
    "transfer_budget_hash",
)

# The columns that identify a unit: a finished unit with the same key is not re-run.
UNIT_KEY = (
    "submission_sha256",
    "task",
    "task_version",
    "metric",
    "coverage",
    "seed",
    "budget",
    "n_transitions",
    "n_samples",
)


class ResultsError(Exception):
    """A results file or row is unusable; the message names the file or field."""


def provenance() -> dict[str, Any]:
    """Columns that describe where and with what a row was computed."""
    return {
        "schema_version": SCHEMA_VERSION,
        "git_commit": git_commit(),
        "hostname": socket.gethostname(),
        **package_versions(),
    }


def new_run_id() -> str:
    """An id for one evaluate call: sortable UTC time plus a short random suffix."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def make_row(**fields: Any) -> dict[str, Any]:
    """A complete row: the given fields, provenance, defaults; checked against SCHEMA.

    Raises ResultsError naming unknown or missing fields.
    """
    defaults: dict[str, Any] = {
        "ci_low": float("nan"),
        "ci_high": float("nan"),
        "status": STATUS_OK,
        "error": "",
        "budget": "",
        "coverage": "",
        "n_transitions": 0,
        "n_samples": 0,
        "wall_time_s": float("nan"),
        "device": "cpu",
        "run_id": "",
        "timestamp": datetime.now(UTC),
        **dict.fromkeys(TRANSFER_COLUMNS),
        **FAITHFUL_COLUMNS,
    }
    row = {**defaults, **provenance(), **fields}
    unknown = set(row) - set(SCHEMA.names)
    if unknown:
        raise ResultsError(
            f"unknown result fields {sorted(unknown)}; the schema has {SCHEMA.names}"
        )
    missing = [name for name in SCHEMA.names if name not in row]
    if missing:
        raise ResultsError(f"result row is missing required fields {missing}")
    if row["status"] not in (STATUS_OK, STATUS_FAILED):
        raise ResultsError(f"status must be 'ok' or 'failed', got {row['status']!r}")
    if row["value"] is None:
        row["value"] = float("nan")
    return row


def rows_to_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Rows (dicts with every SCHEMA column) to an Arrow table of exactly SCHEMA."""
    rows = list(rows)
    columns = {name: [r[name] for r in rows] for name in SCHEMA.names}
    # Nulls come back from pandas as NaN (rows read and rewritten by pruning).
    for name in TRANSFER_COLUMNS:
        cast = int if pa.types.is_integer(SCHEMA.field(name).type) else (lambda v: v)
        columns[name] = [None if _is_missing(v) else cast(v) for v in columns[name]]
    try:
        return pa.table(columns, schema=SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise ResultsError(f"result rows do not fit schema v{SCHEMA_VERSION}: {e}") from e


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def write_batch(rows: Iterable[Mapping[str, Any]], results_dir: str | Path, *, name: str) -> Path:
    """Write rows as ``results_dir/name.parquet`` atomically and return its path.

    The file is written as a hidden ``.name.parquet.<pid>.<random>.tmp`` (which pandas,
    pyarrow and DuckDB's ``*.parquet`` glob all ignore), fsynced, then renamed
    (`benchmark.paths.atomic_write`), so readers see either nothing or the whole file.
    """
    table = rows_to_table(rows)
    final = Path(results_dir) / f"{name}.parquet"
    if final.exists():
        raise ResultsError(f"{final} already exists; results files are never overwritten")
    with atomic_write(final) as tmp, open(tmp, "wb") as f:
        pq.write_table(table, f, compression="zstd")
        f.flush()
        os.fsync(f.fileno())
    return final


MIN_FREE_BYTES = 16 << 20


def check_writable(results_dir: str | Path, min_free_bytes: int = MIN_FREE_BYTES) -> None:
    """ResultsError unless ``results_dir`` can take new files: checked before computing.

    Why up front: a grid can run for hours; a read-only store, a path under a file or a
    full disk should stop it before the first unit, not after the last one.
    """
    results_dir = Path(results_dir)
    try:  # exists() too can fail: e.g. on a name longer than the file system allows
        blocker = next((p for p in [results_dir, *results_dir.parents] if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise ResultsError(
                f"results dir {results_dir} cannot be created: {blocker} is a file; "
                "pass --results-dir a folder path"
            )
        results_dir.mkdir(parents=True, exist_ok=True)
        probe = results_dir / f".write-probe-{os.getpid()}.tmp"
        probe.write_bytes(b"epic-bench")
        probe.unlink()
    except OSError as e:
        raise ResultsError(
            f"results dir {results_dir} is not writable ({e.strerror or e}); fix its "
            "permissions or pass another --results-dir"
        ) from None
    free = shutil.disk_usage(results_dir).free
    if free < min_free_bytes:
        raise ResultsError(
            f"results dir {results_dir} has {free} bytes free (under {min_free_bytes}); "
            "free some space or pass another --results-dir"
        )


def result_files(results_dir: str | Path) -> list[Path]:
    """The committed results files (hidden temporaries excluded), sorted by name."""
    results_dir = Path(results_dir)
    if not results_dir.exists():
        return []
    return sorted(p for p in results_dir.glob("*.parquet") if not p.name.startswith((".", "_")))


def read_file(path: str | Path) -> pd.DataFrame:
    """One results file as a DataFrame; ResultsError names the file and the problem."""
    path = Path(path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise ResultsError(
            f"{path}: not a readable Parquet file ({e}). Move it out of the results directory "
            "or delete it yourself; epic-bench deletes nothing."
        ) from e
    optional = (*TRANSFER_COLUMNS, *FAITHFUL_COLUMNS)
    missing = [n for n in SCHEMA.names if n not in table.column_names and n not in optional]
    if missing:
        raise ResultsError(
            f"{path}: not an epic-bench results file (missing columns {missing}). "
            "Move it out of the results directory."
        )
    versions = set(table.column("schema_version").to_pylist())
    if versions - set(READABLE_SCHEMA_VERSIONS):
        raise ResultsError(
            f"{path}: schema version {sorted(versions)} but this epic-bench reads "
            f"versions {list(READABLE_SCHEMA_VERSIONS)}; upgrade epic-bench or convert the file."
        )
    for name, default in FAITHFUL_COLUMNS.items():  # a v1/v2 file: their defaults
        if name not in table.column_names:
            column = pa.array([default] * table.num_rows, type=SCHEMA.field(name).type)
            table = table.append_column(SCHEMA.field(name), column)
    for name in TRANSFER_COLUMNS:  # an older file: the columns it predates are null
        if name not in table.column_names:
            table = table.append_column(
                SCHEMA.field(name), pa.nulls(table.num_rows, SCHEMA.field(name).type)
            )
    try:
        table = table.select(SCHEMA.names).cast(SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise ResultsError(f"{path}: column types differ from schema v{SCHEMA_VERSION}: {e}") from e
    return table.to_pandas()


def read_results(results_dir: str | Path = DEFAULT_RESULTS_DIR) -> pd.DataFrame:
    """Every row in the results directory (empty frame with SCHEMA columns if none)."""
    frames = [read_file(p) for p in result_files(results_dir)]
    frames = [f for f in frames if len(f)]
    if not frames:
        return SCHEMA.empty_table().to_pandas()
    return pd.concat(frames, ignore_index=True)


def unit_key(row: Mapping[str, Any]) -> tuple:
    """The identity of a unit (see UNIT_KEY) as a hashable tuple."""
    return tuple(
        int(row[k]) if k in ("seed", "n_transitions", "n_samples") else str(row[k])
        for k in UNIT_KEY
    )


def finished_units(results_dir: str | Path = DEFAULT_RESULTS_DIR) -> set[tuple]:
    """Keys of units with an ``ok`` row: an evaluate call skips these unless forced."""
    df = read_results(results_dir)
    df = df[df["status"] == STATUS_OK]
    return {unit_key(r) for r in df[list(UNIT_KEY)].to_dict("records")}


class ResultsWriter:
    """Buffers rows and flushes one file per batch: every ``every_units`` rows or
    ``every_seconds`` seconds, and on ``close`` (also when leaving a ``with`` block
    through an exception such as KeyboardInterrupt).
    """

    def __init__(
        self,
        results_dir: str | Path,
        run_id: str,
        *,
        every_units: int = 50,
        every_seconds: float = 60.0,
    ) -> None:
        if every_units < 1:
            raise ValueError(f"every_units must be >= 1, got {every_units}")
        self.results_dir = Path(results_dir)
        self.run_id = run_id
        self.every_units = every_units
        self.every_seconds = every_seconds
        self.files: list[Path] = []
        self._rows: list[dict[str, Any]] = []
        self._last_flush = time.monotonic()
        self._failed_writes = 0

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._rows.extend(dict(r) for r in rows)
        elapsed = time.monotonic() - self._last_flush
        if len(self._rows) >= self.every_units or elapsed >= self.every_seconds:
            self.flush()

    def flush(self) -> Path | None:
        """Write the buffered rows; on a write error keep them buffered (retried later)."""
        self._last_flush = time.monotonic()
        if not self._rows:
            return None
        name = f"{self.run_id}-{len(self.files) + self._failed_writes:04d}"
        try:
            path = write_batch(self._rows, self.results_dir, name=name)
        except OSError as e:
            self._failed_writes += 1
            warnings.warn(
                f"could not write {len(self._rows)} result rows to {self.results_dir} "
                f"({e.strerror or e}); keeping them and retrying at the next flush",
                RuntimeWarning,
                stacklevel=2,
            )
            return None
        self.files.append(path)
        self._rows = []
        return path

    def close(self) -> None:
        """Flush; rows that still cannot be written go to a file elsewhere, never lost."""
        self.flush()
        if not self._rows:
            return
        rescue = Path(tempfile.gettempdir()) / "epic-bench-unsaved"
        path = write_batch(self._rows, rescue, name=f"{self.run_id}-{os.getpid()}")
        self._rows = []
        raise ResultsError(
            f"could not write results to {self.results_dir}; the computed rows are safe in "
            f"{path}: move that file into the results dir once it is writable"
        )

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
