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
from benchmark.evaluation.grid import (
    NO_EPISODES,
    EvaluationError,
    cached_task,
    erc_rollout_length,
    sample_sizes,
)
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


def _epic(a, b, task: Task, coverage: str, seed: int, n_t: int, m: int, device: str):
    from benchmark.metrics.epic import epic_distance_with_ci

    s = task.coverage(coverage).sample(n_t, m, seed)
    res = epic_distance_with_ci(a, b, transitions=s.transitions, state_samples=s.state_samples,
                                action_samples=s.action_samples, discount=task.discount,
                                seed=seed, device=device)  # fmt: skip
    return res.distance, res.ci_low, res.ci_high, n_t, m


def _npec(a, b, task: Task, coverage: str, seed: int, n_t: int, m: int, device: str):
    from benchmark.metrics.npec import npec_distance

    s = task.coverage(coverage).sample(n_t, m, seed)
    value = npec_distance(a, b, transitions=s.transitions, discount=task.discount, seed=seed,
                          device=device)  # fmt: skip
    return value, float("nan"), float("nan"), n_t, m  # no interval: each would be a refit


def _erc(a, b, task: Task, coverage: str, seed: int, n_t: int, m: int, device: str):
    """ERC on complete episodes (as evaluate), with a bootstrap interval over episodes."""
    from benchmark.metrics.erc import episode_returns
    from benchmark.metrics.reward_evaluation import evaluate_reward
    from benchmark.metrics.stats import bootstrap_pearson_distance

    n = erc_rollout_length(task, n_t)
    episodes = task.coverage(coverage).episodes(n, seed)
    returns = [
        episode_returns(evaluate_reward(r, episodes, name=name, device=device), episodes.dones)
        .cpu()
        .numpy()
        for r, name in ((a, "A"), (b, "B"))
    ]
    ci = bootstrap_pearson_distance(returns[0], returns[1], seed=seed)
    if not np.isfinite(ci.estimate):
        raise ValueError(
            f"ERC is undefined on {coverage}: one reward's episode returns are constant"
        )
    return ci.estimate, ci.low, ci.high, n, 0


def _starc(a, b, task: Task, coverage: str, seed: int, n_t: int, m: int, device: str):
    from benchmark.metrics.starc import starc_distance_with_ci

    s = task.coverage(coverage).sample(n_t, m, seed)
    res = starc_distance_with_ci(a, b, transitions=s.transitions, state_samples=s.state_samples,
                                 action_samples=s.action_samples, discount=task.discount,
                                 seed=seed, device=device)  # fmt: skip
    return res.distance, res.ci_low, res.ci_high, n_t, m


def _dard(a, b, task: Task, coverage: str, seed: int, n_t: int, m: int, device: str):
    from benchmark.metrics.dard import dard_distance_with_ci
    from benchmark.metrics.dynamics import transition_model

    s = task.coverage(coverage).sample(n_t, m, seed)
    res = dard_distance_with_ci(a, b, transitions=s.transitions, action_samples=s.action_samples,
                                transition_model=transition_model(task), discount=task.discount,
                                seed=seed, device=device)  # fmt: skip
    return res.distance, res.ci_low, res.ci_high, n_t, m


# Distance name -> (A, B, task, coverage, seed, N_T, M, device) -> (value, low, high, N_T, M).
DISTANCES = {"epic": _epic, "npec": _npec, "erc": _erc, "starc": _starc, "dard": _dard}


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
        metrics: distances among DISTANCES (epic, npec, erc, starc, dard).
        seed: the coverage sample's seed (and bootstrap seed), as a unit's seed.
        budget, n_transitions, n_samples: sample sizes N_T x M as in ``evaluate``.

    Returns:
        A Comparison; EPIC, ERC, STARC and DARD carry 95% bootstrap intervals, NPEC
        none (NaN: each resample would be a refit).
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
            for coverage in coverages or t.coverage_names:
                if metric == "erc" and t.coverage(coverage).spec.policy in NO_EPISODES:
                    continue  # independent transitions: no episodes to correlate
                torch.manual_seed(seed)
                value, low, high, nt_used, m_used = DISTANCES[metric](
                    reward_a, reward_b, t, coverage, seed, n_t, m, device
                )
                out.append(Distance(metric, coverage, float(value), float(low), float(high),
                                    int(nt_used), int(m_used), seed))  # fmt: skip
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
