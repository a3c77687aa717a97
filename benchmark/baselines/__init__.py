"""Baseline reward models, trained with imitation on the benchmark's own tasks.

    train_baseline(method, task, budget="standard", seed=0, root="submissions") -> list[Submission]

Methods: ``preferences`` (preference comparisons from synthetic ground-truth
preferences), ``airl`` and ``airl-state-only`` (AIRL from the task's expert coverage,
reward g(s, a) or g(s)), ``regression``
(supervised MSE onto the ground truth) and ``sanity`` (ground truth, shaped, negated,
random net). Each writes ``submissions/<task>-<method>/`` with the reproduction command
and budget in its submission.toml.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from benchmark.baselines import airl, preferences, regression
from benchmark.baselines.common import Stopwatch, write_baseline
from benchmark.baselines.sanity import write_sanity
from benchmark.submissions import Submission
from benchmark.tasks import load_task

PAPERS = {
    "preferences": "https://arxiv.org/abs/1706.03741",
    "airl": "https://arxiv.org/abs/1710.11248",
    "airl-state-only": "https://arxiv.org/abs/1710.11248",
}
# method -> (label recorded in the TOML, budgets, trainer)
TRAINERS: dict[str, tuple[str, dict[str, Any], Any]] = {
    "preferences": ("preference comparisons", preferences.BUDGETS, preferences.train_preferences),
    "airl": ("AIRL", airl.BUDGETS, airl.train_airl),
    "airl-state-only": (
        "AIRL (state-only)",
        airl.BUDGETS,
        partial(airl.train_airl, state_only=True),
    ),
    "regression": ("regression", regression.BUDGETS, regression.train_regression),
}
METHODS = (*TRAINERS, "sanity")


def train_baseline(
    method: str,
    task: str,
    budget: str = "standard",
    seed: int = 0,
    root: str | Path = "submissions",
    checkpoints: int = 0,
) -> list[Submission]:
    """Train one baseline on ``task`` and write its submission folder(s).

    ``checkpoints`` K ≥ 2: instead of ``<task>-<method>``, write K submissions along the
    one run, ``<task>-<method>-ckpt1`` … ``-ckpt<K>`` (family ``<task>-<method>``); the
    last is the end of the run, i.e. the model the same command without it writes.
    """
    task_obj = load_task(task)
    if method == "sanity":
        if checkpoints:
            raise ValueError("--checkpoints applies to trained baselines, not to 'sanity'")
        return write_sanity(task_obj, root)
    if method not in TRAINERS:
        raise ValueError(f"unknown baseline method {method!r}; choose one of {', '.join(METHODS)}")
    label, budgets, trainer = TRAINERS[method]
    if budget not in budgets:
        raise ValueError(
            f"unknown budget {budget!r} for {method}; choose one of {', '.join(budgets)}"
        )
    with Stopwatch() as watch:
        result = trainer(task_obj, budgets[budget], seed, checkpoints=checkpoints)
    return [
        write_baseline(
            result=result,
            task=task_obj,
            method=method,
            method_label=label,
            budget_name=budget,
            budget=budgets[budget],
            seed=seed,
            root=root,
            seconds=watch.seconds,
            paper=PAPERS.get(method),
            checkpoint=k,
        )
        for k in (range(1, len(result.checkpoints) + 1) if checkpoints else [0])
    ]
