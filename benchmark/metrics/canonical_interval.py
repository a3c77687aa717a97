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

DEFAULT_MAX_GROUPS = 256
INTERVALS = ("basic", "percentile")
DistanceBatch = Callable[[np.ndarray, np.ndarray, np.ndarray | None], np.ndarray]


def sample_groups(n_samples: int, max_groups: int = DEFAULT_MAX_GROUPS) -> np.ndarray:
    """``[M]`` group index of each mean-term sample: G = min(M, max_groups) consecutive groups."""
    n_groups = min(n_samples, max_groups)
    return (np.arange(n_samples) * n_groups) // n_samples


def group_means(sums: np.ndarray, sizes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Resampled means from per-group sums: ``[k, U, G]``, ``[G]``, counts ``[b, G]`` ->
    ``[b, k, U]`` with m*(x) = Σ_g c_g S_g(x) / Σ_g c_g n_g."""
    k, u, g = sums.shape
    # [k·U, G] @ [G, b] by BLAS (an einsum here was half the unit's time).
    total = (sums.reshape(-1, g) @ counts.T.astype(np.float64)).T.reshape(-1, k, u)
    return total / (counts @ sizes)[:, None, None]


@dataclass(frozen=True)
class Correction:
    """A mean term subtracted (times γ) besides m(s') and m(s): DARD's n(s, s').

    sums: ``[k, P, G]`` per-group sums for P distinct points; at: ``[N]`` point of each
    transition.
    """

    sums: np.ndarray
    at: np.ndarray


@dataclass(frozen=True)
class SampleEpisodes:
    """The rollout block each mean-term sample came from (`CoverageSample.state_blocks`).

    states: ``[M]`` block of each state sample s_j, or None (DARD draws no states);
    actions: ``[M]`` block of each action sample a_j. Both index one rollout's blocks
    (its episodes, long ones cut: `benchmark.data.Transitions.bootstrap_blocks`).
    """

    states: np.ndarray | None
    actions: np.ndarray


def two_source_bootstrap(
    raw: np.ndarray,
    group_sums: np.ndarray,
    group_sizes: np.ndarray,
    at_s: np.ndarray,
    at_next: np.ndarray,
    discount: float,
    *,
    episodes: np.ndarray | None = None,
    sample_episodes: SampleEpisodes | None = None,
    weights: np.ndarray | None = None,
    distance_batch: DistanceBatch = stats.pearson_distance_batch,
    correction: Correction | None = None,
    constant_at: np.ndarray | None = None,
    estimate: float | None = None,
    num_resamples: int = stats.DEFAULT_NUM_RESAMPLES,
    confidence: float = stats.DEFAULT_CONFIDENCE,
    seed: int = 0,
    interval: str = "basic",
    max_elements: int = 2**24,
) -> stats.ConfidenceInterval:
    """A distance of two canonicalized rewards with a basic-bootstrap interval over
    transitions' episodes and mean-term samples (module docstring).

    Args:
        raw: ``[2, N]`` R_A and R_B at the N transitions.
        group_sums: ``[2, U, G]`` Σ_{j in group g} of the mean term's summand at each
            distinct state x_u (EPIC: R(x_u, a_j, s_j)).
        group_sizes: ``[G]`` samples per group (they sum to M).
        at_s, at_next: ``[N]`` index in U of each transition's s and s'.
        discount: γ.
        episodes: ``[N]`` episode index of each transition (`Transitions.episode_ids`),
            or None (rows are independent).
        sample_episodes: the episodes the mean-term samples came from, or None
            (independent samples). Used when G = M (`resample` says how).
        weights: ``[N]`` importance weights of the transitions under D_T, or None.
        distance_batch: the statistic of the canonical rewards, ``(x [B, N], y [B, N],
            w [B, N]) -> [B]``: Pearson distance (EPIC, DARD) or cosine distance (STARC).
        correction: DARD's n(s, s') (`Correction`), or None.
        constant_at: ``[M]`` index in U of each state sample, whose mean of m is STARC's
            constant c (groups must then be `sample_groups` of M); None: no constant.
        estimate: the point estimate, when the metric's own rule gives it (STARC's
            zero-norm rule); default the distance on all samples.
        num_resamples, confidence, seed: bootstrap replicates, interval mass, RNG seed.
        interval: "basic" (the default, module docstring) or "percentile".
        max_elements: bound on ``replicates_per_block × N`` (memory).

    Returns:
        ConfidenceInterval(estimate, low, high), clipped to [0, 1].
    """
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}, got {interval!r}")
    raw = np.asarray(raw, dtype=np.float64)
    sums = np.asarray(group_sums, dtype=np.float64)
    sizes = np.asarray(group_sizes, dtype=np.float64)
    n = raw.shape[1]
    if raw.shape[0] != 2 or sums.shape[0] != 2 or sums.shape[2] != sizes.shape[0]:
        raise ValueError(
            f"raw must be [2, N], group_sums [2, U, G] and group_sizes [G]; got {raw.shape}, "
            f"{sums.shape} and {sizes.shape}"
        )
    w = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, dtype=np.float64)
    n_groups = sizes.shape[0]
    constant_groups = None
    if constant_at is not None:
        constant_groups = sample_groups(len(constant_at), n_groups)

    def distance(pair_w: np.ndarray, state_w: np.ndarray, row_w: np.ndarray) -> np.ndarray:
        """group weights ``[B, G]`` (pairs; states for the constant), rows ``[B, N]`` -> ``[B]``."""
        mean = group_means(sums, sizes, pair_w)
        canon = raw[None] + discount * mean[:, :, at_next] - mean[:, :, at_s]
        if correction is not None:
            canon -= discount * group_means(correction.sums, sizes, pair_w)[:, :, correction.at]
        if constant_at is not None:
            c = state_w[:, constant_groups].astype(np.float64)  # [B, M]
            const = np.einsum("bkm,bm->bk", mean[:, :, constant_at], c) / c.sum(1)[:, None]
            canon -= discount * const[:, :, None]
        return distance_batch(canon[:, 0], canon[:, 1], row_w)

    if estimate is None:
        ones = np.ones((1, n_groups))
        estimate = float(distance(ones, ones, w[None])[0])
    width = max(n * 2, sums[0].size, 0 if correction is None else correction.sums[0].size)
    block = max(1, min(num_resamples, max_elements // width))
    if sample_episodes is not None and n_groups != len(sample_episodes.actions):
        sample_episodes = None  # groups of several samples: resampled as independent groups
    reps = resample(
        distance, n_groups, episodes if episodes is not None else np.arange(n), w,
        sample_episodes=sample_episodes, num_resamples=num_resamples, seed=seed, block=block,
    )  # fmt: skip
    return bootstrap_interval(estimate, reps, confidence, interval)


def resample(
    distance: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    n_groups: int,
    episodes: np.ndarray,
    weights: np.ndarray,
    *,
    sample_episodes: SampleEpisodes | None = None,
    num_resamples: int,
    seed: int,
    block: int,
) -> np.ndarray:
    """``[num_resamples]`` replicates of ``distance(pair weights [b, G], state weights
    [b, G], row weights [b, N])``.

    Transitions: episodes drawn with replacement; a row's weight is its episode's count
    times its importance weight. Mean-term samples: without ``sample_episodes`` groups
    drawn with replacement (multinomial counts). With them, the rollout the samples were
    shuffled from is resampled by episode (counts W_e), and sample j, whose state came
    from episode e_s(j) and action from e_a(j), weighs W_{e_s(j)} · W_{e_a(j)}: the
    expected weight of the pair (s_j, a_j) when the resampled rollout is shuffled again
    (the product-weight bootstrap for crossed factors, Owen & Eckles 2012, "Bootstrapping
    data arrays of arbitrary order", Ann. Appl. Stat. 6(3)). States alone (STARC's
    constant) weigh W_{e_s(j)}.
    """
    _, ep = np.unique(np.asarray(episodes, dtype=np.int64), return_inverse=True)
    n_ep = int(ep.max()) + 1
    clusters = None
    if sample_episodes is not None:
        ids = [x for x in (sample_episodes.states, sample_episodes.actions) if x is not None]
        _, flat = np.unique(np.concatenate(ids).astype(np.int64), return_inverse=True)
        clusters = np.split(flat, len(ids))
        n_clusters = int(flat.max()) + 1
    rng = np.random.default_rng(seed)
    replicates = []
    for start in range(0, num_resamples, block):
        b = min(block, num_resamples - start)
        if clusters is None:
            pair_w = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=b)
            state_w = pair_w
        else:
            counts = rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=b)
            per_id = [counts[:, c].astype(np.float64) for c in clusters]
            pair_w = np.prod(per_id, axis=0)
            state_w = per_id[0]
        ep_counts = rng.multinomial(n_ep, np.full(n_ep, 1.0 / n_ep), size=b)
        replicates.append(distance(pair_w, state_w, ep_counts[:, ep] * weights[None]))
    return np.concatenate(replicates)


def bootstrap_interval(
    estimate: float, replicates: np.ndarray, confidence: float, interval: str = "basic"
) -> stats.ConfidenceInterval:
    """The basic (default) or percentile interval of ``[B]`` replicates, clipped to [0, 1]."""
    q_low, q_high = stats.percentile_interval(replicates, confidence)
    b = len(replicates)
    if interval == "percentile":
        return stats.ConfidenceInterval(estimate, q_low, q_high, confidence, b)
    low = float(np.clip(2 * estimate - q_high, 0.0, 1.0))
    high = float(np.clip(2 * estimate - q_low, 0.0, 1.0))
    return stats.ConfidenceInterval(estimate, low, high, confidence, b)


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
    if not (torch.equal(mine.at_s, truth.at_s) and torch.equal(mine.at_next, truth.at_next)):
        raise ValueError("the ground truth's pieces were computed on other transitions")
    if (truth.at_samples is None) == statistic.include_constant:
        raise ValueError("the ground truth's pieces disagree with the statistic's constant term")
    for parts, name in ((mine, "the submission"), (truth, "the ground truth")):
        if statistic.needs_variation:
            check_not_constant(parts.canonical[0].cpu().numpy(), inputs.weights, name,
                               eps=parts.eps[0], scale=parts.scales[0])  # fmt: skip
    both = CanonicalParts(
        mine.canonical + truth.canonical,
        mine.eps + truth.eps,
        mine.scales + truth.scales,
        torch.cat([mine.raw, truth.raw]),
        torch.cat([mine.group_sums, truth.group_sums]),
        mine.group_sizes,
        mine.at_s,
        mine.at_next,
        mine.at_samples,
    )
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
