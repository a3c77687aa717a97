"""Statistics: Pearson distance, bootstrap intervals, mean/IQM with stratified bootstrap."""

import warnings

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.metrics import stats
from benchmark.metrics.stats import (
    aggregate_seeds,
    bootstrap_pearson_distance,
    interquartile_mean,
    mean_score,
    pearson_distance_batch,
    stratified_bootstrap_ci,
)


def correlated(n: int, rho: float, seed: int):
    g = np.random.default_rng(seed)
    x = g.normal(size=n)
    y = rho * x + np.sqrt(1 - rho**2) * g.normal(size=n)
    return x, y


def test_pearson_distance_matches_numpy_correlation():
    g = np.random.default_rng(0)
    x, y = g.normal(size=(2, 7, 50))
    rho = np.array([np.corrcoef(a, b)[0, 1] for a, b in zip(x, y, strict=True)])
    np.testing.assert_allclose(pearson_distance_batch(x, y), np.sqrt((1 - rho) / 2), atol=1e-12)


def test_integer_weights_equal_repeated_rows():
    g = np.random.default_rng(1)
    x, y = g.normal(size=(2, 20))
    counts = g.integers(0, 4, size=20)
    weighted = pearson_distance_batch(x, y, counts.astype(float))
    repeated = pearson_distance_batch(np.repeat(x, counts), np.repeat(y, counts))
    assert weighted == pytest.approx(repeated, abs=1e-12)


def test_zero_variance_gives_nan_in_the_batched_form():
    out = pearson_distance_batch(
        np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]]), np.arange(6.0).reshape(2, 3)
    )
    assert np.isnan(out[0]) and out[1] == pytest.approx(0.0, abs=1e-7)


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    x, y = correlated(300, 0.6, seed=0)
    a = bootstrap_pearson_distance(x, y, seed=4, num_resamples=500)
    b = bootstrap_pearson_distance(x, y, seed=4, num_resamples=500)
    c = bootstrap_pearson_distance(x, y, seed=5, num_resamples=500)
    assert a == b
    assert a != c
    assert a.low < a.estimate < a.high
    assert a.estimate == pytest.approx(float(pearson_distance_batch(x, y)))


def test_bootstrap_interval_shrinks_like_one_over_root_n():
    small = bootstrap_pearson_distance(*correlated(200, 0.5, seed=1), num_resamples=400)
    large = bootstrap_pearson_distance(*correlated(12800, 0.5, seed=1), num_resamples=400)
    ratio = (small.high - small.low) / (large.high - large.low)
    assert 5 < ratio < 13  # sqrt(64) = 8


def test_bootstrap_interval_covers_the_true_distance():
    rho = 0.5
    true_distance = np.sqrt((1 - rho) / 2)
    covered = [
        (
            ci := bootstrap_pearson_distance(
                *correlated(200, rho, seed), num_resamples=300, seed=seed
            )
        ).low
        <= true_distance
        <= ci.high
        for seed in range(60)
    ]
    assert 0.85 <= np.mean(covered) <= 1.0


def test_bootstrap_memory_blocks_do_not_change_the_result():
    x, y = correlated(100, 0.3, seed=2)
    w = np.random.default_rng(0).uniform(0.1, 1, 100)
    one = bootstrap_pearson_distance(x, y, w, num_resamples=50, seed=1)
    blocked = bootstrap_pearson_distance(x, y, w, num_resamples=50, seed=1, max_elements=700)
    assert one == blocked


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 9), st.integers(1, 5), st.integers(0, 10_000))
def test_iqm_matches_scipy_trim_mean(num_runs, num_tasks, seed):
    scores = np.random.default_rng(seed).normal(size=(num_runs, num_tasks))
    assert interquartile_mean(scores) == pytest.approx(
        scipy.stats.trim_mean(scores, 0.25, axis=None), abs=1e-12
    )
    assert mean_score(scores) == pytest.approx(scores.mean(), abs=1e-12)


def test_iqm_ignores_outliers():
    scores = np.array([[0.1], [0.2], [0.3], [100.0]])
    assert interquartile_mean(scores) == pytest.approx(0.25)


