"""PointMass: the EPIC paper's point-mass navigation task (Gleave et al. 2021), in 2-D.

A point of mass ``m`` moves in the plane under a force ``a`` in [-1, 1]^2 and
must reach a goal. We use 2-D rather than the 1-D default of the paper's code
(``distances/common_config.py``: ``PointMassLine-v0``, ``ndim=1``) because a
planar task has reward variants that differ in direction, not only in scale,
which makes a better benchmark. Explicit Euler with ``dt = 0.1``:

    pos' = pos + dt * vel
    vel' = vel + dt * (a / mass - drag * vel)

The train variant has ``mass = 1, drag = 0`` (the paper's code: ``envs/point_mass.py``,
``transition``: pos + dt vel, vel + dt a); the test
variant is heavier and has drag, so a reward that only fits the training
dynamics is caught by reoptimization there.

Observation [6] = [pos_x, pos_y, vel_x, vel_y, goal_x, goal_y], float32.
Positions and goals start uniform in [-1, 1]^2, velocity at 0; the goal is
resampled every episode. The arena is the box [-2, 2]^2: a coordinate that
would leave it is clipped to the wall and its velocity component set to 0.
Velocities are clipped to [-2, 2]. So the observation box is bounded:
pos, vel in [-2, 2]^2, goal in [-1, 1]^2 (`sample_uniform_states` draws from it).

Reward paid (and `benchmark.rewards.pointmass` ``ground_truth``):
``-||pos' - goal|| - ||a||^2``, with ``a`` the action clipped to [-1, 1]^2.
Episodes last ``horizon = 100`` steps and end only by the time limit.

TOML ``[env.train]`` / ``[env.test]`` parameters (all optional):

    mass     float > 0, default 1.0
    drag     float >= 0, default 0.0   (suggested test variant: mass = 2.0, drag = 0.5)
    dt       float > 0, default 0.1
    horizon  int > 0, default 100
    discount ignored (Task adds the task discount to every table)

Exports the family contract of docs/architecture.md: `make_env`, `make_vec_env`,
`expert_policy`, `sample_uniform_states`, `step_from`, plus the batched core
`PointMassCore` (and `dynamics`, the pure one-step function it uses).
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

DEFAULTS: dict[str, Any] = {"mass": 1.0, "drag": 0.0, "dt": 0.1, "horizon": 100}
ARENA = 2.0  # positions live in [-ARENA, ARENA]^2
START = 1.0  # initial positions and goals are uniform in [-START, START]^2
MAX_SPEED = 2.0  # velocities are clipped to [-MAX_SPEED, MAX_SPEED]^2
CTRL_COEF = 1.0  # ground truth pays -CTRL_COEF * ||a||^2

OBS_LOW = np.array([-ARENA] * 2 + [-MAX_SPEED] * 2 + [-START] * 2, dtype=np.float32)
OBS_HIGH = -OBS_LOW
OBSERVATION_SPACE = gym.spaces.Box(OBS_LOW, OBS_HIGH, dtype=np.float32)
ACTION_SPACE = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)


def resolve_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults merged with a TOML env table, validated."""
    p = check_params(params or {}, DEFAULTS, "pointmass")
    if p["mass"] <= 0 or p["drag"] < 0 or p["dt"] <= 0 or int(p["horizon"]) < 1:
        raise ValueError(f"pointmass: need mass > 0, drag >= 0, dt > 0, horizon >= 1; got {p}")
    p["horizon"] = int(p["horizon"])
    return p


class PointMassCore(BatchedCore):
    """``n`` PointMass copies stepped together in torch (see the module docstring).

    Args:
        n: number of copies.
        params: the TOML env table (mass, drag, dt, horizon).
        device, seed, dtype: see `BatchedCore`.
    """

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
        pos = self.uniform(k, [-START] * 2, [START] * 2)
        goal = self.uniform(k, [-START] * 2, [START] * 2)
        return torch.cat([pos, torch.zeros_like(pos), goal], dim=1)

    def transition(
        self, obs: torch.Tensor, acts: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return dynamics(self.params, obs, acts)


def dynamics(
    params: Mapping[str, Any], obs: torch.Tensor, acts: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One Euler step from any states: (obs [B, 6], acts [B, 2] in the box) -> (next_obs, reward [B]).

    The reward is computed from the internal position and goal, not through the
    reward registry, so tests can check that the two agree.
    """
    dt, mass, drag = params["dt"], params["mass"], params["drag"]
    pos, vel, goal = obs[:, 0:2], obs[:, 2:4], obs[:, 4:6]
    new_pos = pos + dt * vel
    new_vel = vel + dt * (acts / mass - drag * vel)
    clipped = new_pos.clamp(-ARENA, ARENA)
    new_vel = torch.where(clipped != new_pos, torch.zeros_like(new_vel), new_vel)
    new_vel = new_vel.clamp(-MAX_SPEED, MAX_SPEED)
    reward = -torch.linalg.vector_norm(clipped - goal, dim=1) - CTRL_COEF * (acts**2).sum(1)
    return torch.cat([clipped, new_vel, goal], dim=1), reward


def step_from(
    params: Mapping[str, Any] | None,
    obs: torch.Tensor,
    acts: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """[B, 6] successors of arbitrary states ``obs`` [B, 6] under ``acts`` [B, 2] (clipped).

    Deterministic dynamics, so ``generator`` is unused; it is in the signature for
    the coverage module's contract. Used for the ``uniform`` coverage.
    """
    return step_states("pointmass", dynamics, resolve_params(params), obs, acts, 6, 2)


def make_env(params: Mapping[str, Any] | None, seed: int) -> gym.Env:
    """A single gymnasium PointMass env; its first unseeded ``reset()`` uses ``seed``."""
    resolved = resolve_params(params)
    return CoreEnv(lambda n: PointMassCore(n, resolved), seed=seed)


def make_vec_env(
    params: Mapping[str, Any] | None, n: int, seed: int, device: str = "cpu"
) -> CoreVecEnv:
    """An SB3 VecEnv of ``n`` PointMass copies over one `PointMassCore` on ``device``."""
    return CoreVecEnv(PointMassCore(n, params, device=device, seed=seed))


def expert_policy(params: Mapping[str, Any] | None = None, device: str = "cpu") -> Policy:
    """PD control toward the goal, compensating mass and drag, clipped to [-1, 1].

    The desired acceleration is ``kp (goal - pos) - kd vel``; the force that
    produces it under the variant's dynamics is ``mass * acc + mass * drag * vel``.
    Gains (kp = 1, kd = 2: critically damped) were the best of a small grid on
    this reward. ``device`` is accepted for the contract; the policy runs on the
    device of the observations it is given.
    """
    p = resolve_params(params)
    kp, kd = 1.0, 2.0

    def policy(obs: torch.Tensor) -> torch.Tensor:
        pos, vel, goal = obs[..., 0:2], obs[..., 2:4], obs[..., 4:6]
        acc = kp * (goal - pos) - kd * vel
        force = p["mass"] * acc + p["mass"] * p["drag"] * vel
        return force.clamp(-1.0, 1.0)

    return policy


def sample_uniform_states(
    params: Mapping[str, Any] | None, n: int, generator: torch.Generator
) -> torch.Tensor:
    """[n, 6] observations uniform over the bounded observation box (on the generator's device)."""
    resolve_params(params)
    low = torch.as_tensor(OBS_LOW, device=generator.device)
    high = torch.as_tensor(OBS_HIGH, device=generator.device)
    u = torch.rand(n, low.shape[0], generator=generator, device=generator.device)
    return low + (high - low) * u
