"""Meta-benchmark: which reward distance predicts the regret of optimizing a reward?

On a finite task everything is exact. A seeded population of reward tables around the
ground truth (shaped and rescaled copies, interpolations toward random and toward
negated rewards, noise at several scales, changes only on transitions the train
dynamics never produce, rewards for other goals, the task's reward variants and the
committed learned rewards) is scored two ways:

* regret: the optimal policy of each reward (value iteration) is evaluated exactly under
  the ground truth, in the train and in the test dynamics, and normalized,
  (J*(gt) − J_gt(π_R)) / (J*(gt) − J_gt(uniform)): 0 = optimal, 1 = random-policy level;
* each distance to the ground truth, exact, exactly as the board's exact gridworld rows
  compute it (the same function): EPIC (Gleave et al. 2021), DARD (Wulfe et al. 2022,
  train dynamics as the model), STARC (Skalse et al. 2024; EPIC's canonicalization, L2
  under D_T), NPEC (p = 2, least squares) and ERC (discounted returns of the coverage
  policy's episodes); plus ``starc_val``, STARC with value-adjusted levelling
  with an unweighted L2 norm, a labelled variant that is not a board metric.

A distance predicts regret when its ranking of the population agrees with regret's:
Spearman's ρ (with a percentile-bootstrap interval over rewards) and the share of
pairs with different regret that it orders correctly (distance ties count one half).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats
import torch
from threadpoolctl import threadpool_limits

from benchmark.data import RewardFn
from benchmark.metrics import dard, epic, erc, npec_units, starc
from benchmark.metrics.tabular_transfer import optimal_policy, policy_value, uniform_policy
from benchmark.paths import atomic_write
from benchmark.submissions import list_submissions
from benchmark.tasks import Task, load_task
from benchmark.tasks.tabular import reward_table

# The board's five distances, then labelled variants that are not board metrics.
BOARD_DISTANCES = ("epic", "dard", "starc", "npec", "erc")
DISTANCES = (*BOARD_DISTANCES, "starc_val")
VARIANTS = ("train", "test")
DEFAULT_COVERAGE = "random"
DEFAULT_NUM_RESAMPLES = 1000
# Regrets closer than this are a tie: the pair says nothing about a distance's order.
REGRET_TIE = 1e-9


@dataclass(frozen=True)
class Reward:
    """One member of the population: a ``[S, A, S]`` table and where it came from."""

    name: str
    family: str
    table: np.ndarray


# --------------------------------------------------------------------------- population


def reward_population(task: Task, seed: int = 0, *, submissions: bool = True) -> list[Reward]:
    """The seeded population (>= 500 rewards on gridworld); same seed, same tables.

    Half of the synthetic rewards also get a random potential shaping, which changes no
    optimal policy: a distance that is not invariant to it pays for that here.
    """
    tab = _tabular(task)
    rng = np.random.default_rng(seed)
    gt = tab.rewards["ground_truth"]
    scale = float(gt.std())
    impossible = tab.transitions["train"] == 0
    n_s = tab.n_states
    out: list[Reward] = []

    def add(name: str, family: str, table: np.ndarray, shape_it: bool = True) -> None:
        if shape_it and rng.random() < 0.5:
            phi = rng.normal(scale=scale * rng.uniform(0.1, 3.0), size=n_s)
            table = table + task.discount * phi[None, None, :] - phi[:, None, None]
        out.append(Reward(name, family, table))

    for i in range(40):
        lam = float(np.exp(rng.uniform(np.log(0.1), np.log(10.0))))
        add(f"shaped-{i}", "shaped/rescaled", lam * gt, shape_it=True)
    for i in range(160):
        alpha = rng.uniform(0.0, 1.0)
        target = rng.normal(scale=scale, size=gt.shape)
        add(f"toward-random-{i}", "toward random", (1 - alpha) * gt + alpha * target)
    for i in range(60):
        alpha = rng.uniform(0.0, 1.0)
        target = -gt + rng.normal(scale=0.3 * scale, size=gt.shape)
        add(f"toward-negated-{i}", "toward negated", (1 - alpha) * gt + alpha * target)
    for sigma in (0.03, 0.1, 0.3, 1.0, 3.0):
        for i in range(30):
            noise = rng.normal(scale=sigma * scale, size=gt.shape)
            add(f"noise-{sigma:g}-{i}", "noise", gt + noise)
    for i in range(60):
        sigma = float(np.exp(rng.uniform(np.log(0.1), np.log(10.0)))) * scale
        noise = impossible * rng.normal(scale=sigma, size=gt.shape)
        add(f"impossible-{i}", "impossible transitions", gt + noise)
    for goal, table in _other_goal_rewards(task):
        add(f"goal-{goal[0]}-{goal[1]}", "other goal", table)
    for name in task.reward_names:
        if name != "ground_truth":
            out.append(Reward(f"variant-{name}", "task variant", tab.rewards[name]))
    if submissions:
        out.extend(_learned_rewards(task))
    return out


def _other_goal_rewards(task: Task) -> list[tuple[tuple[int, int], np.ndarray]]:
    """The family's own reward with the goal moved to every other cell (train params)."""
    module = task.env_family
    params = dict(task.env_params["train"])
    if not hasattr(module, "reward_table") or "goal" not in params:
        return []
    rows, cols = int(params["rows"]), int(params["cols"])
    goal = tuple(params["goal"])
    out = []
    for r in range(rows):
        for c in range(cols):
            if (r, c) != goal:
                out.append(((r, c), module.reward_table({**params, "goal": [r, c]})))
    return out


