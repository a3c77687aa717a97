"""One unit's computation: the metric values of a submission against the ground truth.

`run_unit` computes one unit's result rows and never raises: a failure becomes a
``failed`` row with its error, so the rest of the grid goes on.

Per unit (Gleave et al., ICLR 2021, Sec. 5): the coverage sample is
``task.coverage(c).sample(n_transitions, n_samples, seed)`` and the submission is
compared to ``task.reward("ground_truth")``.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import asdict
from functools import lru_cache
from typing import Any

import torch

from benchmark.data import RewardFn
from benchmark.evaluation.grid import EvaluationError, Unit, cached_task
from benchmark.metrics.registry import REGISTRY, UnitInputs
from benchmark.results import STATUS_FAILED, STATUS_OK, make_row
from benchmark.submissions import load_submission


@lru_cache(maxsize=16)
def _ground_truth(task: str, device: str) -> RewardFn:
    return cached_task(task).reward("ground_truth", device=device)


@lru_cache(maxsize=32)
def _submission_reward(path: str, sha256: str, device: str, trust_pickle: bool) -> RewardFn:
    sub = load_submission(path)
    if sub.sha256 != sha256:
        raise RuntimeError(
            f"submission {sub.name} changed since the grid was built (sha256 {sub.sha256[:12]} "
            f"!= {sha256[:12]}); re-run evaluate"
        )
    return sub.load_reward(device=device, trust_pickle=trust_pickle)


def _compute(unit: Unit, device: str, trust_pickle: bool) -> list[dict[str, Any]]:
    """The metric values of one unit as partial rows (metric, value, ci_low, ci_high).

    Everything metric-specific comes from the registry entry (`benchmark.metrics.registry`).
    """
    spec = REGISTRY.get(unit.metric)
    if spec is None:
        raise EvaluationError(f"unknown metric {unit.metric!r}")
    torch.manual_seed(unit.seed)
    task = cached_task(unit.task)
    reward = _submission_reward(unit.submission_path, unit.submission_sha256, device, trust_pickle)
    truth = None if spec.needs == "training" else _ground_truth(unit.task, device)
    inputs = UnitInputs(task=task, reward=reward, ground_truth=truth, coverage=unit.coverage,
                        seed=unit.seed, budget=unit.budget, n_transitions=unit.n_transitions,
                        n_samples=unit.n_samples, device=device)  # fmt: skip
    return [{"metric": unit.metric, **spec.runner()(inputs, **spec.params)}]


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
