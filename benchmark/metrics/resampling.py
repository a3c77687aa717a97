"""The two-source bootstrap on arrays: the resampling behind `canonical_interval`.

Each replicate draws the transitions' blocks (episodes) with replacement and the
mean-term samples with replacement (by rollout block when known, with product weights),
re-estimates every mean term from per-group sums, and recomputes a distance of the two
canonicalized rewards; `benchmark.metrics.canonical_interval` says why each source is
resampled and why the interval is the basic bootstrap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmark.metrics import stats

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
