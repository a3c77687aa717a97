"""Exact NPEC on a finite MDP (p = 2): a weighted least-squares projection on the tables.

Gleave et al. (ICLR 2021) define D_NPEC with infima over a positive scale, a shift
and potentials; on a finite MDP with Φ any table over states and the L² norm under D_T,
both infima are linear least squares, so the value is exact (the reference the fitted,
sample-based `benchmark.metrics.npec.npec_distance` is tested against).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmark.metrics.epic import DEFAULT_DISCOUNT
from benchmark.metrics.inputs import check_discount, check_distribution, to_numpy

# D^U_NPEC(Zero, R_B) below this fraction of R_B's standard deviation counts as zero: R_B
# is a shift plus potential shaping, and D_NPEC = 0 there by our convention (see
# `benchmark.metrics.npec`: the only value that keeps D_NPEC(R_B, R_B) = 0).
ZERO_TOLERANCE = 1e-4


def npec_distance_tabular(
    source: Any, target: Any, *, transition_dist: Any, discount: float = DEFAULT_DISCOUNT
) -> float:
    """Exact D_NPEC (p = 2) for a finite MDP, Φ any table over states.

    Both infima are weighted least-squares problems over the entries (s, a, s') with
    D_T > 0: project R_A and R_B onto the orthogonal complement (in L²(D_T)) of the
    span of the constants and the shapings γ 1[s' = u] − 1[s = u] of each one-hot
    potential; call the projections a⊥, b⊥. Then D^U(Zero, R_B) = ‖b⊥‖ and, λ >= 0
    being a convex constraint on a quadratic, D^U(R_A, R_B) = ‖b⊥‖ sin θ for
    cos θ = ⟨a⊥, b⊥⟩ / (‖a⊥‖‖b⊥‖) > 0 and ‖b⊥‖ otherwise. So D_NPEC = sin θ, or 1.

    Args:
        source, target: ``[S, A, S]`` reward tables R_A (transformed) and R_B.
        transition_dist: ``[S, A, S]`` D_T.
        discount: γ in [0, 1].

    Returns:
        D_NPEC in [0, 1]; 0 when R_B is a shift plus shaping on D_T's support.
    """
    check_discount(discount)
    ra = to_numpy(source, "source")
    rb = to_numpy(target, "target")
    if ra.ndim != 3 or ra.shape[0] != ra.shape[2] or ra.shape != rb.shape:
        raise ValueError(
            f"source and target must be [S, A, S] tables of one shape, got {ra.shape} and {rb.shape}"
        )
    for name, r in (("source", ra), ("target", rb)):
        if not np.all(np.isfinite(r)):
            raise ValueError(f"{name} contains {int((~np.isfinite(r)).sum())} non-finite entries")
    d_t = check_distribution(transition_dist, "transition_dist", ra.shape)
    a_perp, b_perp, w, b = _orthogonal_to_shaping(ra, rb, d_t, float(discount))
    norm_b = float(np.sqrt(w @ b_perp**2))
    if norm_b <= ZERO_TOLERANCE * max(float(np.sqrt(w @ (b - w @ b) ** 2)), 1e-300):
        return 0.0
    norm_a = float(np.sqrt(w @ a_perp**2))
    if norm_a == 0.0:
        return 1.0
    cos = float(w @ (a_perp * b_perp)) / (norm_a * norm_b)
    return 1.0 if cos <= 0 else float(np.sqrt(max(0.0, 1.0 - min(1.0, cos) ** 2)))


def _orthogonal_to_shaping(
    ra: np.ndarray, rb: np.ndarray, d_t: np.ndarray, discount: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Residuals of R_A, R_B after weighted least squares on shifts + shapings, on D_T's
    support; also the support's weights and R_B there."""
    n_s, n_a, _ = ra.shape
    s, _, s2 = np.meshgrid(np.arange(n_s), np.arange(n_a), np.arange(n_s), indexing="ij")
    keep = d_t.reshape(-1) > 0
    s, s2 = s.reshape(-1)[keep], s2.reshape(-1)[keep]
    w = d_t.reshape(-1)[keep]
    basis = np.zeros((len(w), n_s + 1))
    rows = np.arange(len(w))
    np.add.at(basis, (rows, s2), discount)
    np.add.at(basis, (rows, s), -1.0)
    basis[:, n_s] = 1.0
    sw = np.sqrt(w)[:, None]
    ys = np.stack([ra.reshape(-1)[keep], rb.reshape(-1)[keep]], axis=1)
    coef, *_ = np.linalg.lstsq(basis * sw, ys * sw, rcond=None)
    res = ys - basis @ coef
    return res[:, 0], res[:, 1], w, ys[:, 1]
