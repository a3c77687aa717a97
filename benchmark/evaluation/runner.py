"""Run a grid against the results store (``epic-bench evaluate``).

`evaluate` skips units already in the store, runs the rest through an executor
(`benchmark.evaluation.executors`) with `run_unit`, writes batches to the Parquet store
and logs to W&B.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from benchmark.evaluation.executors import run_units
from benchmark.evaluation.grid import Unit
from benchmark.evaluation.unit import DEFAULT_UNIT_TIMEOUT_S, run_unit
from benchmark.paths import DEFAULT_RESULTS_DIR
from benchmark.results import (
    STATUS_OK,
    UNIT_KEY,
    ResultsWriter,
    check_writable,
    finished_units,
    new_run_id,
    provenance,
    read_results,
    result_files,
    unit_key,
)
from benchmark.results.claims import release, try_claim


@dataclass
class EvaluationSummary:
    """What one evaluate call did."""

    run_id: str
    total: int
    skipped: int
    ok: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (unit label, error)
    files: list[Path] = field(default_factory=list)
    wall_time_s: float = 0.0
    values: list[dict[str, Any]] = field(default_factory=list)  # metric, value per ok row
    grid: Any = None  # DataFrame: the newest ok store row of every grid unit (now or earlier)
    wandb_hint: str = ""  # where the offline W&B runs are and how to sync them
    claimed_elsewhere: list[str] = field(default_factory=list)  # unit labels another run had


def evaluate(
    units: Sequence[Unit],
    *,
    results_dir: str | Path = DEFAULT_RESULTS_DIR,
    force: bool = False,
    executor: str = "local",
    device: str = "cpu",
    wandb: bool = True,
    wandb_mode: str | None = None,
    wandb_dir: str | Path | None = None,
    ray_address: str | None = None,
    trust_pickle: bool = False,
    flush_every_units: int = 50,
    flush_every_seconds: float = 60.0,
    progress: bool = True,
    run_id: str | None = None,
    context: dict[str, Any] | None = None,
    unit_timeout_s: float | None = DEFAULT_UNIT_TIMEOUT_S,
) -> EvaluationSummary:
    """Run the units not yet in the store and append their rows to it.

    Units with an ``ok`` row of the same key in ``results_dir`` are skipped unless
    ``force``. Rows are flushed to one Parquet file per batch (and on interrupt).
    ``context`` (e.g. ``{"budget_name": ..., "command": ...}``) goes to every unit's W&B
    config beside the row's fields and the submission's authors and model format.
    A unit still running ``unit_timeout_s`` after it began is stopped at its next model
    call and recorded as failed (None: no limit).
    """
    run_id = run_id or new_run_id()
    check_writable(results_dir)  # before any computing: a read-only or full store is refused
    # Pin the commit and package versions the rows will carry now: they are cached at first
    # use, which used to be the first finished unit (a SAC training in), by when the
    # checkout may have moved to a later commit than the code this process runs.
    provenance()
    done = set() if force else finished_units(results_dir)
    todo = [u for u in units if u.key() not in done]
    summary = EvaluationSummary(run_id=run_id, total=len(units), skipped=len(units) - len(todo))
    claims = _Claims(results_dir, force, (unit_timeout_s or DEFAULT_UNIT_TIMEOUT_S) + 3600)
    if executor != "local":  # Ray tasks run elsewhere: claim every unit before dispatch
        todo = [u for u in todo if claims.take(u)]
    tracker = None
    if wandb and todo:
        # Lazy: importing wandb takes seconds; only runs that log to W&B pay for it.
        from benchmark.evaluation.tracking import WandbTracker

        tracker = WandbTracker(run_id, mode=wandb_mode, directory=wandb_dir)
    start = time.perf_counter()
    writer = ResultsWriter(results_dir, run_id, every_units=flush_every_units,
                           every_seconds=flush_every_seconds)  # fmt: skip

    def record(unit: Unit, rows: list[dict[str, Any]] | None) -> None:
        if rows is None:  # another run holds or has finished this unit
            summary.skipped += 1
            summary.claimed_elsewhere.append(unit.label)
            return
        flushed = len(writer.files)
        writer.add(rows)
        if len(writer.files) > flushed:  # its rows are in the store: other runs may go on
            claims.release_written()
        if tracker is not None:
            tracker.log_unit(rows, {**submission_context(unit.submission_path), **(context or {})})
        if all(r["status"] == STATUS_OK for r in rows):
            summary.ok += 1
            summary.values.extend(
                {"metric": r["metric"], "value": r["value"], "task": r["task"]} for r in rows
            )
        else:
            summary.failed.append((unit.label, rows[0]["error"].splitlines()[0]))

    previous = _exit_on_sigterm()
    try:
        fn = partial(run_unit, device=device, run_id=run_id, trust_pickle=trust_pickle,
                     unit_timeout_s=unit_timeout_s)  # fmt: skip
        if executor == "local":
            fn = partial(_if_claimed, claims, fn)
        run_units(todo, fn, record, executor=executor, device=device, ray_address=ray_address,
                  progress=progress)  # fmt: skip
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        try:
            writer.close()
        finally:
            claims.release_all()
        summary.files = list(writer.files)
        summary.wall_time_s = time.perf_counter() - start
        if tracker is not None:
            summary.wandb_hint = tracker.sync_hint()
    summary.grid = grid_results(units, results_dir)
    return summary


@lru_cache(maxsize=256)
def submission_context(path: str) -> dict[str, Any]:
    """W&B config fields of a submission that its rows do not carry: authors, model format."""
    from benchmark.submissions import SubmissionError, load_submission

    try:
        sub = load_submission(path)
    except SubmissionError:
        return {}
    return {"authors": list(sub.authors), "model_format": sub.format,
            "submission_path": str(path)}  # fmt: skip


class _Claims:
    """This run's claims on units (benchmark.results.claims), released once rows are stored."""

    def __init__(self, results_dir: str | Path, force: bool, stale_after_s: float) -> None:
        self.results_dir = results_dir
        self.force = force
        self.stale_after_s = stale_after_s
        self.held: list[Path] = []
        self._files = set(result_files(results_dir))
        self._done: set[tuple] | None = None

    def take(self, unit: Unit) -> bool:
        """Claim ``unit``; False if another run holds it or has stored it since we looked."""
        # A SIGTERM between creating the lock file and recording it in ``held`` would leave
        # the file behind (the finally block releases only ``held``): it waits until both.
        with _PREEMPTION.deferred():
            path = try_claim(self.results_dir, unit.key(), stale_after_s=self.stale_after_s)
            if path is None:
                return False
            self.held.append(path)
        if not self.force:
            files = set(result_files(self.results_dir))
            if files != self._files:  # another run wrote since: re-read what is finished
                self._files, self._done = files, finished_units(self.results_dir)
            if self._done is not None and unit.key() in self._done:
                release(path)  # before forgetting it: an interruption releases it again
                self.held.remove(path)
                return False
        return True

    def release_written(self) -> None:
        # ``_files`` stays the listing ``_done`` was read at: refreshing it here would also
        # take in files other runs wrote meanwhile, whose units ``take`` would then never
        # see as done (two runs on one task computed 9 of 38 units twice that way).
        for path in self.held:
            release(path)
        self.held = []

    def release_all(self) -> None:
        self.release_written()


