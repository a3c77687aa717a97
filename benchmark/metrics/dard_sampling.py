"""The sample-based engine behind `benchmark.metrics.dard` (Wulfe et al. 2022).

Two steps, so that successor draws can be shared: `draw_successors` steps the transition
model once from every distinct state among the transitions' obs and next_obs under each
action sample (``U x M`` model steps; they depend on no reward), and
`canonicalize_on_draws` evaluates rewards on those draws:

    m(x) ≈ (1/M) Σ_j R(x, a_j, x'_j),     n(s, s') ≈ (1/M) Σ_j R(s'_j, a_j, s''_j),
    C_T(R)(s,a,s') = R(s,a,s') + γ m(s') − m(s) − γ n(s, s'),

with x'_j the j-th successor of x (s'_j, s''_j those of s and s'). Every reward sees the
same draws, so shaping cancels exactly, draw by draw (see the `dard` module docstring).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from benchmark.data import RewardFn, Transitions, as_float_tensor, as_transitions
from benchmark.metrics.dynamics import TransitionModel
from benchmark.metrics.inputs import ArrayLike
from benchmark.metrics.reward_evaluation import call_reward, pick_device, resolve_max_batch


@dataclass(frozen=True)
class SuccessorDraws:
    """Transitions, action samples and the model's successors of their distinct states.

    Attributes:
        transitions: the N transitions (on ``device``).
        actions: ``[M, *act]`` action samples a_j (transitions' dtype).
        states: ``[U, *obs]`` distinct states among obs and next_obs.
        inverse: ``[2N]`` row of ``states`` for obs (first N) and next_obs (last N).
        successors: ``[U, M, *obs]``, successor j of state u under a_j.
        max_batch: rows per reward forward pass.
    """

    transitions: Transitions
    actions: torch.Tensor
    states: torch.Tensor
    inverse: torch.Tensor
    successors: torch.Tensor
    max_batch: int


def draw_successors(
    transitions: Any,
    action_samples: ArrayLike,
    model: TransitionModel,
    *,
    seed: int = 0,
    device: torch.device | str | None = None,
    max_batch: int | None = None,
    rewards: Sequence[RewardFn] = (),
) -> SuccessorDraws:
    """Step ``model`` from each distinct state under each action sample (seeded).

    ``rewards`` only pick the default device (the first reward module's).
    """
    if not callable(model):
        raise TypeError(
            "transition_model must be a callable (obs, acts, generator) -> next_obs; "
            "build one with benchmark.metrics.dynamics.transition_model(task)"
        )
    t = as_transitions(transitions)
    n = len(t)
    if n < 2:
        raise ValueError(f"transitions must hold at least 2 rows to compute a correlation, got {n}")
    dev = pick_device(list(rewards), t, device)
    batch = resolve_max_batch(max_batch, dev)
    t = t.to(dev)
    acts = as_float_tensor(action_samples, name="action_samples", device=dev).to(t.acts.dtype)
    if acts.ndim < 1 or tuple(acts.shape[1:]) != tuple(t.acts.shape[1:]) or acts.shape[0] < 1:
        raise ValueError(
            f"action_samples must have shape [M, *act_shape] matching transitions.acts "
            f"{tuple(t.acts.shape)}, got {tuple(acts.shape)}"
        )
    generator = torch.Generator(device=dev)
    generator.manual_seed(int(seed))
    both = torch.cat([t.obs, t.next_obs])
    distinct, inverse = torch.unique(both.reshape(2 * n, -1), dim=0, return_inverse=True)
    distinct = distinct.reshape(-1, *t.obs.shape[1:])
    succ = torch.empty(distinct.shape[0], acts.shape[0], *distinct.shape[1:], dtype=distinct.dtype,
                       device=dev)  # fmt: skip
    for u0, u1, obs, a in _state_chunks(distinct, acts, batch):
        nxt = torch.as_tensor(model(obs, a, generator))
        if tuple(nxt.shape) != tuple(obs.shape):
            raise ValueError(
                f"transition_model returned shape {tuple(nxt.shape)} for states of shape "
                f"{tuple(obs.shape)}; it must return next_obs of the same shape as obs"
            )
        if not torch.all(torch.isfinite(nxt)):
            raise ValueError("transition_model returned non-finite next states")
        succ[u0:u1] = nxt.to(dev, distinct.dtype).view(u1 - u0, acts.shape[0], *distinct.shape[1:])
    return SuccessorDraws(t, acts, distinct, inverse, succ, batch)


def canonicalize_on_draws(
    rewards: Sequence[RewardFn], names: Sequence[str], draws: SuccessorDraws, discount: float
) -> tuple[list[torch.Tensor], list[float], list[float]]:
    """C_T(R) ``[N]`` float64 for each reward on shared draws.

    Returns also, per reward, the machine epsilon of its outputs and the magnitude of the
    summed terms (what `inputs.check_not_constant` measures rounding against).
    """
    parts = parts_on_draws(rewards, names, draws, discount)
    return parts.canonical, parts.eps, parts.scales


@dataclass(frozen=True)
class DardParts:
    """C_T(R) of k rewards and the per-group sums of its mean terms (for the bootstrap).

    Attributes:
        canonical, eps, scales: as `canonicalize_on_draws` returns them.
        raw: ``[k, N]`` R at the transitions.
        mean_sums: ``[k, U, G]`` Σ_{j in group g} R(x_u, a_j, x'_j) per distinct state.
        pair_sums: ``[k, P, G]`` Σ_{j in group g} R(s'_j, a_j, s''_j) per distinct (s, s').
        group_sizes: ``[G]`` samples per group.
        at_s, at_next: ``[N]`` index in U of each transition's s and s'.
        at_pair: ``[N]`` index in P of each transition's (s, s').
    """

    canonical: list[torch.Tensor]
    eps: list[float]
    scales: list[float]
    raw: torch.Tensor
    mean_sums: torch.Tensor
    pair_sums: torch.Tensor
    group_sizes: torch.Tensor
    at_s: torch.Tensor
    at_next: torch.Tensor
    at_pair: torch.Tensor

    def joined(self, other: DardParts) -> DardParts:
        """Both rewards' pieces as one (self's rewards first), for a paired statistic;
        they must come from the same successor draws (checked), as the runner's are."""
        mine, theirs = (
            (self.at_s, self.at_next, self.at_pair),
            (other.at_s, other.at_next, other.at_pair),
        )
        if not all(torch.equal(a, b) for a, b in zip(mine, theirs, strict=True)):
            raise ValueError("the two rewards' pieces were computed on other successor draws")
        return DardParts(
            self.canonical + other.canonical,
            self.eps + other.eps,
            self.scales + other.scales,
            torch.cat([self.raw, other.raw]),
            torch.cat([self.mean_sums, other.mean_sums]),
            torch.cat([self.pair_sums, other.pair_sums]),
            self.group_sizes,
            self.at_s,
            self.at_next,
            self.at_pair,
        )


def parts_on_draws(
    rewards: Sequence[RewardFn],
    names: Sequence[str],
    draws: SuccessorDraws,
    discount: float,
    groups: torch.Tensor | None = None,
) -> DardParts:
    """`canonicalize_on_draws` keeping per-group sums of the mean terms.

    ``groups``: ``[M]`` group index of each action sample (one group when None).
    """
    for i, r in enumerate(rewards):
        if not callable(r):
            raise TypeError(f"reward {i} must be a RewardFn callable, got {type(r).__name__}")
    t, acts, states, succ = draws.transitions, draws.actions, draws.states, draws.successors
    n, k, n_samples, dev = len(t), len(rewards), acts.shape[0], t.obs.device
    groups = torch.zeros(n_samples, dtype=torch.long) if groups is None else groups
    groups = groups.to(dev)
    n_groups = int(groups.max()) + 1
    eps = [0.0] * k
    call = _caller(rewards, names, eps)
    raw = torch.empty(k, n, dtype=torch.float64, device=dev)
    for s0 in range(0, n, draws.max_batch):
        sl = slice(s0, s0 + draws.max_batch)
        raw[:, sl] = call(t.obs[sl], t.acts[sl], t.next_obs[sl])
    # m(x) per distinct state, and n(s, s') per transition: chunks of whole states (M rows
    # each), so every chunk's sums are one reshape.
    mean_sums = torch.zeros(k, states.shape[0], n_groups, dtype=torch.float64, device=dev)
    for u0, u1, obs, a in _state_chunks(states, acts, draws.max_batch):
        out = call(obs, a, succ[u0:u1].reshape(-1, *states.shape[1:]))
        mean_sums[:, u0:u1].index_add_(2, groups, out.view(k, u1 - u0, n_samples))
    inv_s, inv_next = draws.inverse[:n], draws.inverse[n:]
    # n(s, s') once per distinct (s, s') pair: finite tasks repeat pairs a lot.
    pairs, pair_of = torch.unique(torch.stack([inv_s, inv_next], 1), dim=0, return_inverse=True)
    pair_sums = torch.zeros(k, pairs.shape[0], n_groups, dtype=torch.float64, device=dev)
    per_chunk = max(1, draws.max_batch // n_samples)
    for p0 in range(0, pairs.shape[0], per_chunk):
        p1 = min(pairs.shape[0], p0 + per_chunk)
        first = succ[pairs[p0:p1, 0]].reshape(-1, *states.shape[1:])
        second = succ[pairs[p0:p1, 1]].reshape(-1, *states.shape[1:])
        out = call(first, acts.repeat(p1 - p0, *([1] * (acts.ndim - 1))), second)
        pair_sums[:, p0:p1].index_add_(2, groups, out.view(k, p1 - p0, n_samples))
    mean = mean_sums.sum(dim=2) / n_samples
    pair = (pair_sums.sum(dim=2) / n_samples)[:, pair_of]
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
    sizes = torch.bincount(groups, minlength=n_groups).to(torch.float64)
    return DardParts(list(canon), eps, scales, raw, mean_sums, pair_sums, sizes, inv_s, inv_next,
                     pair_of)  # fmt: skip


def _state_chunks(states: torch.Tensor, acts: torch.Tensor, batch: int):
    """(u0, u1, each state of u0:u1 repeated M times, the M actions tiled) per chunk."""
    per_chunk = max(1, batch // acts.shape[0])
    for u0 in range(0, states.shape[0], per_chunk):
        u1 = min(states.shape[0], u0 + per_chunk)
        obs = states[u0:u1].repeat_interleave(acts.shape[0], dim=0)
        yield u0, u1, obs, acts.repeat(u1 - u0, *([1] * (acts.ndim - 1)))


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
