"""EPIC distance (Gleave et al., "Quantifying Differences in Reward Functions", ICLR 2021).

The paper's canonically shaped reward (DESIGN.md; the reference computes the same in
``distances/epic_sample.py``, ``sample_canon_shaping``) removes potential shaping:

    C(R)(s,a,s') = R(s,a,s') + E[γ R(s',A,S') − R(s,A,S') − γ R(S,A,S')],
    S, S' ~ D_S and A ~ D_A independent,

and EPIC is the Pearson distance of canonicalized rewards under the transition
distribution D_T:  D_EPIC = sqrt((1 − ρ(C(R_A), C(R_B))) / 2).

Writing m(x) = E_{A,S'} R(x, A, S') and c = E[R(S,A,S')] = E_S m(S):

    C(R)(s,a,s') = R(s,a,s') + γ m(s') − m(s) − γ c.

The sample-based estimator replaces m by a mean over M paired samples
``(action_samples[j], state_samples[j])`` and c by the mean of m over ``state_samples``.
It does less than the naive 2·N·M evaluations per reward where the maths allows:

1. c is a constant, and a constant does not change a correlation, so `epic_distance`
   skips it (`canonicalize` still returns the full C(R));
2. m is needed once per *distinct* state among obs and next_obs; transitions from
   contiguous trajectories share most of them (next_obs[t] == obs[t+1]), so states
   are deduplicated exactly and each is evaluated once;
3. both rewards are evaluated on the same [states × M] input batches, built once.

As in the paper's code, ``dones`` are ignored: EPIC is defined for rewards on
transitions without terminal states, so every reward is evaluated with dones = 0 and
γ m(s') is never masked.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from benchmark.data import RewardFn, Transitions
from benchmark.metrics import stats
from benchmark.metrics.canonical import (
    canonical_parts,
    canonicalize_many,
    paired_canonical,
    validate_inputs,
)
from benchmark.metrics.canonical_interval import (
    PEARSON,
    DistanceResult,
    Statistic,
    interval_from_parts,
    paired_with_ci,
    sample_episodes_of,
    sample_groups,
)
from benchmark.metrics.inputs import (
    ArrayLike,
    check_discount,
    check_distribution,
    check_not_constant,
    check_weights,
    to_numpy,
    to_numpy_1d,
)
from benchmark.metrics.reward_evaluation import (  # noqa: F401  (re-exported: part of this API)
    DEFAULT_MAX_BATCH,
    MAX_BATCH_ACCELERATOR,
    MAX_BATCH_CPU,
    evaluate_reward,
    resolve_max_batch,
)

if TYPE_CHECKING:
    from benchmark.metrics.registry import UnitInputs
    from benchmark.tasks import Task

# Defaults of the paper's code (evaluating_rewards ``scripts/distances/epic.py``
# ``default_config``: discount, n_samples = N_T, n_mean_samples = M, n_seeds; and
# ``scripts/distances/common.py``: n_bootstrap). Its high_precision config, which the
# paper's PointMaze runs use, takes 32768 x 32768 samples, 30 seeds, 10000 resamples.
DEFAULT_DISCOUNT = 0.99
PAPER_N_TRANSITIONS = 4096
PAPER_N_SAMPLES = 4096
DEFAULT_N_SEEDS = 3
DEFAULT_N_BOOTSTRAP = 1000


# --------------------------------------------------------------------------- Pearson


def pearson_distance(x: ArrayLike, y: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Pearson distance D_ρ(X, Y) = sqrt((1 − ρ(X, Y)) / 2), in [0, 1].

    Args:
        x, y: ``[N]`` paired samples (torch or numpy), N >= 2.
        weights: optional ``[N]`` non-negative weights (e.g. D_T probabilities).

    Raises:
        ValueError: on shape mismatch, non-finite values, bad weights, or when x or y
            is constant (the correlation, hence the distance, is undefined).
    """
    x_np = to_numpy_1d(x, "x")
    y_np = to_numpy_1d(y, "y")
    if x_np.shape != y_np.shape:
        raise ValueError(f"x and y must have the same shape [N], got {x_np.shape} and {y_np.shape}")
    w_np = None if weights is None else check_weights(weights, x_np.shape[0])
    dist = float(stats.pearson_distance_batch(x_np, y_np, w_np))
    if np.isnan(dist):
        raise ValueError(
            "Pearson distance is undefined: x or y is constant (zero variance) "
            "under the given weights. Check that the inputs vary."
        )
    return dist


