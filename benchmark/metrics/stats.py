"""Small pure statistics for the leaderboard: Pearson distance, bootstrap CIs, IQM.

Style follows rliable (Agarwal et al., NeurIPS 2021, ``rliable/metrics.py``): every
statistic is a function of arrays whose shapes are documented, with no hidden state.
Everything is computed in float64 numpy; callers convert tensors first.

Two kinds of uncertainty are reported:

* within one evaluation unit, a percentile bootstrap over transitions
  (`bootstrap_pearson_distance`): resample rows of the paired canonicalized rewards
  and recompute the Pearson distance;
* across seeds (and tasks), rliable's stratified bootstrap (`aggregate_seeds`):
  scores ``[num_runs, num_tasks]``, runs resampled with replacement within each task,
  the aggregate (mean, interquartile mean) recomputed on each resample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

DEFAULT_NUM_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class ConfidenceInterval:
    """A point estimate with a percentile-bootstrap interval ``[low, high]``."""

    estimate: float
    low: float
    high: float
    confidence: float = DEFAULT_CONFIDENCE
    num_resamples: int = DEFAULT_NUM_RESAMPLES


def pearson_distance_batch(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Weighted Pearson distance ``sqrt((1 - rho) / 2)`` along the last axis.

    Args:
        x, y: ``[..., N]`` paired samples (e.g. ``[num_resamples, N]``).
        weights: ``[..., N]`` non-negative weights (broadcastable), or None for equal weights.

    Returns:
        ``[...]`` distances in [0, 1]; NaN where x or y has zero (weighted) variance,
        since the correlation is undefined there. Callers that need a clear error
        check for NaN themselves.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if weights is None:
        w = np.full(x.shape[-1], 1.0 / x.shape[-1])
    else:
        w = np.asarray(weights, dtype=np.float64)
        w = w / w.sum(axis=-1, keepdims=True)
    xc = x - (w * x).sum(axis=-1, keepdims=True)
    yc = y - (w * y).sum(axis=-1, keepdims=True)
    var_x = (w * xc * xc).sum(axis=-1)
    var_y = (w * yc * yc).sum(axis=-1)
    cov = (w * xc * yc).sum(axis=-1)
    # Relative tolerance: a vector whose spread is at float64 rounding level of its
    # magnitude is constant for our purposes (its "correlation" would be noise).
    scale_x = np.abs(x).max(axis=-1) ** 2
    scale_y = np.abs(y).max(axis=-1) ** 2
    degenerate = (
        (var_x <= 1e-24 * scale_x) | (var_y <= 1e-24 * scale_y) | (var_x <= 0) | (var_y <= 0)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = cov / np.sqrt(var_x * var_y)
    rho = np.clip(rho, -1.0, 1.0)
    dist = np.sqrt((1.0 - rho) / 2.0)
    return np.where(degenerate, np.nan, dist)


def percentile_interval(
    resampled: np.ndarray, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates ``[num_resamples]`` (NaNs ignored)."""
    _check_confidence(confidence)
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.nanpercentile(resampled, [tail, 100.0 - tail])
    return float(low), float(high)


