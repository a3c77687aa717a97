"""The evaluation grid and the per-unit runner behind ``epic-bench evaluate``.

A *unit* is one submission x task x metric x coverage x seed (transfer: x budget,
no coverage). `expand_grid` builds the units, `run_unit` computes one unit's result
rows (never raises: a failure becomes a ``failed`` row with its error), and
`evaluate` skips units already in the store, runs the rest through an executor
(`benchmark.execution`), writes batches to the Parquet store and logs to W&B.

Per unit (Gleave et al., ICLR 2021, Sec. 5): the coverage sample is
``task.coverage(c).sample(n_transitions, n_samples, seed)`` and the submission is
compared to ``task.reward("ground_truth")``. Transfer is two metrics with their own
units: ``transfer`` (policy trained in the changed test variant, the benchmark's score)
and ``transfer_train`` (trained in the train variant, a diagnostic). Why separate units:
on MuJoCo each is an RL training of minutes, so a user can run the score alone.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from benchmark.results import (
    DEFAULT_RESULTS_DIR,
    STATUS_FAILED,
    STATUS_OK,
    ResultsWriter,
    finished_units,
    make_row,
    new_run_id,
)

METRICS = ("epic", "npec", "erc", "transfer", "transfer_train")
DISTANCE_METRICS = ("epic", "npec", "erc")
# Transfer metric -> the task variant the policy is trained and evaluated in.
TRANSFER_VARIANTS = {"transfer": "test", "transfer_train": "train"}
NO_EPISODES = ("uniform",)  # coverage policies that draw independent transitions
BUDGETS = ("smoke", "standard", "full")
DEFAULT_SEEDS = 3
# Coverage sample sizes (N_T transitions, M mean-term samples) of the distance metrics per
# budget. "full" is the paper's N_T = M = 4096. Why smaller by default: EPIC costs about
# (distinct states) x M reward evaluations, ~4 TFLOP per unit for a 256-wide MLP on
# PointMass at 4096 x 4096 (minutes per unit on a CPU), so the standard leaderboard uses
# N_T = 1024, M = 256 and shows the per-unit bootstrap CI; `--budget full` (or
# --n-transitions/--n-samples) gives the paper's sizes.
DISTANCE_SAMPLES = {"smoke": (256, 64), "standard": (1024, 256), "full": (4096, 4096)}
DEFAULT_N_TRANSITIONS, DEFAULT_N_SAMPLES = DISTANCE_SAMPLES["standard"]
# ERC correlates episode returns, so its sample is complete episodes: a rollout long
# enough for at least this many whatever N_T is (a correlation of a handful of returns
# is noise; N_T = 1024 on HalfCheetah holds one 1000-step episode per stream).
ERC_MIN_EPISODES = 32


def erc_rollout_length(task: Any, n_transitions: int) -> int:
    """Transitions to roll out for ERC: N_T, or enough for ERC_MIN_EPISODES episodes.

    Each of a coverage's ``n_envs`` streams loses its unfinished last episode, so
    (ERC_MIN_EPISODES + n_envs) x horizon transitions hold at least ERC_MIN_EPISODES
    complete ones (episodes that terminate early only add more). One length per task
    (the largest ``n_envs`` of its coverages), so its ERC table compares like with like.
    """
    n_envs = max(task.coverage(c).spec.n_envs for c in task.coverage_names)
    return max(n_transitions, (ERC_MIN_EPISODES + n_envs) * task.horizon)


def sample_sizes(budget: str, n_transitions: int | None = None, n_samples: int | None = None):
    """(N_T, M) for ``budget``, each overridden when given."""
    if budget not in DISTANCE_SAMPLES:
        raise EvaluationError(f"unknown budget {budget!r}; choose from {', '.join(BUDGETS)}")
    nt, m = DISTANCE_SAMPLES[budget]
    return (nt if n_transitions is None else n_transitions, m if n_samples is None else n_samples)


class EvaluationError(ValueError):
    """The requested grid is invalid; the message names the argument and valid choices."""


@dataclass(frozen=True)
class Unit:
    """One evaluation unit; its fields are the store's unit key plus what it needs to run."""

    submission: str
    submission_path: str
    submission_sha256: str
    method: str
    task: str
    task_version: str
    metric: str
    coverage: str
    seed: int
    budget: str
    n_transitions: int
    n_samples: int

    def key(self) -> tuple:
        """Same order and types as `benchmark.results.unit_key` of its row."""
        return (
            self.submission_sha256,
            self.task,
            self.task_version,
            self.metric,
            self.coverage,
            int(self.seed),
            self.budget,
            int(self.n_transitions),
            int(self.n_samples),
        )

    @property
    def label(self) -> str:
        where = self.coverage or self.budget
        return f"{self.submission} {self.task}/{self.metric}/{where}/seed{self.seed}"