# --------------------------------------------------------------------------- exact tabular


def canonicalize_tabular(
    reward: ArrayLike, *, state_dist: ArrayLike, action_dist: ArrayLike, discount: float
) -> np.ndarray:
    """Exact C(R) for a finite MDP.

    Args:
        reward: ``[S, A, S]`` table R(s, a, s').
        state_dist: ``[S]`` D_S. action_dist: ``[A]`` D_A.
        discount: γ in [0, 1].

    Returns:
        ``[S, A, S]`` float64 table of C(R)(s, a, s').
    """
    check_discount(discount)
    r = to_numpy(reward, "reward")
    if r.ndim != 3 or r.shape[0] != r.shape[2]:
        raise ValueError(f"reward must have shape [S, A, S], got {r.shape}")
    n_s, n_a, _ = r.shape
    d_s = check_distribution(state_dist, "state_dist", (n_s,))
    d_a = check_distribution(action_dist, "action_dist", (n_a,))
    if not np.all(np.isfinite(r)):
        raise ValueError(f"reward contains {int((~np.isfinite(r)).sum())} non-finite entries")
    mean = np.einsum("sat,a,t->s", r, d_a, d_s)  # m(s) = E_{A,S'} R(s, A, S')
    const = float(d_s @ mean)  # c = E_S m(S)
    return r + discount * mean[None, None, :] - mean[:, None, None] - discount * const


def epic_distance_tabular(
    reward_a: ArrayLike,
    reward_b: ArrayLike,
    *,
    state_dist: ArrayLike,
    action_dist: ArrayLike,
    transition_dist: ArrayLike,
    discount: float = DEFAULT_DISCOUNT,
) -> float:
    """Exact EPIC distance for a finite MDP (sums over the tables, float64).

    Args:
        reward_a, reward_b: ``[S, A, S]`` reward tables.
        state_dist: ``[S]`` D_S; action_dist: ``[A]`` D_A (arbitrary, non-uniform).
        transition_dist: ``[S, A, S]`` D_T, a joint distribution over (s, a, s').
        discount: γ in [0, 1].

    Returns:
        D_EPIC in [0, 1].

    Raises:
        ValueError: when C(R_A) or C(R_B) is constant under D_T: its std is at most
            64 ε · 3 max|R|, a margin over the rounding error of the terms R, γ m(s'),
            m(s), γ c it is summed from (|m|, |c| <= max|R|).
    """
    ra = to_numpy(reward_a, "reward_a")
    rb = to_numpy(reward_b, "reward_b")
    if ra.shape != rb.shape:
        raise ValueError(f"reward_a {ra.shape} and reward_b {rb.shape} must have the same shape")
    ca = canonicalize_tabular(ra, state_dist=state_dist, action_dist=action_dist, discount=discount)
    cb = canonicalize_tabular(rb, state_dist=state_dist, action_dist=action_dist, discount=discount)
    d_t = check_distribution(transition_dist, "transition_dist", ra.shape).reshape(-1)
    for name, c, r in (("reward_a", ca, ra), ("reward_b", cb, rb)):
        check_not_constant(
            c.reshape(-1), d_t, name, eps=np.finfo(np.float64).eps, scale=3 * float(np.abs(r).max())
        )
    return pearson_distance(ca.reshape(-1), cb.reshape(-1), d_t)


# --------------------------------------------------------------------------- sample-based