def _if_claimed(claims: _Claims, fn, unit: Unit) -> list[dict[str, Any]] | None:
    """``fn(unit)`` if this run wins the unit's claim, else None (recorded as skipped)."""
    return fn(unit) if claims.take(unit) else None


class _Preemption:
    """SIGTERM as SystemExit, held back while a claim is taken and recorded.

    Why not ``pthread_sigmask``: a signal blocked in the main thread is still delivered to
    another thread (tqdm's monitor, W&B's), and CPython then runs the handler in the main
    thread at once; a flag the handler reads works whichever thread received it.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.pending: int | None = None

    def handler(self, signum: int, frame: object) -> None:
        if self.depth:
            self.pending = signum
            return
        raise SystemExit(128 + signum)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if not self.depth and self.pending is not None:
            signum, self.pending = self.pending, None
            raise SystemExit(128 + signum)


_PREEMPTION = _Preemption()


def _exit_on_sigterm():
    """Turn SIGTERM (a scheduler's preemption, ``kill``) into SystemExit so the finally
    block flushes the finished units; returns the previous handler (None off the main thread).
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _PREEMPTION.handler)


def grid_results(units: Sequence[Unit], results_dir: str | Path = DEFAULT_RESULTS_DIR):
    """The newest ``ok`` row in the store of each unit of the grid, as a DataFrame."""
    df = read_results(results_dir)
    df = df[df["status"] == STATUS_OK].sort_values("timestamp")
    keys = {u.key() for u in units}
    mask = [unit_key(r) in keys for r in df.to_dict("records")]
    rows = df[mask]
    return rows.drop_duplicates(list(UNIT_KEY), keep="last")


def summary_text(summary: EvaluationSummary) -> str:
    """A short human summary: counts, failures with their errors, files, mean per metric."""
    lines = [
        f"run {summary.run_id}: {summary.total} units, {summary.skipped} already in the store "
        f"(skipped), {summary.ok} ok, {len(summary.failed)} failed, {summary.wall_time_s:.1f} s"
    ]
    if summary.grid is not None and len(summary.grid):
        lines.append("  mean over coverages and seeds (this run and earlier ones in the store):")
        groups = summary.grid.groupby(["task", "metric", "submission"])["value"]
        for (task, metric, submission), values in groups:
            lines.append(
                f"    {task:<12} {metric:<15} {submission:<32} {values.mean():.4f}  ({len(values)} units)"
            )
    for label, error in summary.failed:
        lines.append(f"  FAILED {label}: {error}")
    for path in summary.files:
        lines.append(f"  wrote {path}")
    if summary.wandb_hint:
        lines.append(summary.wandb_hint)
    if summary.claimed_elsewhere:
        lines.append(
            f"  {len(summary.claimed_elsewhere)} units left to another evaluate run on the same "
            "results dir (claimed or stored by it)"
        )
    if summary.total and summary.skipped == summary.total:
        lines.append("  nothing to do: every unit is already in the store (use --force to re-run)")
    return "\n".join(lines)
