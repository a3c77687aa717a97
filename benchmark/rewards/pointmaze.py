"""Reward families for PointMaze (benchmark.envs.pointmaze), as batched torch RewardFns.

``REWARDS[name](**params) -> RewardFn`` with
``RewardFn(obs [B, 4], acts [B, 2], next_obs [B, 4], dones [B]) -> [B]``. The goal
is fixed at ``GOAL = (0.3, 0.5)``; rewards read only (s, a, s') and compute in the
dtype and on the device of their inputs. Actions are clipped to [-1, 1]^2 as the
environment does, so ``ground_truth`` equals what the env pays, bitwise.

As in the paper's PointMaze (imitation's ``PointMazeEnv.step`` and evaluating-rewards'
``PointMazeReward``, envs/mujoco.py), the distance terms read the position of the state
acted in, s, not s'. Rewards and their TOML parameters (all optional):

    ground_truth     -||pos - goal|| - ctrl_coef ||a||^2           ctrl_coef = 1e-3
    shaped           ground_truth + discount Phi(s') - Phi(s)      discount = 0.99, scale = 1.0,
                     potential = "quadratic" (-scale ||pos - goal||^2) or "sinusoid"  (+ ctrl_coef)
    sparse           1 if ||pos - goal|| < radius else 0           radius = 0.1 (the reference's
                     ``sparse_reward``: distance <= 0.1)
    no_control_cost  -||pos - goal||
    away             +||pos - goal|| - ctrl_coef ||a||^2            (wants distance from the goal)
    wrong_side       -||pos - mirror(goal)|| - ctrl_coef ||a||^2    (goal mirrored across the wall
                     line, to (0.3, 0.1): wants to stay on the start side)
    via_gap          -geodesic(pos, goal; gap) - ctrl_coef ||a||^2  gap = "right"
                     (shortest-path distance around the wall *of that variant*: in the train
                     maze (gap right) it is a well-shaped route reward; in the test maze it
                     points to the walled-off right passage: a reward that memorised the
                     training layout)

``pos`` is the position in s. ``shaped`` is not masked by ``dones`` (exactly
R + gamma Phi(s') - Phi(s)), so its EPIC distance to ``ground_truth`` is 0.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from benchmark.data import RewardFn
from benchmark.envs.pointmaze import CTRL_COEF, GOAL, WALL_Y, geodesic_distance, wall_extent
from benchmark.rewards.pointmass import build_family, checked_reward, control_cost


def goal_of(obs: torch.Tensor) -> torch.Tensor:
    """[B, 2] the fixed goal, broadcast to the batch, dtype and device of ``obs``."""
    return torch.as_tensor(GOAL, dtype=obs.dtype, device=obs.device).expand(obs.shape[0], 2)


def wrong_side(ctrl_coef: float = CTRL_COEF) -> RewardFn:
    """Pays for closeness to the goal reflected across the wall line (the start side)."""
    mirror = (GOAL[0], 2 * WALL_Y - GOAL[1])

    def body(s, a, s2):
        target = torch.as_tensor(mirror, dtype=s.dtype, device=s.device)
        return -torch.linalg.vector_norm(s[:, :2] - target, dim=-1) - ctrl_coef * control_cost(a)

    return checked_reward(body, 4, "pointmaze")


def via_gap(gap: str = "right", ctrl_coef: float = CTRL_COEF) -> RewardFn:
    """Pays minus the shortest-path distance to the goal around the wall with a ``gap``-side gap."""
    wall_extent(gap)  # validates gap now, not at the first call

    def body(s, a, s2):
        return -geodesic_distance(gap, s[:, :2], goal_of(s)) - ctrl_coef * control_cost(a)

    return checked_reward(body, 4, "pointmaze")


REWARDS: dict[str, Callable[..., RewardFn]] = {
    **build_family(
        goal_of,
        obs_dim=4,
        family="pointmaze",
        ctrl_default=CTRL_COEF,
        sparse_radius=0.1,
        paid_on="current",
    ),
    "wrong_side": wrong_side,
    "via_gap": via_gap,
}