def canonicalize(
    reward: RewardFn,
    transitions: Any,
    state_samples: ArrayLike,
    action_samples: ArrayLike,
    discount: float = DEFAULT_DISCOUNT,
    *,
    device: torch.device | str | None = None,
    max_batch: int | None = DEFAULT_MAX_BATCH,
    deduplicate: bool = True,
) -> torch.Tensor:
    """Sample-based C(R) at each transition, including the constant term −γ c.

    Args:
        reward: a RewardFn ``(obs, acts, next_obs, dones) -> [B]`` (an imitation
            RewardNet works; it is called under ``torch.no_grad()``).
        transitions: ``benchmark.data.Transitions`` or imitation ``Transitions``, N rows.
        state_samples: ``[M, *obs_shape]`` draws from D_S.
        action_samples: ``[M, *act_shape]`` draws from D_A, paired with state_samples.
        discount: γ in [0, 1].
        device: where to evaluate; default the reward module's device, else the
            transitions'.
        max_batch: rows per forward pass (memory bound).
        deduplicate: evaluate the mean term once per distinct state (exact).

    Returns:
        ``[N]`` float64 tensor of C(R)(s, a, s') on ``device``.
    """
    inputs = validate_inputs(
        [reward], transitions, state_samples, action_samples, discount, None, max_batch, device
    )
    canon, _, _ = canonicalize_many(
        [reward], ["reward"], inputs, include_constant=True, deduplicate=deduplicate
    )
    return canon[0]


def epic_distance(
    reward_a: RewardFn,
    reward_b: RewardFn,
    *,
    transitions: Any,
    state_samples: ArrayLike,
    action_samples: ArrayLike,
    discount: float = DEFAULT_DISCOUNT,
    weights: ArrayLike | None = None,
    device: torch.device | str | None = None,
    max_batch: int | None = DEFAULT_MAX_BATCH,
    deduplicate: bool = True,
) -> float:
    """Sample-based EPIC distance between two reward functions.

    Args:
        reward_a, reward_b: RewardFns (see `canonicalize`).
        transitions: N draws from D_T (our or imitation's Transitions).
        state_samples: ``[M, *obs_shape]`` from D_S; action_samples ``[M, *act_shape]``
            from D_A; pair j estimates E_{A,S'} R(x, A, S') ≈ (1/M) Σ_j R(x, a_j, s_j).
        discount: γ in [0, 1].
        weights: optional ``[N]`` importance weights of the transitions under D_T.
        device, max_batch, deduplicate: see `canonicalize`.

    Returns:
        D_EPIC(R_A, R_B) in [0, 1].

    Raises:
        ValueError: bad shapes or values (message names the argument), non-finite
            rewards, or a reward that is constant after canonicalization.
    """
    ca, cb, w = paired_canonical(
        reward_a,
        reward_b,
        transitions,
        state_samples,
        action_samples,
        discount,
        weights,
        device,
        max_batch,
        deduplicate,
    )
    return pearson_distance(ca, cb, w)


# EPIC point estimate with a 95% interval over transitions and mean-term samples.
EpicResult = DistanceResult


def epic_distance_with_ci(
    reward_a: RewardFn,
    reward_b: RewardFn,
    *,
    transitions: Any,
    state_samples: ArrayLike,
    action_samples: ArrayLike,
    discount: float = DEFAULT_DISCOUNT,
    weights: ArrayLike | None = None,
    num_resamples: int = DEFAULT_N_BOOTSTRAP,
    confidence: float = stats.DEFAULT_CONFIDENCE,
    seed: int = 0,
    device: torch.device | str | None = None,
    max_batch: int | None = DEFAULT_MAX_BATCH,
    state_blocks: ArrayLike | None = None,
    action_blocks: ArrayLike | None = None,
) -> EpicResult:
    """`epic_distance` plus a 95% interval over both sampling sources.

    ``state_blocks`` / ``action_blocks``: ``[M]`` rollout block of each state / action
    sample (a `CoverageSample`'s; the board passes them): samples of one block are
    resampled together. Without them the M samples count as independent.

    Each bootstrap replicate resamples the transitions' episodes (split at ``dones`` and
    where a transition does not start in its predecessor's s') and the M mean-term
    samples, and recomputes the distance; the interval is the
    basic bootstrap (`benchmark.metrics.canonical_interval` says why, and
    ``bench/epic_interval_coverage.py`` measures its coverage of the exact value).
    """
    return paired_with_ci(reward_a, reward_b, PEARSON, transitions=transitions,
                          state_samples=state_samples, action_samples=action_samples,
                          discount=discount, weights=weights, num_resamples=num_resamples,
                          confidence=confidence, seed=seed, device=device, max_batch=max_batch,
                          state_blocks=state_blocks, action_blocks=action_blocks)  # fmt: skip


