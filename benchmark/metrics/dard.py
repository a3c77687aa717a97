"""DARD: Dynamics-Aware Reward Distance (Wulfe et al., "Dynamics-Aware Comparison of
Learned Reward Functions", ICLR 2022, arXiv 2201.10081).

EPIC canonicalizes with independent draws S, S' ~ D_S, so it evaluates a reward on
transitions (s, A, S') that cannot happen. DARD draws the successors from the
transition model T instead. Our reading of the paper's definition (its full text was not
reachable when claims were audited, only its abstract; docs/paper-claims.md):

    C_T(R)(s,a,s') = R(s,a,s') + E[ γ R(s',A,S'') − R(s,A,S') − γ R(S',A,S'') ],
    A ~ D_A,  S' ~ T(·|s,A),  S'' ~ T(·|s',A)  (one A for all three terms),

and DARD is the Pearson distance of C_T(R_A) and C_T(R_B) under D_T, as EPIC's:
D_DARD = sqrt((1 − ρ) / 2). Adding γΦ(s') − Φ(s) to R adds, term by term,
γΦ(s') − Φ(s) + γ(γΦ(S'') − Φ(s')) − (γΦ(S') − Φ(s)) − γ(γΦ(S'') − Φ(S')) = 0, so C_T
is invariant to potential shaping *sample by sample*: the estimator below shares each
successor draw between the terms that name it, so shaping cancels exactly for any M.

Only R(s, A, S') with S' a real successor of s enters the mean terms; the last term
pairs a successor of s with a successor of s' (both lie one step from the transition).
A reward that differs from another only on impossible transitions therefore has DARD 0
to it, where EPIC need not.

Writing m(x) = E_A E_{X'~T(x,A)} R(x, A, X') and n(s, s') = E_A E[R(S', A, S'')]:

    C_T(R)(s,a,s') = R(s,a,s') + γ m(s') − m(s) − γ n(s, s').

Sample-based: the action samples a_1..a_M (draws from D_A) are shared by all states;
each distinct state x among the transitions' obs and next_obs gets successors
x'_j ~ T(·|x, a_j) from ``transition_model``; m(x) ≈ (1/M) Σ_j R(x, a_j, x'_j) and
n(s, s') ≈ (1/M) Σ_j R(s'_j, a_j, s''_j), with s'_j, s''_j the successors of s and s'.
Costs per reward: N + U·M + N·M evaluations (U distinct states) and U·M model steps.
``dones`` are ignored as in EPIC (every reward sees dones = 0).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from benchmark.data import RewardFn
from benchmark.metrics import epic, stats
from benchmark.metrics.canonical_interval import (
    Correction,
    SampleEpisodes,
    checked_sample_blocks,
    sample_groups,
    two_source_bootstrap,
)
from benchmark.metrics.dard_sampling import (
    DardParts,
    SuccessorDraws,
    canonicalize_on_draws,
    draw_successors,
    parts_on_draws,
)
from benchmark.metrics.dynamics import TransitionModel, tabular_transition_model, transition_model
from benchmark.metrics.epic import DEFAULT_DISCOUNT, DEFAULT_N_BOOTSTRAP, ArrayLike, EpicResult
from benchmark.metrics.inputs import (
    check_discount,
    check_distribution,
    check_not_constant,
    check_weights,
    to_numpy,
)

if TYPE_CHECKING:
    from benchmark.metrics.registry import UnitInputs
    from benchmark.tasks import Task

# `dard_distance_with_ci` returns the same record as EPIC's: a point and a 95% interval.
DardResult = EpicResult


# --------------------------------------------------------------------------- exact tabular


def canonicalize_tabular(
    reward: ArrayLike, *, transition: ArrayLike, action_dist: ArrayLike, discount: float
) -> np.ndarray:
    """Exact C_T(R) (module docstring) for a finite MDP.

    Args:
        reward: ``[S, A, S]`` table R(s, a, s').
        transition: ``[S, A, S]`` T(s' | s, a); rows sum to 1.
        action_dist: ``[A]`` D_A.
        discount: γ in [0, 1].

    Returns:
        ``[S, A, S]`` float64 table of C_T(R)(s, a, s').
    """
    check_discount(discount)
    r = to_numpy(reward, "reward")
    if r.ndim != 3 or r.shape[0] != r.shape[2]:
        raise ValueError(f"reward must have shape [S, A, S], got {list(r.shape)}")
    if not np.all(np.isfinite(r)):
        raise ValueError(f"reward contains {int((~np.isfinite(r)).sum())} non-finite entries")
    p = _check_transition(transition, r.shape)
    d_a = check_distribution(action_dist, "action_dist", (r.shape[1],))
    mean = np.einsum("a,sat,sat->s", d_a, p, r)  # m(x) = E_A E_{X'~T(x,A)} R(x, A, X')
    # n(s, s2) = Σ_a D_A(a) Σ_{u,v} T(u|s,a) R(u,a,v) T(v|s2,a): one S×S product per action.
    pair = np.einsum("a,sau,uav,tav->st", d_a, p, r, p, optimize=True)
    return r + discount * mean[None, None, :] - mean[:, None, None] - discount * pair[:, None, :]


def dard_distance_tabular(
    reward_a: ArrayLike,
    reward_b: ArrayLike,
    *,
    transition: ArrayLike,
    action_dist: ArrayLike,
    transition_dist: ArrayLike,
    discount: float = DEFAULT_DISCOUNT,
) -> float:
    """Exact DARD for a finite MDP: Pearson distance of C_T(R_A), C_T(R_B) under D_T.

    Args:
        reward_a, reward_b: ``[S, A, S]`` reward tables.
        transition: ``[S, A, S]`` the model T used to canonicalize (the train dynamics).
        action_dist: ``[A]`` D_A.
        transition_dist: ``[S, A, S]`` D_T, a joint distribution over (s, a, s').
        discount: γ in [0, 1].

    Returns:
        D_DARD in [0, 1].
    """
    ra = to_numpy(reward_a, "reward_a")
    rb = to_numpy(reward_b, "reward_b")
    if ra.shape != rb.shape:
        raise ValueError(f"reward_a {ra.shape} and reward_b {rb.shape} must have the same shape")
    kw = {"transition": transition, "action_dist": action_dist, "discount": discount}
    ca = canonicalize_tabular(ra, **kw)
    cb = canonicalize_tabular(rb, **kw)
    d_t = check_distribution(transition_dist, "transition_dist", ra.shape).reshape(-1)
    for name, c, r in (("reward_a", ca, ra), ("reward_b", cb, rb)):
        check_not_constant(
            c.reshape(-1), d_t, name, eps=np.finfo(np.float64).eps, scale=4 * float(np.abs(r).max())
        )
    return epic.pearson_distance(ca.reshape(-1), cb.reshape(-1), d_t)


# --------------------------------------------------------------------------- sample-based


def canonicalize(
    reward: RewardFn,
    transitions: Any,
    action_samples: ArrayLike,
    transition_model: TransitionModel,
    discount: float = DEFAULT_DISCOUNT,
    *,
    seed: int = 0,
    device: torch.device | str | None = None,
    max_batch: int | None = None,
) -> torch.Tensor:
    """Sample-based C_T(R) at each transition.

    Args:
        reward: a RewardFn ``(obs, acts, next_obs, dones) -> [B]``.
        transitions: N draws from D_T (our or imitation's Transitions).
        action_samples: ``[M, *act_shape]`` draws from D_A, shared by every state.
        transition_model: ``(obs, acts, generator) -> next_obs``, one step of T.
        discount: γ in [0, 1].
        seed: seeds the generator handed to ``transition_model`` (stochastic T).
        device: where to evaluate; default the reward module's, else the transitions'.
        max_batch: rows per reward forward pass (default by device, as EPIC).

    Returns:
        ``[N]`` float64 tensor of C_T(R)(s, a, s').
    """
    check_discount(discount)
    draws = draw_successors(transitions, action_samples, transition_model, seed=seed,
                            device=device, max_batch=max_batch, rewards=[reward])  # fmt: skip
    return canonicalize_on_draws([reward], ["reward"], draws, discount)[0][0]


def dard_distance(
    reward_a: RewardFn,
    reward_b: RewardFn,
    *,
    transitions: Any,
    action_samples: ArrayLike,
    transition_model: TransitionModel,
    discount: float = DEFAULT_DISCOUNT,
    weights: ArrayLike | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
    max_batch: int | None = None,
) -> float:
    """Sample-based DARD between two RewardFns (both see the same successor draws).

    Args:
        transitions, action_samples, transition_model, discount, seed, device,
            max_batch: see `canonicalize`.
        weights: optional ``[N]`` importance weights of the transitions under D_T.

    Returns:
        D_DARD(R_A, R_B) in [0, 1].

    Raises:
        ValueError: bad shapes or values (the message names the argument), non-finite
            rewards, or a reward that is constant after canonicalization.
    """
    ca, cb, w = _paired(
        reward_a,
        reward_b,
        transitions,
        action_samples,
        transition_model,
        discount,
        weights,
        seed,
        device,
        max_batch,
    )
    return epic.pearson_distance(ca, cb, w)


def dard_distance_with_ci(
    reward_a: RewardFn,
    reward_b: RewardFn,
    *,
    transitions: Any,
    action_samples: ArrayLike,
    transition_model: TransitionModel,
    discount: float = DEFAULT_DISCOUNT,
    weights: ArrayLike | None = None,
    num_resamples: int = DEFAULT_N_BOOTSTRAP,
    confidence: float = stats.DEFAULT_CONFIDENCE,
    seed: int = 0,
    device: torch.device | str | None = None,
    max_batch: int | None = None,
    action_blocks: ArrayLike | None = None,
) -> DardResult:
    """`dard_distance` with a 95% interval over both sampling sources: the transitions'
    episodes and the M action samples (with their successor draws), basic bootstrap (as
    EPIC's; `benchmark.metrics.canonical_interval`). ``action_blocks``: ``[M]`` rollout
    block of each action sample (a `CoverageSample`'s), resampled together.
    """
    check_discount(discount)
    names = ["reward_a", "reward_b"]
    draws = draw_successors(transitions, action_samples, transition_model, seed=seed,
                            device=device, max_batch=max_batch, rewards=[reward_a, reward_b])  # fmt: skip
    parts = parts_on_draws([reward_a, reward_b], names, draws, discount, _groups(draws))
    w = None if weights is None else check_weights(weights, len(draws.transitions))
    for name, c, e, sc in zip(names, parts.canonical, parts.eps, parts.scales, strict=True):
        check_not_constant(c.cpu().numpy(), w, name, eps=e, scale=sc)
    blocks = checked_sample_blocks(None, action_blocks, draws.actions.shape[0])
    ci = _interval(parts, draws, discount, w, None if blocks is None else blocks.actions,
                   num_resamples, confidence, seed)  # fmt: skip
    return DardResult.of(ci, len(draws.transitions), draws.actions.shape[0])


def _groups(draws: SuccessorDraws) -> torch.Tensor:
    return torch.as_tensor(sample_groups(draws.actions.shape[0]))


def _interval(
    parts: DardParts,
    draws: SuccessorDraws,
    discount: float,
    weights: np.ndarray | None,
    action_episodes: np.ndarray | None,
    num_resamples: int,
    confidence: float,
    seed: int,
) -> stats.ConfidenceInterval:
    """The two-source bootstrap of two rewards' C_T pieces (n(s, s') as its correction)."""
    return two_source_bootstrap(
        parts.raw.cpu().numpy(),
        parts.mean_sums.cpu().numpy(),
        parts.group_sizes.cpu().numpy(),
        parts.at_s.cpu().numpy(),
        parts.at_next.cpu().numpy(),
        discount,
        episodes=draws.transitions.bootstrap_blocks(),
        sample_episodes=None if action_episodes is None else SampleEpisodes(None, action_episodes),
        weights=weights,
        correction=Correction(parts.pair_sums.cpu().numpy(), parts.at_pair.cpu().numpy()),
        num_resamples=num_resamples,
        confidence=confidence,
        seed=seed,
    )


# --------------------------------------------------------------------------- evaluation units


@lru_cache(maxsize=8)
def _truth_on_draws(
    task: Task, truth: RewardFn, coverage: str, n_transitions: int, n_samples: int, seed: int,
    device: str,
) -> tuple[SuccessorDraws, DardParts]:  # fmt: skip
    """Successor draws of one coverage sample and C_T(ground truth)'s pieces on them, once
    per key.

    Why cached: the draws (U x M simulator steps, seconds on MuJoCo) and the ground
    truth's canonicalization are the same for every submission of the task.
    """
    sample = task.coverage(coverage).sample(n_transitions, n_samples, seed)
    draws = draw_successors(sample.transitions, sample.action_samples, transition_model(task),
                            seed=seed, device=device)  # fmt: skip
    parts = parts_on_draws([truth], ["the ground truth"], draws, task.discount, _groups(draws))
    check_not_constant(parts.canonical[0].cpu().numpy(), None, "the ground truth",
                       eps=parts.eps[0], scale=parts.scales[0])  # fmt: skip
    return draws, parts


def unit_value(inputs: UnitInputs) -> dict[str, float]:
    """One evaluation unit: DARD to the ground truth with the two-source 95% interval
    (episodes and action samples; registry entry).

    The model is the task's train dynamics; the M mean-term actions are the coverage
    sample's D_A draws. On a finite task the value is exact: `dard_distance_tabular` on
    the coverage's exact D_A and D_T with the train dynamics as T (no sample, no interval).
    """
    if inputs.exact:
        from benchmark.metrics.tabular_units import exact_row, unit_tables

        table, _, _ = unit_tables(inputs)
        return exact_row(exact_to_truth(table, inputs.task, inputs.coverage))
    draws, truth = _truth_on_draws(inputs.task, inputs.ground_truth, inputs.coverage,
                                   inputs.n_transitions, inputs.n_samples, inputs.seed,
                                   inputs.device)  # fmt: skip
    mine = parts_on_draws([inputs.reward], ["the submission"], draws, inputs.task.discount,
                          _groups(draws))  # fmt: skip
    check_not_constant(mine.canonical[0].cpu().numpy(), None, "the submission",
                       eps=mine.eps[0], scale=mine.scales[0])  # fmt: skip
    both = mine.joined(truth)
    episodes = inputs.sample().action_blocks
    episodes = None if episodes is None else episodes.cpu().numpy()
    ci = _interval(both, draws, inputs.task.discount, None, episodes,
                   stats.DEFAULT_NUM_RESAMPLES, stats.DEFAULT_CONFIDENCE, inputs.seed)  # fmt: skip
    return {"value": ci.estimate, "ci_low": ci.low, "ci_high": ci.high}


def exact_to_truth(table: np.ndarray, task: Task, coverage: str) -> float:
    """The board's exact DARD of an ``[S, A, S]`` table to ``task``'s ground truth: the
    train dynamics as the model T, the coverage's exact D_A and D_T, the task's γ. Shared
    by the exact unit and the meta-benchmark (one quantity, one argument list)."""
    tab = task.tabular
    cov = tab.coverage[coverage]
    return dard_distance_tabular(
        table, tab.rewards["ground_truth"], transition=tab.transitions["train"],
        action_dist=cov.action_dist, transition_dist=cov.transition_dist,
        discount=task.discount,
    )  # fmt: skip


# --------------------------------------------------------------------------- internals


def _paired(
    reward_a, reward_b, transitions, action_samples, model, discount, weights, seed, device,
    max_batch,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:  # fmt: skip
    """C_T(R_A), C_T(R_B) as float64 numpy ``[N]`` (shared draws), + checked weights."""
    check_discount(discount)
    names = ["reward_a", "reward_b"]
    draws = draw_successors(transitions, action_samples, model, seed=seed, device=device,
                            max_batch=max_batch, rewards=[reward_a, reward_b])  # fmt: skip
    canon, eps, scales = canonicalize_on_draws([reward_a, reward_b], names, draws, discount)
    arrays = [c.cpu().numpy() for c in canon]
    w = None if weights is None else check_weights(weights, arrays[0].shape[0])
    for name, c, e, sc in zip(names, arrays, eps, scales, strict=True):
        check_not_constant(c, w, name, eps=e, scale=sc)
    return arrays[0], arrays[1], w


def _check_transition(transition: ArrayLike, shape: tuple[int, ...]) -> np.ndarray:
    p = to_numpy(transition, "transition")
    if p.shape != tuple(shape):
        raise ValueError(
            f"transition must have shape {list(shape)} like the reward, got {list(p.shape)}"
        )
    if (
        not np.all(np.isfinite(p))
        or np.any(p < 0)
        or not np.allclose(p.sum(axis=2), 1.0, atol=1e-6)
    ):
        raise ValueError(
            "transition must hold probabilities T(s'|s,a) >= 0 whose rows T[s, a, :] sum to 1"
        )
    return p


__all__ = [
    "DardResult",
    "TransitionModel",
    "canonicalize",
    "canonicalize_tabular",
    "dard_distance",
    "dard_distance_tabular",
    "dard_distance_with_ci",
    "tabular_transition_model",
    "transition_model",
    "unit_value",
]