def test_stratified_bootstrap_resamples_runs_within_each_task():
    # Every run agrees within a task: resampling runs inside a task changes nothing,
    # so the stratified interval collapses (an unstratified one would not).
    scores = np.tile(np.array([[0.1, 0.5, 0.9]]), (5, 1))
    ci = stratified_bootstrap_ci(scores, mean_score, num_resamples=200)
    assert ci.low == ci.high == pytest.approx(0.5)


def test_aggregate_seeds_gives_mean_and_iqm_with_intervals():
    scores = np.random.default_rng(0).uniform(size=(10, 3))
    out = aggregate_seeds(scores, seed=1, num_resamples=300)
    assert set(out) == {"mean", "iqm"}
    assert out["mean"].estimate == pytest.approx(scores.mean())
    for ci in out.values():
        assert ci.low <= ci.estimate <= ci.high
    assert out == aggregate_seeds(scores, seed=1, num_resamples=300)
    one_task = aggregate_seeds(scores[:, 0], num_resamples=100)
    assert one_task["mean"].estimate == pytest.approx(scores[:, 0].mean())


def test_errors_are_clear():
    x, y = correlated(10, 0.5, seed=0)
    with pytest.raises(ValueError, match="same shape"):
        bootstrap_pearson_distance(x, y[:5])
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\)"):
        bootstrap_pearson_distance(x, y, confidence=95)
    with pytest.raises(ValueError, match="num_resamples must be >= 1"):
        bootstrap_pearson_distance(x, y, num_resamples=0)
    with pytest.raises(ValueError, match="weights must be non-negative"):
        bootstrap_pearson_distance(x, y, -np.ones(10))
    with pytest.raises(ValueError, match=r"scores must have shape \[num_runs, num_tasks\]"):
        aggregate_seeds(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="scores contains 1 non-finite"):
        aggregate_seeds(np.array([0.1, np.nan, 0.3]))


def test_weighted_bootstrap_interval_follows_the_weights():
    """Rows of weight 0 must not move the interval: here they hold all the disagreement.

    x and y agree exactly on the first half and are opposite on the second, so the
    weighted distance (weights 1, then 0) is 0 and the unweighted one about sqrt(1/2).
    """
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    y = np.concatenate([x[:200], -x[200:]])
    w = np.concatenate([np.ones(200), np.zeros(200)])
    weighted = bootstrap_pearson_distance(x, y, w, seed=0)
    plain = bootstrap_pearson_distance(x, y, seed=0)
    assert weighted.estimate == pytest.approx(0.0, abs=1e-7)
    assert weighted.high < 1e-6
    assert plain.low > 0.5 and plain.estimate == pytest.approx(np.sqrt(0.5), abs=0.1)


def test_aggregate_seeds_uses_the_requested_confidence_and_seed():
    scores = np.array([0.1, 0.5, 0.2, 0.9, 0.4, 0.7])
    wide = aggregate_seeds(scores, confidence=0.95, seed=0)["mean"]
    narrow = aggregate_seeds(scores, confidence=0.5, seed=0)["mean"]
    other_seed = aggregate_seeds(scores, confidence=0.95, seed=3)["mean"]
    assert narrow.high - narrow.low < wide.high - wide.low
    assert narrow.confidence == 0.5
    assert (other_seed.low, other_seed.high) != (wide.low, wide.high)
    ref = stratified_bootstrap_ci(scores, mean_score, confidence=0.5, seed=3, num_resamples=50)
    got = aggregate_seeds(scores, confidence=0.5, seed=3, num_resamples=50)["mean"]
    assert (got.low, got.high, got.num_resamples) == (ref.low, ref.high, 50)


# --------------------------------------------------------------------------- transfer interval


def test_normalized_return_ci_estimate_is_the_hand_normalized_mean():
    returns = np.array([-30.0, -20.0, -25.0])
    ci = stats.normalized_return_ci(returns, random_mean=-80.0, random_std=2.0,
                                    reference_mean=-20.0, reference_std=5.0,
                                    n_reference_runs=5)  # fmt: skip
    # mean return -25: (-25 + 80) / (-20 + 80) = 55 / 60
    assert ci.estimate == pytest.approx(55.0 / 60.0, rel=1e-12)
    assert ci.low < ci.estimate < ci.high


