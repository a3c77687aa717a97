"""``epic-bench validate``: every check a submission must pass, reported one by one.

Why checks and not exceptions: a leaderboard run evaluates many submissions; one broken
model must produce a clear, named failure and let the others go on. Each check yields a
CheckResult; the first failure makes the later checks "skip".

Checks, in order: schema, task, file, sha256 (load_submission), load (safe loading),
run (forward on every coverage of the task), shape ([B]), dtype (floating), finite (no
NaN/inf), determinism (same inputs -> same outputs, rows independent of the batch) and
speed (one forward of ``batch_size`` rows under ``time_limit_s``). Every forward runs in
a contained worker process (contained.py) under ``call_timeout_s`` and ``memory_bytes``,
so a model that never returns or crashes fails "run" instead of hanging or aborting.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from benchmark.data import Transitions
from benchmark.metrics.epic import MAX_BATCH_ACCELERATOR, MAX_BATCH_CPU
from benchmark.submissions.contained import ContainedReward, WorkerLimits
from benchmark.submissions.contract import ContractViolation, check_reward
from benchmark.submissions.spec import (
    SUBMISSION_FILE,
    Submission,
    SubmissionError,
    load_submission,
    scan_submissions,
)
from benchmark.tasks import load_task

SPEC_CHECKS = ("schema", "task", "file", "sha256")
MODEL_CHECKS = ("load", "run", "shape", "dtype", "finite", "determinism", "speed")
CHECKS = SPEC_CHECKS + MODEL_CHECKS


@dataclass(frozen=True)
class CheckResult:
    check: str
    status: str  # "pass" | "fail" | "skip"
    detail: str = ""


@dataclass
class ValidationReport:
    """The outcome of every check for one submission folder."""

    name: str
    path: Path
    results: list[CheckResult] = field(default_factory=list)
    submission: Submission | None = None

    @property
    def passed(self) -> bool:
        return all(r.status == "pass" for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "fail"]

    def raise_for_failure(self) -> None:
        """Raise the first failure as a SubmissionError (for callers that want exceptions)."""
        for r in self.failures:
            raise SubmissionError(self.name, r.check, r.detail)

    def format(self) -> str:
        """Human-readable report: one line per check, then the verdict."""
        lines = [f"{self.name} ({self.path})"]
        for r in self.results:
            mark = {"pass": "PASS", "fail": "FAIL", "skip": "skip"}[r.status]
            lines.append(f"  {mark}  {r.check:<12} {r.detail}".rstrip())
        verdict = "valid" if self.passed else f"INVALID ({len(self.failures)} check failed)"
        lines.append(f"  => {verdict}")
        return "\n".join(lines)


@dataclass(frozen=True)
class ValidationConfig:
    """Sizes and limits of the model checks.

    n_transitions: transitions drawn from each coverage for run/shape/finite checks.
    batch_size: rows in the timed forward (coverage rows tiled up to it).
    time_limit_s: allowed seconds for that forward (best of ``timing_repeats``).
    """

    n_transitions: int = 256
    batch_size: int = 4096
    time_limit_s: float = 1.0
    timing_repeats: int = 3
    seed: int = 0
    device: str = "cpu"
    trust_pickle: bool = False
    # torch threads in the model worker. One by default: a reward net's forward over a
    # few thousand rows is fastest single-threaded on a shared machine, where OpenMP
    # hand-offs between busy cores cost more than the matmuls (measured 100x on 2 cores).
    threads: int | None = 1
    # Seconds any single forward may take before the worker is killed and the model
    # declared hung. Generous: it catches endless loops and deadlocks, "speed" judges
    # slowness.
    call_timeout_s: float = 120.0
    # The worker's address-space limit on CPU (contained.WorkerLimits).
    memory_bytes: int | None = 8 << 30
    # Batch sizes at which each row's reward must be the same: small ones, and the rows
    # per forward EPIC uses on CPU and on a GPU (metrics.epic.MAX_BATCH_*).
    batch_sizes: tuple[int, ...] = (1, 7, 128, 300, 1000, MAX_BATCH_CPU, MAX_BATCH_ACCELERATOR)

    def __post_init__(self) -> None:
        for name in ("n_transitions", "batch_size", "timing_repeats"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not all(isinstance(b, int) and b >= 1 for b in self.batch_sizes):
            raise ValueError(f"batch_sizes must be positive integers, got {self.batch_sizes}")
        for name in ("time_limit_s", "call_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds")


class _CheckFailed(Exception):
    def __init__(self, check: str, detail: str) -> None:
        super().__init__(detail)
        self.check = check
        self.detail = detail


def validate_submission(
    path: str | Path, config: ValidationConfig | None = None
) -> ValidationReport:
    """Run every check on the submission at ``path``; never raises for a bad submission."""
    config = config or ValidationConfig()
    path = Path(path)
    report = ValidationReport(name=path.name, path=path)
    if not (path / SUBMISSION_FILE).is_file() and path.name != SUBMISSION_FILE:
        _fail_from(report, "file", f"{path / SUBMISSION_FILE} does not exist", before="skip")
        return report
    try:
        submission = load_submission(path)
    except SubmissionError as exc:
        report.name = exc.submission
        _fail_from(report, exc.check, exc.message)
        return report
    report.submission = submission
    report.results += [CheckResult(c, "pass") for c in SPEC_CHECKS]
    report.results[-1] = CheckResult("sha256", "pass", submission.sha256[:16] + "…")
    passed: list[CheckResult] = []
    try:
        _model_checks(submission, config, passed)
    except _CheckFailed as exc:
        report.results += passed
        # A forward that raises or hangs during a later check (determinism's repeated call,
        # speed's timing) is that check's failure: each check is reported once.
        running = MODEL_CHECKS[len(passed)]
        check = running if exc.check in {p.check for p in passed} else exc.check
        _fail_from(report, check, exc.detail)
        return report
    report.results += passed
    return report


def _fail_from(report: ValidationReport, check: str, detail: str, before: str = "pass") -> None:
    """Mark ``check`` failed, the checks before it without a result ``before``, the rest skipped."""
    done = {r.check for r in report.results}
    index = CHECKS.index(check)
    for c in CHECKS[:index]:
        if c not in done:
            report.results.append(CheckResult(c, before))
    report.results.append(CheckResult(check, "fail", detail))
    report.results += [CheckResult(c, "skip") for c in CHECKS[index + 1 :]]


def _coverage_transitions(
    submission: Submission, config: ValidationConfig
) -> list[tuple[str, Transitions]]:
    task = load_task(submission.task)
    samples = []
    for name in task.coverage_names:
        sample = task.coverage(name).sample(config.n_transitions, 16, config.seed)
        samples.append((name, sample.transitions))
    return samples


def _model_checks(
    submission: Submission, config: ValidationConfig, passed: list[CheckResult]
) -> None:
    """Every forward runs in a contained worker (contained.py) under the config's limits."""
    limits = WorkerLimits(
        call_timeout_s=config.call_timeout_s,
        memory_bytes=config.memory_bytes,
        threads=config.threads,
    )
    reward = ContainedReward(
        submission, limits, device=config.device, trust_pickle=config.trust_pickle
    )
    try:
        _checks_in_worker(reward, submission, config, passed)
    finally:
        reward.close()


