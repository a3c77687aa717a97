"""A 95% interval for sample-based EPIC that accounts for both of its sampling sources.

The estimator (`benchmark.metrics.epic`) draws N transitions from D_T *and* M pairs
(s_j, a_j) from D_S × D_A for the mean terms m(x) = E_{A,S'} R(x, A, S'). Both vary
from one coverage draw to the next; a bootstrap over transitions alone holds m fixed
and misses the second source (on the gridworld at N = 1024, M = 256 its interval was a
third of the draw-to-draw spread, and missed the exact value in most draws).

Here each bootstrap replicate resamples, with replacement and independently,

* the transitions' episodes (whole episodes, since consecutive transitions of one
  rollout are dependent; rows are their own "episode" when no episode ids are given);
* the M mean-term samples, in G groups of consecutive samples (the samples are
  exchangeable, so groups are random; G = M when memory allows), re-estimating
  m*(x) = Σ_g c_g S_g(x) / Σ_g c_g n_g from the per-group sums S_g(x);

and recomputes D_ρ(C*(R_A), C*(R_B)) with C*(R) = R + γ m*(s') − m*(s). The constant
term is dropped, as in the point estimate (it cannot change a correlation).

Interval: the *basic* (reverse-percentile) bootstrap, [2θ̂ − q_{1−α/2}, 2θ̂ − q_{α/2}].
Why not the percentile interval: noise in m̂ attenuates the correlation, so θ̂ is
biased upwards, and in the bootstrap world the resampled m* adds the same noise again;
the basic interval reflects that shift back and so corrects the bias to first order
(Davison & Hinkley 1997, §5.2). Its measured coverage of the exact value is in
``bench/epic_interval_coverage.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from benchmark.data import RewardFn
from benchmark.metrics import stats
from benchmark.metrics.canonical import CanonicalInputs, CanonicalParts, canonical_parts
from benchmark.metrics.inputs import check_not_constant

DEFAULT_MAX_GROUPS = 256
INTERVALS = ("basic", "percentile")


def episode_ids(dones: np.ndarray) -> np.ndarray:
    """``[N]`` 0/1 episode ends -> ``[N]`` int episode index (a new one after each end)."""
    d = np.asarray(dones).astype(bool)
    return np.concatenate([[0], np.cumsum(d[:-1])]).astype(np.int64)


def two_source_bootstrap(
    raw: np.ndarray,
    group_sums: np.ndarray,
    group_sizes: np.ndarray,
    at_s: np.ndarray,
    at_next: np.ndarray,
    discount: float,
    *,
    episodes: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    num_resamples: int = stats.DEFAULT_NUM_RESAMPLES,
    confidence: float = stats.DEFAULT_CONFIDENCE,
    seed: int = 0,
    interval: str = "basic",
    max_elements: int = 2**24,
) -> stats.ConfidenceInterval:
    """EPIC with a basic-bootstrap interval over transitions' episodes and mean-term samples.

    Args:
        raw: ``[2, N]`` R_A and R_B at the N transitions.
        group_sums: ``[2, U, G]`` Σ_{j in group g} R(x_u, a_j, s_j) for each distinct
            state x_u and sample group g.
        group_sizes: ``[G]`` samples per group (they sum to M).
        at_s, at_next: ``[N]`` index in U of each transition's s and s'.
        discount: γ.
        episodes: ``[N]`` episode index of each transition (`episode_ids`), or None.
        weights: ``[N]`` importance weights of the transitions under D_T, or None.
        num_resamples, confidence, seed: bootstrap replicates, interval mass, RNG seed.
        interval: "basic" (the default, module docstring) or "percentile".
        max_elements: bound on ``replicates_per_block × N`` (memory).

    Returns:
        ConfidenceInterval(estimate, low, high) of D_EPIC, clipped to [0, 1].
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
    ep = np.arange(n) if episodes is None else np.asarray(episodes, dtype=np.int64)
    _, ep = np.unique(ep, return_inverse=True)
    n_ep, n_groups = int(ep.max()) + 1, sizes.shape[0]

    def distance(mean: np.ndarray, row_weights: np.ndarray) -> np.ndarray:
        """mean ``[B, 2, U]``, row_weights ``[B, N]`` -> ``[B]`` distances."""
        canon = raw[None] + discount * mean[:, :, at_next] - mean[:, :, at_s]
        return stats.pearson_distance_batch(canon[:, 0], canon[:, 1], row_weights)

    estimate = float(distance((sums.sum(-1) / sizes.sum())[None], w[None])[0])
    rng = np.random.default_rng(seed)
    block = max(1, min(num_resamples, max_elements // max(n * 2, sums[0].size)))
    replicates = []
    for start in range(0, num_resamples, block):
        b = min(block, num_resamples - start)
        group_counts = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=b)
        # [2·U, G] @ [G, b] by BLAS (an einsum here was half the unit's time).
        mean = (sums.reshape(-1, n_groups) @ group_counts.T.astype(np.float64)).T
        mean = mean.reshape(b, 2, -1) / (group_counts @ sizes)[:, None, None]
        ep_counts = rng.multinomial(n_ep, np.full(n_ep, 1.0 / n_ep), size=b)
        replicates.append(distance(mean, ep_counts[:, ep] * w[None]))
    reps = np.concatenate(replicates)
    q_low, q_high = stats.percentile_interval(reps, confidence)
    if interval == "percentile":
        return stats.ConfidenceInterval(estimate, q_low, q_high, confidence, num_resamples)
    low = float(np.clip(2 * estimate - q_high, 0.0, 1.0))
    high = float(np.clip(2 * estimate - q_low, 0.0, 1.0))
    return stats.ConfidenceInterval(estimate, low, high, confidence, num_resamples)


def sample_groups(n_samples: int, max_groups: int = DEFAULT_MAX_GROUPS) -> np.ndarray:
    """``[M]`` group index of each mean-term sample: G = min(M, max_groups) consecutive groups."""
    n_groups = min(n_samples, max_groups)
    return (np.arange(n_samples) * n_groups) // n_samples


def interval_from_inputs(
    rewards: Sequence[RewardFn],
    names: Sequence[str],
    inputs: CanonicalInputs,
    *,
    num_resamples: int = stats.DEFAULT_NUM_RESAMPLES,
    confidence: float = stats.DEFAULT_CONFIDENCE,
    seed: int = 0,
    interval: str = "basic",
) -> stats.ConfidenceInterval:
    """EPIC of two rewards on validated inputs with the two-source interval.

    Episodes are the transitions' runs between ``dones``; the mean-term samples are
    grouped by `sample_groups`. Raises ValueError (naming the reward) when one is
    constant after canonicalization.
    """
    groups = torch.as_tensor(sample_groups(inputs.state_samples.shape[0]))
    parts = canonical_parts(rewards, names, inputs, groups)
    for name, c, e, sc in zip(names, parts.canonical, parts.eps, parts.scales, strict=True):
        check_not_constant(c.cpu().numpy(), inputs.weights, name, eps=e, scale=sc)
    return two_source_bootstrap(
        parts.raw.cpu().numpy(),
        parts.group_sums.cpu().numpy(),
        parts.group_sizes.cpu().numpy(),
        parts.at_s.cpu().numpy(),
        parts.at_next.cpu().numpy(),
        inputs.discount,
        episodes=episode_ids(inputs.transitions.dones.cpu().numpy()),
        weights=inputs.weights,
        num_resamples=num_resamples,
        confidence=confidence,
        seed=seed,
        interval=interval,
    )


def interval_from_parts(
    reward: RewardFn,
    truth: CanonicalParts,
    inputs: CanonicalInputs,
    *,
    num_resamples: int = stats.DEFAULT_NUM_RESAMPLES,
    confidence: float = stats.DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> stats.ConfidenceInterval:
    """`interval_from_inputs` with the second reward's pieces already computed (the runner
    reuses the ground truth's across submissions); same numbers as computing both."""
    groups = torch.as_tensor(sample_groups(inputs.state_samples.shape[0]))
    mine = canonical_parts([reward], ["the submission"], inputs, groups)
    if not (torch.equal(mine.at_s, truth.at_s) and torch.equal(mine.at_next, truth.at_next)):
        raise ValueError("the ground truth's pieces were computed on other transitions")
    for parts, name in ((mine, "the submission"), (truth, "the ground truth")):
        check_not_constant(parts.canonical[0].cpu().numpy(), inputs.weights, name,
                           eps=parts.eps[0], scale=parts.scales[0])  # fmt: skip
    return two_source_bootstrap(
        torch.cat([mine.raw, truth.raw]).cpu().numpy(),
        torch.cat([mine.group_sums, truth.group_sums]).cpu().numpy(),
        mine.group_sizes.cpu().numpy(),
        mine.at_s.cpu().numpy(),
        mine.at_next.cpu().numpy(),
        inputs.discount,
        episodes=episode_ids(inputs.transitions.dones.cpu().numpy()),
        weights=inputs.weights,
        num_resamples=num_resamples,
        confidence=confidence,
        seed=seed,
    )
