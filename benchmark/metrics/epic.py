"""EPIC distance (Gleave et al., "Quantifying Differences in Reward Functions", ICLR 2021).

The canonically shaped reward (paper eq. 3, DESIGN.md) removes potential shaping:

    C(R)(s,a,s') = R(s,a,s') + E[γ R(s',A,S') − R(s,A,S') − γ R(S,A,S')],
    S, S' ~ D_S and A ~ D_A independent,

and EPIC is the Pearson distance of canonicalized rewards under the transition
distribution D_T:  D_EPIC = sqrt((1 − ρ(C(R_A), C(R_B))) / 2).

Writing m(x) = E_{A,S'} R(x, A, S') and c = E[R(S,A,S')] = E_S m(S):

    C(R)(s,a,s') = R(s,a,s') + γ m(s') − m(s) − γ c.

The sample-based estimator replaces m by a mean over M paired samples
``(action_samples[j], state_samples[j])`` and c by the mean of m over ``state_samples``.
It does less than the naive 2·N·M evaluations per reward where the maths allows:

1. c is a constant, and a constant does not change a correlation, so `epic_distance`
   skips it (`canonicalize` still returns the full C(R));
2. m is needed once per *distinct* state among obs and next_obs; transitions from
   contiguous trajectories share most of them (next_obs[t] == obs[t+1]), so states
   are deduplicated exactly and each is evaluated once;
3. both rewards are evaluated on the same [states × M] input batches, built once.

As in the paper's code, ``dones`` are ignored: EPIC is defined for rewards on
transitions without terminal states, so every reward is evaluated with dones = 0 and
γ m(s') is never masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from benchmark.data import RewardFn, Transitions, as_float_tensor, as_transitions
from benchmark.metrics import stats

# Defaults of the paper's code (evaluating_rewards): discount, |D_T| samples N_T,
# mean-term samples M, seeds per evaluation, bootstrap resamples.
DEFAULT_DISCOUNT = 0.99
DEFAULT_N_TRANSITIONS = 4096
DEFAULT_N_SAMPLES = 4096
DEFAULT_N_SEEDS = 3
DEFAULT_N_BOOTSTRAP = 1000
# Rows per reward forward pass: bounds memory whatever N_T and M are. None picks by
# device: on CPU, batches that stay in cache run about twice as fast as 65k-row ones
# (bench/epic_throughput.py, MLP 256x256, one thread: 602k vs 296k rows/s); a GPU
# needs the larger batches to stay busy.
DEFAULT_MAX_BATCH: int | None = None
MAX_BATCH_CPU = 2**13
MAX_BATCH_ACCELERATOR = 2**16

ArrayLike = torch.Tensor | np.ndarray


# --------------------------------------------------------------------------- Pearson


def pearson_distance(x: ArrayLike, y: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Pearson distance D_ρ(X, Y) = sqrt((1 − ρ(X, Y)) / 2), in [0, 1].

    Args:
        x, y: ``[N]`` paired samples (torch or numpy), N >= 2.
        weights: optional ``[N]`` non-negative weights (e.g. D_T probabilities).

    Raises:
        ValueError: on shape mismatch, non-finite values, bad weights, or when x or y
            is constant (the correlation, hence the distance, is undefined).
    """
    x_np = _to_numpy_1d(x, "x")
    y_np = _to_numpy_1d(y, "y")
    if x_np.shape != y_np.shape:
        raise ValueError(f"x and y must have the same shape [N], got {x_np.shape} and {y_np.shape}")
    w_np = None if weights is None else _check_weights(weights, x_np.shape[0])
    dist = float(stats.pearson_distance_batch(x_np, y_np, w_np))
    if np.isnan(dist):
        raise ValueError(
            "Pearson distance is undefined: x or y is constant (zero variance) "
            "under the given weights. Check that the inputs vary."
        )
    return dist


# --------------------------------------------------------------------------- exact tabular