def _learned_rewards(task: Task) -> list[Reward]:
    """Every committed submission of the task, as the exact table the board's units see
    (`benchmark.metrics.tabular_units.unit_tables` of the evaluator's reward)."""
    tab = _tabular(task)
    out = []
    for sub in list_submissions():
        if sub.task == task.name:
            table = reward_table(_as_evaluated(sub.load_reward()), tab.n_states, tab.n_actions)
            out.append(Reward(f"submission-{sub.name}", "learned/submitted", table))
    return out


def _as_evaluated(reward: RewardFn) -> RewardFn:
    """``reward`` called as the evaluator calls a submission: its inputs reach the
    contained worker as float32 (`benchmark.submissions.contained`). Why: a native
    float64 reward (the ground-truth submission) differs by ~1e-8 in float32, which
    moves its board distances from 0 to ~1e-8; the meta-benchmark must see the same table."""

    def call(obs, acts, next_obs, dones):
        return reward(*(torch.as_tensor(x).to(torch.float32) for x in (obs, acts, next_obs, dones)))

    return call


# --------------------------------------------------------------------------- exact scores


def exact_regrets(task: Task, tables: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Normalized regret ``[K]`` per dynamics variant (0 = optimal, 1 = uniform policy)."""
    tab = _tabular(task)
    gt, mu, g = tab.rewards["ground_truth"], tab.initial_state_dist, task.discount
    out = {}
    for variant in VARIANTS:
        p = tab.transitions[variant]
        best = policy_value(optimal_policy(gt, p, g), gt, p, mu, g)
        rand = policy_value(uniform_policy(tab.n_states, tab.n_actions), gt, p, mu, g)
        values = np.array([policy_value(optimal_policy(r, p, g), gt, p, mu, g) for r in tables])
        out[variant] = (best - values) / (best - rand)
    return out


def distance_functions(task: Task, coverage: str) -> dict[str, Callable[[np.ndarray], float]]:
    """Each exact distance of a table to the ground truth on ``coverage``.

    The board's distances are the very functions its exact units call (each metric's
    ``exact_to_truth``: same coverage arrays, γ, horizon, ERC's policy modes), so the
    meta-benchmark ranks what the board shows. ``starc_val`` is STARC with value-adjusted
    levelling and an unweighted L2 norm (a member of the STARC paper's family), a labelled variant.
    """
    tab = _tabular(task)
    if coverage not in tab.policies:
        raise ValueError(
            f"coverage {coverage!r} of task {task.name!r} has no episodes for ERC; choose a "
            f"coverage drawn by a policy: {sorted(tab.policies)}"
        )
    return {
        "epic": partial(epic.exact_to_truth, task=task, coverage=coverage),
        "dard": partial(dard.exact_to_truth, task=task, coverage=coverage),
        "starc": partial(starc.exact_to_truth, task=task, coverage=coverage),
        "npec": partial(npec_units.exact_to_truth, task=task, coverage=coverage),
        "erc": partial(erc.exact_to_truth, task=task, coverage=coverage),
        "starc_val": partial(starc.exact_val_to_truth, task=task),
    }


def score_population(
    task: Task, population: list[Reward], coverage: str = DEFAULT_COVERAGE
) -> pd.DataFrame:
    """One row per reward: name, family, regret_train, regret_test and every distance.

    A distance undefined for a reward (e.g. EPIC of a reward that is constant after
    canonicalization) is NaN there.
    """
    # Hundreds of tiny dense solves: BLAS threads only contend on a shared machine
    # (measured: 0.9 s vs 0.011 s per NPEC at load 17 on 2 cores).
    with threadpool_limits(1):
        return _score(task, population, coverage)


def _score(task: Task, population: list[Reward], coverage: str) -> pd.DataFrame:
    tables = [r.table for r in population]
    regrets = exact_regrets(task, tables)
    frame = pd.DataFrame(
        {
            "reward": [r.name for r in population],
            "family": [r.family for r in population],
            **{f"regret_{v}": regrets[v] for v in VARIANTS},
        }
    )
    for name, fn in distance_functions(task, coverage).items():
        frame[name] = [_or_nan(fn, t) for t in tables]
    return frame


def _or_nan(fn: Callable[[np.ndarray], float], table: np.ndarray) -> float:
    try:
        return float(fn(table))
    except ValueError:
        return float("nan")


# --------------------------------------------------------------------------- statistics


def spearman_replicates(distance: np.ndarray, regret: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Spearman ρ of ``[K]`` paired values on each bootstrap resample ``idx`` [B, K] -> [B]."""
    x, y = np.asarray(distance, float), np.asarray(regret, float)
    rx = scipy.stats.rankdata(x[idx], axis=1)
    ry = scipy.stats.rankdata(y[idx], axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(1) / np.sqrt((rx * rx).sum(1) * (ry * ry).sum(1))


def percentile_interval(replicates: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates (NaN replicates, e.g. constant ranks, ignored)."""
    if not np.any(np.isfinite(replicates)):
        return float("nan"), float("nan")
    tail = 100 * (1 - confidence) / 2
    low, high = np.nanpercentile(replicates, [tail, 100 - tail])
    return float(low), float(high)


def pair_accuracy(distance: np.ndarray, regret: np.ndarray, tie: float = REGRET_TIE) -> float:
    """Share of pairs with different regret that the distance orders the same way.

    A pair whose distances are equal (to 1e-12) counts one half: the distance cannot
    tell which of the two is worse.
    """
    x, y = np.asarray(distance, float), np.asarray(regret, float)
    i, j = np.triu_indices(len(x), k=1)
    dr, dd = y[i] - y[j], x[i] - x[j]
    informative = np.abs(dr) > tie
    dr, dd = dr[informative], dd[informative]
    if dr.size == 0:
        return float("nan")
    agree = np.where(np.abs(dd) <= 1e-12, 0.5, (np.sign(dd) == np.sign(dr)).astype(float))
    return float(agree.mean())


def summarize(
    scores: pd.DataFrame, *, seed: int = 0, num_resamples: int = DEFAULT_NUM_RESAMPLES
) -> pd.DataFrame:
    """One row per (variant, distance): Spearman ρ with regret, CI, pair accuracy, gap to best.

    The rewards where every distance is defined are resampled together (one set of
    bootstrap indices per variant), so ``gap`` — the best distance's ρ minus this one's —
    has a paired interval: an interval above 0 means the best is better beyond resampling
    noise of the population.
    """
    ok = scores[list(DISTANCES)].notna().all(axis=1)
    data = scores[ok]
    idx = np.random.default_rng(seed).integers(0, len(data), size=(num_resamples, len(data)))
    rows = []
    for variant in VARIANTS:
        regret = data[f"regret_{variant}"].to_numpy()
        rho = {d: float(scipy.stats.spearmanr(data[d], regret).statistic) for d in DISTANCES}
        reps = {d: spearman_replicates(data[d].to_numpy(), regret, idx) for d in DISTANCES}
        best = max(DISTANCES, key=lambda d: rho[d])
        for d in DISTANCES:
            low, high = percentile_interval(reps[d])
            gap_low, gap_high = percentile_interval(reps[best] - reps[d])
            rows.append(
                dict(
                    variant=variant, distance=d, n=len(data), spearman=rho[d], ci_low=low,
                    ci_high=high, pair_accuracy=pair_accuracy(data[d].to_numpy(), regret),
                    best=best, gap=rho[best] - rho[d], gap_ci_low=gap_low, gap_ci_high=gap_high,
                )
            )  # fmt: skip
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- run and store


def run_metabench(
    task_name: str = "gridworld",
    *,
    seed: int = 0,
    coverage: str = DEFAULT_COVERAGE,
    num_resamples: int = DEFAULT_NUM_RESAMPLES,
    submissions: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The population's scores and their summary; a pure function of the arguments."""
    task = load_task(task_name)
    population = reward_population(task, seed, submissions=submissions)
    scores = score_population(task, population, coverage)
    scores.insert(0, "task", task_name)
    summary = summarize(scores, seed=seed, num_resamples=num_resamples)
    summary.insert(0, "task", task_name)
    summary["coverage"] = coverage
    summary["seed"] = seed
    return scores, summary


def write_metabench(
    scores: pd.DataFrame, summary: pd.DataFrame, out_dir: str | Path
) -> tuple[Path, Path]:
    """``<task>-scores.parquet`` and ``<task>-summary.parquet`` under ``out_dir``."""
    out = Path(out_dir)
    task = str(summary["task"].iloc[0])
    paths = out / f"{task}-scores.parquet", out / f"{task}-summary.parquet"
    for frame, path in zip((scores, summary), paths, strict=True):
        with atomic_write(path) as tmp:
            frame.to_parquet(tmp, index=False)
    return paths


def read_metabench(out_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All tasks' scores and summaries written by `write_metabench` (empty if none)."""
    out = Path(out_dir)
    scores = sorted(out.glob("*-scores.parquet"))
    summaries = sorted(out.glob("*-summary.parquet"))
    if not scores or not summaries:
        return pd.DataFrame(), pd.DataFrame()
    return (
        pd.concat([pd.read_parquet(p) for p in scores], ignore_index=True),
        pd.concat([pd.read_parquet(p) for p in summaries], ignore_index=True),
    )


def _tabular(task: Task):
    tab = task.tabular
    if tab is None:
        raise ValueError(
            f"the meta-benchmark needs exact tables; task {task.name!r} is not finite "
            "(use a task with Task.tabular, e.g. gridworld)"
        )
    return tab
