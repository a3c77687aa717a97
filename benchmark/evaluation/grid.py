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
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from benchmark.paths import submissions_root
from benchmark.submissions import Submission, list_submissions, load_submission
from benchmark.tasks import Task, list_tasks, load_task

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


def erc_rollout_length(task: Task, n_transitions: int) -> int:
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
) -> list[Submission]:
    """Submissions given as folders, else every shipped one (of ``tasks`` if given)."""
    if paths:
        subs = [load_submission(p) for p in paths]
    else:
        root = Path(root) if root is not None else submissions_root()
        if not root.is_dir():
            raise EvaluationError(
                f"no submissions folder at {root}; pass submission folders or --submissions-root"
            )
        subs = list_submissions(root)
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
def cached_task(name: str) -> Task:
    """`load_task` memoized: a grid and its units load each task file once."""
    return load_task(name)
