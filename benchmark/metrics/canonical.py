"""The sample-based canonicalization engine behind `benchmark.metrics.epic`.

C(R)(s,a,s') = R(s,a,s') + γ m(s') − m(s) − γ c with m(x) = E_{A,S'} R(x, A, S') and
c = E_S m(S) (Gleave et al., ICLR 2021; DESIGN.md). m is a mean over M paired
samples, evaluated once per distinct state and on input batches shared by every reward
(see the module docstring of `benchmark.metrics.epic` for why each saving is exact).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from benchmark.data import RewardFn, Transitions, as_float_tensor, as_transitions
from benchmark.metrics.inputs import check_discount, check_not_constant, check_weights
from benchmark.metrics.reward_evaluation import (
    call_reward,
    module_placement,
    pick_device,
    resolve_max_batch,
)


@dataclass(frozen=True)
class CanonicalInputs:
    transitions: Transitions
    state_samples: torch.Tensor
    action_samples: torch.Tensor
    discount: float
    weights: np.ndarray | None
    max_batch: int
    device: torch.device


def paired_canonical(
    reward_a,
    reward_b,
    transitions,
    state_samples,
    action_samples,
    discount,
    weights,
    device,
    max_batch,
    deduplicate,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """C(R_A), C(R_B) without the constant term, as float64 numpy ``[N]``, + weights."""
    rewards = [reward_a, reward_b]
    names = ["reward_a", "reward_b"]
    inputs = validate_inputs(
        rewards, transitions, state_samples, action_samples, discount, weights, max_batch, device
    )
    canon, eps, scales = canonicalize_many(
        rewards, names, inputs, include_constant=False, deduplicate=deduplicate
    )
    arrays = [c.cpu().numpy() for c in canon]
    for name, c, e, sc in zip(names, arrays, eps, scales, strict=True):
        check_not_constant(c, inputs.weights, name, eps=e, scale=sc)
    return arrays[0], arrays[1], inputs.weights


def validate_inputs(
    rewards, transitions, state_samples, action_samples, discount, weights, max_batch, device
) -> CanonicalInputs:
    check_discount(discount)
    for i, r in enumerate(rewards):
        if not callable(r):
            raise TypeError(
                f"reward {i} must be a RewardFn callable (obs, acts, next_obs, dones) -> [B], got {type(r).__name__}"
            )
    t = as_transitions(transitions)
    n = len(t)
    if n < 2:
        raise ValueError(f"transitions must hold at least 2 rows to compute a correlation, got {n}")
    if t.acts.ndim < 1 or t.acts.shape[0] != n:
        raise ValueError(
            f"transitions.acts must have shape [N, *act_shape] with N={n}, got {tuple(t.acts.shape)}"
        )
    dev = pick_device(rewards, t, device)
    s = as_float_tensor(state_samples, name="state_samples", device=dev)
    a = as_float_tensor(action_samples, name="action_samples", device=dev)
    obs_shape = tuple(t.obs.shape[1:])
    act_shape = tuple(t.acts.shape[1:])
    if s.ndim < 1 or tuple(s.shape[1:]) != obs_shape or s.shape[0] < 1:
        raise ValueError(
            f"state_samples must have shape [M, *obs_shape] = [M, {', '.join(map(str, obs_shape))}] "
            f"matching transitions.obs {tuple(t.obs.shape)}, got {tuple(s.shape)}"
        )
    if a.ndim < 1 or tuple(a.shape[1:]) != act_shape:
        raise ValueError(
            f"action_samples must have shape [M, *act_shape] matching transitions.acts "
            f"{tuple(t.acts.shape)}, got {tuple(a.shape)}"
        )
    if a.shape[0] != s.shape[0]:
        raise ValueError(
            f"state_samples ({s.shape[0]} rows) and action_samples ({a.shape[0]} rows) must "
            "have the same length M: pair j is used together as (a_j, s'_j)"
        )
    w = None if weights is None else check_weights(weights, n)
    max_batch = resolve_max_batch(max_batch, dev)
    # When every reward is a module of one parameter dtype, convert the inputs once here
    # rather than every batch (e.g. float64 numpy data for a float32 net). Not when a
    # closed-form reward (a task's ground truth) is among them: it would see rounded copies
    # of MuJoCo's float64 states; `call_reward` converts each module's batches instead.
    placements = [module_placement(r) for r in rewards]
    dtypes = {p[1] for p in placements if p is not None}
    if len(dtypes) == 1 and None not in placements:
        dtype = dtypes.pop()
        t = Transitions(*(x.to(dev, dtype) for x in (t.obs, t.acts, t.next_obs, t.dones)))
        return CanonicalInputs(t, s.to(dtype), a.to(dtype), float(discount), w, max_batch, dev)
    t = t.to(dev)
    return CanonicalInputs(
        t, s.to(t.obs.dtype), a.to(t.acts.dtype), float(discount), w, max_batch, dev
    )


def canonicalize_many(
    rewards: Sequence[RewardFn],
    names: Sequence[str],
    inputs: CanonicalInputs,
    *,
    include_constant: bool,
    deduplicate: bool,
) -> tuple[list[torch.Tensor], list[float], list[float]]:
    """C(R) for each reward at each transition, sharing every input batch.

    Returns the ``[N]`` float64 canonicalizations and, per reward, the machine epsilon
    of its output dtype and the magnitude of the summed terms (for the
    constant-reward check).
    """
    parts = _canonicalize(rewards, names, inputs, include_constant, deduplicate, None)
    return parts.canonical, parts.eps, parts.scales


@dataclass(frozen=True)
class CanonicalParts:
    """C(R) of k rewards and the pieces it is summed from (for the two-source bootstrap)."""

    canonical: list[torch.Tensor]  # [N] each, float64
    eps: list[float]  # machine epsilon of each reward's output dtype
    scales: list[float]  # magnitude of the summed terms (constant-reward check)
    raw: torch.Tensor  # [k, N] R at the transitions
    group_sums: torch.Tensor  # [k, U, G] Σ_{j in group g} R(x_u, a_j, s_j)
    group_sizes: torch.Tensor  # [G] samples per group
    at_s: torch.Tensor  # [N] index in U of each transition's s
    at_next: torch.Tensor  # [N] index in U of each transition's s'
    at_samples: torch.Tensor | None = None  # [M] index in U of each state sample (constant)

    def joined(self, other: CanonicalParts) -> CanonicalParts:
        """Both rewards' pieces as one (self's rewards first), for a paired statistic.

        Why a check: the runner computes the ground truth's pieces once and joins each
        submission's to them; pieces from other transitions would pair unrelated values.
        """
        if not (torch.equal(self.at_s, other.at_s) and torch.equal(self.at_next, other.at_next)):
            raise ValueError("the two rewards' pieces were computed on other transitions")
        return CanonicalParts(
            self.canonical + other.canonical,
            self.eps + other.eps,
            self.scales + other.scales,
            torch.cat([self.raw, other.raw]),
            torch.cat([self.group_sums, other.group_sums]),
            self.group_sizes,
            self.at_s,
            self.at_next,
            self.at_samples,
        )


def canonical_parts(
    rewards: Sequence[RewardFn],
    names: Sequence[str],
    inputs: CanonicalInputs,
    groups: torch.Tensor,
    *,
    include_constant: bool = False,
) -> CanonicalParts:
    """`canonicalize_many`, keeping per-group mean-term sums (for the bootstrap).

    ``groups``: ``[M]`` group index of each mean-term sample (see
    `benchmark.metrics.canonical_interval.sample_groups`). ``include_constant``: C(R)
    with its −γ c term (STARC's norm needs it; EPIC's correlation does not).
    """
    return _canonicalize(rewards, names, inputs, include_constant, True, groups.to(inputs.device))


def _canonicalize(
    rewards: Sequence[RewardFn],
    names: Sequence[str],
    inputs: CanonicalInputs,
    include_constant: bool,
    deduplicate: bool,
    groups: torch.Tensor | None,
) -> CanonicalParts:
    t = inputs.transitions
    n = len(t)
    zeros = torch.zeros(n, dtype=t.dones.dtype, device=inputs.device)
    raw = torch.empty(len(rewards), n, dtype=torch.float64, device=inputs.device)
    eps = [0.0] * len(rewards)
    for start in range(0, n, inputs.max_batch):
        sl = slice(start, start + inputs.max_batch)
        for k, (reward, name) in enumerate(zip(rewards, names, strict=True)):
            out = call_reward(
                reward, name, t.obs[sl], t.acts[sl], t.next_obs[sl], zeros[sl], keep_dtype=True
            )
            eps[k] = max(eps[k], float(torch.finfo(out.dtype).eps))
            raw[k, sl] = out.to(torch.float64)

    # States whose mean term m(x) we need: s and s' of every transition (+ the
    # state samples for the constant c). Row i of `states_needed` maps to
    # distinct state inverse[i].
    parts = [t.obs, t.next_obs]
    if include_constant:
        parts.append(inputs.state_samples)
    states_needed = torch.cat(parts)
    if deduplicate:
        flat = states_needed.reshape(states_needed.shape[0], -1)
        unique_flat, inverse = torch.unique(flat, dim=0, return_inverse=True)
        distinct = unique_flat.reshape(-1, *states_needed.shape[1:])
    else:
        distinct = states_needed
        inverse = torch.arange(states_needed.shape[0], device=inputs.device)
    group_sums = mean_over_samples(rewards, names, distinct, inputs, groups=groups)
    if groups is None:
        group_sums = group_sums.unsqueeze(2) * inputs.state_samples.shape[0]
    mean = group_sums.sum(dim=2) / inputs.state_samples.shape[0]  # [k, U]

    for k, name in enumerate(names):
        bad_raw = int((~torch.isfinite(raw[k])).sum())
        bad_mean = int((~torch.isfinite(mean[k])).sum())
        if bad_raw or bad_mean:
            raise ValueError(
                f"{name} returned non-finite values (NaN or inf): at {bad_raw} of {n} transitions, "
                f"and in the mean over samples at {bad_mean} of {mean.shape[1]} distinct states. "
                "Check the reward model and its inputs."
            )
    m_s = mean[:, inverse[:n]]
    m_next = mean[:, inverse[n : 2 * n]]
    canon = raw + inputs.discount * m_next - m_s
    if include_constant:
        const = mean[:, inverse[2 * n :]].mean(dim=1, keepdim=True)
        canon = canon - inputs.discount * const
    scales = (raw.abs().amax(dim=1) + 2 * mean.abs().amax(dim=1)).tolist()
    sizes = (
        torch.bincount(groups).to(torch.float64)
        if groups is not None
        else torch.full((1,), float(inputs.state_samples.shape[0]), dtype=torch.float64)
    )
    at_samples = inverse[2 * n :] if include_constant else None
    return CanonicalParts(
        list(canon), eps, scales, raw, group_sums, sizes, inverse[:n], inverse[n : 2 * n],
        at_samples,
    )  # fmt: skip


def mean_over_samples(
    rewards: Sequence[RewardFn],
    names: Sequence[str],
    states: torch.Tensor,
    inputs: CanonicalInputs,
    *,
    groups: torch.Tensor | None = None,
) -> torch.Tensor:
    """m(x) = (1/M) Σ_j R(x, a_j, s_j) for each state x: ``[U, *obs]`` -> ``[k, U]`` float64.

    With ``groups`` (``[M]`` group index of each sample) the unnormalised sums per group
    instead, ``[k, U, G]``. Input batches hold ``states_per_chunk × M`` rows (at most
    ``max_batch``), built once and fed to every reward. When M exceeds ``max_batch``
    the samples are split into blocks and partial sums accumulated.
    """
    s_samp, a_samp = inputs.state_samples, inputs.action_samples
    n_states, n_samples = states.shape[0], s_samp.shape[0]
    n_groups = 1 if groups is None else int(groups.max()) + 1
    sums = torch.zeros(len(rewards), n_states, n_groups, dtype=torch.float64, device=inputs.device)
    block = min(n_samples, inputs.max_batch)
    states_per_chunk = max(1, inputs.max_batch // block)
    for j0 in range(0, n_samples, block):
        j1 = min(n_samples, j0 + block)
        width = j1 - j0
        c = min(states_per_chunk, n_states)
        # Tiles of the (a_j, s_j) pairs for a full chunk; shorter chunks take a prefix.
        acts_tile = a_samp[j0:j1].repeat(c, *([1] * (a_samp.ndim - 1)))
        next_tile = s_samp[j0:j1].repeat(c, *([1] * (s_samp.ndim - 1)))
        dones = torch.zeros(c * width, dtype=s_samp.dtype, device=inputs.device)
        obs_buffer = torch.empty(
            c * width, *states.shape[1:], dtype=states.dtype, device=inputs.device
        )
        for u0 in range(0, n_states, c):
            u1 = min(n_states, u0 + c)
            rows = (u1 - u0) * width
            # Each state repeated `width` times, written into a reused buffer (no
            # allocation per chunk).
            obs_rep = obs_buffer[:rows]
            obs_rep.view(u1 - u0, width, *states.shape[1:]).copy_(states[u0:u1].unsqueeze(1))
            for k, (reward, name) in enumerate(zip(rewards, names, strict=True)):
                out = call_reward(
                    reward,
                    name,
                    obs_rep,
                    acts_tile[:rows],
                    next_tile[:rows],
                    dones[:rows],
                    keep_dtype=True,
                )
                values = out.view(u1 - u0, width)
                if groups is None:
                    sums[k, u0:u1, 0] += values.sum(dim=1, dtype=torch.float64)
                else:
                    sums[k, u0:u1].index_add_(1, groups[j0:j1], values.to(torch.float64))
    return sums[:, :, 0] / n_samples if groups is None else sums
