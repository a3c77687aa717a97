"""Reoptimization transfer: train a policy on the learned reward, score it on the ground truth.

The procedure, top to bottom (CleanRL style), for one (task, budget, seed, variant):

1. Train a policy with stable-baselines3 (``budget.algorithm``: PPO or SAC, as the
   RL Zoo picks per task) in the task's ``variant`` environment (``test`` by default:
   changed dynamics) with the reward replaced by the learned ``RewardFn``, evaluated
   in one batched call per vectorized step (`benchmark.envs.reward_wrapper`).
2. Roll out the deterministic policy on the task's fixed, seeded set of evaluation
   episodes and average the environment's own (ground-truth) undiscounted return: R.
3. Normalize: (R − R_random) / (R_gt − R_random), where R_gt is the mean return of K
   policies trained on the ground-truth reward with the same algorithm and budget but
   their own seeds (`benchmark.metrics.transfer_reference.reference_seeds`, disjoint from
   submission seeds), and R_random the uniformly random policy's mean over K runs, all
   on the same episodes. So 0 = random, 1 = as good as ground-truth training on
   average, < 0 worse than random, > 1 better than the reference. The reference's
   spread is kept (``reference_std``) for the score's interval.

Tabular tasks (``task.tabular`` not None, ``algorithm = "value_iteration"``) are
reoptimized exactly instead: see `benchmark.metrics.tabular_transfer`.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
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
from benchmark.metrics.transfer_reference import (  # noqa: F401  (re-exported)
    PROTOCOL_VERSION,
    REFERENCE_SEEDS,
    Reference,
    budget_hash,
    check_submission_seed,
    committed_reference_path,
    publish_reference_runs,
    reference_cache_path,
    reference_run,
)
from benchmark.metrics.transfer_reference import reference as _reference
from benchmark.metrics.transfer_reference import reference_seeds as task_reference_seeds
from benchmark.tasks import Budget, Task, load_task
from benchmark.vocabulary import TRANSFER_LEGEND, VARIANTS

if TYPE_CHECKING:
    from benchmark.metrics.registry import UnitInputs

# |R_gt − R_random| at or below this (relative to the returns' scale) means the budget
# learned nothing: the normalized score would be a division by ~0.
DEGENERATE_TOLERANCE = 1e-6
# What the normalized score means, for every place that shows it (CLI, site, README).
LEGEND = TRANSFER_LEGEND


@dataclass(frozen=True)
class TransferResult:
    """One reoptimization-transfer score with the raw returns behind it.

    ``ground_truth_return`` (the submission-trained policy's), ``random_return`` and
    ``reference_return`` are mean undiscounted ground-truth episode returns over the
    evaluation episodes (tabular tasks: exact discounted values, see `tabular_transfer`,
    and ``eval_episodes`` = 0);
    the latter two are means over ``n_reference_runs`` runs with sample standard
    deviations ``random_std`` and ``reference_std``. ``normalized`` is
    (R − R_random) / (R_gt − R_random); NaN where ground-truth training did not beat random.
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
    random_std: float = 0.0
    reference_std: float = 0.0
    n_reference_runs: int = 1
    protocol: int = PROTOCOL_VERSION
    budget_hash: str = ""  # `budget_hash` of the Budget trained with: a changed budget is stale

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def row_fields(self) -> dict[str, Any]:
        """The results-store columns of this score (`benchmark.results.TRANSFER_COLUMNS`)."""
        return {
            "value": float(self.normalized),
            "policy_return": float(self.ground_truth_return),
            "random_return": float(self.random_return),
            "random_std": float(self.random_std),
            "reference_return": float(self.reference_return),
            "reference_std": float(self.reference_std),
            "n_reference_runs": int(self.n_reference_runs),
            "eval_episodes": int(self.eval_episodes),
            "transfer_protocol": int(self.protocol),
            "transfer_budget_hash": self.budget_hash or None,
        }


@dataclass(frozen=True)
class TransferSummary:
    """Scores over several seeds with a 95% CI of the mean normalized score.

    The interval resamples the seeds and draws the reference means from their sampling
    distribution (`stats.normalized_return_ci`); NaN for a single seed.
    """

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
    reference_seeds: Sequence[int] | None = None,
) -> TransferResult:
    """Train on ``reward`` in ``task``'s ``variant`` env and score the policy on the ground truth.

    Args:
        reward: the learned RewardFn ``(obs, acts, next_obs, dones) -> [B]``.
        task: a `benchmark.tasks.Task` (or a task name).
        budget: a name in ``task.budgets`` ("smoke", "standard", "full") or a Budget.
        seed: seeds training; must not be one of ``reference_seeds``.
        device: "cpu" or "cuda": where the env (if batched), policy and reward run.
        variant: "test" (changed dynamics, the leaderboard's ``transfer``) or "train".
        progress: show a progress bar while training.
        use_cache: reuse cached reference runs.
        reference_seeds: seeds of the K ground-truth-trained reference runs; default the
            task's (`benchmark.metrics.transfer_reference.reference_seeds`).
    """
    task = _resolve_task(task)
    budget_name, budget_obj = _resolve_budget(task, budget)
    _check_variant(variant)
    start = time.perf_counter()
    if budget_obj.algorithm == "value_iteration":
        r, r_random, r_ref = _tabular_returns(reward, task, variant, device)
        ref = Reference(seeds=(), random_returns=(r_random,), reference_returns=(r_ref,))
    else:
        if reference_seeds is None:
            reference_seeds = task_reference_seeds(task)
        check_submission_seed(seed, reference_seeds)
        ref = _reference(task, budget_name, budget_obj, variant=variant, device=device,
                         seeds=reference_seeds, progress=progress, use_cache=use_cache)  # fmt: skip
        start = time.perf_counter()  # the submission's own cost, references excluded
        model = train_policy(task, reward, budget_obj, seed=seed, device=device, variant=variant,
                             progress=progress)  # fmt: skip
        r = evaluate_policy(task, model, budget_obj, seed=seed, device=device, variant=variant)
    return TransferResult(
        task=task.name,
        ground_truth_return=r,
        normalized=normalized_score(
            r, ref.random_mean, ref.reference_mean, context=f"{task.name}/{budget_name}"
        ),
        random_return=ref.random_mean,
        reference_return=ref.reference_mean,
        variant=variant,
        budget=budget_name,
        seed=seed,
        algorithm=budget_obj.algorithm,
        timesteps=int(budget_obj.total_timesteps),
        # 0 = exact (value iteration): no episodes were sampled
        eval_episodes=0
        if budget_obj.algorithm == "value_iteration"
        else int(budget_obj.eval_episodes),
        wall_time_s=time.perf_counter() - start,
        random_std=ref.random_std,
        reference_std=ref.reference_std,
        n_reference_runs=ref.n_runs,
        budget_hash=budget_hash(budget_obj),
    )


