"""Weights & Biases logging of evaluation units: one W&B run per unit, grouped per call.

Why one run per unit: a unit is the thing that is resumed, re-run and compared, so its
provenance (config) and values (summary) belong together. All units of one
``epic-bench evaluate`` call share ``group = run_id``, so the W&B UI shows one call as
one group. Offline by default (files under ``<dir>/wandb/offline-run-*``, upload later
with ``wandb sync``); ``mode="online"`` only when the user asks and is logged in.
"""

from __future__ import annotations

import json
import os
import struct
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmark.results import TRANSFER_COLUMNS

DEFAULT_PROJECT = "epic-bench"
# What a unit measured goes to the summary; every other row field is config (what was run).
_MEASURED = {"value", "ci_low", "ci_high", "status", "error", "wall_time_s", "timestamp"}


def _is_measured(key: str) -> bool:
    """Values, intervals and raw returns (``*_return``: transfer's un-normalized returns,
    and the other `benchmark.results.TRANSFER_COLUMNS`: reference spread and run count)."""
    return key in _MEASURED or _is_raw_return(key)


def _is_raw_return(key: str) -> bool:
    return key.endswith("_return") or key in TRANSFER_COLUMNS


def default_mode() -> str:
    """``$WANDB_MODE`` if set, else "offline": nothing leaves the machine unless asked."""
    return os.environ.get("WANDB_MODE", "offline")


class WandbTracker:
    """Logs each unit's result rows to its own W&B run in the group ``group``.

    Args:
        group: the evaluate call's run_id.
        mode: "offline" (default), "online" or "disabled".
        project: the W&B project.
        directory: where W&B writes its ``wandb/`` folder (default: the working directory).
    """

    def __init__(
        self,
        group: str,
        *,
        mode: str | None = None,
        project: str = DEFAULT_PROJECT,
        directory: str | Path | None = None,
    ) -> None:
        mode = mode or default_mode()
        if mode not in ("offline", "online", "disabled"):
            raise ValueError(f"W&B mode must be offline, online or disabled, got {mode!r}")
        self.group = group
        self.mode = mode
        self.project = project
        self.directory = Path(directory) if directory is not None else Path.cwd()
        self.run_dirs: list[Path] = []

    def sync_hint(self) -> str:
        """Where the offline runs are and the command that uploads them ("" if none/online)."""
        if self.mode != "offline" or not self.run_dirs:
            return ""
        root = self.run_dirs[0].parent
        return (
            f"  W&B: {len(self.run_dirs)} offline runs in {root} (group {self.group}); "
            f"upload them with: wandb sync {root}/offline-run-*"
        )

    def log_unit(
        self, rows: Sequence[Mapping[str, Any]], context: Mapping[str, Any] | None = None
    ) -> None:
        """One run for one unit: config = every row field but the measured ones, plus
        ``context`` (e.g. the evaluate call's budget name, the submission's authors and
        model format, the command line); summary = values, intervals and raw returns.

        A unit usually has one row; several rows are logged as several metrics of one run.
        Tags name the metric, task, coverage and budget so the W&B UI can filter by them.
        """
        import wandb  # Lazy: wandb takes seconds to import; only tracked runs need it

        if not rows:
            return
        first = rows[0]
        config = {k: _plain(v) for k, v in first.items() if not _is_measured(k)}
        config.update({k: _plain(v) for k, v in (context or {}).items()})
        config["metric"] = first["metric"]
        tags = [f"metric:{r['metric']}" for r in rows] + [f"task:{first['task']}"]
        if first.get("coverage"):
            tags.append(f"coverage:{first['coverage']}")
        if config.get("budget_name") or first.get("budget"):
            tags.append(f"budget:{config.get('budget_name') or first['budget']}")
        name = f"{first['submission']}/{first['task']}/{first['metric']}/{first['coverage'] or '-'}/s{first['seed']}"
        self.directory.mkdir(parents=True, exist_ok=True)
        run = wandb.init(
            project=self.project,
            group=self.group,
            job_type="evaluate",
            name=name,
            config=config,
            tags=sorted(set(tags)),
            dir=str(self.directory),
            mode=self.mode,
            reinit="create_new",
            settings=wandb.Settings(silent=True, console="off"),
        )
        try:
            values: dict[str, Any] = {}
            for row in rows:
                values[row["metric"]] = _plain(row["value"])
                values[f"{row['metric']}_ci_low"] = _plain(row["ci_low"])
                values[f"{row['metric']}_ci_high"] = _plain(row["ci_high"])
                for key, value in row.items():
                    if _is_raw_return(key) and value is not None:  # behind a transfer score
                        values[f"{row['metric']}_{key}"] = _plain(value)
            values["wall_time_s"] = _plain(first["wall_time_s"])
            values["failed"] = int(any(r["status"] != "ok" for r in rows))
            run.log(values)
            for key, value in values.items():
                run.summary[key] = value
            errors = [r["error"] for r in rows if r["error"]]
            if errors:
                run.summary["error"] = errors[0][:2000]
            if run.dir:
                self.run_dirs.append(Path(run.dir).parent)
        finally:
            run.finish(exit_code=1 if any(r["status"] != "ok" for r in rows) else 0)