def _checks_in_worker(
    reward: ContainedReward,
    submission: Submission,
    config: ValidationConfig,
    passed: list[CheckResult],
) -> None:
    try:
        reward.start()
    except SubmissionError as exc:
        raise _CheckFailed("load", exc.message) from exc
    passed.append(CheckResult("load", "pass", f"{submission.format}, in a contained worker"))

    try:
        coverages = _coverage_transitions(submission, config)
    except Exception as exc:  # the task cannot sample: not the model's fault, but no verdict
        raise _CheckFailed("run", f"could not sample the task's coverage: {exc}") from exc
    outputs = []
    for name, t in coverages:
        try:
            outputs.append((name, t, reward(t.obs, t.acts, t.next_obs, t.dones)))
        except SubmissionError as exc:
            raise _CheckFailed(exc.check, f"on coverage '{name}': {exc.message}") from exc
    passed.append(CheckResult("run", "pass", f"coverages {', '.join(n for n, _ in coverages)}"))

    for name, t, out in outputs:
        if tuple(out.shape) != (len(t),):
            raise _CheckFailed(
                "shape",
                f"expected rewards of shape [{len(t)}] on coverage '{name}', got "
                f"{tuple(out.shape)}",
            )
    passed.append(CheckResult("shape", "pass", "[B]"))

    for name, _, out in outputs:
        if not torch.is_floating_point(out):
            raise _CheckFailed(
                "dtype", f"expected floating-point rewards on coverage '{name}', got {out.dtype}"
            )
    passed.append(CheckResult("dtype", "pass", str(outputs[0][2].dtype)))

    for name, _, out in outputs:
        bad = ~torch.isfinite(out)
        if bad.any():
            raise _CheckFailed(
                "finite",
                f"{int(torch.isnan(out).sum())} NaN and {int(torch.isinf(out).sum())} inf "
                f"rewards among {out.numel()} on coverage '{name}'",
            )
    passed.append(CheckResult("finite", "pass"))

    for name, t, _ in outputs:
        try:
            check_reward(reward, t, config.batch_sizes, what=f"coverage '{name}'")
        except ContractViolation as exc:
            raise _CheckFailed(exc.check, exc.detail) from exc
    sizes = ", ".join(str(b) for b in sorted(set(config.batch_sizes)))
    passed.append(CheckResult("determinism", "pass", f"batches of {sizes} rows"))

    passed.append(CheckResult("speed", "pass", _time_batch(reward, coverages, config)))


