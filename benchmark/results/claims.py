"""Claims on units, so two evaluate runs on one results dir never compute a unit twice.

Why files: the store is a folder of Parquet files that several processes (two shells, a
cron job, Ray workers on one machine) append to. A claim is a lock file per unit key,
``<results_dir>/.claims/<sha256 of the key>.lock``, created with ``O_CREAT | O_EXCL`` (atomic
on a local file system): whoever creates it runs the unit, and removes it only after the
unit's rows are in a Parquet file, so another run that then claims the unit finds it in
the store. A claim whose process is gone (same host, pid not alive) or that is older than
``stale_after_s`` is stale and taken over.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from pathlib import Path

CLAIMS_DIR = ".claims"


def claim_path(results_dir: str | Path, key: tuple) -> Path:
    digest = hashlib.sha256(json.dumps([str(k) for k in key]).encode()).hexdigest()[:32]
    return Path(results_dir) / CLAIMS_DIR / f"{digest}.lock"


def try_claim(results_dir: str | Path, key: tuple, *, stale_after_s: float) -> Path | None:
    """Claim the unit ``key``: the lock file's path, or None if a live run holds it."""
    path = claim_path(results_dir, key)
    for _ in range(3):  # again after removing a stale claim, or if the folder was tidied away
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileNotFoundError:  # another run removed the empty folder meanwhile
            continue
        except FileExistsError:
            if not _stale(path, stale_after_s):
                return None
            path.unlink(missing_ok=True)
            continue
        holder = {"host": socket.gethostname(), "pid": os.getpid(), "time": time.time()}
        with os.fdopen(fd, "w") as f:
            json.dump(holder, f)
        return path
    return None


def release(path: Path) -> None:
    """Remove the claim, and the claims folder once empty (a results dir stays tidy)."""
    path.unlink(missing_ok=True)
    try:
        path.parent.rmdir()
    except OSError:  # other claims are still held (or it is already gone)
        pass


def _stale(path: Path, stale_after_s: float) -> bool:
    try:
        holder = json.loads(path.read_text())
        host, pid, since = str(holder["host"]), int(holder["pid"]), float(holder["time"])
    except (OSError, ValueError, KeyError, TypeError):
        # Being written right now, or garbage: judge by the file's age alone.
        try:
            return time.time() - path.stat().st_mtime > 60
        except OSError:
            return True
    if time.time() - since > stale_after_s:
        return True
    if host == socket.gethostname():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False
