"""The evaluation grid: units, their sample sizes, and the submissions they evaluate.

A *unit* is one submission x task x metric x coverage x seed (transfer: x budget,
no coverage). `expand_grid` builds the units in a stable order; `benchmark.evaluation.unit`
computes one and `benchmark.evaluation.runner` runs a grid against the store.

Transfer is two metrics with their own units: ``transfer`` (policy trained in the changed
test variant, the benchmark's score) and ``transfer_train`` (trained in the train variant,
a diagnostic). Why separate units: on MuJoCo each is an RL training of minutes, so a user
can run the score alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from benchmark.metrics.registry import (
    DISTANCE_METRICS,
    DISTANCE_SAMPLES,
    METRIC_NAMES,
    REGISTRY,
    STANDARD_N_SAMPLES,
    STANDARD_N_TRANSITIONS,
)
from benchmark.paths import submissions_root
from benchmark.results import unit_key
from benchmark.submissions import (
    Submission,
    SubmissionError,
    load_submission,
    scan_submissions,
)
from benchmark.tasks import Task, list_tasks, load_task
from benchmark.vocabulary import BUDGETS, TRAINING_DATA_SEED_START

# Metric names, their kinds and sample sizes come from the registry.
METRICS = METRIC_NAMES
DEFAULT_SEEDS = 3


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
        """The store's key of this unit: `benchmark.results.unit_key` of its fields."""
        return unit_key(asdict(self))

    @property
    def label(self) -> str:
        where = self.coverage or self.budget
        return f"{self.submission} {self.task}/{self.metric}/{where}/seed{self.seed}"


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
    skipped: list[SubmissionError] | None = None,
) -> list[Submission]:
    """Submissions given as folders, else every shipped one (of ``tasks`` if given).

    An invalid submission (bad TOML, tampered file, unknown task...) is left out and its
    SubmissionError appended to ``skipped``, so one bad folder never stops the others;
    without a ``skipped`` list, an invalid folder given in ``paths`` raises.
    """
    if paths:
        found: list[Submission | SubmissionError] = []
        for p in paths:
            try:
                found.append(load_submission(p))
            except SubmissionError as exc:
                if skipped is None:
                    raise
                found.append(exc)
    else:
        root = Path(root) if root is not None else submissions_root()
        if not root.is_dir():
            raise EvaluationError(
                f"no submissions folder at {root}; pass submission folders or --submissions-root"
            )
        found = list(scan_submissions(root))
    subs = [s for s in found if isinstance(s, Submission)]
    if skipped is not None:
        skipped.extend(s for s in found if isinstance(s, SubmissionError))
    if tasks:
        subs = [s for s in subs if s.task in tasks]
    return subs


def expand_grid(
    submissions: Sequence[Submission],
    *,
    tasks: Sequence[str] = (),
    metrics: Sequence[str] = METRICS,
    coverages: Sequence[str] = (),
    seeds: int = DEFAULT_SEEDS,
    budget: str = "standard",
    n_transitions: int = STANDARD_N_TRANSITIONS,
    n_samples: int = STANDARD_N_SAMPLES,
    exact: bool = True,
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
        exact: on finite tasks (``task.tabular``), the metrics with an exact tabular value
            (``exact_on_tables``) get one unit per coverage (seed 0, sizes 0), computed from
            the tables. False samples them like any task (the sample-based path, e.g. to
            test it against the exact one).
    """
    known = list_tasks()
    for t in tasks:
        if t not in known:
            raise EvaluationError(f"unknown task {t!r}; tasks are {', '.join(known)}")
    if seeds < 1:
        raise EvaluationError(f"--seeds must be at least 1, got {seeds}")
    if seeds > TRAINING_DATA_SEED_START:
        raise EvaluationError(
            f"--seeds {seeds} would reach the baselines' training-data seeds "
            f"(from {TRAINING_DATA_SEED_START}); use at most {TRAINING_DATA_SEED_START}"
        )
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
        task = cached_task(sub.task)
        common = dict(
            submission=sub.name,
            submission_path=str(Path(sub.path).resolve()),
            submission_sha256=sub.sha256,
            method=sub.method,
            task=task.name,
            task_version=str(task.version),
        )
        for metric in metrics:
            spec = REGISTRY[metric]
            if spec.needs == "training":
                if budget not in task.budgets:
                    raise EvaluationError(f"task {task.name} has no budget {budget!r}")
                for seed in range(seeds):
                    units.append(Unit(**common, metric=metric, coverage="", seed=seed,
                                      budget=budget, n_transitions=0, n_samples=0))  # fmt: skip
                continue
            names = [c for c in task.coverage_names if not coverages or c in coverages]
            seen_coverages.update(names)
            # An episode metric (ERC) is undefined where a coverage draws independent
            # transitions (no episodes); its sizes are complete episodes and M = 0.
            names = [c for c in names if spec.defined_on(task.coverage(c).spec.policy)]
            exact_here = exact and spec.exact_on_tables and task.tabular is not None
            sizes = (0, 0) if exact_here else spec.sample_sizes(task, n_transitions, n_samples)
            for coverage in names:
                # An exact value does not depend on the seed: one unit.
                for seed in range(1 if exact_here else seeds):
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
def cached_task(name: str) -> Task:
    """`load_task` memoized: a grid and its units load each task file once."""
    return load_task(name)
