"""A 95% interval for the sampled distances of canonicalized rewards (EPIC, STARC, DARD)
that accounts for both of their sampling sources.

Each estimator draws N transitions from D_T *and* M mean-term samples: pairs (s_j, a_j)
from D_S × D_A for EPIC's and STARC's m(x) = E_{A,S'} R(x, A, S'), actions a_j with model
successors for DARD's m(x) and n(s, s') (`benchmark.metrics.dard`). Both vary from one
coverage draw to the next; a bootstrap over transitions alone holds m fixed and misses
the second source (on the gridworld at N = 1024, M = 256 its interval was a third of the
draw-to-draw spread, and missed the exact value in most draws).

Here each bootstrap replicate resamples, with replacement and independently,

* the transitions' *episodes* (`Transitions.bootstrap_blocks`): consecutive transitions
  of one rollout are dependent, so resampling rows as if independent understates the
  spread (Künsch 1989, "The jackknife and the bootstrap for general stationary
  observations"; the episodes are the natural blocks, and the few long episodes of
  MuJoCo rollouts are cut into at least 16 contiguous blocks). Independent draws
  (``uniform``) are episodes of one transition each;
* the M mean-term samples, in G groups of consecutive samples (the samples are
  exchangeable, so groups are random; G = M when memory allows), re-estimating each mean
  term as m*(x) = Σ_g c_g S_g(x) / Σ_g c_g n_g from its per-group sums S_g(x);

and recomputes the distance of C*(R_A), C*(R_B), with C*(R) = R + γ m*(s') − m*(s) and,
where the metric has them, − γ n*(s, s') (DARD) or − γ c* (STARC's constant: an L2 norm
is not shift-invariant; EPIC drops it, as a constant cannot change a correlation).

Interval: the *basic* (reverse-percentile) bootstrap, [2θ̂ − q_{1−α/2}, 2θ̂ − q_{α/2}].
Why not the percentile interval: noise in m̂ attenuates the correlation, so θ̂ is
biased upwards, and in the bootstrap world the resampled m* adds the same noise again;
the basic interval reflects that shift back and so corrects the bias to first order
(Davison & Hinkley 1997, §5.2). Its measured coverage of the exact value is in
``bench/epic_interval_coverage.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from benchmark.data import RewardFn
from benchmark.metrics import stats
from benchmark.metrics.canonical import (
    CanonicalInputs,
    CanonicalParts,
    canonical_parts,
    validate_inputs,
)
from benchmark.metrics.inputs import check_not_constant
from benchmark.metrics.resampling import (
    Correction,
    DistanceBatch,
    SampleEpisodes,
    sample_groups,
    two_source_bootstrap,
)

# Re-exported: the metrics import the bootstrap's pieces from here, with the wiring.
__all__ = [
    "PEARSON",
    "Correction",
    "DistanceResult",
    "SampleEpisodes",
    "Statistic",
    "checked_sample_blocks",
    "interval_from_inputs",
    "interval_from_parts",
    "paired_with_ci",
    "sample_episodes_of",
    "sample_groups",
    "transition_episodes",
    "two_source_bootstrap",
]


def sample_episodes_of(sample: Any) -> SampleEpisodes | None:
    """The `SampleEpisodes` of a `benchmark.tasks.CoverageSample` (None when it has none)."""
    if getattr(sample, "action_blocks", None) is None:
        return None
    states = sample.state_blocks
    return SampleEpisodes(
        None if states is None else np.asarray(states.cpu()), np.asarray(sample.action_blocks.cpu())
    )


def checked_sample_blocks(state_blocks: Any, action_blocks: Any, m: int) -> SampleEpisodes | None:
    """``state_blocks`` / ``action_blocks`` (``[M]`` ints, e.g. a CoverageSample's, or
    None) as `SampleEpisodes`; a ValueError names the argument that does not fit."""
    if action_blocks is None and state_blocks is None:
        return None
    out = []
    for name, x in (("state_blocks", state_blocks), ("action_blocks", action_blocks)):
        a = None if x is None else np.asarray(x.cpu() if isinstance(x, torch.Tensor) else x)
        if a is not None and (a.shape != (m,) or not np.issubdtype(a.dtype, np.integer)):
            raise ValueError(
                f"{name} must be [M] = [{m}] integer block ids (a CoverageSample's {name}), "
                f"got shape {a.shape} and dtype {a.dtype}"
            )
        out.append(a)
    if out[1] is None:
        raise ValueError("action_blocks is needed with state_blocks (pass both of the sample's)")
    return SampleEpisodes(out[0], out[1])


def transition_episodes(inputs: CanonicalInputs) -> np.ndarray:
    """`Transitions.bootstrap_blocks` of validated inputs' transitions (episodes, long
    ones cut into blocks)."""
    return inputs.transitions.bootstrap_blocks()


@dataclass(frozen=True)
class DistanceResult:
    """A sampled distance with its 95% interval over both sampling sources (`EpicResult`,
    also returned by STARC's and DARD's ``*_with_ci``)."""

    distance: float
    ci_low: float
    ci_high: float
    n_transitions: int
    n_samples: int
    confidence: float
    num_resamples: int

    @classmethod
    def of(cls, ci: stats.ConfidenceInterval, n_transitions: int, n_samples: int) -> DistanceResult:
        return cls(ci.estimate, ci.low, ci.high, n_transitions, n_samples, ci.confidence,
                   ci.num_resamples)  # fmt: skip


@dataclass(frozen=True)
class Statistic:
    """What a metric computes from two canonicalized rewards (EPIC's Pearson distance,
    STARC's cosine distance of C(R) with its constant)."""

    distance_batch: DistanceBatch
    include_constant: bool = False
    # Whether a reward constant after canonicalization is an error (EPIC: a correlation is
    # undefined) or has a value (STARC: s(R) = c(R) when its norm is 0).
    needs_variation: bool = True
    # (C(R_A) [N], C(R_B) [N], weights or None, term magnitudes [2]) -> the point estimate;
    # None: distance_batch on all samples.
    estimate: Callable[[np.ndarray, np.ndarray, np.ndarray | None, list[float]], float] | None = (
        None
    )


PEARSON = Statistic(stats.pearson_distance_batch)


def interval_from_inputs(
    rewards: Sequence[RewardFn],
    names: Sequence[str],
    inputs: CanonicalInputs,
    *,
    statistic: Statistic = PEARSON,
    num_resamples: int = stats.DEFAULT_NUM_RESAMPLES,
    confidence: float = stats.DEFAULT_CONFIDENCE,
    seed: int = 0,
    interval: str = "basic",
    sample_episodes: SampleEpisodes | None = None,
) -> stats.ConfidenceInterval:
    """A distance (EPIC's by default) of two rewards on validated inputs with the
    two-source interval.

    Episodes are `transition_episodes`; the mean-term samples are grouped by
    `sample_groups`. Raises ValueError (naming the reward) when one is constant after
    canonicalization.
    """
    groups = torch.as_tensor(sample_groups(inputs.state_samples.shape[0]))
    parts = canonical_parts(rewards, names, inputs, groups,
                            include_constant=statistic.include_constant)  # fmt: skip
    for name, c, e, sc in zip(names, parts.canonical, parts.eps, parts.scales, strict=True):
        if statistic.needs_variation:
            check_not_constant(c.cpu().numpy(), inputs.weights, name, eps=e, scale=sc)
    return _interval(parts, inputs, statistic, num_resamples=num_resamples,
                     confidence=confidence, seed=seed, interval=interval,
                     sample_episodes=sample_episodes)  # fmt: skip


def paired_with_ci(
    reward_a: RewardFn,
    reward_b: RewardFn,
    statistic: Statistic,
    *,
    transitions: Any,
    state_samples: Any,
    action_samples: Any,
    discount: float,
    weights: Any,
    num_resamples: int,
    confidence: float,
    seed: int,
    device: torch.device | str | None,
    max_batch: int | None,
    state_blocks: Any = None,
    action_blocks: Any = None,
) -> DistanceResult:
    """A canonical-reward distance of two RewardFns with the two-source interval: the body
    of `epic_distance_with_ci` and `starc_distance_with_ci` (same inputs, same checks:
    `validate_inputs` and `checked_sample_blocks` name the bad argument)."""
    rewards = [reward_a, reward_b]
    inputs = validate_inputs(
        rewards, transitions, state_samples, action_samples, discount, weights, max_batch, device
    )
    blocks = checked_sample_blocks(state_blocks, action_blocks, inputs.state_samples.shape[0])
    ci = interval_from_inputs(rewards, ["reward_a", "reward_b"], inputs, statistic=statistic,
                              num_resamples=num_resamples, confidence=confidence, seed=seed,
                              sample_episodes=blocks)  # fmt: skip
    return DistanceResult.of(ci, len(inputs.transitions), inputs.state_samples.shape[0])


def interval_from_parts(
    reward: RewardFn,
    truth: CanonicalParts,
    inputs: CanonicalInputs,
    *,
    statistic: Statistic = PEARSON,
    num_resamples: int = stats.DEFAULT_NUM_RESAMPLES,
    confidence: float = stats.DEFAULT_CONFIDENCE,
    seed: int = 0,
    sample_episodes: SampleEpisodes | None = None,
) -> stats.ConfidenceInterval:
    """`interval_from_inputs` with the second reward's pieces already computed (the runner
    reuses the ground truth's across submissions); same numbers as computing both."""
    groups = torch.as_tensor(sample_groups(inputs.state_samples.shape[0]))
    mine = canonical_parts([reward], ["the submission"], inputs, groups,
                           include_constant=statistic.include_constant)  # fmt: skip
    if (truth.at_samples is None) == statistic.include_constant:
        raise ValueError("the ground truth's pieces disagree with the statistic's constant term")
    for parts, name in ((mine, "the submission"), (truth, "the ground truth")):
        if statistic.needs_variation:
            check_not_constant(parts.canonical[0].cpu().numpy(), inputs.weights, name,
                               eps=parts.eps[0], scale=parts.scales[0])  # fmt: skip
    both = mine.joined(truth)
    return _interval(both, inputs, statistic, num_resamples=num_resamples,
                     confidence=confidence, seed=seed, sample_episodes=sample_episodes)  # fmt: skip


def _interval(
    parts: CanonicalParts, inputs: CanonicalInputs, statistic: Statistic, **kwargs: Any
) -> stats.ConfidenceInterval:
    """`two_source_bootstrap` of two rewards' canonicalization pieces."""
    estimate = None
    if statistic.estimate is not None:
        ca, cb = (c.cpu().numpy() for c in parts.canonical)
        estimate = statistic.estimate(ca, cb, inputs.weights, parts.scales)
    at_samples = None if parts.at_samples is None else parts.at_samples.cpu().numpy()
    return two_source_bootstrap(
        parts.raw.cpu().numpy(),
        parts.group_sums.cpu().numpy(),
        parts.group_sizes.cpu().numpy(),
        parts.at_s.cpu().numpy(),
        parts.at_next.cpu().numpy(),
        inputs.discount,
        episodes=transition_episodes(inputs),
        weights=inputs.weights,
        distance_batch=statistic.distance_batch,
        constant_at=at_samples,
        estimate=estimate,
        **kwargs,
    )