def transfer_scores(
    reward: RewardFn,
    task: Task | str,
    budget: str | Budget = "smoke",
    *,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    device: str = "cpu",
    variant: str = "test",
    progress: bool = False,
    use_cache: bool = True,
    reference_seeds: Sequence[int] | None = None,
) -> TransferSummary:
    """`transfer_score` for each seed, with a 95% CI of the mean that includes the reference's spread."""
    if len(seeds) == 0:
        raise ValueError("transfer_scores needs at least one seed, e.g. seeds=[0, 1, 2, 3, 4]")
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
            reference_seeds=reference_seeds,
        )  # fmt: skip
        for s in seeds
    ]
    scores = np.array([r.normalized for r in results])
    if not np.all(np.isfinite(scores)):
        return TransferSummary(results, math.nan, math.nan, math.nan)
    first = results[0]
    ci = stats.normalized_return_ci(
        [r.ground_truth_return for r in results],
        random_mean=first.random_return,
        random_std=first.random_std,
        reference_mean=first.reference_return,
        reference_std=first.reference_std,
        n_reference_runs=first.n_reference_runs,
    )
    return TransferSummary(results, float(scores.mean()), float(ci.low), float(ci.high))


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


def reference(
    task: Task | str,
    budget: str | Budget,
    *,
    device: str = "cpu",
    variant: str = "test",
    seeds: Sequence[int] | None = None,
    progress: bool = False,
    use_cache: bool = True,
) -> Reference:
    """The K-run reference (random and ground-truth-trained returns) of (task, budget, variant).

    Each run is cached on its own: ``$EPIC_BENCH_CACHE/transfer-refs/<task>-v<version>-
    p<protocol>-<variant>-<budget>-seed<S>.json`` (``-cuda`` before ``.json`` for GPU runs),
    holding the budget's hash, recomputed when the budget or protocol changed.
    """
    task = _resolve_task(task)
    budget_name, budget_obj = _resolve_budget(task, budget)
    _check_variant(variant)
    if budget_obj.algorithm == "value_iteration":
        _, r_random, r_ref = _tabular_returns(None, task, variant, device)
        return Reference(seeds=(), random_returns=(r_random,), reference_returns=(r_ref,))
    return _reference(task, budget_name, budget_obj, variant=variant, device=device, seeds=seeds,
                      progress=progress, use_cache=use_cache)  # fmt: skip


