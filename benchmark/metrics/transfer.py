"""Reoptimization transfer: train a policy on the learned reward, score it on the ground truth.

The procedure, top to bottom (CleanRL style), for one (task, budget, seed, variant):

1. Train a policy with stable-baselines3 (``budget.algorithm``: PPO or SAC, as the
   RL Zoo picks per task) in the task's ``variant`` environment (``test`` by default:
   changed dynamics) with the reward replaced by the learned ``RewardFn``, evaluated
   in one batched call per vectorized step (`benchmark.envs.reward_wrapper`).
2. Roll out the deterministic policy for a fixed, seeded set of evaluation episodes
   and average the environment's own (ground-truth) undiscounted episode return: R.
3. Normalize: (R − R_random) / (R_gt − R_random), where R_random is a uniformly
   random policy on the same evaluation episodes and R_gt the return of a policy
   trained on the ground-truth reward with the same algorithm, budget and seed.
   Both references are cached per (task version, variant, budget, seed).

Tabular tasks (``task.tabular`` not None, ``algorithm = "value_iteration"``) are
reoptimized exactly instead: see `benchmark.metrics.tabular_transfer`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from benchmark.data import RewardFn
from benchmark.metrics import stats, tabular_transfer
from benchmark.metrics.reoptimize import (  # noqa: F401  (re-exported: part of this API)
    ALGORITHMS,
    EVAL_SEED_OFFSET,
    evaluate_policy,
    evaluate_random,
    train_policy,
)
from benchmark.paths import atomic_write, cache_root
from benchmark.tasks import Budget, Task, load_task
from benchmark.vocabulary import VARIANTS

if TYPE_CHECKING:
    from benchmark.metrics.registry import UnitInputs

# Bump when the evaluation protocol changes (it is part of the reference cache key).
PROTOCOL_VERSION = 1
# |R_gt − R_random| at or below this (relative to the returns' scale) means the budget
# learned nothing: the normalized score would be a division by ~0.
DEGENERATE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class TransferResult:
    """One reoptimization-transfer score.

    ``ground_truth_return``, ``random_return`` and ``reference_return`` are mean
    undiscounted ground-truth episode returns over the evaluation episodes (tabular
    tasks: exact discounted values, see `tabular_transfer`). ``normalized`` is
    (R − R_random) / (R_gt − R_random): 0 = random policy, 1 = ground-truth-trained;
    NaN where the budget's ground-truth training did not beat random.
    """

    task: str
    ground_truth_return: float
    normalized: float
    random_return: float
    reference_return: float
    variant: str
    budget: str
    seed: int
    algorithm: str
    timesteps: int
    eval_episodes: int
    wall_time_s: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TransferSummary:
    """Scores over several seeds with a bootstrap CI of the mean normalized score."""

    results: list[TransferResult]
    normalized_mean: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "normalized_mean": self.normalized_mean,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "results": [r.to_dict() for r in self.results],
        }


# --------------------------------------------------------------------------- public API


def transfer_score(
    reward: RewardFn,
    task: Task | str,
    *,
    budget: str | Budget = "smoke",
    seed: int = 0,
    device: str = "cpu",
    variant: str = "test",
    progress: bool = False,
    use_cache: bool = True,
) -> TransferResult:
    """Train on ``reward`` in ``task``'s ``variant`` env and score the policy on the ground truth.

    Args:
        reward: the learned RewardFn ``(obs, acts, next_obs, dones) -> [B]``.
        task: a `benchmark.tasks.Task` (or a task name).
        budget: a name in ``task.budgets`` ("smoke", "standard", "full") or a Budget.
        seed: seeds training and (offset) the evaluation episodes.
        device: "cpu" or "cuda": where the env (if batched), policy and reward run.
        variant: "test" (changed dynamics, the leaderboard's ``transfer``) or "train".
        progress: show a progress bar while training.
        use_cache: reuse cached reference returns (R_random, R_gt).
    """
    task = _resolve_task(task)
    budget_name, budget_obj = _resolve_budget(task, budget)
    _check_variant(variant)
    start = time.perf_counter()
    if budget_obj.algorithm == "value_iteration":
        r, r_random, r_ref = _tabular_returns(reward, task, variant, device)
    else:
        r_random, r_ref = reference_returns(
            task, budget_obj, seed=seed, device=device, variant=variant, progress=progress,
            use_cache=use_cache,
        )  # fmt: skip
        start = time.perf_counter()  # the submission's own cost, references excluded
        model = train_policy(task, reward, budget_obj, seed=seed, device=device, variant=variant,
                             progress=progress)  # fmt: skip
        r = evaluate_policy(task, model, budget_obj, seed=seed, device=device, variant=variant)
    return TransferResult(
        task=task.name,
        ground_truth_return=r,
        normalized=normalized_score(r, r_random, r_ref, context=f"{task.name}/{budget_name}"),
        random_return=r_random,
        reference_return=r_ref,
        variant=variant,
        budget=budget_name,
        seed=seed,
        algorithm=budget_obj.algorithm,
        timesteps=int(budget_obj.total_timesteps),
        eval_episodes=int(budget_obj.eval_episodes),
        wall_time_s=time.perf_counter() - start,
    )


def transfer_scores(
    reward: RewardFn,
    task: Task | str,
    budget: str | Budget = "smoke",
    *,
    seeds: Sequence[int] = (0, 1, 2),
    device: str = "cpu",
    variant: str = "test",
    progress: bool = False,
    use_cache: bool = True,
) -> TransferSummary:
    """`transfer_score` for each seed, with a percentile-bootstrap 95% CI of the mean over seeds."""
    if len(seeds) == 0:
        raise ValueError("transfer_scores needs at least one seed, e.g. seeds=[0, 1, 2]")
    results = [
        transfer_score(
            reward,
            task,
            budget=budget,
            seed=s,
            device=device,
            variant=variant,
            progress=progress,
            use_cache=use_cache,
        )  # fmt: skip
        for s in seeds
    ]
    scores = np.array([r.normalized for r in results])
    if not np.all(np.isfinite(scores)):
        return TransferSummary(results, math.nan, math.nan, math.nan)
    ci = stats.aggregate_seeds(scores)["mean"]
    return TransferSummary(results, float(ci.estimate), float(ci.low), float(ci.high))


def normalized_score(r: float, r_random: float, r_ref: float, *, context: str = "") -> float:
    """(R − R_random) / (R_gt − R_random); NaN with a warning when R_gt does not beat R_random."""
    gap = r_ref - r_random
    if gap <= DEGENERATE_TOLERANCE * max(1.0, abs(r_ref), abs(r_random)):
        warnings.warn(
            f"{context}: the ground-truth-trained policy ({r_ref:.4g}) does not beat the random "
            f"policy ({r_random:.4g}), so the normalized transfer score is undefined (NaN); "
            "use a larger budget",
            RuntimeWarning,
            stacklevel=2,
        )
        return math.nan
    return (r - r_random) / gap


def reference_returns(
    task: Task | str,
    budget: str | Any,
    *,
    seed: int,
    device: str = "cpu",
    variant: str = "test",
    progress: bool = False,
    use_cache: bool = True,
) -> tuple[float, float]:
    """(R_random, R_gt) for a (task, budget, seed, variant), from the cache or computed once.

    Cache: ``$EPIC_BENCH_CACHE/transfer-refs/<task>-v<version>-<variant>-<budget>-seed<S>.json``
    (default ``~/.cache/epic-bench``; ``-cuda`` before ``.json`` for GPU runs, since RL
    training is not bitwise equal across devices), written atomically; it stores a hash
    of the budget's parameters and the protocol version, and is recomputed when either
    changed.
    """
    task = _resolve_task(task)
    budget_name, budget_obj = _resolve_budget(task, budget)
    _check_variant(variant)
    if budget_obj.algorithm == "value_iteration":
        _, r_random, r_ref = _tabular_returns(None, task, variant, device)
        return r_random, r_ref
    path = reference_cache_path(task, variant, budget_name, seed, device)
    key = _budget_hash(budget_obj)
    if use_cache and path.exists():
        try:
            cached = json.loads(path.read_text())
            if cached["budget_hash"] == key and cached["protocol"] == PROTOCOL_VERSION:
                return float(cached["random_return"]), float(cached["reference_return"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            warnings.warn(f"ignoring corrupt transfer reference cache {path}: {err}", stacklevel=2)
    start = time.perf_counter()
    r_random = evaluate_random(task, budget_obj, seed=seed, device=device, variant=variant)
    model = train_policy(task, None, budget_obj, seed=seed, device=device, variant=variant,
                         progress=progress)  # fmt: skip
    r_ref = evaluate_policy(task, model, budget_obj, seed=seed, device=device, variant=variant)
    record = {
        "task": task.name, "version": task.version, "variant": variant, "budget": budget_name,
        "budget_hash": key, "protocol": PROTOCOL_VERSION, "seed": seed,
        "algorithm": budget_obj.algorithm, "timesteps": int(budget_obj.total_timesteps),
        "random_return": r_random, "reference_return": r_ref, "device": str(device),
        "wall_time_s": time.perf_counter() - start,
    }  # fmt: skip
    if use_cache:
        _write_atomic(path, json.dumps(record, indent=2))
    return r_random, r_ref


def reference_cache_path(
    task: Task, variant: str, budget_name: str, seed: int, device: str = "cpu"
) -> Path:
    """Where the references of one (task version, variant, budget, seed, device type) live.

    CPU files carry no device suffix (the common case, and the name caches already have).
    """
    root = cache_root()
    device_type = torch.device(device).type
    suffix = "" if device_type == "cpu" else f"-{device_type}"
    name = f"{task.name}-v{task.version}-{variant}-{budget_name}-seed{seed}{suffix}.json"
    return root / "transfer-refs" / name


# --------------------------------------------------------------------------- tabular


def _tabular_returns(
    reward: RewardFn | None, task: Task, variant: str, device: str
) -> tuple[float, float, float]:
    """(R, R_random, R_gt) exactly: value iteration in the variant's transition table."""
    mdp = task.tabular
    if mdp is None:
        raise ValueError(
            f"task {task.name}: algorithm 'value_iteration' needs a tabular task (task.tabular); "
            "use 'ppo' or 'sac' in its budgets"
        )
    transition = np.asarray(mdp.transitions[variant], dtype=np.float64)
    gt = np.asarray(mdp.rewards["ground_truth"], dtype=np.float64)
    initial = np.asarray(mdp.initial_state_dist, dtype=np.float64)
    n_states, n_actions = transition.shape[0], transition.shape[1]
    gamma = float(task.discount)

    def value(policy: np.ndarray) -> float:
        return tabular_transfer.policy_value(policy, gt, transition, initial, gamma)

    r_ref = value(tabular_transfer.optimal_policy(gt, transition, gamma))
    r_random = value(tabular_transfer.uniform_policy(n_states, n_actions))
    if reward is None:
        return r_ref, r_random, r_ref
    learned = tabular_transfer.reward_table(reward, n_states, n_actions, device=device)
    r = value(tabular_transfer.optimal_policy(learned, transition, gamma))
    return r, r_random, r_ref


# --------------------------------------------------------------------------- helpers


def _resolve_task(task: Task | str) -> Task:
    if isinstance(task, str):
        return load_task(task)
    return task


def _resolve_budget(task: Task, budget: str | Budget) -> tuple[str, Budget]:
    if isinstance(budget, str):
        if budget not in task.budgets:
            raise KeyError(
                f"task {task.name} has no budget {budget!r}; choose one of {sorted(task.budgets)}"
            )
        return budget, task.budgets[budget]
    # A Budget object: named after the task budget it equals, else "custom" (the reference
    # cache is keyed by the budget's hash as well, so custom budgets never collide).
    name = next((n for n, b in task.budgets.items() if b == budget), "custom")
    return name, budget


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")


def _budget_hash(budget: Budget) -> str:
    params = dataclasses.asdict(budget) if dataclasses.is_dataclass(budget) else vars(budget)
    blob = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _write_atomic(path: Path, text: str) -> None:
    with atomic_write(path) as tmp:
        tmp.write_text(text)


def precompute_references(
    task_names: Sequence[str],
    *,
    budget: str,
    seeds: Sequence[int],
    variants: Sequence[str] = VARIANTS,
    device: str = "cpu",
) -> list[dict[str, Any]]:
    """Fill the reference cache (R_random, R_gt) for tasks x variants x seeds, with a progress bar.

    Why: the references are the expensive, shared part of every transfer score; computing
    them once up front (``epic-bench transfer refs``) lets later evaluations run in parallel
    without each recomputing them.
    """
    grid = [(t, v, s) for t in task_names for v in variants for s in seeds]
    tasks = {name: _resolve_task(name) for name in task_names}
    rows = []
    for name, variant, seed in tqdm(grid, desc="transfer references", unit="ref"):
        task = tasks[name]
        r_random, r_ref = reference_returns(task, budget, seed=seed, device=device, variant=variant)
        rows.append({"task": name, "variant": variant, "budget": budget, "seed": seed,
                     "random_return": r_random, "reference_return": r_ref})  # fmt: skip
    return rows


def unit_value(inputs: UnitInputs, *, variant: str) -> dict[str, float]:
    """One evaluation unit: the normalized transfer score in ``variant`` (registry entry)."""
    res = transfer_score(inputs.reward, inputs.task, budget=inputs.budget, seed=inputs.seed,
                         device=inputs.device, variant=variant)  # fmt: skip
    return {"value": float(res.normalized)}