def canonicalize_tabular(
    reward: ArrayLike, *, state_dist: ArrayLike, action_dist: ArrayLike, discount: float
) -> np.ndarray:
    """Exact C(R) for a finite MDP.

    Args:
        reward: ``[S, A, S]`` table R(s, a, s').
        state_dist: ``[S]`` D_S. action_dist: ``[A]`` D_A.
        discount: γ in [0, 1].

    Returns:
        ``[S, A, S]`` float64 table of C(R)(s, a, s').
    """
    _check_discount(discount)
    r = _to_numpy(reward, "reward")
    if r.ndim != 3 or r.shape[0] != r.shape[2]:
        raise ValueError(f"reward must have shape [S, A, S], got {r.shape}")
    n_s, n_a, _ = r.shape
    d_s = _check_distribution(state_dist, "state_dist", (n_s,))
    d_a = _check_distribution(action_dist, "action_dist", (n_a,))
    if not np.all(np.isfinite(r)):
        raise ValueError(f"reward contains {int((~np.isfinite(r)).sum())} non-finite entries")
    mean = np.einsum("sat,a,t->s", r, d_a, d_s)  # m(s) = E_{A,S'} R(s, A, S')
    const = float(d_s @ mean)  # c = E_S m(S)
    return r + discount * mean[None, None, :] - mean[:, None, None] - discount * const


def epic_distance_tabular(
    reward_a: ArrayLike,
    reward_b: ArrayLike,
    *,
    state_dist: ArrayLike,
    action_dist: ArrayLike,
    transition_dist: ArrayLike,
    discount: float = DEFAULT_DISCOUNT,
) -> float:
    """Exact EPIC distance for a finite MDP (sums over the tables, float64).

    Args:
        reward_a, reward_b: ``[S, A, S]`` reward tables.
        state_dist: ``[S]`` D_S; action_dist: ``[A]`` D_A (arbitrary, non-uniform).
        transition_dist: ``[S, A, S]`` D_T, a joint distribution over (s, a, s').
        discount: γ in [0, 1].

    Returns:
        D_EPIC in [0, 1].
    """
    ra = _to_numpy(reward_a, "reward_a")
    rb = _to_numpy(reward_b, "reward_b")
    if ra.shape != rb.shape:
        raise ValueError(f"reward_a {ra.shape} and reward_b {rb.shape} must have the same shape")
    ca = canonicalize_tabular(ra, state_dist=state_dist, action_dist=action_dist, discount=discount)
    cb = canonicalize_tabular(rb, state_dist=state_dist, action_dist=action_dist, discount=discount)
    d_t = _check_distribution(transition_dist, "transition_dist", ra.shape).reshape(-1)
    for name, c, r in (("reward_a", ca, ra), ("reward_b", cb, rb)):
        _check_not_constant(
            c.reshape(-1), d_t, name, eps=np.finfo(np.float64).eps, scale=3 * float(np.abs(r).max())
        )
    return pearson_distance(ca.reshape(-1), cb.reshape(-1), d_t)


# --------------------------------------------------------------------------- sample-based


def canonicalize(
    reward: RewardFn,
    transitions: Any,
    state_samples: ArrayLike,
    action_samples: ArrayLike,
    discount: float = DEFAULT_DISCOUNT,
    *,
    device: torch.device | str | None = None,
    max_batch: int | None = DEFAULT_MAX_BATCH,
    deduplicate: bool = True,
) -> torch.Tensor:
    """Sample-based C(R) at each transition, including the constant term −γ c.

    Args:
        reward: a RewardFn ``(obs, acts, next_obs, dones) -> [B]`` (an imitation
            RewardNet works; it is called under ``torch.no_grad()``).
        transitions: ``benchmark.data.Transitions`` or imitation ``Transitions``, N rows.
        state_samples: ``[M, *obs_shape]`` draws from D_S.
        action_samples: ``[M, *act_shape]`` draws from D_A, paired with state_samples.
        discount: γ in [0, 1].
        device: where to evaluate; default the reward module's device, else the
            transitions'.
        max_batch: rows per forward pass (memory bound).
        deduplicate: evaluate the mean term once per distinct state (exact).

    Returns:
        ``[N]`` float64 tensor of C(R)(s, a, s') on ``device``.
    """
    inputs = _validate_inputs(
        [reward], transitions, state_samples, action_samples, discount, None, max_batch, device
    )
    canon, _, _ = _canonicalize_many(
        [reward], ["reward"], inputs, include_constant=True, deduplicate=deduplicate
    )
    return canon[0]