def reference_returns(
    task: Task | str,
    budget: str | Any,
    *,
    device: str = "cpu",
    variant: str = "test",
    seeds: Sequence[int] | None = None,
    progress: bool = False,
    use_cache: bool = True,
) -> tuple[float, float]:
    """(R_random, R_gt): the means of `reference` that normalize a score."""
    ref = reference(task, budget, device=device, variant=variant, seeds=seeds, progress=progress,
                    use_cache=use_cache)  # fmt: skip
    return ref.random_mean, ref.reference_mean


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


def precompute_references(
    task_names: Sequence[str],
    *,
    budget: str,
    seeds: Sequence[int] | None = None,
    variants: Sequence[str] = VARIANTS,
    device: str = "cpu",
) -> list[dict[str, Any]]:
    """Fill the reference cache for tasks x variants x reference seeds, with a progress bar.

    Why: the references are the expensive, shared part of every transfer score; computing
    them once up front (``epic-bench transfer refs``) lets later evaluations run in parallel
    without each recomputing them. Returns one row per run (tabular tasks: one exact row),
    and a ``"mean"`` row per task and variant (the normalizer) when ``seeds`` are all K:
    the mean of a subset (one core's share of a parallel fill) is not the reference.
    """
    rows = []
    grid = [(t, v) for t in task_names for v in variants]
    for name, variant in tqdm(grid, desc="transfer references", unit="task-variant"):
        task = _resolve_task(name)
        complete = seeds is None or set(seeds) == set(task_reference_seeds(task))
        ref = reference(task, budget, device=device, variant=variant, seeds=seeds)
        run_seeds = ref.seeds or ("exact",)
        for s, r_random, r_ref in zip(run_seeds, ref.random_returns, ref.reference_returns,
                                      strict=True):  # fmt: skip
            rows.append({"task": name, "variant": variant, "budget": budget, "seed": s,
                         "random_return": r_random, "reference_return": r_ref})  # fmt: skip
        if ref.seeds and not complete:
            continue  # a subset's mean is not the normalizer
        rows.append({"task": name, "variant": variant, "budget": budget, "seed": "mean",
                     "random_return": ref.random_mean, "reference_return": ref.reference_mean,
                     "reference_std": ref.reference_std, "n_runs": ref.n_runs})  # fmt: skip
    return rows


def unit_value(inputs: UnitInputs, *, variant: str) -> dict[str, float]:
    """One evaluation unit: the normalized score and its raw returns (registry entry).

    Returns the results-store fields: ``value`` and `benchmark.results.TRANSFER_COLUMNS`.
    """
    res = transfer_score(inputs.reward, inputs.task, budget=inputs.budget, seed=inputs.seed,
                         device=inputs.device, variant=variant)  # fmt: skip
    return res.row_fields()
