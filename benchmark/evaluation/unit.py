"""One unit's computation: the metric values of a submission against the ground truth.

`run_unit` computes one unit's result rows and never raises: a failure becomes a
``failed`` row with its error, so the rest of the grid goes on.

Per unit: the coverage sample is
``task.coverage(c).sample(n_transitions, n_samples, seed)`` and the submission is
compared to ``task.reward("ground_truth")``.
"""

from __future__ import annotations

import time
import traceback
from collections import OrderedDict
from dataclasses import asdict
from functools import lru_cache
from typing import Any

import torch

from benchmark.data import RewardFn
from benchmark.evaluation.grid import EvaluationError, Unit, cached_task
from benchmark.metrics.registry import REGISTRY, UnitInputs
from benchmark.results import STATUS_FAILED, STATUS_OK, make_row
from benchmark.submissions import load_submission
from benchmark.submissions.contained import ContainedReward, WorkerLimits
from benchmark.submissions.contract import ContractViolation, check_reward, epic_batch_sizes

DEFAULT_UNIT_TIMEOUT_S = 6 * 3600.0
# Live model workers, most recently used last. A worker keeps its model loaded between
# units (start-up is seconds); a few stay alive, each holds torch (~0.5 GB).
_WORKERS: OrderedDict[tuple, ContainedReward] = OrderedDict()
MAX_WORKERS = 2


class ModelContractError(EvaluationError):
    """The submission's outputs break the RewardFn contract on this unit's rows."""


@lru_cache(maxsize=16)
def _ground_truth(task: str, device: str) -> RewardFn:
    return cached_task(task).reward("ground_truth", device=device)


def _submission_reward(
    path: str, sha256: str, device: str, trust_pickle: bool, limits: WorkerLimits
) -> ContainedReward:
    """The submission's model in a contained worker (submissions/contained.py)."""
    key = (path, sha256, device, trust_pickle, limits)
    if key in _WORKERS:
        _WORKERS.move_to_end(key)
        return _WORKERS[key]
    sub = load_submission(path)
    if sub.sha256 != sha256:
        raise RuntimeError(
            f"submission {sub.name} changed since the grid was built (sha256 {sub.sha256[:12]} "
            f"!= {sha256[:12]}); re-run evaluate"
        )
    while len(_WORKERS) >= MAX_WORKERS:
        _WORKERS.popitem(last=False)[1].close()
    reward = _WORKERS[key] = ContainedReward(sub, limits, device=device, trust_pickle=trust_pickle)
    return reward


def _contract_rows(unit: Unit, task):
    """Rows for the unit's contract check: its own coverage, or the task's first one."""
    coverage = unit.coverage or task.coverage_names[0]
    return task.coverage(coverage).sample(256, 16, unit.seed).transitions


def _compute(
    unit: Unit, device: str, trust_pickle: bool, limits: WorkerLimits
) -> list[dict[str, Any]]:
    """The metric values of one unit as partial rows (metric, value, ci_low, ci_high).

    Everything metric-specific comes from the registry entry (`benchmark.metrics.registry`).
    The submission runs in a contained worker and must first pass the RewardFn contract
    on this unit's rows at the batch sizes the metrics use (submissions/contract.py).
    """
    spec = REGISTRY.get(unit.metric)
    if spec is None:
        raise EvaluationError(f"unknown metric {unit.metric!r}")
    torch.manual_seed(unit.seed)
    task = cached_task(unit.task)
    reward = _submission_reward(
        unit.submission_path, unit.submission_sha256, device, trust_pickle, limits
    )
    try:
        check_reward(reward, _contract_rows(unit, task), epic_batch_sizes(device),
                     what=f"{unit.task} coverage rows", seed=unit.seed)  # fmt: skip
    except ContractViolation as exc:
        raise ModelContractError(f"the model breaks the RewardFn contract: {exc}") from None
    torch.manual_seed(unit.seed)  # the metric's draws do not depend on the check
    truth = None if spec.needs == "training" else _ground_truth(unit.task, device)
    inputs = UnitInputs(task=task, reward=reward, ground_truth=truth, coverage=unit.coverage,
                        seed=unit.seed, budget=unit.budget, n_transitions=unit.n_transitions,
                        n_samples=unit.n_samples, device=device)  # fmt: skip
    return [{"metric": unit.metric, **spec.runner()(inputs, **spec.params)}]


def run_unit(
    unit: Unit,
    *,
    device: str = "cpu",
    run_id: str = "",
    trust_pickle: bool = False,
    unit_timeout_s: float | None = DEFAULT_UNIT_TIMEOUT_S,
    call_timeout_s: float = 600.0,
    memory_bytes: int | None = WorkerLimits.memory_bytes,
) -> list[dict[str, Any]]:
    """Compute one unit and return its complete result rows; never raises on failure.

    A failure (any exception) becomes one ``failed`` row whose ``error`` holds the
    exception and the last lines of its traceback, so the rest of the grid goes on.
    The submission's model runs in a contained worker: each forward may take at most
    ``call_timeout_s``, and no forward starts (or runs on) past ``unit_timeout_s`` after
    the unit began, so a unit's time is bounded at every model call.
    """
    start = time.perf_counter()
    fields = {k: v for k, v in asdict(unit).items() if k != "submission_path"}
    limits = WorkerLimits(
        call_timeout_s=call_timeout_s, memory_bytes=memory_bytes, threads=torch.get_num_threads()
    )
    try:
        with ContainedReward.unit_deadline(unit_timeout_s):
            partial = _compute(unit, device, trust_pickle, limits)
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