def epic_distance(
    reward_a: RewardFn,
    reward_b: RewardFn,
    *,
    transitions: Any,
    state_samples: ArrayLike,
    action_samples: ArrayLike,
    discount: float = DEFAULT_DISCOUNT,
    weights: ArrayLike | None = None,
    device: torch.device | str | None = None,
    max_batch: int | None = DEFAULT_MAX_BATCH,
    deduplicate: bool = True,
) -> float:
    """Sample-based EPIC distance between two reward functions.

    Args:
        reward_a, reward_b: RewardFns (see `canonicalize`).
        transitions: N draws from D_T (our or imitation's Transitions).
        state_samples: ``[M, *obs_shape]`` from D_S; action_samples ``[M, *act_shape]``
            from D_A; pair j estimates E_{A,S'} R(x, A, S') ≈ (1/M) Σ_j R(x, a_j, s_j).
        discount: γ in [0, 1].
        weights: optional ``[N]`` importance weights of the transitions under D_T.
        device, max_batch, deduplicate: see `canonicalize`.

    Returns:
        D_EPIC(R_A, R_B) in [0, 1].

    Raises:
        ValueError: bad shapes or values (message names the argument), non-finite
            rewards, or a reward that is constant after canonicalization.
    """
    ca, cb, w = _paired_canonical(
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
    )
    return pearson_distance(ca, cb, w)


@dataclass(frozen=True)
class EpicResult:
    """EPIC point estimate with a 95% bootstrap interval over transitions."""

    distance: float
    ci_low: float
    ci_high: float
    n_transitions: int
    n_samples: int
    confidence: float
    num_resamples: int


def epic_distance_with_ci(
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
    max_batch: int | None = DEFAULT_MAX_BATCH,
) -> EpicResult:
    """`epic_distance` plus a percentile-bootstrap CI over transitions (rows resampled).

    The mean terms m(·) are held fixed: the interval reflects the sampling of D_T,
    which dominates for N_T = M (the paper's practice).
    """
    ca, cb, w = _paired_canonical(
        reward_a,
        reward_b,
        transitions,
        state_samples,
        action_samples,
        discount,
        weights,
        device,
        max_batch,
        True,
    )
    ci = stats.bootstrap_pearson_distance(
        ca, cb, w, num_resamples=num_resamples, confidence=confidence, seed=seed
    )
    return EpicResult(
        distance=pearson_distance(ca, cb, w),
        ci_low=ci.low,
        ci_high=ci.high,
        n_transitions=int(ca.shape[0]),
        n_samples=int(np.shape(state_samples)[0]),
        confidence=confidence,
        num_resamples=num_resamples,
    )


def resolve_max_batch(max_batch: int | None, device: torch.device) -> int:
    """Rows per forward pass: ``max_batch`` if given, else the device's default."""
    if max_batch is None:
        return MAX_BATCH_CPU if device.type == "cpu" else MAX_BATCH_ACCELERATOR
    if not isinstance(max_batch, int) or max_batch < 1:
        raise ValueError(
            f"max_batch must be a positive int (rows per forward pass), got {max_batch!r}"
        )
    return max_batch


def evaluate_reward(
    reward: RewardFn,
    transitions: Transitions,
    *,
    name: str = "reward",
    use_dones: bool = True,
    device: torch.device | str | None = None,
    max_batch: int | None = DEFAULT_MAX_BATCH,
) -> torch.Tensor:
    """R at each transition, in chunks of ``max_batch`` rows, under ``no_grad``.

    Shared by ERC and NPEC. Returns ``[N]`` float64 on the evaluation device; raises
    ValueError on wrong output shape or non-finite values.
    """
    dev = _pick_device([reward], transitions, device)
    max_batch = resolve_max_batch(max_batch, dev)
    t = transitions.to(dev)
    dones = t.dones if use_dones else torch.zeros_like(t.dones)
    out = torch.empty(len(t), dtype=torch.float64, device=dev)
    for start in range(0, len(t), max_batch):
        sl = slice(start, start + max_batch)
        out[sl] = _call_reward(reward, name, t.obs[sl], t.acts[sl], t.next_obs[sl], dones[sl])
    bad = int((~torch.isfinite(out)).sum())
    if bad:
        raise ValueError(
            f"{name} returned {bad} non-finite values (NaN or inf) out of {len(t)} transitions"
        )
    return out


# --------------------------------------------------------------------------- internals