def _time_batch(reward, coverages: list[tuple[str, Transitions]], config: ValidationConfig) -> str:
    rows = Transitions.concatenate([t for _, t in coverages])
    reps = -(-config.batch_size // len(rows))
    index = torch.arange(len(rows) * reps, device=rows.device) % len(rows)
    batch = rows[index[: config.batch_size]]

    def forward_seconds() -> float:
        # Measured around the worker call: it includes sending the rows (well under a
        # millisecond per thousand rows), which a metric pays too.
        start = time.perf_counter()
        try:
            reward(batch.obs, batch.acts, batch.next_obs, batch.dones)
        except SubmissionError as exc:
            raise _CheckFailed("speed", exc.message) from exc
        return time.perf_counter() - start

    forward_seconds()  # warm-up
    best = float("inf")
    for _ in range(config.timing_repeats):
        best = min(best, forward_seconds())
        if best > config.time_limit_s:
            break
    if best > config.time_limit_s:
        raise _CheckFailed(
            "speed",
            f"one forward of {config.batch_size} rows took {best:.2f} s on {config.device}; "
            f"the limit is {config.time_limit_s:.2f} s (make the model smaller or faster)",
        )
    return f"{best * 1e3:.1f} ms per {config.batch_size} rows (limit {config.time_limit_s:g} s)"


def validate_many(
    paths: list[str | Path], config: ValidationConfig | None = None
) -> list[ValidationReport]:
    """Validate each path independently; one failure never stops the others."""
    return [validate_submission(p, config) for p in paths]


def submissions_table(
    root: str | Path = "submissions", config: ValidationConfig | None = None, full: bool = False
) -> tuple[str, bool]:
    """A text table of every submission under ``root`` with task, method, format, validity.

    ``full=False`` checks schema, task, file and sha256 only (fast, loads no model);
    ``full=True`` runs every check. Returns (table, all_valid).
    """
    rows = [("NAME", "TASK", "METHOD", "FORMAT", "VALID")]
    all_valid = True
    for entry in scan_submissions(root):
        if isinstance(entry, SubmissionError):
            rows.append((entry.submission, "?", "?", "?", f"no: {entry.check}: {entry.message}"))
            all_valid = False
            continue
        verdict = "yes"
        if full:
            report = validate_submission(entry.path, config)
            if not report.passed:
                first = report.failures[0]
                verdict = f"no: {first.check}: {first.detail}"
                all_valid = False
        rows.append((entry.name, entry.task, entry.method, entry.format, verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
        for r in rows
    ]
    return "\n".join(lines), all_valid
