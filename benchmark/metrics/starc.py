"""STARC distances (Skalse et al., "STARC: A General Framework For Quantifying Differences
Between Reward Functions", ICLR 2024, arXiv 2309.15257).

A STARC metric canonicalizes a reward with a linear map c that removes exactly what
cannot change the ordering of policies (potential shaping and S'-redistribution),
standardizes by a norm, and measures a distance:

    s(R) = c(R) / n(c(R))   (s(R) = c(R) when n(c(R)) = 0),
    d(R_A, R_B) = ½ · m(s(R_A), s(R_B)),

the ½ putting d in [0, 1] when m is the norm's distance (d(R, −R) = 1).

The choices here are one member of the paper's family for finite MDPs (whether the paper
recommends them was not checked against its text; docs/paper-claims.md):

* c = value-adjusted levelling (VAL) with the uniformly random policy π:
  c(R)(s,a,s') = E_{S'~T(s,a)}[R(s,a,S') + γ V^π(S')] − V^π(s) = A^π_R(s, a),
  the advantage of π under R; it needs V^π, computed exactly by a linear solve;
* n = the L2 norm over all (s, a, s') (uniform weights), m = the L2 distance.

Then d = ½ ‖û_A − û_B‖₂ over (s, a), û = A^π_R / ‖A^π_R‖₂, and for any policy
J_R(π') − J_c(R)(π') = E_{μ0}V^π does not depend on π', so regret is read off c(R).

Continuous tasks have no V^π in closed form. `starc_distance` uses EPIC's
canonicalization there (Gleave et al. 2021): a linear map that removes
exactly potential shaping, which is all a STARC canonicalization must remove when
the dynamics are deterministic (S'-redistribution is then vacuous; PointMass,
PointMaze and MuJoCo are deterministic). The norm and the distance are L2 under D_T,
estimated on the transitions; the exact counterpart is ``starc_distance_tabular(...,
canonicalization="epic")``. With unit-norm vectors, ½‖u_A − u_B‖ =
sqrt((1 − cos(c_A, c_B)) / 2): EPIC's formula with the *uncentered* correlation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from benchmark.data import RewardFn
from benchmark.metrics import epic, stats
from benchmark.metrics.canonical import canonicalize_many, validate_inputs
from benchmark.metrics.canonical_interval import Statistic, paired_with_ci
from benchmark.metrics.epic import DEFAULT_DISCOUNT, DEFAULT_N_BOOTSTRAP, ArrayLike, EpicResult
from benchmark.metrics.inputs import check_weights, to_numpy, to_numpy_1d

if TYPE_CHECKING:
    from benchmark.metrics.registry import UnitInputs
    from benchmark.tasks import Task

Canonicalization = Literal["val", "epic"]
CANONICALIZATIONS: tuple[str, ...] = ("val", "epic")

StarcResult = EpicResult

# A canonical reward whose norm is below this fraction of the magnitude of the terms
# it was summed from is zero up to rounding: s(R) = c(R) is then used (the definition above).
_ZERO_NORM_RTOL = 64 * np.finfo(np.float64).eps


# --------------------------------------------------------------------------- exact tabular


def val_canonicalize_tabular(
    reward: ArrayLike,
    *,
    transition: ArrayLike,
    discount: float,
    policy: ArrayLike | None = None,
) -> np.ndarray:
    """Value-adjusted levelling c(R) = E_{S'}[R(s,a,S') + γV^π(S')] − V^π(s) (exact).

    Args:
        reward: ``[S, A, S]`` table R(s, a, s').
        transition: ``[S, A, S]`` T(s' | s, a).
        discount: γ in [0, 1) (V^π is an infinite-horizon value).
        policy: ``[S, A]`` π(a|s); default uniformly random.

    Returns:
        ``[S, A, S]`` float64, constant along s' (it is the advantage A^π_R(s, a)).
    """
    r, p = _reward_and_transition(reward, transition)
    if not 0.0 <= float(discount) < 1.0:
        raise ValueError(
            f"discount must be in [0, 1) for value-adjusted levelling (V^π is an "
            f"infinite-horizon value), got {discount!r}"
        )
    n_s, n_a, _ = r.shape
    pi = np.full((n_s, n_a), 1.0 / n_a) if policy is None else to_numpy(policy, "policy")
    if pi.shape != (n_s, n_a) or np.any(pi < 0) or not np.allclose(pi.sum(axis=1), 1.0):
        raise ValueError(f"policy must be [S, A] = [{n_s}, {n_a}] with rows summing to 1")
    expected = (p * r).sum(axis=2)  # [S, A]
    p_pi = np.einsum("sa,sat->st", pi, p)
    v = np.linalg.solve(np.eye(n_s) - discount * p_pi, (pi * expected).sum(axis=1))
    advantage = expected + discount * p @ v - v[:, None]
    return np.broadcast_to(advantage[:, :, None], r.shape).copy()


def starc_distance_tabular(
    reward_a: ArrayLike,
    reward_b: ArrayLike,
    *,
    transition: ArrayLike | None = None,
    discount: float = DEFAULT_DISCOUNT,
    canonicalization: Canonicalization = "val",
    policy: ArrayLike | None = None,
    state_dist: ArrayLike | None = None,
    action_dist: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> float:
    """Exact STARC distance ½‖s(R_A) − s(R_B)‖₂ for a finite MDP.

    Args:
        reward_a, reward_b: ``[S, A, S]`` reward tables.
        transition: ``[S, A, S]`` T (needed by ``"val"``).
        discount: γ.
        canonicalization: ``"val"`` (value-adjusted levelling; uses ``transition``
            and ``policy``, default uniform) or ``"epic"`` (uses ``state_dist`` [S] and
            ``action_dist`` [A]; the exact counterpart of `starc_distance`).
        weights: ``[S, A, S]`` non-negative weights of the L2 norm; default uniform.
            Pass D_T to match `starc_distance`'s norm under D_T.

    Returns:
        d in [0, 1]: 0 iff the rewards order all policies alike (for "val"), 1 for −R.
    """
    ra = to_numpy(reward_a, "reward_a")
    rb = to_numpy(reward_b, "reward_b")
    if ra.shape != rb.shape:
        raise ValueError(f"reward_a {ra.shape} and reward_b {rb.shape} must have the same shape")
    if canonicalization == "val":
        if transition is None:
            raise ValueError('canonicalization="val" needs transition=[S, A, S] (the dynamics T)')
        canon = [
            val_canonicalize_tabular(r, transition=transition, discount=discount, policy=policy)
            for r in (ra, rb)
        ]
    elif canonicalization == "epic":
        if state_dist is None or action_dist is None:
            raise ValueError('canonicalization="epic" needs state_dist=[S] and action_dist=[A]')
        canon = [
            epic.canonicalize_tabular(
                r, state_dist=state_dist, action_dist=action_dist, discount=discount
            )
            for r in (ra, rb)
        ]
    else:
        raise ValueError(
            f"canonicalization must be one of {list(CANONICALIZATIONS)}, got {canonicalization!r}"
        )
    w = None if weights is None else check_weights(np.ravel(weights), ra.size)
    scales = [4 * float(np.abs(r).max()) for r in (ra, rb)]
    return starc_from_canonical(canon[0].ravel(), canon[1].ravel(), w, scales=scales)


def starc_from_canonical(
    canon_a: ArrayLike,
    canon_b: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    scales: tuple[float, float] | list[float] | None = None,
) -> float:
    """½‖c_A/‖c_A‖ − c_B/‖c_B‖‖ under the (weighted) L2 norm of paired ``[N]`` values.

    Args:
        canon_a, canon_b: ``[N]`` canonical rewards at the same points.
        weights: optional ``[N]`` non-negative weights of the norm (uniform if None).
        scales: magnitudes the canonical rewards were summed from: a norm below
            rounding level of them counts as 0, and then s(R) = c(R) (module docstring).
    """
    x = to_numpy_1d(canon_a, "canon_a")
    y = to_numpy_1d(canon_b, "canon_b")
    if x.shape != y.shape:
        raise ValueError(f"canon_a {x.shape} and canon_b {y.shape} must have the same shape")
    w = (
        np.full(x.shape[0], 1.0 / x.shape[0])
        if weights is None
        else np.asarray(weights) / np.sum(weights)
    )
    sc = scales if scales is not None else (float(np.abs(x).max()), float(np.abs(y).max()))
    units = []
    for v, scale in zip((x, y), sc, strict=True):
        norm = float(np.sqrt(w @ (v * v)))
        units.append(v / norm if norm > _ZERO_NORM_RTOL * max(scale, 1e-300) else np.zeros_like(v))
    diff = units[0] - units[1]
    return float(min(1.0, 0.5 * np.sqrt(w @ (diff * diff))))


# --------------------------------------------------------------------------- sample-based


def starc_distance(
    reward_a: RewardFn,
    reward_b: RewardFn,
    *,
    transitions: Any,
    state_samples: ArrayLike,
    action_samples: ArrayLike,
    discount: float = DEFAULT_DISCOUNT,
    weights: ArrayLike | None = None,
    device: torch.device | str | None = None,
    max_batch: int | None = None,
) -> float:
    """Sample-based STARC: EPIC canonicalization, L2 norm and distance under D_T.

    Arguments as `benchmark.metrics.epic.epic_distance` (the same inputs, the same
    reward evaluations). Returns d in [0, 1]; 0 for λR + shaping (λ > 0), 1 for −R.
    """
    ca, cb, w, scales = _paired_canonical(
        reward_a,
        reward_b,
        transitions,
        state_samples,
        action_samples,
        discount,
        weights,
        device,
        max_batch,
    )
    return starc_from_canonical(ca, cb, w, scales=scales)


def starc_distance_with_ci(
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
    max_batch: int | None = None,
    state_blocks: ArrayLike | None = None,
    action_blocks: ArrayLike | None = None,
) -> StarcResult:
    """`starc_distance` with a 95% interval over both sampling sources: the transitions'
    episodes and the mean-term samples, basic bootstrap (as EPIC's, and with the same
    ``state_blocks`` / ``action_blocks``; `benchmark.metrics.canonical_interval`)."""
    return paired_with_ci(reward_a, reward_b, STATISTIC, transitions=transitions,
                          state_samples=state_samples, action_samples=action_samples,
                          discount=discount, weights=weights, num_resamples=num_resamples,
                          confidence=confidence, seed=seed, device=device, max_batch=max_batch,
                          state_blocks=state_blocks, action_blocks=action_blocks)  # fmt: skip


def _estimate(ca: np.ndarray, cb: np.ndarray, w: np.ndarray | None, scales: list[float]) -> float:
    return starc_from_canonical(ca, cb, w, scales=scales)


# STARC as the bootstrap sees it: the cosine distance of C(R) with its constant term.
STATISTIC = Statistic(stats.cosine_distance_batch, include_constant=True, needs_variation=False,
                      estimate=_estimate)  # fmt: skip


def unit_value(inputs: UnitInputs) -> dict[str, float]:
    """One evaluation unit: STARC to the ground truth, sampled with the two-source 95%
    interval (episodes and mean-term samples; `benchmark.metrics.canonical_interval`).

    On a finite task the value is exact and is the same estimand as the sampled one:
    EPIC's canonicalization under the coverage's exact D_S and D_A, L2 norm weighted by
    its D_T (`starc_distance_tabular(..., canonicalization="epic")`). The paper's
    value-adjusted levelling has no coverage, so it stays in the meta-benchmark.
    """
    if inputs.exact:
        from benchmark.metrics.tabular_units import exact_row, unit_tables

        table, _, _ = unit_tables(inputs)
        return exact_row(exact_to_truth(table, inputs.task, inputs.coverage))
    return epic.sampled_unit(inputs, STATISTIC)


def exact_to_truth(table: np.ndarray, task: Task, coverage: str) -> float:
    """The board's exact STARC of an ``[S, A, S]`` table to ``task``'s ground truth:
    EPIC's canonicalization under the coverage's exact D_S and D_A, the L2 norm weighted
    by its D_T, the task's γ. Shared by the exact unit and the meta-benchmark."""
    tab = task.tabular
    cov = tab.coverage[coverage]
    return starc_distance_tabular(
        table, tab.rewards["ground_truth"], canonicalization="epic",
        state_dist=cov.state_dist, action_dist=cov.action_dist,
        weights=cov.transition_dist, discount=task.discount,
    )  # fmt: skip


def exact_val_to_truth(table: np.ndarray, task: Task) -> float:
    """STARC with value-adjusted levelling (Skalse et al. 2024; one member of the paper's
    family: the uniform policy in the train dynamics, unweighted L2 over all transitions,
    the task's γ) to ``task``'s ground truth. Not a board metric: it has
    no coverage. The meta-benchmark reports it as a labelled variant next to the board's."""
    tab = task.tabular
    return starc_distance_tabular(
        table, tab.rewards["ground_truth"], transition=tab.transitions["train"],
        discount=task.discount,
    )  # fmt: skip


def _paired_canonical(
    reward_a,
    reward_b,
    transitions,
    state_samples,
    action_samples,
    discount,
    weights,
    device,
    max_batch,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list[float]]:
    """Full C_EPIC(R_A), C_EPIC(R_B) (constant included: an L2 norm is not shift-invariant)."""
    names = ["reward_a", "reward_b"]
    inputs = validate_inputs(
        [reward_a, reward_b],
        transitions,
        state_samples,
        action_samples,
        discount,
        weights,
        max_batch,
        device,
    )
    canon, _, scales = canonicalize_many(
        [reward_a, reward_b], names, inputs, include_constant=True, deduplicate=True
    )
    return canon[0].cpu().numpy(), canon[1].cpu().numpy(), inputs.weights, scales


def _reward_and_transition(
    reward: ArrayLike, transition: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    r = to_numpy(reward, "reward")
    if r.ndim != 3 or r.shape[0] != r.shape[2]:
        raise ValueError(f"reward must have shape [S, A, S], got {list(r.shape)}")
    if not np.all(np.isfinite(r)):
        raise ValueError(f"reward contains {int((~np.isfinite(r)).sum())} non-finite entries")
    p = to_numpy(transition, "transition")
    if p.shape != r.shape:
        raise ValueError(
            f"transition must have shape {list(r.shape)} like the reward, got {list(p.shape)}"
        )
    if np.any(p < 0) or not np.allclose(p.sum(axis=2), 1.0, atol=1e-6):
        raise ValueError("transition must hold probabilities whose rows T[s, a, :] sum to 1")
    return r, p


__all__ = [
    "CANONICALIZATIONS",
    "StarcResult",
    "starc_distance",
    "starc_distance_tabular",
    "starc_distance_with_ci",
    "starc_from_canonical",
    "unit_value",
    "val_canonicalize_tabular",
]
