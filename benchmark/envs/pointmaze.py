"""PointMaze: the EPIC paper's point mass with a wall between start and goal (Gleave et al. 2021).

Why two variants: in the paper (after Fu et al. 2018, AIRL) rewards are learned
in one maze and reoptimized in another. A reward that encodes *how to get
there in the training maze* rather than *where to go* fails when the wall moves;
reoptimization transfer in the test variant catches it.

The arena is the unit square [0, 1]^2. A horizontal wall at ``y = 0.5`` spans
the arena except for a gap of width 0.3 at one side:

    gap = "left"  (train): wall over x in [0.3, 1]
    gap = "right" (test):  wall over x in [0, 0.7]

The point starts uniform in [0.3, 0.7] x [0.05, 0.2] with velocity 0; the goal
is fixed at (0.5, 0.9), above the wall. Dynamics are PointMass's explicit
Euler step with ``dt = 0.1`` (pos' = pos + dt vel, vel' = vel + dt (a / mass -
drag vel)), the force ``a`` in [-1, 1]^2, velocities clipped to [-1, 1].
Collisions stop motion *through* walls: a coordinate that would leave the arena
is clipped to it; a step whose path crosses the wall line at a wall segment
keeps its old y and loses its y velocity (it slides along the wall in x).

Observation [4] = [pos_x, pos_y, vel_x, vel_y], float32, in [0, 1]^2 x [-1, 1]^2,
identical in both variants (`sample_uniform_states` draws from this box).

Reward paid (and `benchmark.rewards.pointmaze` ``ground_truth``):
``-||pos' - goal|| - 0.1 ||a||^2`` (``a`` clipped to the box). The control cost
is 10x smaller than PointMass's because the arena is 4x smaller. Episodes last
``horizon = 100`` steps and end only by the time limit.

TOML ``[env.train]`` / ``[env.test]`` parameters (all optional):

    gap      "left" or "right", default "left"   (train: "left", test: "right")
    mass     float > 0, default 1.0
    drag     float >= 0, default 0.0
    dt       float > 0, default 0.1
    horizon  int > 0, default 100
    discount ignored (Task adds the task discount to every table)

Learnability (measured once, 2 CPU cores shared): SB3 PPO on `make_vec_env` with 64
envs, n_steps 64, batch 1024, 5 epochs, lr 1e-3, one torch thread, reaches the
expert's return in the train maze (-13.0 vs expert -12.1, random -77) after about
400k steps (~45 s); at 100k-200k steps it is still unstable (-22, -38).

Exports the family contract of docs/architecture.md: `make_env`, `make_vec_env`,
`expert_policy`, `sample_uniform_states`, `step_from`, plus the batched core
`PointMazeCore`, the pure step `dynamics`, and the geometry helpers
`wall_extent`, `blocks_segment` and `geodesic_distance` the rewards reuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from benchmark.envs.batched import (
    BatchedCore,
    CoreEnv,
    CoreVecEnv,
    Policy,
    check_params,
    step_states,
)

DEFAULTS: dict[str, Any] = {"gap": "left", "mass": 1.0, "drag": 0.0, "dt": 0.1, "horizon": 100}
WALL_Y = 0.5
GAP_WIDTH = 0.3
GOAL = (0.5, 0.9)
START_LOW, START_HIGH = (0.3, 0.05), (0.7, 0.2)
MAX_SPEED = 1.0
CTRL_COEF = 0.1

OBS_LOW = np.array([0.0, 0.0, -MAX_SPEED, -MAX_SPEED], dtype=np.float32)
OBS_HIGH = np.array([1.0, 1.0, MAX_SPEED, MAX_SPEED], dtype=np.float32)
OBSERVATION_SPACE = gym.spaces.Box(OBS_LOW, OBS_HIGH, dtype=np.float32)
ACTION_SPACE = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)


def resolve_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults merged with a TOML env table, validated."""
    p = check_params(params or {}, DEFAULTS, "pointmaze")
    if p["gap"] not in ("left", "right"):
        raise ValueError(
            f"pointmaze: gap must be 'left' (train) or 'right' (test), got {p['gap']!r}"
        )
    if p["mass"] <= 0 or p["drag"] < 0 or p["dt"] <= 0 or int(p["horizon"]) < 1:
        raise ValueError(f"pointmaze: need mass > 0, drag >= 0, dt > 0, horizon >= 1; got {p}")
    p["horizon"] = int(p["horizon"])
    return p