def test_normalized_return_ci_of_one_seed_is_not_an_interval():
    ci = stats.normalized_return_ci([-25.0], random_mean=-80.0, random_std=2.0,
                                    reference_mean=-20.0, reference_std=5.0,
                                    n_reference_runs=5)  # fmt: skip
    assert ci.estimate == pytest.approx(55.0 / 60.0)
    assert np.isnan(ci.low) and np.isnan(ci.high)


def test_exact_reference_interval_lies_within_the_seed_scores():
    """With std 0 (exact reference) only the seeds vary: the percentile interval of a
    resampled mean cannot leave [min score, max score]."""
    returns = np.array([-40.0, -30.0, -20.0, -10.0])
    ci = stats.normalized_return_ci(returns, random_mean=-80.0, random_std=0.0,
                                    reference_mean=-20.0, reference_std=0.0,
                                    n_reference_runs=1)  # fmt: skip
    scores = (returns + 80.0) / 60.0
    assert scores.min() <= ci.low < ci.high <= scores.max()


def test_reference_noise_widens_the_interval():
    returns = np.array([-30.0, -20.0, -25.0, -22.0, -28.0])
    kw = dict(random_mean=-80.0, random_std=0.0, reference_mean=-20.0, n_reference_runs=5)
    exact = stats.normalized_return_ci(returns, reference_std=0.0, **kw)
    noisy = stats.normalized_return_ci(returns, reference_std=20.0, **kw)
    assert noisy.high - noisy.low > 1.5 * (exact.high - exact.low)


def test_normalized_return_ci_covers_the_true_score_about_95_percent():
    """Monte Carlo coverage, the expectation set by the model itself: returns ~ N(mu, s),
    K reference runs ~ N(G, s_G), random runs ~ N(Q, s_Q); the true score is
    (mu − Q) / (G − Q). Ten seeds: a percentile bootstrap of 10 undercovers slightly."""
    rng = np.random.default_rng(0)
    mu, s, g, s_g, q, s_q, k, n = -30.0, 8.0, -20.0, 10.0, -80.0, 2.0, 5, 10
    truth = (mu - q) / (g - q)
    hits, trials = 0, 300
    for t in range(trials):
        refs = rng.normal(g, s_g, k)
        rands = rng.normal(q, s_q, k)
        ci = stats.normalized_return_ci(
            rng.normal(mu, s, n),
            random_mean=rands.mean(), random_std=rands.std(ddof=1),
            reference_mean=refs.mean(), reference_std=refs.std(ddof=1),
            n_reference_runs=k, num_resamples=400, seed=t,
        )  # fmt: skip
        hits += ci.low <= truth <= ci.high
    assert 0.85 <= hits / trials <= 0.99, hits / trials


# --------------------------------------------------------------------------- mutation-run gaps