def default_submissions_root() -> Path:
    """``$EPIC_BENCH_SUBMISSIONS``, else ``./submissions``, else the repository's."""
    env = os.environ.get("EPIC_BENCH_SUBMISSIONS")
    if env:
        return Path(env)
    here = Path("submissions")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / "submissions"


def parse_metrics(values: Sequence[str]) -> list[str]:
    """``["epic,npec", "transfer"]`` -> ``["epic", "npec", "transfer"]``, validated."""
    out: list[str] = []
    for value in values:
        for name in (v.strip().lower() for v in value.split(",")):
            if not name:
                continue
            if name not in METRICS:
                raise EvaluationError(f"unknown metric {name!r}; choose from {', '.join(METRICS)}")
            if name not in out:
                out.append(name)
    return out or list(METRICS)


def select_submissions(
    paths: Sequence[str | Path] = (),
    *,
    tasks: Sequence[str] = (),
    root: str | Path | None = None,
) -> list:
    """Submissions given as folders, else every shipped one (of ``tasks`` if given)."""
    from benchmark.submissions import list_submissions, load_submission

    if paths:
        subs = [load_submission(p) for p in paths]
    else:
        root = Path(root) if root is not None else default_submissions_root()
        if not root.is_dir():
            raise EvaluationError(
                f"no submissions folder at {root}; pass submission folders or --submissions-root"
            )
        subs = list_submissions(root)
    if tasks:
        subs = [s for s in subs if s.task in tasks]
    return subs


def expand_grid(
    submissions: Sequence[Any],
    *,
    tasks: Sequence[str] = (),
    metrics: Sequence[str] = METRICS,
    coverages: Sequence[str] = (),
    seeds: int = DEFAULT_SEEDS,
    budget: str = "standard",
    n_transitions: int = DEFAULT_N_TRANSITIONS,
    n_samples: int = DEFAULT_N_SAMPLES,
) -> list[Unit]:
    """Every unit of the grid, in a stable order (submission, task, metric, coverage, seed).

    Args:
        submissions: `benchmark.submissions.Submission` objects.
        tasks: keep submissions of these tasks (empty: all); names are validated.
        metrics: subset of METRICS.
        coverages: coverage names (empty: every coverage of each task); a name no
            selected task has is an error.
        seeds: number of seeds, 0..seeds-1.
        budget: transfer budget name.
        n_transitions, n_samples: coverage sample sizes N_T and M.
    """
    from benchmark.tasks import list_tasks

    known = list_tasks()
    for t in tasks:
        if t not in known:
            raise EvaluationError(f"unknown task {t!r}; tasks are {', '.join(known)}")
    if seeds < 1:
        raise EvaluationError(f"--seeds must be at least 1, got {seeds}")
    if budget not in BUDGETS:
        raise EvaluationError(f"unknown budget {budget!r}; choose from {', '.join(BUDGETS)}")
    if n_transitions < 2 or n_samples < 1:
        raise EvaluationError(
            f"sample sizes must be n_transitions >= 2 and n_samples >= 1, got {n_transitions}, {n_samples}"
        )
    for m in metrics:
        if m not in METRICS:
            raise EvaluationError(f"unknown metric {m!r}; choose from {', '.join(METRICS)}")
    units: list[Unit] = []
    seen_coverages: set[str] = set()
    for sub in sorted(submissions, key=lambda s: (s.task, s.name)):
        if tasks and sub.task not in tasks:
            continue
        task = _task(sub.task)
        common = dict(
            submission=sub.name,
            submission_path=str(Path(sub.path).resolve()),
            submission_sha256=sub.sha256,
            method=sub.method,
            task=task.name,
            task_version=str(task.version),
        )
        for metric in metrics:
            if metric in TRANSFER_VARIANTS:
                if budget not in task.budgets:
                    raise EvaluationError(f"task {task.name} has no budget {budget!r}")
                for seed in range(seeds):
                    units.append(Unit(**common, metric=metric, coverage="", seed=seed,
                                      budget=budget, n_transitions=0, n_samples=0))  # fmt: skip
                continue
            names = [c for c in task.coverage_names if not coverages or c in coverages]
            seen_coverages.update(names)
            if metric == "erc":
                # ERC compares episode returns; a "uniform" coverage draws independent
                # transitions with no episodes, so ERC is undefined there.
                names = [c for c in names if task.coverage(c).spec.policy not in NO_EPISODES]
            for coverage in names:
                # ERC uses complete episodes and no mean-term samples (M = 0).
                sizes = (
                    (erc_rollout_length(task, n_transitions), 0)
                    if metric == "erc"
                    else (n_transitions, n_samples)
                )
                for seed in range(seeds):
                    units.append(Unit(**common, metric=metric, coverage=coverage, seed=seed,
                                      budget="", n_transitions=sizes[0],
                                      n_samples=sizes[1]))  # fmt: skip
    unknown = [c for c in coverages if c not in seen_coverages]
    if unknown and any(m in DISTANCE_METRICS for m in metrics):
        raise EvaluationError(
            f"coverage {', '.join(map(repr, unknown))} is not defined by any selected task; "
            "see the [coverage.*] tables in tasks/*.toml"
        )
    return units