# --------------------------------------------------------------------------- evaluation units


def unit_value(inputs: UnitInputs) -> dict[str, float]:
    """One evaluation unit (registry entry): exact on a finite task (`tabular_units`),
    else EPIC to the ground truth on the unit's sample with the two-source 95% interval."""
    if inputs.exact:
        from benchmark.metrics.tabular_units import exact_row, unit_tables

        table, _, _ = unit_tables(inputs)
        return exact_row(exact_to_truth(table, inputs.task, inputs.coverage))
    return sampled_unit(inputs)


def exact_to_truth(table: np.ndarray, task: Task, coverage: str) -> float:
    """The board's exact EPIC of an ``[S, A, S]`` table to ``task``'s ground truth on a
    finite task: the coverage's exact D_S, D_A, D_T and the task's γ. One function for
    the exact unit and the meta-benchmark, so both report the same quantity."""
    tab = task.tabular
    cov = tab.coverage[coverage]
    return epic_distance_tabular(
        table, tab.rewards["ground_truth"], state_dist=cov.state_dist,
        action_dist=cov.action_dist, transition_dist=cov.transition_dist,
        discount=task.discount,
    )  # fmt: skip


def sampled_unit(inputs: UnitInputs, statistic: Statistic | None = None) -> dict[str, float]:
    """A sampled unit of a canonical-reward distance (EPIC's Pearson by default, STARC's
    cosine): the distance to the ground truth on the unit's coverage sample with the
    two-source interval over episodes and mean-term samples (`canonical_interval`)."""
    statistic = PEARSON if statistic is None else statistic
    sample = inputs.sample()
    joint = validate_inputs([inputs.reward, inputs.ground_truth], sample.transitions,
                            sample.state_samples, sample.action_samples, inputs.task.discount,
                            None, None, inputs.device)  # fmt: skip
    truth = _canonical_truth(inputs.task, inputs.ground_truth, inputs.coverage,
                             inputs.n_transitions, inputs.n_samples, inputs.seed, inputs.device,
                             joint.state_samples.dtype, statistic.include_constant)  # fmt: skip
    res = interval_from_parts(inputs.reward, truth, joint, statistic=statistic, seed=inputs.seed,
                              sample_episodes=sample_episodes_of(sample))  # fmt: skip
    return {"value": res.estimate, "ci_low": res.low, "ci_high": res.high}


@lru_cache(maxsize=256)
def _canonical_truth(task: Task, truth: RewardFn, coverage: str, n_transitions: int,
                     n_samples: int, seed: int, device: str, dtype: torch.dtype,
                     include_constant: bool = False):  # fmt: skip
    """The ground truth's canonicalization pieces on one coverage sample, once per key.

    Why cached: every submission of a task is compared with the same ground truth on the
    same samples (issue 15), so its forward passes (half of EPIC's cost) run once. The
    inputs are cast to ``dtype`` as `validate_inputs` casts them for the pair, so the
    numbers equal a joint `epic_distance_with_ci`. ``include_constant``: with C(R)'s
    constant term (STARC).
    """
    sample = task.coverage(coverage).sample(n_transitions, n_samples, seed)
    inp = validate_inputs([truth], sample.transitions, sample.state_samples,
                          sample.action_samples, task.discount, None, None, device)  # fmt: skip
    t = inp.transitions
    inp = replace(inp, transitions=Transitions(*(x.to(dtype) for x in (t.obs, t.acts,
                  t.next_obs, t.dones))), state_samples=inp.state_samples.to(dtype),
                  action_samples=inp.action_samples.to(dtype))  # fmt: skip
    groups = torch.as_tensor(sample_groups(n_samples))
    return canonical_parts([truth], ["the ground truth"], inp, groups,
                           include_constant=include_constant)  # fmt: skip