@dataclass(frozen=True)
class _Inputs:
    transitions: Transitions
    state_samples: torch.Tensor
    action_samples: torch.Tensor
    discount: float
    weights: np.ndarray | None
    max_batch: int
    device: torch.device


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
    deduplicate,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """C(R_A), C(R_B) without the constant term, as float64 numpy ``[N]``, + weights."""
    rewards = [reward_a, reward_b]
    names = ["reward_a", "reward_b"]
    inputs = _validate_inputs(
        rewards, transitions, state_samples, action_samples, discount, weights, max_batch, device
    )
    canon, eps, scales = _canonicalize_many(
        rewards, names, inputs, include_constant=False, deduplicate=deduplicate
    )
    arrays = [c.cpu().numpy() for c in canon]
    for name, c, e, sc in zip(names, arrays, eps, scales, strict=True):
        _check_not_constant(c, inputs.weights, name, eps=e, scale=sc)
    return arrays[0], arrays[1], inputs.weights


def _validate_inputs(
    rewards, transitions, state_samples, action_samples, discount, weights, max_batch, device
) -> _Inputs:
    _check_discount(discount)
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
    dev = _pick_device(rewards, t, device)
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
    w = None if weights is None else _check_weights(weights, n)
    max_batch = resolve_max_batch(max_batch, dev)
    # When the reward modules share one parameter dtype, convert the inputs once here
    # rather than every batch (e.g. float64 numpy data for a float32 net).
    dtypes = {p[1] for p in map(_module_placement, rewards) if p is not None}
    if len(dtypes) == 1:
        dtype = dtypes.pop()
        t = Transitions(*(x.to(dev, dtype) for x in (t.obs, t.acts, t.next_obs, t.dones)))
        return _Inputs(t, s.to(dtype), a.to(dtype), float(discount), w, max_batch, dev)
    t = t.to(dev)
    return _Inputs(t, s.to(t.obs.dtype), a.to(t.acts.dtype), float(discount), w, max_batch, dev)