def _plain(value: Any) -> Any:
    """numpy/pandas scalars and timestamps to JSON-friendly Python values."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def read_offline_run(run_dir: str | Path, *, timeout: float = 30.0) -> dict[str, Any]:
    """Read back an offline run folder (``.../wandb/offline-run-*``) without a server.

    Returns ``{"group", "name", "tags", "config", "summary", "finished"}`` parsed from the run's
    ``.wandb`` transaction log (W&B's LevelDB-style record log of protobuf ``Record``
    messages). Why: lets tests and users check what would be synced, from the files on
    disk. W&B's service writes the log asynchronously, even after ``run.finish()``
    returns, so this waits up to ``timeout`` seconds for the run's exit record.
    """
    deadline = time.monotonic() + timeout
    while True:
        out = _parse_offline_run(Path(run_dir))
        if out["finished"] or time.monotonic() > deadline:
            return out
        time.sleep(0.2)


def _parse_offline_run(run_dir: Path) -> dict[str, Any]:
    from wandb.proto import wandb_internal_pb2 as pb  # Lazy: as `log_unit`'s wandb

    files = sorted(run_dir.glob("run-*.wandb"))
    if not files:
        raise FileNotFoundError(
            f"{run_dir}: no run-*.wandb file; is this a W&B offline run folder?"
        )
    out: dict[str, Any] = {"group": "", "name": "", "tags": [], "config": {}, "summary": {},
                           "finished": False}  # fmt: skip
    for data in _log_records(files[0]):
        record = pb.Record()
        record.ParseFromString(data)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            # Later run records (updates) may leave these empty; keep the first values.
            out["group"] = out["group"] or record.run.run_group
            out["name"] = out["name"] or record.run.display_name
            out["tags"] = out["tags"] or list(record.run.tags)
            for item in record.run.config.update:
                out["config"][item.key] = json.loads(item.value_json)
        elif kind == "config":
            for item in record.config.update:
                out["config"][item.key] = json.loads(item.value_json)
        elif kind == "summary":
            for item in record.summary.update:
                key = item.key or "/".join(item.nested_key)
                out["summary"][key] = json.loads(item.value_json)
        elif kind == "exit":
            out["finished"] = True
    out["config"].pop("_wandb", None)
    return out


def _log_records(path: Path) -> Iterator[bytes]:
    """Records of a W&B ``.wandb`` file: 7-byte ``:W&B`` header, then LevelDB log blocks."""
    data = path.read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path}: not a W&B transaction log (bad header)")
    block, pos, pending = 32768, 7, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        pos += 7
        if kind == 0 and length == 0:
            break
        chunk = data[pos : pos + length]
        pos += length
        if kind == 1:  # full
            yield chunk
        elif kind == 2:  # first
            pending = chunk
        elif kind == 3:  # middle
            pending += chunk
        elif kind == 4:  # last
            yield pending + chunk
            pending = b""