def unit_vector_distance(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """0.5 ||x/||x|| - y/||y|| || under the weighted L2 norm ||v||² = Σ w v² / Σ w (STARC)."""
    norm = lambda v: np.sqrt(np.sum(w * v * v) / np.sum(w))  # noqa: E731
    return 0.5 * norm(x / norm(x) - y / norm(y))


def test_cosine_distance_is_half_the_distance_between_unit_vectors():
    g = np.random.default_rng(0)
    x, y = g.normal(size=(2, 3, 40))
    w = g.integers(1, 5, size=(3, 40)).astype(float)  # unnormalized, different per row
    expected = [unit_vector_distance(a, b, c) for a, b, c in zip(x, y, w, strict=True)]
    assert stats.cosine_distance_batch(x, y, w) == pytest.approx(expected, abs=1e-12)
    plain = [unit_vector_distance(a, b, np.ones(40)) for a, b in zip(x, y, strict=True)]
    assert stats.cosine_distance_batch(x, y) == pytest.approx(plain, abs=1e-12)
    # Integer weights are repeated rows.
    rep = lambda v: np.repeat(v[0], w[0].astype(int))  # noqa: E731
    assert stats.cosine_distance_batch(rep(x), rep(y)) == pytest.approx(expected[0], abs=1e-12)
    # Uncentred: a shift changes it (Pearson would not), a positive scale does not.
    assert stats.cosine_distance_batch(x[0], 3.0 * x[0]) == pytest.approx(0.0, abs=1e-7)
    assert stats.cosine_distance_batch(x[0], -x[0]) == pytest.approx(1.0)
    assert stats.cosine_distance_batch(x[0] + 5.0, x[0]) == pytest.approx(
        unit_vector_distance(x[0] + 5.0, x[0], np.ones(40)), abs=1e-12
    )


def test_cosine_distance_of_a_zero_vector_is_nan():
    x = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    y = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    assert np.isnan(stats.cosine_distance_batch(x, y)).all()
    # Zero only where the weight is zero also has zero norm under the weights.
    w = np.array([0.0, 1.0, 1.0])
    assert np.isnan(stats.cosine_distance_batch(np.array([1.0, 0, 0]), np.ones(3), w))


def test_stratified_bootstrap_of_two_runs_reaches_both_ends():
    # Runs 0 and 1 of one task: a resample's mean is 0, 0.5 or 1 with probabilities
    # 1/4, 1/2, 1/4, so the central 95% of 1000 resamples spans [0, 1] exactly.
    ci = stratified_bootstrap_ci(np.array([0.0, 1.0]), mean_score, num_resamples=1000)
    assert (ci.estimate, ci.low, ci.high) == (0.5, 0.0, 1.0)


def test_stratified_bootstrap_accepts_a_single_resample():
    # One replicate: both ends of the interval are that replicate, one of 0, 0.5, 1.
    ci = stratified_bootstrap_ci(np.array([0.0, 1.0]), mean_score, num_resamples=1)
    assert ci.low == ci.high and ci.low in (0.0, 0.5, 1.0)
    with pytest.raises(ValueError, match="num_resamples must be >= 1, got 0"):
        stratified_bootstrap_ci(np.array([0.0, 1.0]), mean_score, num_resamples=0)


def test_aggregates_are_computed_in_float64():
    # The module computes in float64 whatever the input dtype: a float32 score matrix
    # gives the float64 mean / IQM of its (float32-rounded) values, exactly.
    scores32 = np.array([[0.1], [0.2], [0.7], [0.3]], dtype=np.float32)
    exact = scores32.astype(np.float64)
    assert mean_score(scores32).dtype == np.float64
    assert mean_score(scores32) == exact.mean()
    assert interquartile_mean(scores32).dtype == np.float64
    assert interquartile_mean(scores32) == (exact[1, 0] + exact[3, 0]) / 2  # 0.2, 0.3


def test_one_seed_is_a_valid_score_vector_and_empty_runs_are_not():
    one = aggregate_seeds(np.array([0.3]), num_resamples=10)
    assert (one["mean"].estimate, one["mean"].low, one["mean"].high) == (0.3, 0.3, 0.3)
    for empty in (np.zeros((0, 3)), np.zeros((3, 0))):
        with pytest.raises(ValueError, match=r"\[num_runs, num_tasks\].*got \(\d, \d\)"):
            aggregate_seeds(empty)
    with pytest.raises(ValueError, match=r"got \(2, 2, 2\)"):
        aggregate_seeds(np.zeros((2, 2, 2)))


def test_normalized_return_ci_computes_in_float64_and_rejects_bad_returns():
    returns32 = np.array([-30.1, -20.2, -25.3], dtype=np.float32)
    ci = stats.normalized_return_ci(returns32, random_mean=-80.0, random_std=2.0,
                                    reference_mean=-20.0, reference_std=5.0,
                                    n_reference_runs=5)  # fmt: skip
    assert ci.estimate == (returns32.astype(np.float64).mean() + 80.0) / 60.0
    kw = dict(random_mean=-80.0, random_std=2.0, reference_mean=-20.0, reference_std=5.0)
    with pytest.raises(ValueError, match=r"policy_returns must be finite with shape \[num_seeds\]"):
        stats.normalized_return_ci([], n_reference_runs=5, **kw)
    with pytest.raises(ValueError, match=r"policy_returns must be finite"):
        stats.normalized_return_ci([-25.0, np.nan], n_reference_runs=5, **kw)
    with pytest.raises(ValueError, match="n_reference_runs must be >= 1, got 0"):
        stats.normalized_return_ci([-25.0, -20.0], n_reference_runs=0, **kw)


EXACT_REFERENCE = dict(random_mean=-80.0, random_std=0.0, reference_mean=-20.0,
                       reference_std=0.0, n_reference_runs=1)  # fmt: skip


def test_normalized_return_interval_of_two_seeds_reaches_both_seed_scores():
    # Exact reference: a resample's score is s0, (s0 + s1) / 2 or s1 with probabilities
    # 1/4, 1/2, 1/4, so the central 95% of 1000 resamples is [s0, s1] exactly.
    ci = stats.normalized_return_ci([-50.0, -20.0], **EXACT_REFERENCE, num_resamples=1000)
    assert (ci.low, ci.high) == (0.5, 1.0)
    assert ci == stats.normalized_return_ci([-50.0, -20.0], **EXACT_REFERENCE, num_resamples=1000)


def test_normalized_return_is_undefined_without_a_positive_gap():
    # Score (R - Q) / (G - Q): undefined when the reference does not beat random.
    for reference in (-80.0, -90.0):
        ci = stats.normalized_return_ci([-50.0, -20.0], random_mean=-80.0, random_std=0.0,
                                        reference_mean=reference, reference_std=0.0,
                                        n_reference_runs=1)  # fmt: skip
        assert np.isnan(ci.estimate) and np.isnan(ci.low) and np.isnan(ci.high)
    # Any positive gap is defined, also one below 1.
    ci = stats.normalized_return_ci([-80.25, -80.0], random_mean=-80.5, random_std=0.0,
                                    reference_mean=-80.0, reference_std=0.0,
                                    n_reference_runs=1)  # fmt: skip
    assert ci.estimate == pytest.approx(0.75)


def test_a_nan_interval_still_reports_its_confidence_and_resamples():
    ci = stats.normalized_return_ci([-25.0], **EXACT_REFERENCE, confidence=0.9, num_resamples=7)
    assert (ci.confidence, ci.num_resamples) == (0.9, 7)


@pytest.mark.parametrize("noisy", ["random", "reference"])
def test_reference_noise_is_that_of_a_mean_of_k_runs(noisy):
    """Equal seed returns R: only the K-run means move, Ḡ* or Q̄* ~ N(mean, s²/K).

    The score (R − Q)/(G − Q) is monotone in each, so its central 95% interval is the
    score at mean ± 1.96 s/√K (up to the 2.5% quantile's sampling error over 1000
    replicates, about 0.09 s/√K).
    """
    R, G, Q, s, k = -50.0, -20.0, -80.0, 30.0, 9
    stds = {"random_std": s if noisy == "random" else 0.0,
            "reference_std": s if noisy == "reference" else 0.0}  # fmt: skip
    ci = stats.normalized_return_ci([R, R], random_mean=Q, reference_mean=G,
                                    n_reference_runs=k, num_resamples=1000, **stds)  # fmt: skip
    half = 1.959964 * s / np.sqrt(k)
    if noisy == "random":
        ends = [(R - q) / (G - q) for q in (Q + half, Q - half)]
    else:
        ends = [(R - Q) / (g - Q) for g in (G + half, G - half)]
    assert (ci.low, ci.high) == pytest.approx(sorted(ends), abs=0.04)


def test_replicates_without_a_positive_gap_are_left_out_of_the_interval():
    # Reference noise far above the gap: many replicates have Ḡ* ≤ Q̄* and are dropped;
    # the interval comes from the others and stays finite.
    ci = stats.normalized_return_ci([-50.0, -30.0], random_mean=-80.0, random_std=0.0,
                                    reference_mean=-20.0, reference_std=200.0,
                                    n_reference_runs=1)  # fmt: skip
    assert np.isfinite(ci.low) and np.isfinite(ci.high) and ci.low < ci.high
    # A positive gap below 1 is a valid gap for the replicates too.
    small = stats.normalized_return_ci([-80.25, -80.0], random_mean=-80.5, random_std=0.0,
                                       reference_mean=-80.0, reference_std=0.0,
                                       n_reference_runs=1)  # fmt: skip
    assert (small.low, small.high) == (0.5, 1.0)


def test_bootstrap_input_errors_name_the_argument():
    x, y = correlated(10, 0.5, seed=0)
    bad = x.copy()
    bad[3] = np.inf
    cases = ((dict(x=bad, y=y), "x"), (dict(x=x, y=bad), "y"),
             (dict(x=x, y=y, weights=np.abs(bad)), "weights"))  # fmt: skip
    for kwargs, name in cases:
        with pytest.raises(ValueError, match=rf"^{name} contains 1 non-finite values$"):
            bootstrap_pearson_distance(**kwargs)
    one_negative = np.ones(10)
    one_negative[0] = -0.5  # positive sum, one negative weight
    for weights in (one_negative, np.zeros(10), np.ones(5), np.ones(12)):
        with pytest.raises(ValueError, match=r"weights must be non-negative with shape \(10,\)"):
            bootstrap_pearson_distance(x, y, weights)


def test_bootstrap_accepts_probability_weights_and_one_resample():
    x, y = correlated(10, 0.5, seed=0)
    p = np.full(10, 0.1)  # sums to 1: the same distance as equal weights
    assert bootstrap_pearson_distance(x, y, p).estimate == pytest.approx(
        bootstrap_pearson_distance(x, y).estimate, abs=1e-12
    )
    one = bootstrap_pearson_distance(x, y, num_resamples=1)
    assert one.low == one.high and one.num_resamples == 1


def test_bootstrap_draws_every_row():
    # Two rows, opposite: a resample is (0, 1) or (1, 0), distance 1, or one row twice,
    # constant, NaN and ignored. So every defined replicate is 1: the interval is [1, 1].
    ci = bootstrap_pearson_distance(np.array([0.0, 1.0]), np.array([1.0, 0.0]))
    assert (ci.estimate, ci.low, ci.high) == (1.0, 1.0, 1.0)


def test_bootstrap_uses_the_requested_confidence():
    x, y = correlated(200, 0.5, seed=0)
    wide = bootstrap_pearson_distance(x, y, confidence=0.95)
    narrow = bootstrap_pearson_distance(x, y, confidence=0.5)
    assert narrow.confidence == 0.5
    assert wide.low < narrow.low < narrow.high < wide.high


def test_cosine_distance_computes_in_float64_and_is_silent_on_zero_norms():
    g = np.random.default_rng(1)
    x, y = g.normal(size=(2, 30)).astype(np.float32)
    w = np.linspace(0.1, 0.3, 30, dtype=np.float32)
    expected = unit_vector_distance(*(v.astype(np.float64) for v in (x, y, w)))
    got = stats.cosine_distance_batch(x, y, w)
    assert got.dtype == np.float64 and got == pytest.approx(expected, abs=1e-13)
    # NaN by design where a norm is zero: no warning either.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(stats.cosine_distance_batch(np.zeros(3), np.ones(3)))


def test_cosine_of_parallel_vectors_rounded_above_one_is_distance_zero():
    # For this x, float64 rounding gives cos(x, 3x) = 1 + 2.2e-16; the distance is 0,
    # not the NaN of sqrt of a negative number.
    x = np.random.default_rng(2).normal(size=40)
    assert stats.cosine_distance_batch(x, 3.0 * x) == 0.0


def test_percentile_interval_cuts_half_the_missing_mass_from_each_end():
    # The p-th percentile of 0, 1, ..., 1000 (linear interpolation) is 10 p; NaNs are ignored.
    replicates = np.append(np.arange(1001.0), np.nan)
    assert stats.percentile_interval(replicates, 0.95) == pytest.approx((25.0, 975.0), abs=1e-9)
    assert stats.percentile_interval(replicates, 0.5) == pytest.approx((250.0, 750.0), abs=1e-9)
    for confidence in (0.0, 1.0):
        with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\)"):
            stats.percentile_interval(replicates, confidence)