def _canonicalize_many(
    rewards: Sequence[RewardFn],
    names: Sequence[str],
    inputs: _Inputs,
    *,
    include_constant: bool,
    deduplicate: bool,
) -> tuple[list[torch.Tensor], list[float], list[float]]:
    """C(R) for each reward at each transition, sharing every input batch.

    Returns the ``[N]`` float64 canonicalizations and, per reward, the machine epsilon
    of its output dtype and the magnitude of the summed terms (for the
    constant-reward check).
    """
    t = inputs.transitions
    n = len(t)
    zeros = torch.zeros(n, dtype=t.dones.dtype, device=inputs.device)
    raw = torch.empty(len(rewards), n, dtype=torch.float64, device=inputs.device)
    eps = [0.0] * len(rewards)
    for start in range(0, n, inputs.max_batch):
        sl = slice(start, start + inputs.max_batch)
        for k, (reward, name) in enumerate(zip(rewards, names, strict=True)):
            out = _call_reward(
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
    mean = _mean_over_samples(rewards, names, distinct, inputs)  # [k, U]

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
    return list(canon), eps, scales


def _mean_over_samples(
    rewards: Sequence[RewardFn], names: Sequence[str], states: torch.Tensor, inputs: _Inputs
) -> torch.Tensor:
    """m(x) = (1/M) Σ_j R(x, a_j, s_j) for each state x: ``[U, *obs]`` -> ``[k, U]`` float64.

    Input batches hold ``states_per_chunk × M`` rows (at most ``max_batch``), built
    once and fed to every reward. When M exceeds ``max_batch`` the samples are split
    into blocks and partial sums accumulated.
    """
    s_samp, a_samp = inputs.state_samples, inputs.action_samples
    n_states, n_samples = states.shape[0], s_samp.shape[0]
    sums = torch.zeros(len(rewards), n_states, dtype=torch.float64, device=inputs.device)
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
                out = _call_reward(
                    reward,
                    name,
                    obs_rep,
                    acts_tile[:rows],
                    next_tile[:rows],
                    dones[:rows],
                    keep_dtype=True,
                )
                sums[k, u0:u1] += out.view(u1 - u0, width).sum(dim=1, dtype=torch.float64)
    return sums / n_samples


def _module_placement(reward: RewardFn) -> tuple[torch.device, torch.dtype] | None:
    """Device and float dtype of an nn.Module reward's parameters, if it has any."""
    if isinstance(reward, torch.nn.Module):
        for p in reward.parameters():
            if torch.is_floating_point(p):
                return p.device, p.dtype
    return None


def _pick_device(rewards, transitions: Transitions, device) -> torch.device:
    if device is not None:
        return torch.device(device)
    for r in rewards:
        placement = _module_placement(r)
        if placement is not None:
            return placement[0]
    return transitions.device


def _call_reward(
    reward: RewardFn,
    name: str,
    obs: torch.Tensor,
    acts: torch.Tensor,
    next_obs: torch.Tensor,
    dones: torch.Tensor,
    *,
    keep_dtype: bool = False,
) -> torch.Tensor:
    """Evaluate one batch under no_grad on the reward's own device/dtype; check shape [B]."""
    home = obs.device
    placement = _module_placement(reward)
    if placement is not None:
        dev, dtype = placement
        obs, acts, next_obs, dones = (x.to(dev, dtype) for x in (obs, acts, next_obs, dones))
    with torch.no_grad():
        out = reward(obs, acts, next_obs, dones)
    if isinstance(out, np.ndarray):
        out = torch.as_tensor(out)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{name} must return a torch tensor of shape [B], got {type(out).__name__}")
    b = obs.shape[0]
    if tuple(out.shape) != (b,):
        raise ValueError(
            f"{name} returned shape {tuple(out.shape)} for a batch of {b} transitions; "
            f"a RewardFn must return shape [B] = [{b}] (squeeze a trailing axis if needed)"
        )
    if not torch.is_floating_point(out):
        out = out.to(torch.float32)
    out = out.to(home)
    return out if keep_dtype else out.to(torch.float64)


def _check_not_constant(
    c: np.ndarray, weights: np.ndarray | None, name: str, *, eps: float, scale: float
) -> None:
    """Raise if C(R) has no variance beyond the rounding error of R's dtype.

    ``scale`` is the magnitude of the terms C(R) was summed from (max |R| + max |m|):
    rounding errors are relative to it, not to the (possibly tiny) result.
    """
    w = np.full(c.shape[0], 1.0 / c.shape[0]) if weights is None else weights / weights.sum()
    mean = float(w @ c)
    std = float(np.sqrt(w @ (c - mean) ** 2))
    if std <= 64 * eps * max(scale, np.finfo(np.float64).tiny):
        raise ValueError(
            f"{name} is constant after canonicalization (std {std:.3g} under D_T): EPIC is "
            "undefined for a constant reward, or one that is a constant plus potential "
            "shaping, because a correlation needs variance. Such a reward ranks no "
            "behaviour above another; compare a non-constant reward instead."
        )


def _check_discount(discount: float) -> None:
    if not isinstance(discount, int | float | np.floating) or not 0.0 <= float(discount) <= 1.0:
        raise ValueError(f"discount must be a number in [0, 1], got {discount!r}")


def _check_weights(weights: ArrayLike, n: int) -> np.ndarray:
    w = _to_numpy(weights, "weights")
    if w.shape != (n,):
        raise ValueError(f"weights must have shape [N] = [{n}] (one per transition), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(
            f"weights must be finite and non-negative; {int((~(w >= 0)).sum())} entries are not"
        )
    if w.sum() <= 0:
        raise ValueError("weights sum to zero; at least one transition needs positive weight")
    return w


def _check_distribution(p: ArrayLike, name: str, shape: tuple[int, ...]) -> np.ndarray:
    arr = _to_numpy(p, name)
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {list(shape)}, got {list(arr.shape)}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    total = float(arr.sum())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(
            f"{name} must sum to 1 (a probability distribution), sums to {total:.6g}; normalize it"
        )
    return arr


def _to_numpy(x: ArrayLike, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be a numeric numpy array or torch tensor: {e}") from e


def _to_numpy_1d(x: ArrayLike, name: str) -> np.ndarray:
    arr = _to_numpy(x, name)
    if arr.ndim != 1 or arr.shape[0] < 2:
        raise ValueError(f"{name} must have shape [N] with N >= 2, got {list(arr.shape)}")
    bad = int((~np.isfinite(arr)).sum())
    if bad:
        raise ValueError(f"{name} contains {bad} non-finite values (NaN or inf)")
    return arr
