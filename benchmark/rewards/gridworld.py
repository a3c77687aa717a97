"""Gridworld reward family: batched torch RewardFns over one-hot states and actions.

Every factory takes the grid geometry and reward weights of the task's TOML table and
returns ``reward(obs [B,S], acts [B,A], next_obs [B,S], dones [B]) -> [B]``. The
``ground_truth`` is exactly what ``benchmark.envs.gridworld.GridWorldEnv`` pays:

    R(s, a, s') = goal_reward * 1[s' = goal] - distance_weight * d(s', goal) / d_max
                  - control_cost * 1[a != stay]

The others are defined from it so the EPIC matrix has known structure: ``shaped`` adds
gamma * Phi(s') - Phi(s) (EPIC 0 from ground truth), ``opposite`` is -R (EPIC 1),
``sparse`` keeps only the goal bonus, ``no_control_cost`` drops the action term.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from benchmark.data import RewardFn

STAY = 4  # index of the "stay" action, as in benchmark.envs.gridworld.ACTIONS


def _decode(onehot: torch.Tensor, name: str, size: int) -> torch.Tensor:
    if onehot.ndim != 2 or onehot.shape[1] != size:
        raise ValueError(
            f"gridworld reward expects one-hot {name} of shape [B, {size}], got {tuple(onehot.shape)}"
        )
    return onehot.argmax(dim=1)


def _table(
    rows: int,
    cols: int,
    goal: list[int] | None,
    goal_reward: float,
    distance_weight: float,
    control_cost: float,
) -> torch.Tensor:
    """The ground-truth formula (module docstring) as a table [S, A, S], float64."""
    goal_r, goal_c = goal if goal is not None else (rows - 1, cols - 1)
    d_max = max(rows + cols - 2, 1)
    cells = torch.arange(rows * cols)
    r2, c2 = cells // cols, cells % cols
    at_goal = ((r2 == goal_r) & (c2 == goal_c)).double()
    distance = ((r2 - goal_r).abs() + (c2 - goal_c).abs()).double() / d_max
    moved = (torch.arange(5) != STAY).double()
    per_next = goal_reward * at_goal - distance_weight * distance  # [S']
    table = per_next[None, None, :] - control_cost * moved[None, :, None]
    return table.expand(rows * cols, 5, rows * cols).contiguous()


def _from_table(table: torch.Tensor) -> RewardFn:
    """A RewardFn that looks (s, a, s') up in ``table`` [S, A, S]; one-hot inputs [B, S|A]."""
    n_states, n_actions = table.shape[0], table.shape[1]

    def reward(obs, acts, next_obs, dones):
        s = _decode(obs, "obs", n_states)
        a = _decode(acts, "acts", n_actions)
        s2 = _decode(next_obs, "next_obs", n_states)
        dtype = obs.dtype if torch.is_floating_point(obs) else torch.float32
        return table.to(device=obs.device, dtype=dtype)[s, a, s2]

    return reward


def ground_truth(
    rows: int = 5,
    cols: int = 5,
    goal: list[int] | None = None,
    goal_reward: float = 1.0,
    distance_weight: float = 0.5,
    control_cost: float = 0.1,
) -> RewardFn:
    """Exactly what the gridworld environment pays (module docstring)."""
    return _from_table(_table(rows, cols, goal, goal_reward, distance_weight, control_cost))


def no_control_cost(
    rows: int = 5,
    cols: int = 5,
    goal: list[int] | None = None,
    goal_reward: float = 1.0,
    distance_weight: float = 0.5,
) -> RewardFn:
    """Ground truth without the action term: indifferent to moving."""
    return ground_truth(rows, cols, goal, goal_reward, distance_weight, control_cost=0.0)


def sparse(
    rows: int = 5, cols: int = 5, goal: list[int] | None = None, goal_reward: float = 1.0
) -> RewardFn:
    """Pays only on arriving at (or staying in) the goal cell."""
    return ground_truth(rows, cols, goal, goal_reward, distance_weight=0.0, control_cost=0.0)


def opposite(
    rows: int = 5,
    cols: int = 5,
    goal: list[int] | None = None,
    goal_reward: float = 1.0,
    distance_weight: float = 0.5,
    control_cost: float = 0.1,
) -> RewardFn:
    """The negated ground truth: wants the opposite (EPIC distance exactly 1)."""
    return _from_table(-_table(rows, cols, goal, goal_reward, distance_weight, control_cost))


def potential(rows: int, cols: int, scale: float) -> torch.Tensor:
    """A fixed, non-trivial potential Phi over cells, shape [rows*cols] (float64)."""
    values = [
        scale * math.sin(1.3 * r + 0.7 * c) * (1.0 + 0.2 * c)
        for r in range(rows)
        for c in range(cols)
    ]
    return torch.tensor(values, dtype=torch.float64)


def shaped(
    rows: int = 5,
    cols: int = 5,
    goal: list[int] | None = None,
    goal_reward: float = 1.0,
    distance_weight: float = 0.5,
    control_cost: float = 0.1,
    discount: float = 0.9,
    potential_scale: float = 1.0,
) -> RewardFn:
    """Ground truth plus potential shaping gamma * Phi(s') - Phi(s) (Ng et al., 1999).

    ``discount`` must be the task's discount for the shaping to leave EPIC at 0; the task
    loader checks that it is.
    """
    base = _table(rows, cols, goal, goal_reward, distance_weight, control_cost)
    phi = potential(rows, cols, potential_scale)
    return _from_table(base + discount * phi[None, None, :] - phi[:, None, None])


REWARDS: dict[str, Callable[..., RewardFn]] = {
    "ground_truth": ground_truth,
    "shaped": shaped,
    "sparse": sparse,
    "no_control_cost": no_control_cost,
    "opposite": opposite,
}
