"""Episode Return Correlation (ERC), a baseline from Gleave et al. (ICLR 2021, §6).

ERC is the Pearson distance between the episode returns of two rewards over the same
set of trajectories:

    D_ERC(R_A, R_B) = D_ρ(G_A(τ), G_B(τ)),  G(τ) = Σ_t γ^t R(s_t, a_t, s_{t+1}),  τ ~ D,

undiscounted (γ = 1) by default, as in the paper.

How it differs from EPIC: ERC is *not* invariant to potential shaping — shaping adds
γ^T Φ(s_T) − Φ(s_0) to a return, which changes returns unless Φ is constant on the
initial and final states, so two rewards with the same optimal policies can be far
apart. And it depends on the trajectory distribution, in particular on its initial
states; EPIC depends only on the coverage distributions D_S, D_A, D_T and is
invariant to shaping by construction. ERC is cheap: one reward evaluation per
transition, no mean over samples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from benchmark.data import RewardFn, as_transitions
from benchmark.metrics.epic import pearson_distance
from benchmark.metrics.inputs import to_numpy
from benchmark.metrics.reward_evaluation import DEFAULT_MAX_BATCH, evaluate_reward

if TYPE_CHECKING:
    from benchmark.metrics.registry import UnitInputs


def episode_returns(
    rewards: torch.Tensor, dones: torch.Tensor, discount: float = 1.0
) -> torch.Tensor:
    """Returns of the complete episodes in a flat, episode-ordered reward sequence.

    Args:
        rewards: ``[N]`` per-transition rewards, ordered episode by episode.
        dones: ``[N]`` float or bool, 1 on the last transition of each episode.
        discount: γ in [0, 1] applied within each episode (t restarts at 0).

    Returns:
        ``[E]`` float64 returns of the E complete episodes; transitions after the
        last done (an incomplete episode) are dropped.
    """
    if not 0.0 <= discount <= 1.0:
        raise ValueError(f"discount must be in [0, 1], got {discount}")
    done = dones.to(torch.bool).cpu()
    rewards = rewards.to(torch.float64).cpu()
    ends = torch.nonzero(done).flatten()
    if len(ends) == 0:
        return torch.empty(0, dtype=torch.float64)
    n = int(ends[-1]) + 1
    episode = torch.cumsum(done[:n].to(torch.long), 0) - done[:n].to(torch.long)  # [n] episode id
    starts = torch.cat([torch.zeros(1, dtype=torch.long), ends[:-1] + 1])
    step = torch.arange(n) - starts[episode]  # time index within the episode
    weighted = rewards[:n] * torch.pow(torch.tensor(discount, dtype=torch.float64), step)
    return torch.zeros(len(ends), dtype=torch.float64).index_add_(0, episode, weighted)


def erc_distance(
    reward_a: RewardFn,
    reward_b: RewardFn,
    *,
    transitions: Any,
    discount: float = 1.0,
    device: torch.device | str | None = None,
    max_batch: int | None = DEFAULT_MAX_BATCH,
) -> float:
    """ERC distance between two rewards over the episodes in ``transitions``.

    Args:
        reward_a, reward_b: RewardFns, evaluated with the transitions' own dones.
        transitions: our or imitation's Transitions, ordered episode by episode with
            ``dones = 1`` on each episode's last step (as `CoverageSample` provides);
            a trailing incomplete episode is dropped.
        discount: γ for the returns; 1 (undiscounted, the paper's choice) by default.
        device, max_batch: where and in what chunks the rewards are evaluated.

    Returns:
        D_ρ of the two rewards' episode returns, in [0, 1].

    Raises:
        ValueError: fewer than 2 complete episodes, or returns of one reward that do
            not vary across episodes.
    """
    if not isinstance(discount, int | float) or not 0.0 <= discount <= 1.0:
        raise ValueError(f"discount must be a number in [0, 1], got {discount!r}")
    t = as_transitions(transitions)
    n_episodes = int((t.dones != 0).sum())
    if n_episodes < 2:
        raise ValueError(
            f"ERC needs at least 2 complete episodes (dones = 1 at each episode's last step), "
            f"but transitions ({len(t)} rows) contain {n_episodes}; pass more trajectories"
        )
    returns = []
    for reward, name in ((reward_a, "reward_a"), (reward_b, "reward_b")):
        r = evaluate_reward(reward, t, name=name, device=device, max_batch=max_batch)
        returns.append(episode_returns(r, t.dones, discount))
    try:
        return pearson_distance(returns[0], returns[1])
    except ValueError as e:
        raise ValueError(
            f"ERC is undefined: the episode returns of one reward are constant across the "
            f"{n_episodes} episodes ({e})"
        ) from e


def erc_distance_tabular(
    reward_a: Any,
    reward_b: Any,
    *,
    transition: Any,
    initial_state_dist: Any,
    policy: Any,
    horizon: int,
    discount: float = 1.0,
) -> float:
    """Exact ERC on a finite MDP: Pearson distance of the two returns over all episodes.

    Episodes start from μ0, follow ``policy`` for ``horizon`` steps under
    ``transition``. The moments of G = Σ_t γ^t R(s_t, a_t, s_{t+1}) are sums over time:
    with d_t the law of the t-th transition, ν^A_t(s') = Σ_{s,a} d_t R_A and
    V^B_k(s) = Σ_{j<k} γ^j (P_π^j r^B_π)(s) the value of the k steps after arriving at s,

        E[G_A G_B] = Σ_t γ^{2t} (E_{d_t}[R_A R_B] + γ ν^A_t·V^B_{H−t−1} + γ ν^B_t·V^A_{H−t−1}).

    Args:
        reward_a, reward_b: ``[S, A, S]`` tables. transition: ``[S, A, S]`` T.
        initial_state_dist: ``[S]`` μ0. policy: ``[S, A]`` the coverage's policy.
        horizon: episode length H. discount: γ of the returns (1, the paper's, by default).
    """
    ra, rb = to_numpy(reward_a, "reward_a"), to_numpy(reward_b, "reward_b")
    p, mu, pi = (to_numpy(x, n) for x, n in ((transition, "transition"),
                 (initial_state_dist, "initial_state_dist"), (policy, "policy")))  # fmt: skip
    if ra.shape != rb.shape or ra.shape != p.shape or pi.shape != ra.shape[:2]:
        raise ValueError(
            f"need rewards and transition [S, A, S] and policy [S, A]; got {ra.shape}, "
            f"{rb.shape}, {p.shape}, {pi.shape}"
        )
    if int(horizon) < 1 or not 0.0 <= discount <= 1.0:
        raise ValueError(f"horizon must be >= 1 and discount in [0, 1], got {horizon}, {discount}")
    p_pi = np.einsum("sa,sat->st", pi, p)
    step = {k: np.einsum("sa,sat,sat->s", pi, p, r) for k, r in (("a", ra), ("b", rb))}
    # values[k][j]: discounted return of the j steps after arriving at a state.
    values = {k: [np.zeros_like(mu)] for k in step}
    for _ in range(horizon):
        for k in step:
            values[k].append(step[k] + discount * p_pi @ values[k][-1])
    mean = {k: float(mu @ values[k][horizon]) for k in step}
    second = {"aa": 0.0, "bb": 0.0, "ab": 0.0}
    state = mu.copy()
    for t in range(horizon):
        d_t = state[:, None, None] * pi[:, :, None] * p
        nu = {"a": np.einsum("sat,sat->t", d_t, ra), "b": np.einsum("sat,sat->t", d_t, rb)}
        rest = horizon - t - 1
        w = discount ** (2 * t)
        for key, (x, y, rx, ry) in {"aa": ("a", "a", ra, ra), "bb": ("b", "b", rb, rb),
                                   "ab": ("a", "b", ra, rb)}.items():  # fmt: skip
            cross = nu[x] @ values[y][rest] + nu[y] @ values[x][rest]
            second[key] += w * (float((d_t * rx * ry).sum()) + discount * cross)
        state = state @ p_pi
    var_a = second["aa"] - mean["a"] ** 2
    var_b = second["bb"] - mean["b"] ** 2
    scale = max(1e-300, abs(second["aa"]) + abs(second["bb"]))
    if var_a <= 1e-12 * scale or var_b <= 1e-12 * scale:
        raise ValueError("ERC is undefined: one reward's episode return does not vary")
    rho = (second["ab"] - mean["a"] * mean["b"]) / np.sqrt(var_a * var_b)
    return float(np.sqrt((1.0 - np.clip(rho, -1.0, 1.0)) / 2.0))


def unit_value(inputs: UnitInputs) -> dict[str, float]:
    """One evaluation unit: ERC on the coverage's complete episodes (registry entry)."""
    value = erc_distance(inputs.reward, inputs.ground_truth, transitions=inputs.episodes(),
                         device=inputs.device)  # fmt: skip
    return {"value": float(value)}