@lru_cache(maxsize=16)
def _task(name: str):
    from benchmark.tasks import load_task

    return load_task(name)


@lru_cache(maxsize=16)
def _ground_truth(task: str, device: str):
    return _task(task).reward("ground_truth", device=device)


@lru_cache(maxsize=32)
def _submission_reward(path: str, sha256: str, device: str, trust_pickle: bool):
    from benchmark.submissions import load_submission

    sub = load_submission(path)
    if sub.sha256 != sha256:
        raise RuntimeError(
            f"submission {sub.name} changed since the grid was built (sha256 {sub.sha256[:12]} "
            f"!= {sha256[:12]}); re-run evaluate"
        )
    return sub.load_reward(device=device, trust_pickle=trust_pickle)


def _compute(unit: Unit, device: str, trust_pickle: bool) -> list[dict[str, Any]]:
    """The metric values of one unit as partial rows (metric, value, ci_low, ci_high)."""
    import torch

    torch.manual_seed(unit.seed)
    task = _task(unit.task)
    reward = _submission_reward(unit.submission_path, unit.submission_sha256, device, trust_pickle)
    if unit.metric in TRANSFER_VARIANTS:
        from benchmark.metrics.transfer import transfer_score

        res = transfer_score(reward, task, budget=unit.budget, seed=unit.seed, device=device,
                             variant=TRANSFER_VARIANTS[unit.metric])  # fmt: skip
        return [{"metric": unit.metric, "value": float(res.normalized)}]
    truth = _ground_truth(unit.task, device)
    if unit.metric == "erc":
        from benchmark.metrics.erc import erc_distance

        episodes = task.coverage(unit.coverage).episodes(unit.n_transitions, unit.seed)
        value = erc_distance(reward, truth, transitions=episodes, device=device)
        return [{"metric": "erc", "value": float(value)}]
    sample = task.coverage(unit.coverage).sample(unit.n_transitions, unit.n_samples, unit.seed)
    if unit.metric == "epic":
        return [_epic(unit, reward, task, sample, device)]
    if unit.metric == "npec":
        from benchmark.metrics.npec import npec_distance

        value = npec_distance(reward, truth, transitions=sample.transitions, discount=task.discount,
                             seed=unit.seed, device=device)  # fmt: skip
        return [{"metric": "npec", "value": float(value)}]
    raise EvaluationError(f"unknown metric {unit.metric!r}")


@lru_cache(maxsize=256)
def _canonical_truth(task: str, coverage: str, n_transitions: int, n_samples: int, seed: int,
                     device: str):  # fmt: skip
    """C(ground truth) on one coverage sample, float64 numpy [N_T].

    Why cached: every submission of a task is compared with the same ground truth on
    the same samples, so its canonicalization (half of EPIC's cost) is computed once.
    """
    from benchmark.metrics.epic import canonicalize

    t = _task(task)
    sample = t.coverage(coverage).sample(n_transitions, n_samples, seed)
    truth = _ground_truth(task, device)
    c = canonicalize(truth, sample.transitions, sample.state_samples, sample.action_samples,
                     t.discount, device=device)  # fmt: skip
    return c.detach().cpu().numpy()


def _epic(unit: Unit, reward, task, sample, device: str) -> dict[str, Any]:
    """EPIC of the submission to the ground truth with a 95% bootstrap CI over transitions.

    Same estimator as `epic.epic_distance_with_ci` (C(R_A), C(R_B) paired per
    transition, percentile bootstrap with the unit's seed), with C(ground truth)
    taken from `_canonical_truth`.
    """
    import numpy as np

    from benchmark.metrics.epic import canonicalize
    from benchmark.metrics.stats import bootstrap_pearson_distance

    truth_c = _canonical_truth(unit.task, unit.coverage, unit.n_transitions, unit.n_samples,
                               unit.seed, device)  # fmt: skip
    c = canonicalize(reward, sample.transitions, sample.state_samples, sample.action_samples,
                     task.discount, device=device)  # fmt: skip
    c = c.detach().cpu().numpy()
    ci = bootstrap_pearson_distance(c, truth_c, seed=unit.seed)
    if not np.isfinite(ci.estimate):
        which = "the submission" if np.std(c) <= np.std(truth_c) else "the ground truth"
        raise ValueError(
            f"EPIC is undefined: {which} is constant after canonicalization on coverage "
            f"{unit.coverage!r} (a constant or potential-shaped constant reward ranks no "
            "behaviour above another)"
        )
    return {"metric": "epic", "value": ci.estimate, "ci_low": ci.low, "ci_high": ci.high}