def wall_extent(gap: str) -> tuple[float, float]:
    """(x_low, x_high) of the wall segment at y = WALL_Y for a gap on ``gap``'s side."""
    if gap not in ("left", "right"):
        raise ValueError(f"pointmaze: gap must be 'left' or 'right', got {gap!r}")
    return (GAP_WIDTH, 1.0) if gap == "left" else (0.0, 1.0 - GAP_WIDTH)


def blocks_segment(gap: str, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """[B] bool: does the straight path start [B, 2] -> end [B, 2] cross the wall segment?

    Sides are ``y < WALL_Y`` (below) and ``y >= WALL_Y`` (above), so touching the
    wall line from below counts as crossing.
    """
    lo, hi = wall_extent(gap)
    y0, y1 = start[:, 1], end[:, 1]
    crosses = (y0 < WALL_Y) != (y1 < WALL_Y)
    dy = torch.where(crosses, y1 - y0, torch.ones_like(y1))
    x_at_wall = start[:, 0] + (end[:, 0] - start[:, 0]) * (WALL_Y - y0) / dy
    return crosses & (x_at_wall >= lo) & (x_at_wall <= hi)


def wall_corner(gap: str) -> tuple[float, float]:
    """The wall's free end (x, y), the point every shortest path around it touches."""
    lo, hi = wall_extent(gap)
    return (lo if gap == "left" else hi, WALL_Y)


def geodesic_distance(gap: str, pos: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """[B] shortest-path length from pos [B, 2] to target [B, 2] around the wall.

    A straight line if it clears the wall, else via the wall's free end
    (exact for a zero-thickness wall in the open arena).
    """
    corner = torch.as_tensor(wall_corner(gap), dtype=pos.dtype, device=pos.device)
    direct = torch.linalg.vector_norm(pos - target, dim=-1)
    around = torch.linalg.vector_norm(pos - corner, dim=-1) + torch.linalg.vector_norm(
        target - corner, dim=-1
    )
    return torch.where(blocks_segment(gap, pos, target), around, direct)


def dynamics(
    params: Mapping[str, Any], obs: torch.Tensor, acts: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step from any states: (obs [B, 4], acts [B, 2] in the box) -> (next_obs, reward [B]).

    The reward is computed from the internal position, not through the reward
    registry, so tests can check that the two agree.
    """
    dt, mass, drag = params["dt"], params["mass"], params["drag"]
    pos, vel = obs[:, 0:2], obs[:, 2:4]
    new_pos = pos + dt * vel
    new_vel = vel + dt * (acts / mass - drag * vel)
    clipped = new_pos.clamp(0.0, 1.0)
    new_vel = torch.where(clipped != new_pos, torch.zeros_like(new_vel), new_vel)
    blocked = blocks_segment(params["gap"], pos, clipped)
    new_y = torch.where(blocked, pos[:, 1], clipped[:, 1])
    new_pos = torch.stack([clipped[:, 0], new_y], dim=1)
    new_vel = torch.stack([new_vel[:, 0], torch.where(blocked, 0.0, new_vel[:, 1])], dim=1)
    new_vel = new_vel.clamp(-MAX_SPEED, MAX_SPEED)
    goal = torch.as_tensor(GOAL, dtype=obs.dtype, device=obs.device)
    reward = -torch.linalg.vector_norm(new_pos - goal, dim=1) - CTRL_COEF * (acts**2).sum(1)
    return torch.cat([new_pos, new_vel], dim=1), reward


class PointMazeCore(BatchedCore):
    """``n`` PointMaze copies stepped together in torch (see the module docstring)."""

    observation_space = OBSERVATION_SPACE
    action_space = ACTION_SPACE

    def __init__(
        self,
        n: int,
        params: Mapping[str, Any] | None = None,
        *,
        device: torch.device | str = "cpu",
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.params = resolve_params(params)
        self.horizon = self.params["horizon"]
        super().__init__(n, device=device, seed=seed, dtype=dtype)

    def initial_obs(self, k: int) -> torch.Tensor:
        pos = self.uniform(k, START_LOW, START_HIGH)
        return torch.cat([pos, torch.zeros_like(pos)], dim=1)

    def transition(
        self, obs: torch.Tensor, acts: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return dynamics(self.params, obs, acts)


def step_from(
    params: Mapping[str, Any] | None,
    obs: torch.Tensor,
    acts: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """[B, 4] successors of arbitrary states ``obs`` [B, 4] under ``acts`` [B, 2] (clipped).

    Deterministic, so ``generator`` is unused (kept for the coverage contract).
    """
    return step_states("pointmaze", dynamics, resolve_params(params), obs, acts, 4, 2)


def make_env(params: Mapping[str, Any] | None, seed: int) -> gym.Env:
    """A single gymnasium PointMaze env; its first unseeded ``reset()`` uses ``seed``."""
    resolved = resolve_params(params)
    return CoreEnv(lambda n: PointMazeCore(n, resolved), seed=seed)


def make_vec_env(
    params: Mapping[str, Any] | None, n: int, seed: int, device: str = "cpu"
) -> CoreVecEnv:
    """An SB3 VecEnv of ``n`` PointMaze copies over one `PointMazeCore` on ``device``."""
    return CoreVecEnv(PointMazeCore(n, params, device=device, seed=seed))


def expert_policy(params: Mapping[str, Any] | None = None, device: str = "cpu") -> Policy:
    """Waypoint PD controller: through the variant's gap, then to the goal.

    While the straight line to the goal is blocked by the wall, it steers for a
    point above the middle of the gap (or below it, if the wall is in the way of
    that too); once the line is clear, for the goal.
    Force = mass * (kp (target - pos) - kd vel) + mass * drag * vel, clipped; kp = 4,
    kd = 3 were the best of a small grid. ``device`` is accepted for the contract;
    the policy runs on the device of the observations it is given.
    """
    p = resolve_params(params)
    lo, hi = wall_extent(p["gap"])
    gap_x = lo / 2 if p["gap"] == "left" else (hi + 1.0) / 2
    kp, kd = 4.0, 3.0

    def policy(obs: torch.Tensor) -> torch.Tensor:
        pos, vel = obs[..., 0:2], obs[..., 2:4]
        goal = torch.as_tensor(GOAL, dtype=obs.dtype, device=obs.device).expand_as(pos)
        above = torch.as_tensor((gap_x, WALL_Y + 0.1), dtype=obs.dtype, device=obs.device)
        below = torch.as_tensor((gap_x, WALL_Y - 0.1), dtype=obs.dtype, device=obs.device)
        above, below = above.expand_as(pos), below.expand_as(pos)
        via = torch.where(blocks_segment(p["gap"], pos, above)[:, None], below, above)
        target = torch.where(blocks_segment(p["gap"], pos, goal)[:, None], via, goal)
        acc = kp * (target - pos) - kd * vel
        force = p["mass"] * acc + p["mass"] * p["drag"] * vel
        return force.clamp(-1.0, 1.0)

    return policy


def sample_uniform_states(
    params: Mapping[str, Any] | None, n: int, generator: torch.Generator
) -> torch.Tensor:
    """[n, 4] observations uniform over the bounded observation box (both sides of the wall)."""
    resolve_params(params)
    low = torch.as_tensor(OBS_LOW, device=generator.device)
    high = torch.as_tensor(OBS_HIGH, device=generator.device)
    u = torch.rand(n, low.shape[0], generator=generator, device=generator.device)
    return low + (high - low) * u