def test_bootstrap_needs_two_rows():
    with pytest.raises(ValueError, match=r"x must have shape \[N\] with N >= 2, got \(1,\)"):
        bootstrap_pearson_distance(np.ones(1), np.ones(1))


def test_normalized_return_ci_uses_and_reports_the_requested_confidence_and_resamples():
    returns = np.array([-40.0, -30.0, -20.0, -10.0, -35.0])
    wide = stats.normalized_return_ci(returns, **EXACT_REFERENCE, num_resamples=200)
    narrow = stats.normalized_return_ci(returns, **EXACT_REFERENCE, confidence=0.5,
                                        num_resamples=200)  # fmt: skip
    assert (narrow.confidence, narrow.num_resamples) == (0.5, 200)
    assert (wide.confidence, wide.num_resamples) == (0.95, 200)
    assert wide.low < narrow.low < narrow.high < wide.high


def test_every_replicate_is_computed():
    # y = 2x: every resample (of distinct rows) has distance 0, so must the one replicate.
    x, _ = correlated(10, 0.5, seed=0)
    one = bootstrap_pearson_distance(x, 2.0 * x, num_resamples=1)
    assert (one.low, one.high) == pytest.approx((0.0, 0.0), abs=1e-7)


def test_weighted_pearson_distance_matches_numpy_in_float64_for_float32_weights():
    g = np.random.default_rng(3)
    x, y = g.normal(size=(2, 30))
    w = np.linspace(0.1, 0.3, 30, dtype=np.float32)
    c = np.cov(x, y, aweights=w.astype(np.float64))
    rho = c[0, 1] / np.sqrt(c[0, 0] * c[1, 1])
    assert pearson_distance_batch(x, y, w) == pytest.approx(np.sqrt((1 - rho) / 2), abs=1e-13)