def run_unit(
    unit: Unit, *, device: str = "cpu", run_id: str = "", trust_pickle: bool = False
) -> list[dict[str, Any]]:
    """Compute one unit and return its complete result rows; never raises on failure.

    A failure (any exception) becomes one ``failed`` row whose ``error`` holds the
    exception and the last lines of its traceback, so the rest of the grid goes on.
    """
    start = time.perf_counter()
    fields = {k: v for k, v in asdict(unit).items() if k != "submission_path"}
    try:
        partial = _compute(unit, device, trust_pickle)
        status, error = STATUS_OK, ""
    except Exception as e:  # noqa: BLE001 - recorded, reported, and the grid goes on
        tail = "".join(traceback.format_exception(e)[-3:])
        partial = [{"metric": unit.metric, "value": float("nan")}]
        status, error = STATUS_FAILED, f"{type(e).__name__}: {e}\n{tail}"[:4000]
    wall = time.perf_counter() - start
    return [
        make_row(
            **{
                **fields,
                **p,
                "status": status,
                "error": error,
                "wall_time_s": wall,
                "device": device,
                "run_id": run_id,
            }
        )  # fmt: skip
        for p in partial
    ]


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
) -> EvaluationSummary:
    """Run the units not yet in the store and append their rows to it.

    Units with an ``ok`` row of the same key in ``results_dir`` are skipped unless
    ``force``. Rows are flushed to one Parquet file per batch (and on interrupt).
    """
    from benchmark.execution import run_units

    run_id = run_id or new_run_id()
    done = set() if force else finished_units(results_dir)
    todo = [u for u in units if u.key() not in done]
    summary = EvaluationSummary(run_id=run_id, total=len(units), skipped=len(units) - len(todo))
    tracker = None
    if wandb and todo:
        from benchmark.tracking import WandbTracker

        tracker = WandbTracker(run_id, mode=wandb_mode, directory=wandb_dir)
    start = time.perf_counter()
    writer = ResultsWriter(results_dir, run_id, every_units=flush_every_units,
                           every_seconds=flush_every_seconds)  # fmt: skip

    def record(unit: Unit, rows: list[dict[str, Any]]) -> None:
        writer.add(rows)
        if tracker is not None:
            tracker.log_unit(rows)
        if all(r["status"] == STATUS_OK for r in rows):
            summary.ok += 1
            summary.values.extend(
                {"metric": r["metric"], "value": r["value"], "task": r["task"]} for r in rows
            )
        else:
            summary.failed.append((unit.label, rows[0]["error"].splitlines()[0]))

    previous = _exit_on_sigterm()
    try:
        run_units(todo, record, executor=executor, device=device, run_id=run_id,
                  trust_pickle=trust_pickle, ray_address=ray_address, progress=progress)  # fmt: skip
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        writer.close()
        summary.files = list(writer.files)
        summary.wall_time_s = time.perf_counter() - start
    summary.grid = grid_results(units, results_dir)
    return summary


def _exit_on_sigterm():
    """Turn SIGTERM (a scheduler's preemption, ``kill``) into SystemExit so the finally
    block flushes the finished units; returns the previous handler (None off the main thread).
    """
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, handler)


def grid_results(units: Sequence[Unit], results_dir: str | Path = DEFAULT_RESULTS_DIR):
    """The newest ``ok`` row in the store of each unit of the grid, as a DataFrame."""
    from benchmark.results import read_results, unit_key

    df = read_results(results_dir)
    df = df[df["status"] == STATUS_OK].sort_values("timestamp")
    keys = {u.key() for u in units}
    mask = [unit_key(r) in keys for r in df.to_dict("records")]
    rows = df[mask]
    return rows.drop_duplicates(["submission_sha256", "task", "metric", "coverage", "seed", "budget",
                                 "n_transitions", "n_samples"], keep="last")  # fmt: skip


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
    if summary.total and summary.skipped == summary.total:
        lines.append("  nothing to do: every unit is already in the store (use --force to re-run)")
    return "\n".join(lines)
