"""Compare two rewards on a task's coverages: ``epic-bench compare A B`` and `compare`.

Why: a researcher's loop compares their reward with the ground truth, with another of
their models, or with a task variant, before anything is submitted. Each side is a
submission folder, a model file (wrapped as a scratch submission, so it loads exactly
as it would once submitted), a reward name of the task, or (from Python) any RewardFn.
Distances use the same coverage samples and sizes as ``evaluate`` (``--budget``), so a
comparison with ``ground_truth`` reproduces the board's unit for that seed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.data import RewardFn
from benchmark.evaluation.grid import EvaluationError, cached_task, sample_sizes
from benchmark.metrics.registry import REGISTRY, MetricSpec, UnitInputs
from benchmark.tasks import Task

RewardSpec = str | Path | RewardFn


@dataclass(frozen=True)
class Distance:
    """One distance between the two rewards on one coverage; ci_* NaN where none exists."""

    metric: str
    coverage: str
    value: float
    ci_low: float
    ci_high: float
    n_transitions: int
    n_samples: int
    seed: int


@dataclass(frozen=True)
class Comparison:
    """The distances between rewards ``a`` and ``b`` (labels) on ``task``."""

    task: str
    a: str
    b: str
    distances: tuple[Distance, ...]

    def value(self, metric: str, coverage: str) -> float:
        """The distance of ``metric`` on ``coverage``."""
        for d in self.distances:
            if d.metric == metric and d.coverage == coverage:
                return d.value
        raise KeyError(f"no {metric} distance on coverage {coverage!r} in this comparison")

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([d.__dict__ for d in self.distances])


def _is_reward_name(spec: Any, task: Task) -> bool:
    return isinstance(spec, str) and spec in task.reward_names and not Path(spec).exists()


def task_of(specs: Sequence[RewardSpec]) -> str | None:
    """The task of the first submission folder among ``specs``, if any."""
    from benchmark.submissions import load_submission

    for spec in specs:
        if isinstance(spec, str | Path) and Path(spec).is_dir():
            return load_submission(spec).task
    return None


def resolve_reward(
    spec: RewardSpec,
    task: Task,
    *,
    scratch: str | Path,
    trust_pickle: bool = False,
    architecture: str | None = None,
    options: dict[str, Any] | None = None,
    device: str = "cpu",
) -> tuple[str, RewardFn]:
    """(label, RewardFn) for a folder, a model file, a reward name of ``task`` or a RewardFn."""
    from benchmark.submissions import load_submission
    from benchmark.submissions.model_file import model_file_submission

    if callable(spec) and not isinstance(spec, str | Path):
        return getattr(spec, "__name__", type(spec).__name__), spec
    if _is_reward_name(spec, task):
        return f"{task.name}:{spec}", task.reward(str(spec), device=device)
    path = Path(spec)
    if path.is_dir():
        sub = load_submission(path)
        if sub.task != task.name:
            raise EvaluationError(
                f"submission {sub.name} is for task {sub.task}, not {task.name}; "
                f"compare rewards of one task (--task {sub.task})"
            )
        return sub.name, sub.load_reward(device=device, trust_pickle=trust_pickle)
    if path.is_file():
        sub = model_file_submission(
            path, task=task.name, root=scratch, architecture=architecture, options=options
        )
        return path.name, sub.load_reward(device=device, trust_pickle=trust_pickle)
    raise EvaluationError(
        f"{str(spec)!r} is not a submission folder, a model file, or a reward of task "
        f"{task.name} ({', '.join(task.reward_names)})"
    )


# Every registry distance, plus STARC and DARD (not on the board yet; same unit contract).
EXTRA_DISTANCES = {
    spec.name: spec
    for spec in (
        MetricSpec("starc", "distance", False, "samples", "benchmark.metrics.starc:unit_value"),
        MetricSpec("dard", "distance", False, "samples", "benchmark.metrics.dard:unit_value"),
    )
}
DISTANCES: dict[str, MetricSpec] = {
    **{n: s for n, s in REGISTRY.items() if s.kind == "distance"},
    **EXTRA_DISTANCES,
}


def parse_distances(values: Sequence[str]) -> list[str]:
    """``["epic,npec", "erc"]`` -> ``["epic", "npec", "erc"]``, each a known distance."""
    names = [n.strip().lower() for v in values for n in v.split(",") if n.strip()]
    bad = [n for n in names if n not in DISTANCES]
    if bad:
        hint = " (transfer scores one reward: use evaluate)" if "transfer" in bad[0] else ""
        raise EvaluationError(
            f"unknown distance {bad[0]!r}; compare computes {', '.join(DISTANCES)}{hint}"
        )
    return list(dict.fromkeys(names)) or ["epic"]


def compare(
    a: RewardSpec,
    b: RewardSpec,
    *,
    task: str | None = None,
    coverages: Sequence[str] = (),
    metrics: Sequence[str] = ("epic",),
    seed: int = 0,
    budget: str = "standard",
    n_transitions: int | None = None,
    n_samples: int | None = None,
    trust_pickle: bool = False,
    architecture: str | None = None,
    options: dict[str, Any] | None = None,
    device: str = "cpu",
) -> Comparison:
    """Distances between rewards ``a`` and ``b`` on each coverage of ``task``.

    Args:
        a, b: a submission folder, a model file (``.pt2``; ``.safetensors`` with
            ``architecture``/``options``; ``.pt`` with ``trust_pickle``), a reward name
            of the task (``"ground_truth"``), or a RewardFn.
        task: task name; default the task of a submission folder among ``a``, ``b``.
        coverages: coverage names (default every coverage of the task).
        metrics: distances among DISTANCES (the registry's epic, npec, erc; starc, dard).
        seed: the coverage sample's seed (and bootstrap seed), as a unit's seed.
        budget, n_transitions, n_samples: sample sizes N_T x M as in ``evaluate``.

    Returns:
        A Comparison; EPIC, STARC and DARD carry 95% bootstrap intervals over
        transitions; NPEC (each resample would be a refit) and ERC have none (NaN).
    """
    import torch

    name = task or task_of([a, b])
    if name is None:
        raise EvaluationError("give --task: neither side is a submission folder to take it from")
    t = cached_task(name)
    chosen = parse_distances(metrics)
    unknown = [c for c in coverages if c not in t.coverage_names]
    if unknown:
        raise EvaluationError(
            f"task {name} has no coverage {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(t.coverage_names)}"
        )
    n_t, m = sample_sizes(budget, n_transitions, n_samples)
    out: list[Distance] = []
    with tempfile.TemporaryDirectory(prefix="epic-bench-compare-") as scratch:
        kw = dict(scratch=scratch, trust_pickle=trust_pickle, architecture=architecture,
                  options=options, device=device)  # fmt: skip
        label_a, reward_a = resolve_reward(a, t, **kw)
        label_b, reward_b = resolve_reward(b, t, **kw)
        for metric in chosen:
            spec = DISTANCES[metric]
            nt_used, m_used = spec.sample_sizes(t, n_t, m)
            for coverage in coverages or t.coverage_names:
                if not spec.defined_on(t.coverage(coverage).spec.policy):
                    continue  # e.g. ERC on independent transitions: no episodes
                torch.manual_seed(seed)
                # The unit contract with B in the ground truth's place: one mechanism for
                # evaluate and compare, so compare(X, "ground_truth") is the board's unit.
                inputs = UnitInputs(task=t, reward=reward_a, ground_truth=reward_b,
                                    coverage=coverage, seed=seed, budget="",
                                    n_transitions=nt_used, n_samples=m_used, device=device)  # fmt: skip
                res = spec.runner()(inputs, **spec.params)
                out.append(Distance(metric, coverage, float(res["value"]),
                                    float(res.get("ci_low", float("nan"))),
                                    float(res.get("ci_high", float("nan"))),
                                    nt_used, m_used, seed))  # fmt: skip
    return Comparison(t.name, label_a, label_b, tuple(out))


def comparison_table(comparison: Comparison):
    """A rich Table: metric, coverage, distance, 95% interval, sample sizes."""
    from rich.table import Table

    table = Table(title=f"{comparison.a} vs {comparison.b} on {comparison.task}")
    for col in ("metric", "coverage", "distance", "95% CI", "N_T x M", "seed"):
        table.add_column(col, justify="right" if col in ("distance", "seed") else "left")
    for d in comparison.distances:
        ci = "—" if np.isnan(d.ci_low) else f"[{d.ci_low:.4f}, {d.ci_high:.4f}]"
        table.add_row(d.metric, d.coverage, f"{d.value:.4f}", ci,
                      f"{d.n_transitions} x {d.n_samples}", str(d.seed))  # fmt: skip
    return table