def alternating(center: float, step: float, n: int = 40) -> np.ndarray:
    """center + step·(0, 1, 0, 1, ...): variance step²/4 around a magnitude |center|."""
    return center + step * (np.arange(n) % 2)


def test_spread_at_rounding_level_of_the_magnitude_counts_as_constant():
    """Degenerate means variance ≤ 1e-24·max|x|² (the module's relative tolerance).

    Around 1e6 that bound is 1e-12: a spread of 1e-7 (variance 2.5e-15) is below it, one
    of 1e-4 (variance 2.5e-9) is far above it.
    """
    other = np.random.default_rng(4).normal(size=40)
    flat, varying = alternating(1e6, 1e-7), alternating(1e6, 1e-4)
    for a, b in ((flat, other), (other, flat)):
        assert np.isnan(pearson_distance_batch(a, b))
    for a, b in ((varying, other), (other, varying)):
        assert np.isfinite(pearson_distance_batch(a, b))
    # The bound is per row of a batch: a large row does not make a small one degenerate.
    small, large = alternating(0.0, 1e-4), 1e12 * other
    got = pearson_distance_batch(np.stack([small, large]), np.stack([other, other]))
    assert np.isfinite(got).all()
    got = pearson_distance_batch(np.stack([other, other]), np.stack([small, large]))
    assert np.isfinite(got).all()


def test_constant_input_gives_nan_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(pearson_distance_batch(np.ones(5), np.arange(5.0)))


def test_normalized_return_interval_is_seeded():
    returns = np.array([-30.0, -20.0, -25.0, -22.0])
    kw = dict(random_mean=-80.0, random_std=3.0, reference_mean=-20.0, reference_std=5.0,
              n_reference_runs=5)  # fmt: skip
    first = stats.normalized_return_ci(returns, **kw, seed=7)
    assert stats.normalized_return_ci(returns, **kw, seed=7) == first
    assert stats.normalized_return_ci(returns, **kw, seed=8) != first