def cosine_distance_batch(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Weighted *uncentered* correlation distance ``sqrt((1 - cos) / 2)`` along the last axis.

    Why: it equals ``0.5 * ||x/||x|| - y/||y|| ||`` under the weighted L2 norm, the STARC
    distance of canonical rewards (Skalse et al. 2024, L2 norm and metric).

    Args:
        x, y: ``[..., N]`` paired samples. weights: ``[..., N]`` or None (equal weights).

    Returns:
        ``[...]`` distances in [0, 1]; NaN where x or y has zero norm.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if weights is None:
        w = np.full(x.shape[-1], 1.0 / x.shape[-1])
    else:
        w = np.asarray(weights, dtype=np.float64)
        w = w / w.sum(axis=-1, keepdims=True)
    xx = (w * x * x).sum(axis=-1)
    yy = (w * y * y).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = (w * x * y).sum(axis=-1) / np.sqrt(xx * yy)
    dist = np.sqrt((1.0 - np.clip(cos, -1.0, 1.0)) / 2.0)
    return np.where((xx > 0) & (yy > 0), dist, np.nan)


def bootstrap_pearson_distance(
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    num_resamples: int = DEFAULT_NUM_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
    max_elements: int = 2**22,
) -> ConfidenceInterval:
    """Pearson distance of paired samples with a bootstrap CI over rows.

    Why: EPIC's sampling error over transitions is what the leaderboard's per-unit
    interval shows. Rows (transition i: ``x[i], y[i], weights[i]``) are resampled
    with replacement ``num_resamples`` times and the distance recomputed.

    Args:
        x, y: ``[N]`` paired values, e.g. canonicalized rewards C(R_A), C(R_B).
        weights: optional ``[N]`` importance weights, resampled with their rows.
        num_resamples: bootstrap replicates.
        confidence: interval mass, e.g. 0.95.
        seed: seed of the resampling generator (same seed, same interval).
        max_elements: bound on ``resamples_per_block * N`` to keep memory bounded.

    Returns:
        ConfidenceInterval with the full-sample estimate and the percentile interval.
    """
    return bootstrap_paired_distance(
        x,
        y,
        weights,
        pearson_distance_batch,
        num_resamples=num_resamples,
        confidence=confidence,
        seed=seed,
        max_elements=max_elements,
    )


def bootstrap_paired_distance(
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None,
    distance_batch: Callable[[np.ndarray, np.ndarray, np.ndarray | None], np.ndarray],
    *,
    num_resamples: int = DEFAULT_NUM_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
    max_elements: int = 2**22,
) -> ConfidenceInterval:
    """A distance of paired ``[N]`` samples with a percentile-bootstrap CI over rows.

    ``distance_batch(x [B, N], y [B, N], weights [B, N] | None) -> [B]`` is the
    statistic (`pearson_distance_batch` for EPIC and DARD, `cosine_distance_batch` for
    STARC); other arguments as `bootstrap_pearson_distance`.
    """
    x = _as_1d(x, "x")
    y = _as_1d(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    w = None if weights is None else _as_1d(weights, "weights")
    if w is not None and (w.shape != x.shape or np.any(w < 0) or w.sum() <= 0):
        raise ValueError(
            f"weights must be non-negative with shape {x.shape} and a positive sum, got shape {w.shape}"
        )
    if num_resamples < 1:
        raise ValueError(f"num_resamples must be >= 1, got {num_resamples}")
    _check_confidence(confidence)
    estimate = float(distance_batch(x, y, w))
    n = x.shape[0]
    rng = np.random.default_rng(seed)
    block = max(1, max_elements // n)
    replicates = np.empty(num_resamples)
    for start in range(0, num_resamples, block):
        stop = min(num_resamples, start + block)
        idx = rng.integers(0, n, size=(stop - start, n))
        replicates[start:stop] = distance_batch(x[idx], y[idx], None if w is None else w[idx])
    low, high = percentile_interval(replicates, confidence)
    return ConfidenceInterval(estimate, low, high, confidence, num_resamples)


def mean_score(scores: np.ndarray) -> np.ndarray:
    """Mean over runs and tasks.

    Args:
        scores: ``[..., num_runs, num_tasks]``; leading axes are batched (resamples).

    Returns:
        ``[...]`` the mean of each score matrix.
    """
    scores = np.asarray(scores, dtype=np.float64)
    return scores.reshape(*scores.shape[:-2], -1).mean(axis=-1)


def interquartile_mean(scores: np.ndarray) -> np.ndarray:
    """Interquartile mean (IQM) over runs and tasks, as rliable's ``aggregate_iqm``.

    The middle 50% of the pooled ``num_runs * num_tasks`` scores are averaged:
    ``int(0.25 * n)`` scores are cut from each end, exactly as
    ``scipy.stats.trim_mean(scores, 0.25, axis=None)``.

    Args:
        scores: ``[..., num_runs, num_tasks]``; leading axes are batched (resamples).

    Returns:
        ``[...]`` the IQM of each score matrix.
    """
    scores = np.asarray(scores, dtype=np.float64)
    flat = np.sort(scores.reshape(*scores.shape[:-2], -1), axis=-1)
    n = flat.shape[-1]
    cut = int(0.25 * n)
    return flat[..., cut : n - cut].mean(axis=-1)


AGGREGATES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "mean": mean_score,
    "iqm": interquartile_mean,
}


def stratified_bootstrap_ci(
    scores: np.ndarray,
    aggregate: Callable[[np.ndarray], np.ndarray],
    *,
    num_resamples: int = DEFAULT_NUM_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> ConfidenceInterval:
    """Stratified bootstrap CI of an aggregate of a score matrix (rliable).

    Args:
        scores: ``[num_runs, num_tasks]``, ``scores[n, m]`` the score of run (seed) n
            on task m. Each task (column) is a stratum: its runs are resampled with
            replacement independently of the other tasks.
        aggregate: maps ``[B, num_runs, num_tasks]`` to ``[B]`` (e.g. `mean_score`).
        num_resamples, confidence, seed: as in `bootstrap_pearson_distance`.

    Returns:
        ConfidenceInterval: aggregate of ``scores`` and its percentile interval.
    """
    scores = _as_score_matrix(scores)
    if num_resamples < 1:
        raise ValueError(f"num_resamples must be >= 1, got {num_resamples}")
    _check_confidence(confidence)
    num_runs, num_tasks = scores.shape
    estimate = float(aggregate(scores[None])[0])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, num_runs, size=(num_resamples, num_runs, num_tasks))
    resampled = np.take_along_axis(
        np.broadcast_to(scores, (num_resamples, num_runs, num_tasks)), idx, axis=1
    )
    low, high = percentile_interval(aggregate(resampled), confidence)
    return ConfidenceInterval(estimate, low, high, confidence, num_resamples)


def aggregate_seeds(
    scores: np.ndarray,
    *,
    num_resamples: int = DEFAULT_NUM_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> dict[str, ConfidenceInterval]:
    """Mean and IQM across seeds with stratified-bootstrap CIs.

    Args:
        scores: ``[num_runs, num_tasks]`` (a 1-D ``[num_runs]`` array is one task),
            e.g. EPIC distances of one submission for each seed and task.

    Returns:
        ``{"mean": ConfidenceInterval, "iqm": ConfidenceInterval}``.
    """
    return {
        name: stratified_bootstrap_ci(
            scores, fn, num_resamples=num_resamples, confidence=confidence, seed=seed
        )
        for name, fn in AGGREGATES.items()
    }


def normalized_return_ci(
    policy_returns: np.ndarray,
    *,
    random_mean: float,
    random_std: float,
    reference_mean: float,
    reference_std: float,
    n_reference_runs: int,
    num_resamples: int = DEFAULT_NUM_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> ConfidenceInterval:
    """Mean normalized transfer score over seeds with an interval that includes the reference's noise.

    The score of seed i is (R_i − Q̄) / (Ḡ − Q̄), with Ḡ and Q̄ the means of K
    ground-truth-trained and K random runs; so the mean score is (R̄ − Q̄) / (Ḡ − Q̄).
    Each bootstrap replicate resamples the seeds' returns R_i with replacement and draws
    Ḡ* ~ N(Ḡ, s_G²/K) and Q̄* ~ N(Q̄, s_Q²/K): the sampling distribution of a mean of K
    runs (central limit theorem) from its stored mean and sample std, since the runs
    themselves are not stored with each row. Replicates where Ḡ* ≤ Q̄* are undefined
    (NaN) and ignored by the percentile.

    Args:
        policy_returns: ``[num_seeds]`` mean ground-truth returns of the submission's
            policies, one per training seed; fewer than 2 gives a NaN interval (one seed
            says nothing about seed-to-seed spread).
        random_mean, random_std, reference_mean, reference_std: the reference's means
            and sample standard deviations (std 0: exact, e.g. tabular tasks).
        n_reference_runs: K, the number of runs behind each mean.

    Returns:
        ConfidenceInterval(estimate = mean score, low, high).
    """
    _check_confidence(confidence)
    r = np.asarray(policy_returns, dtype=np.float64).reshape(-1)
    if r.size == 0 or not np.all(np.isfinite(r)):
        raise ValueError(f"policy_returns must be finite with shape [num_seeds], got {r}")
    if n_reference_runs < 1:
        raise ValueError(f"n_reference_runs must be >= 1, got {n_reference_runs}")
    gap = reference_mean - random_mean
    estimate = float((r.mean() - random_mean) / gap) if gap > 0 else float("nan")
    if r.size < 2 or not np.isfinite(estimate):
        return ConfidenceInterval(estimate, float("nan"), float("nan"), confidence, num_resamples)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, r.size, size=(num_resamples, r.size))
    r_star = r[idx].mean(axis=1)
    k = float(n_reference_runs)
    g_star = reference_mean + rng.standard_normal(num_resamples) * reference_std / np.sqrt(k)
    q_star = random_mean + rng.standard_normal(num_resamples) * random_std / np.sqrt(k)
    gap_star = g_star - q_star
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(gap_star > 0, (r_star - q_star) / gap_star, np.nan)
    low, high = percentile_interval(scores, confidence)
    return ConfidenceInterval(estimate, low, high, confidence, num_resamples)


# `bootstrap_ci` is the name the architecture contract uses for the per-unit interval.
bootstrap_ci = bootstrap_pearson_distance


def _as_1d(x: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1 or arr.shape[0] < 2:
        raise ValueError(f"{name} must have shape [N] with N >= 2, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains {int((~np.isfinite(arr)).sum())} non-finite values")
    return arr


def _as_score_matrix(scores: np.ndarray) -> np.ndarray:
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(
            f"scores must have shape [num_runs, num_tasks] (or [num_runs]), got {np.shape(scores)}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"scores contains {int((~np.isfinite(arr)).sum())} non-finite values")
    return arr


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95, got {confidence}")
