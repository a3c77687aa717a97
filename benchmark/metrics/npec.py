"""Normalized Potential Equivalence Class distance (NPEC), a baseline from
Gleave et al., "Quantifying Differences in Reward Functions" (ICLR 2021, §4).

Two rewards are equivalent, R ≡ R_A, when R = λ R_A + γ Φ(s') − Φ(s) for some scale
λ > 0 and potential Φ: they induce the same optimal policies. With the L^p distance
under the transition distribution D_T,

    D_{L^p,D}(R, R') = (E_{(s,a,s') ~ D_T} |R(s,a,s') − R'(s,a,s')|^p)^{1/p},

the paper defines (§4) the unnormalized premetric as the distance from
R_B to the closest member of R_A's equivalence class,

    D^U_NPEC(R_A, R_B) = inf_{λ > 0, Φ} D_{L^p,D}(λ R_A + γ Φ(s') − Φ(s), R_B),

and normalizes it by the same quantity for the zero reward, whose class is all
potential shapings (so the denominator is the distance from R_B to the nearest
shaping, which equals ‖R_B‖ when R_B has no shaping component):

    D_NPEC(R_A, R_B) = D^U_NPEC(R_A, R_B) / D^U_NPEC(Zero, R_B),   or 0 if that is 0.

No square root or other power is applied on top: the L^p norm already carries the
1/p. Letting λ → 0 shows D^U(R_A, R_B) ≤ D^U(Zero, R_B), so D_NPEC ∈ [0, 1]. We use
p = 2, as the paper's experiments (least-squares regression).

Caveats, as the paper says: NPEC is not a metric and is asymmetric in general (the
source R_A is transformed, the target R_B is not), and it needs an optimisation. For
p = 2 both infima are least-squares projections onto the shapings and D_NPEC reduces
to the sine of the angle between the two rewards' components orthogonal to the
shapings (1 when that angle is obtuse), which happens to be symmetric; for p ≠ 2 it is
not. It is invariant to potential shaping and positive rescaling of either reward.

Here both infima are found by Adam over Φ (an MLP over observations, or a linear map —
a table for one-hot observations) and λ = exp(log λ), seeded, full batch, with a
bounded number of steps; each fitted distance is an upper bound on its infimum, up to
optimisation error. The numerator is capped by the fitted denominator, since λ → 0
attains it. As in EPIC, dones are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from benchmark.data import RewardFn, as_transitions
from benchmark.metrics.cpu_threads import single_thread_on_cpu
from benchmark.metrics.epic import (
    DEFAULT_DISCOUNT,
)
from benchmark.metrics.inputs import (
    check_discount,
    check_distribution,
    check_weights,
    to_numpy,
)
from benchmark.metrics.reward_evaluation import DEFAULT_MAX_BATCH, evaluate_reward

if TYPE_CHECKING:
    from benchmark.metrics.registry import UnitInputs

DEFAULT_STEPS = 1000
DEFAULT_LR = 1e-2
DEFAULT_HIDDEN = (64, 64)
POTENTIALS = ("mlp", "linear")
# D^U_NPEC(Zero, R_B) below this fraction of R_B's RMS counts as zero: R_B is a
# potential shaping up to optimisation error, and the paper defines D_NPEC = 0 there.
ZERO_TOLERANCE = 1e-4


def make_potential(
    obs_dim: int, kind: str = "mlp", hidden: Sequence[int] = DEFAULT_HIDDEN
) -> nn.Module:
    """Φ: ``[B, obs_dim]`` -> ``[B]``; "linear" is a table when observations are one-hot."""
    if kind == "linear":
        layers: list[nn.Module] = [nn.Linear(obs_dim, 1)]
    elif kind == "mlp":
        layers, width = [], obs_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, 1))
    else:
        raise ValueError(f"potential must be one of {POTENTIALS}, got {kind!r}")
    return nn.Sequential(*layers, nn.Flatten(0))


def fit_equivalent_residual(
    source: torch.Tensor | None,
    target: torch.Tensor,
    obs: torch.Tensor,
    next_obs: torch.Tensor,
    *,
    discount: float,
    weights: torch.Tensor,
    p: float = 2.0,
    potential: str = "mlp",
    hidden: Sequence[int] = DEFAULT_HIDDEN,
    steps: int = DEFAULT_STEPS,
    lr: float = DEFAULT_LR,
    seed: int = 0,
    progress: bool = False,
) -> float:
    """inf over λ > 0 and Φ of D_{L^p}(λ·source + γΦ(s') − Φ(s), target), by Adam.

    Args:
        source: ``[N]`` R_A at the transitions, or None for the zero reward (no λ).
        target: ``[N]`` R_B at the transitions.
        obs, next_obs: ``[N, obs_dim]`` flattened s and s'; their dtype is the fit's.
        weights: ``[N]`` D_T probabilities (sum to 1).

    Returns:
        The fitted L^p distance (evaluated after the last step).
    """
    n = obs.shape[0]
    # Φ is evaluated once per distinct state: contiguous trajectories share s' and the
    # next s, which halves the work of every step.
    states, inverse = torch.unique(torch.cat([obs, next_obs]), dim=0, return_inverse=True)
    at_s, at_next = inverse[:n], inverse[n:]
    target, weights = target.to(obs.dtype), weights.to(obs.dtype)
    source = None if source is None else source.to(obs.dtype)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        phi = make_potential(obs.shape[1], potential, hidden).to(obs.device, obs.dtype)
    log_scale = torch.zeros((), device=obs.device, dtype=obs.dtype, requires_grad=True)
    params = list(phi.parameters()) + ([log_scale] if source is not None else [])
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: 0.5 * (1 + math.cos(math.pi * i / steps))
    )

    def residual() -> torch.Tensor:
        values = phi(states)
        r = discount * values[at_next] - values[at_s] - target
        if source is not None:
            r = r + log_scale.exp() * source
        return (weights * r.abs().pow(p)).sum()

    for _ in tqdm(range(steps), desc="NPEC fit", disable=not progress, leave=False):
        opt.zero_grad()
        loss = residual()
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        return float(residual().pow(1.0 / p))


def npec_distance(
    source: RewardFn,
    target: RewardFn,
    *,
    transitions: Any,
    discount: float = DEFAULT_DISCOUNT,
    weights: Any = None,
    p: float = 2.0,
    potential: str = "mlp",
    hidden: Sequence[int] = DEFAULT_HIDDEN,
    steps: int = DEFAULT_STEPS,
    lr: float = DEFAULT_LR,
    seed: int = 0,
    device: torch.device | str | None = None,
    max_batch: int | None = DEFAULT_MAX_BATCH,
    dtype: torch.dtype = torch.float32,
    progress: bool = False,
) -> float:
    """D_NPEC(source, target) under the transitions' distribution (see module docstring).

    Args:
        source: R_A, the reward transformed by λ > 0 and potential shaping.
        target: R_B, the reward approximated.
        transitions: N draws from D_T (our or imitation's Transitions); dones are
            ignored, as in EPIC.
        discount: γ in [0, 1] of the shaping γΦ(s') − Φ(s).
        weights: optional ``[N]`` importance weights of the transitions.
        p: the L^p norm, p >= 1 (2 by default, as the paper's experiments).
        potential: "mlp" (hidden layer widths ``hidden``) or "linear" (a table for
            one-hot observations).
        steps, lr: Adam steps (full batch, cosine-decayed lr) for each of the two fits.
        seed: initialisation seed of Φ (same seed, same number).
        device: where to fit; default the transitions' device.
        dtype: precision of the fit (float32 is twice as fast; rewards are
            standardised, so its precision is ample).

    Returns:
        D_NPEC in [0, 1]; 0 when the target is itself a potential shaping (the
        paper's convention for a zero denominator).
    """
    check_discount(discount)
    if not p >= 1:
        raise ValueError(f"p must be >= 1 (an L^p norm), got {p}")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if potential not in POTENTIALS:
        raise ValueError(f"potential must be one of {POTENTIALS}, got {potential!r}")
    t = as_transitions(transitions)
    if len(t) < 2:
        raise ValueError(f"transitions must hold at least 2 rows, got {len(t)}")
    dev = torch.device(device) if device is not None else t.device
    kw = dict(use_dones=False, device=dev, max_batch=max_batch)
    r_a = evaluate_reward(source, t, name="source", **kw)
    r_b = evaluate_reward(target, t, name="target", **kw)
    n = len(t)
    w = (
        torch.full((n,), 1.0 / n, dtype=torch.float64, device=dev)
        if weights is None
        else torch.as_tensor(check_weights(weights, n), device=dev)
    )
    w = w / w.sum()
    # Standardise scales (D_NPEC is invariant to both: λ absorbs R_A's, and the ratio
    # R_B's) so that one learning rate suits every reward.
    scale_a = float((w * r_a.pow(2)).sum().sqrt())
    scale_b = float((w * r_b.pow(2)).sum().sqrt())
    if scale_b == 0.0:
        return 0.0
    source_n = r_a / scale_a if scale_a > 0 else None
    target_n = r_b / scale_b
    obs = t.obs.reshape(n, -1).to(dev, dtype)
    next_obs = t.next_obs.reshape(n, -1).to(dev, dtype)
    fit = dict(
        discount=float(discount), weights=w, p=p, potential=potential, hidden=hidden,
        steps=steps, lr=lr, seed=seed, progress=progress,
    )  # fmt: skip
    with torch.enable_grad():
        denominator = fit_equivalent_residual(None, target_n, obs, next_obs, **fit)
        if denominator <= ZERO_TOLERANCE:  # R_B is (numerically) a pure shaping
            return 0.0
        if source_n is None:  # R_A ≡ Zero: its class is just the shapings
            return 1.0
        numerator = fit_equivalent_residual(source_n, target_n, obs, next_obs, **fit)
    return float(min(1.0, max(0.0, min(numerator, denominator) / denominator)))


def npec_distance_tabular(
    source: Any, target: Any, *, transition_dist: Any, discount: float = DEFAULT_DISCOUNT
) -> float:
    """Exact NPEC for p = 2 on a finite MDP: both infima are weighted least squares.

    With Π the D_T-weighted projection onto the complement of the shapings
    {γΦ(s') − Φ(s) : Φ ∈ R^S}, D^U(Zero, R_B) = ‖Π R_B‖ and
    D^U(R_A, R_B) = min_{λ>0} ‖λ Π R_A − Π R_B‖, so D_NPEC = sin ∠(Π R_A, Π R_B)
    when the angle is acute, 1 otherwise (λ → 0), and 0 when Π R_B = 0.

    Args:
        source: ``[S, A, S]`` R_A (the reward transformed: the submission).
        target: ``[S, A, S]`` R_B (the ground truth).
        transition_dist: ``[S, A, S]`` D_T.
        discount: γ.
    """
    check_discount(discount)
    ra, rb = to_numpy(source, "source"), to_numpy(target, "target")
    if ra.ndim != 3 or ra.shape != rb.shape or ra.shape[0] != ra.shape[2]:
        raise ValueError(f"source and target must both be [S, A, S], got {ra.shape} and {rb.shape}")
    w = check_distribution(transition_dist, "transition_dist", ra.shape).ravel()
    n_s, n_a, _ = ra.shape
    eye = np.eye(n_s)
    basis = (discount * eye[None, None, :, :] - eye[:, None, None, :]) * np.ones((1, n_a, 1, 1))
    root = np.sqrt(w)
    # Orthonormal basis of the D_T-weighted shapings (SVD, so states D_T never visits and
    # γ = 1's constant potential drop out as zero directions): residual = y − Q Qᵀ y.
    u, sv, _ = np.linalg.svd(root[:, None] * basis.reshape(-1, n_s), full_matrices=False)
    q = u[:, sv > 1e-10 * max(1.0, float(sv.max()))]

    def residual(r: np.ndarray) -> np.ndarray:
        y = root * r.ravel()
        return y - q @ (q.T @ y)

    res_a, res_b = residual(ra), residual(rb)
    norm_a, norm_b = float(np.linalg.norm(res_a)), float(np.linalg.norm(res_b))
    tiny = 1e-12 * max(1.0, float(np.abs(rb).max()))
    if norm_b <= tiny:
        return 0.0
    if norm_a <= 1e-12 * max(1.0, float(np.abs(ra).max())):
        return 1.0
    cos = float(res_a @ res_b) / (norm_a * norm_b)
    return 1.0 if cos <= 0 else float(np.sqrt(max(0.0, 1.0 - cos * cos)))


def unit_value(inputs: UnitInputs) -> dict[str, float]:
    """One evaluation unit: NPEC of the submission to the ground truth (registry entry)."""
    sample = inputs.sample()
    with single_thread_on_cpu(inputs.device):  # why: see benchmark.metrics.cpu_threads
        value = npec_distance(inputs.reward, inputs.ground_truth, transitions=sample.transitions,
                              discount=inputs.task.discount, seed=inputs.seed,
                              device=inputs.device)  # fmt: skip
    return {"value": float(value)}
