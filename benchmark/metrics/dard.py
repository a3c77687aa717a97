"""DARD: Dynamics-Aware Reward Distance (Wulfe et al., "Dynamics-Aware Comparison of
Learned Reward Functions", ICLR 2022, arXiv 2201.10081, section 4).

EPIC canonicalizes with independent draws S, S' ~ D_S, so it evaluates a reward on
transitions (s, A, S') that cannot happen. DARD draws the successors from the
transition model T instead (paper eq. 3):

    C_T(R)(s,a,s') = R(s,a,s') + E[ γ R(s',A,S'') − R(s,A,S') − γ R(S',A,S'') ],
    A ~ D_A,  S' ~ T(·|s,A),  S'' ~ T(·|s',A)  (one A for all three terms),

and DARD is the Pearson distance of C_T(R_A) and C_T(R_B) under D_T, as EPIC's:
D_DARD = sqrt((1 − ρ) / 2). Adding γΦ(s') − Φ(s) to R adds, term by term,
γΦ(s') − Φ(s) + γ(γΦ(S'') − Φ(s')) − (γΦ(S') − Φ(s)) − γ(γΦ(S'') − Φ(S')) = 0, so C_T
is invariant to potential shaping *sample by sample*: the estimator below shares each
successor draw between the terms that name it, so shaping cancels exactly for any M.

Only R(s, A, S') with S' a real successor of s enters the mean terms; the last term
pairs a successor of s with a successor of s' (the paper's approximation: both lie one
step from the transition). A reward that differs from another only on impossible
transitions therefore has DARD 0 to it, where EPIC need not.

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

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from benchmark.data import RewardFn, as_float_tensor, as_transitions
from benchmark.metrics import epic, stats
from benchmark.metrics.epic import DEFAULT_DISCOUNT, DEFAULT_N_BOOTSTRAP, ArrayLike, EpicResult
from benchmark.metrics.inputs import (
    check_discount,
    check_distribution,
    check_not_constant,
    check_weights,
    to_numpy,
)
from benchmark.metrics.reward_evaluation import call_reward, pick_device, resolve_max_batch

# One step of the environment from arbitrary states: ``(obs [B, *obs], acts [B, *act],
# generator) -> next_obs [B, *obs]`` drawn from T(·|obs, acts). Deterministic models
# ignore the generator. See `benchmark.metrics.dynamics` for each task's model.
TransitionModel = Callable[[torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]

# `dard_distance_with_ci` returns the same record as EPIC's: a point and a 95% interval.
DardResult = EpicResult


# --------------------------------------------------------------------------- exact tabular


def canonicalize_tabular(
    reward: ArrayLike, *, transition: ArrayLike, action_dist: ArrayLike, discount: float
) -> np.ndarray:
    """Exact C_T(R) (paper eq. 3) for a finite MDP.

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
    canon, _, _ = _canonicalize_many(
        [reward],
        ["reward"],
        transitions,
        action_samples,
        transition_model,
        discount,
        seed=seed,
        device=device,
        max_batch=max_batch,
    )
    return canon[0]


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
) -> DardResult:
    """`dard_distance` with a percentile-bootstrap interval over transitions.

    As for EPIC, the mean terms (and the successor draws) are held fixed; rows of the
    paired canonical rewards are resampled.
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
    ci = stats.bootstrap_pearson_distance(
        ca, cb, w, num_resamples=num_resamples, confidence=confidence, seed=seed
    )
    return DardResult(
        distance=epic.pearson_distance(ca, cb, w),
        ci_low=ci.low,
        ci_high=ci.high,
        n_transitions=int(ca.shape[0]),
        n_samples=int(np.shape(action_samples)[0]),
        confidence=confidence,
        num_resamples=num_resamples,
    )


def tabular_transition_model(transition: ArrayLike) -> TransitionModel:
    """A `TransitionModel` over one-hot states that samples T(·|s, a) from a table.

    Args:
        transition: ``[S, A, S]`` T(s' | s, a).

    Returns:
        ``(obs [B, S] one-hot, acts [B, A] one-hot, generator) -> next_obs [B, S]``.
    """
    p = torch.as_tensor(to_numpy(transition, "transition"))
    if p.ndim != 3 or p.shape[0] != p.shape[2]:
        raise ValueError(f"transition must have shape [S, A, S], got {list(p.shape)}")
    cdf = p.cumsum(dim=2)

    def step(obs: torch.Tensor, acts: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        s = obs.argmax(dim=1).cpu()
        a = acts.argmax(dim=1).cpu()
        u = torch.rand(s.shape[0], 1, generator=generator, device=generator.device).cpu()
        rows = cdf[s, a].to(u.dtype)
        nxt = torch.searchsorted(rows, u * rows[:, -1:], right=True).squeeze(1)
        nxt = nxt.clamp(max=p.shape[2] - 1)
        return torch.nn.functional.one_hot(nxt, p.shape[2]).to(obs.device, obs.dtype)

    return step


# --------------------------------------------------------------------------- internals


def _paired(
    reward_a,
    reward_b,
    transitions,
    action_samples,
    model,
    discount,
    weights,
    seed,
    device,
    max_batch,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """C_T(R_A), C_T(R_B) as float64 numpy ``[N]`` (shared draws), + checked weights."""
    names = ["reward_a", "reward_b"]
    canon, eps, scales = _canonicalize_many(
        [reward_a, reward_b],
        names,
        transitions,
        action_samples,
        model,
        discount,
        seed=seed,
        device=device,
        max_batch=max_batch,
    )
    arrays = [c.cpu().numpy() for c in canon]
    w = None if weights is None else check_weights(weights, arrays[0].shape[0])
    for name, c, e, sc in zip(names, arrays, eps, scales, strict=True):
        check_not_constant(c, w, name, eps=e, scale=sc)
    return arrays[0], arrays[1], w


def _canonicalize_many(
    rewards: Sequence[RewardFn],
    names: Sequence[str],
    transitions: Any,
    action_samples: ArrayLike,
    model: TransitionModel,
    discount: float,
    *,
    seed: int,
    device: torch.device | str | None,
    max_batch: int | None,
) -> tuple[list[torch.Tensor], list[float], list[float]]:
    """C_T(R) for each reward, every reward fed the same inputs and successor draws.

    Returns the ``[N]`` float64 canonicalizations, and per reward the machine epsilon
    of its outputs and the magnitude of the summed terms (for the constant check).
    """
    check_discount(discount)
    if not callable(model):
        raise TypeError(
            "transition_model must be a callable (obs, acts, generator) -> next_obs; "
            "build one with benchmark.metrics.dynamics.transition_model(task)"
        )
    for i, r in enumerate(rewards):
        if not callable(r):
            raise TypeError(f"reward {i} must be a RewardFn callable, got {type(r).__name__}")
    t = as_transitions(transitions)
    n = len(t)
    if n < 2:
        raise ValueError(f"transitions must hold at least 2 rows to compute a correlation, got {n}")
    dev = pick_device(rewards, t, device)
    batch = resolve_max_batch(max_batch, dev)
    t = t.to(dev)
    acts = as_float_tensor(action_samples, name="action_samples", device=dev).to(t.acts.dtype)
    act_shape = tuple(t.acts.shape[1:])
    if acts.ndim < 1 or tuple(acts.shape[1:]) != act_shape or acts.shape[0] < 1:
        raise ValueError(
            f"action_samples must have shape [M, *act_shape] matching transitions.acts "
            f"{tuple(t.acts.shape)}, got {tuple(acts.shape)}"
        )
    n_samples = acts.shape[0]
    generator = torch.Generator(device=dev)
    generator.manual_seed(int(seed))

    states = torch.cat([t.obs, t.next_obs])
    distinct, inverse = torch.unique(states.reshape(2 * n, -1), dim=0, return_inverse=True)
    distinct = distinct.reshape(-1, *t.obs.shape[1:])
    succ = _successors(model, distinct, acts, generator, batch)  # [U, M, *obs]

    k = len(rewards)
    eps = [0.0] * k
    call = _caller(rewards, names, eps)
    raw = torch.empty(k, n, dtype=torch.float64, device=dev)
    for s0 in range(0, n, batch):
        sl = slice(s0, s0 + batch)
        raw[:, sl] = call(t.obs[sl], t.acts[sl], t.next_obs[sl])

    # m(x) over distinct states, and n(s, s') over transitions: chunks of whole states
    # (M rows each), so every chunk's mean is one reshape.
    per_chunk = max(1, batch // n_samples)
    mean = torch.empty(k, distinct.shape[0], dtype=torch.float64, device=dev)
    for u0 in range(0, distinct.shape[0], per_chunk):
        u1 = min(distinct.shape[0], u0 + per_chunk)
        obs = distinct[u0:u1].repeat_interleave(n_samples, dim=0)
        nxt = succ[u0:u1].reshape(-1, *distinct.shape[1:])
        out = call(obs, acts.repeat(u1 - u0, *([1] * (acts.ndim - 1))), nxt)
        mean[:, u0:u1] = out.view(k, u1 - u0, n_samples).mean(dim=2)
    pair = torch.empty(k, n, dtype=torch.float64, device=dev)
    inv_s, inv_next = inverse[:n], inverse[n:]
    for t0 in range(0, n, per_chunk):
        t1 = min(n, t0 + per_chunk)
        first = succ[inv_s[t0:t1]].reshape(-1, *distinct.shape[1:])
        second = succ[inv_next[t0:t1]].reshape(-1, *distinct.shape[1:])
        out = call(first, acts.repeat(t1 - t0, *([1] * (acts.ndim - 1))), second)
        pair[:, t0:t1] = out.view(k, t1 - t0, n_samples).mean(dim=2)

    for j, name in enumerate(names):
        bad = int((~torch.isfinite(raw[j])).sum() + (~torch.isfinite(mean[j])).sum())
        bad += int((~torch.isfinite(pair[j])).sum())
        if bad:
            raise ValueError(
                f"{name} returned non-finite values (NaN or inf) on {bad} of the transitions "
                "or successor samples; check the reward model and its inputs"
            )
    canon = raw + discount * mean[:, inv_next] - mean[:, inv_s] - discount * pair
    scales = (raw.abs().amax(1) + 2 * mean.abs().amax(1) + pair.abs().amax(1)).tolist()
    return list(canon), eps, scales


def _successors(
    model: TransitionModel,
    states: torch.Tensor,
    acts: torch.Tensor,
    generator: torch.Generator,
    batch: int,
) -> torch.Tensor:
    """``[U, M, *obs]``: successor j of state u drawn from T(·|states[u], acts[j])."""
    n_states, n_samples = states.shape[0], acts.shape[0]
    out = torch.empty(
        n_states, n_samples, *states.shape[1:], dtype=states.dtype, device=states.device
    )
    per_chunk = max(1, batch // n_samples)
    for u0 in range(0, n_states, per_chunk):
        u1 = min(n_states, u0 + per_chunk)
        obs = states[u0:u1].repeat_interleave(n_samples, dim=0)
        a = acts.repeat(u1 - u0, *([1] * (acts.ndim - 1)))
        nxt = torch.as_tensor(model(obs, a, generator))
        if tuple(nxt.shape) != tuple(obs.shape):
            raise ValueError(
                f"transition_model returned shape {tuple(nxt.shape)} for states of shape "
                f"{tuple(obs.shape)}; it must return next_obs of the same shape as obs"
            )
        if not torch.all(torch.isfinite(nxt)):
            raise ValueError("transition_model returned non-finite next states")
        out[u0:u1] = nxt.to(states.device, states.dtype).view(u1 - u0, n_samples, *states.shape[1:])
    return out


def _caller(rewards: Sequence[RewardFn], names: Sequence[str], eps: list[float]):
    """Evaluate every reward on one batch (dones = 0) -> ``[k, B]`` float64; track eps."""

    def call(obs: torch.Tensor, acts: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        dones = torch.zeros(obs.shape[0], dtype=obs.dtype, device=obs.device)
        outs = []
        for j, (reward, name) in enumerate(zip(rewards, names, strict=True)):
            out = call_reward(reward, name, obs, acts, next_obs, dones, keep_dtype=True)
            eps[j] = max(eps[j], float(torch.finfo(out.dtype).eps))
            outs.append(out.to(torch.float64))
        return torch.stack(outs)

    return call


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
]
