"""PointMaze: the EPIC paper's point mass that must pass a wall to reach a goal (Gleave et al. 2021).

Why two variants: in the paper (after Fu et al. 2018, AIRL) rewards are learned in one
maze and reoptimized in another. A reward that encodes *how to get there in the training
maze* rather than *where to go* fails when the wall moves; reoptimization transfer in the
test variant catches it.

Sources. The paper's PointMaze is ``imitation/PointMaze{Left,Right}Vel-v0`` (reference
runners/transfer_point_maze.sh: train ``Left``, test ``Right``), i.e. imitation's
``airl_envs/point_maze_env.py: PointMazeEnv`` (default ``maze_length = 0.6``) built on
``airl_envs/dynamic_mjc/mjc_models.py: point_mass_maze``, on imitation's ``tf-master``
branch, which evaluating-rewards' requirements.txt installs (checked at its commit
f04ebcc). Every number below is theirs:

- Arena: border capsules (radius 0.02) on the square with corners (-0.1, -0.1) and
  (0.6, 0.6); the particle is a sphere of radius 0.03, so its centre moves in
  [-0.05, 0.55]^2 (``POS_LOW``, ``POS_HIGH``).
- Wall ("barrier"): a capsule of radius 0.02 on y = 0.3 over x in [-0.1, 0.4] in the
  train maze (``direction = LEFT``: the passage is on the right) and over [0.2, 0.6] in
  the test maze (``RIGHT``: passage on the left). ``gap`` names the passage's side.
- Start: the particle at (0.3, 0.0); ``reset_model`` adds U(-0.01, 0.01) to each velocity.
- Goal ("target"): (0.3, 0.5).
- Dynamics: two slide joints with damping 1, motors with force in [-1, 1], no gravity,
  mass = density 1000 x the sphere's volume = 0.1131; MuJoCo's Euler integrator with
  timestep 0.01 and ``frame_skip = 5`` (one env step = 0.05 s). MuJoCo's Euler step is
  semi-implicit and integrates joint damping implicitly (``mj_Euler``: qH = M + h diag(B)),
  so per substep and axis: ``v' = (m v + h F) / (m + h b)``, ``x' = x + h v'``.
  ``tests/test_pointmaze.py`` checks this against MuJoCo itself, stepping the same model.
- Reward (``PointMazeEnv.step``, computed *before* ``do_simulation``, i.e. on s):
  ``-||pos(s) - goal|| - 1e-3 ||a||^2``; evaluating-rewards' ``PointMazeReward``
  (envs/mujoco.py) is the same formula, ``ctrl_coef = 1e-3``.
- Horizon: ``episode_length = 100`` steps, ending only by the time limit.

Where we deliberately differ, and why:

- No MuJoCo at run time: the batched torch core steps thousands of copies at once on CPU
  or GPU (coverage, PPO). Free motion equals MuJoCo's to float rounding. Contacts are
  hard instead of MuJoCo's soft ones: a substep that would end inside the wall capsule
  (the points within 0.05 of its centre segment, rounded ends included) is put back on
  its surface along the normal and loses its velocity into the wall; the arena's edges
  clip the position and zero the velocity across them. Contacts are frictionless as in
  the reference (``condim = 1``), so motion along a surface goes on. Measured against
  MuJoCo (tests): positions agree to within 0.02 through wall contacts (largest gap 0.017
  over 12 random 60-step runs); velocities differ while in contact (MuJoCo's contact is a stiff spring that lets the particle
  press slightly into the wall).
- Observation [4] = [x, y, vx, vy] (float32): the reference's 6-vector also has the body's
  z position and z velocity, which are always 0 (no z joint).
- Actions are clipped to [-1, 1]^2 before they are paid for; the reference clips the
  force (``ctrllimited``), and its training code clips actions before ``step``.

TOML ``[env.train]`` / ``[env.test]`` parameters (all optional; defaults are the reference):

    gap         "right" (train, default) or "left" (test)
    mass        float > 0, default 0.1131 (MASS)
    damping     float >= 0, default 1.0
    timestep    float > 0, default 0.01
    frame_skip  int >= 1, default 5
    horizon     int >= 1, default 100
    discount    ignored (Task adds the task discount to every table)

Exports the family contract of docs/architecture.md: `make_env`, `make_vec_env`,
`expert_policy`, `sample_uniform_states`, `step_from`, plus the batched core
`PointMazeCore`, the pure step `dynamics`, the reward `paid_reward`, and the geometry
helpers `wall_distance`, `wall_box`, `wall_extent`, `blocks_segment`, `crosses_wall_line`
and `geodesic_distance` (the expert plans with the box, the ``via_gap`` reward uses a thin
wall, the dynamics the capsule).
"""

from __future__ import annotations

import math
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

CLEARANCE = 0.05  # wall capsule radius 0.02 + particle radius 0.03
POS_LOW, POS_HIGH = -0.1 + CLEARANCE, 0.6 - CLEARANCE
WALL_Y = 0.3
BARRIER = {"right": (-0.1, 0.4), "left": (0.2, 0.6)}  # wall centre line's x-range per gap
GOAL = (0.3, 0.5)
START = (0.3, 0.0)
START_VEL_NOISE = 0.01
MASS = 1000.0 * 4.0 / 3.0 * math.pi * 0.03**3
MAX_SPEED = 1.0  # force limit / damping: the terminal speed per axis
CTRL_COEF = 1e-3
DEFAULTS: dict[str, Any] = {
    "gap": "right",
    "mass": MASS,
    "damping": 1.0,
    "timestep": 0.01,
    "frame_skip": 5,
    "horizon": 100,
}

OBS_LOW = np.array([POS_LOW, POS_LOW, -MAX_SPEED, -MAX_SPEED], dtype=np.float32)
OBS_HIGH = np.array([POS_HIGH, POS_HIGH, MAX_SPEED, MAX_SPEED], dtype=np.float32)
OBSERVATION_SPACE = gym.spaces.Box(OBS_LOW, OBS_HIGH, dtype=np.float32)
ACTION_SPACE = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)


def resolve_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults merged with a TOML env table, validated."""
    p = check_params(params or {}, DEFAULTS, "pointmaze")
    wall_box(p["gap"])
    if p["mass"] <= 0 or p["damping"] < 0 or p["timestep"] <= 0:
        raise ValueError(f"pointmaze: need mass > 0, damping >= 0, timestep > 0; got {p}")
    if int(p["frame_skip"]) < 1 or int(p["horizon"]) < 1:
        raise ValueError(f"pointmaze: need frame_skip >= 1 and horizon >= 1; got {p}")
    p["frame_skip"], p["horizon"] = int(p["frame_skip"]), int(p["horizon"])
    return p


def wall_box(gap: str) -> tuple[float, float, float, float]:
    """(x_low, x_high, y_low, y_high): the bounding box of the wall capsule for the particle's centre.

    The capsule itself (`wall_distance` < ``CLEARANCE``) is what the dynamics keep the
    centre out of; the box's corners beyond its rounded ends are free space.
    """
    if gap not in BARRIER:
        raise ValueError(f"pointmaze: gap must be 'right' (train) or 'left' (test), got {gap!r}")
    x0, x1 = BARRIER[gap]
    return x0 - CLEARANCE, x1 + CLEARANCE, WALL_Y - CLEARANCE, WALL_Y + CLEARANCE


def wall_extent(gap: str) -> tuple[float, float]:
    """(x_low, x_high) of the wall box: the x-range the particle's centre cannot cross."""
    return wall_box(gap)[:2]


def blocks_segment(gap: str, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """[B] bool: does the straight path start [B, 2] -> end [B, 2] enter the wall box's interior?

    The box (`wall_box`) contains the wall capsule, so a path it does not block is free.
    Slab test (Liang-Barsky): the parameter intervals inside each axis's open range must
    overlap over a positive length, so paths along a face do not count.
    """
    box = wall_box(gap)
    t_in = torch.zeros_like(start[:, 0])
    t_out = torch.ones_like(start[:, 0])
    for axis, (lo, hi) in enumerate(((box[0], box[1]), (box[2], box[3]))):
        p, d = start[:, axis], end[:, axis] - start[:, axis]
        moving = d != 0
        safe = torch.where(moving, d, torch.ones_like(d))
        ta, tb = (lo - p) / safe, (hi - p) / safe
        inside_range = (p > lo) & (p < hi)
        still = torch.where(inside_range, -math.inf, math.inf).to(p.dtype)
        enter = torch.where(moving, torch.minimum(ta, tb), still)
        leave = torch.where(moving, torch.maximum(ta, tb), torch.full_like(p, math.inf))
        t_in, t_out = torch.maximum(t_in, enter), torch.minimum(t_out, leave)
    return t_out - t_in > 1e-9


def crosses_wall_line(gap: str, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """[B] bool: does start [B, 2] -> end [B, 2] cross y = WALL_Y where the wall box stands?

    Sides are ``y < WALL_Y`` and ``y >= WALL_Y``; the thin-wall model of `geodesic_distance`.
    """
    lo, hi = wall_extent(gap)
    y0, y1 = start[:, 1], end[:, 1]
    crosses = (y0 < WALL_Y) != (y1 < WALL_Y)
    dy = torch.where(crosses, y1 - y0, torch.ones_like(y1))
    x_at_wall = start[:, 0] + (end[:, 0] - start[:, 0]) * (WALL_Y - y0) / dy
    return crosses & (x_at_wall >= lo) & (x_at_wall <= hi)


def geodesic_distance(gap: str, pos: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """[B] shortest-path length from pos [B, 2] to target [B, 2] around a thin wall.

    The wall is modelled as the segment of y = WALL_Y over `wall_extent` (the x-range the
    particle's centre cannot cross; the wall's thickness is ignored): a straight line if
    that clears it, else via the segment's free end. A reward's definition (``via_gap``),
    not the physics.
    """
    lo, hi = wall_extent(gap)
    corner = torch.as_tensor(
        (hi if gap == "right" else lo, WALL_Y), dtype=pos.dtype, device=pos.device
    )
    direct = torch.linalg.vector_norm(pos - target, dim=-1)
    around = torch.linalg.vector_norm(pos - corner, dim=-1) + torch.linalg.vector_norm(
        target - corner, dim=-1
    )
    return torch.where(crosses_wall_line(gap, pos, target), around, direct)


def paid_reward(obs: torch.Tensor, acts: torch.Tensor) -> torch.Tensor:
    """[B] the reward for acting ``acts`` (clipped) in ``obs``: -||pos(s) - goal|| - 1e-3 ||a||^2.

    On s, not s': the reference pays before ``do_simulation``. ``benchmark.rewards.pointmaze``
    ``ground_truth`` computes the same operations, so the two agree bitwise.
    """
    goal = torch.as_tensor(GOAL, dtype=obs.dtype, device=obs.device).expand(obs.shape[0], 2)
    distance = torch.linalg.vector_norm(obs[:, 0:2] - goal, dim=-1)
    return -distance - CTRL_COEF * (acts.clamp(-1.0, 1.0) ** 2).sum(-1)


def wall_distance(gap: str, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """([B] distance, [B, 2] offset) from pos [B, 2] to the nearest point of the wall's centre segment."""
    x0, x1 = BARRIER[gap]
    nearest = torch.stack([pos[:, 0].clamp(x0, x1), torch.full_like(pos[:, 1], WALL_Y)], dim=1)
    offset = pos - nearest
    return torch.linalg.vector_norm(offset, dim=-1), offset


def collide(gap: str, old: torch.Tensor, new: torch.Tensor, vel: torch.Tensor):
    """Stop a substep old [B, 2] -> new [B, 2] at the arena's edge and at the wall's surface.

    Hard, frictionless contact: a point that would enter the wall capsule (all points within
    ``CLEARANCE`` of its centre segment, rounded ends included) is put back on its surface
    along the normal, and the velocity's component into the wall is removed; the arena's
    edges clip the position and zero the velocity across them. Substeps move at most
    ``timestep * MAX_SPEED`` = 0.01, a fifth of the wall's half-thickness, so the nearest
    surface point is on the side the substep came from.
    """
    clipped = new.clamp(POS_LOW, POS_HIGH)
    vel = torch.where(clipped != new, torch.zeros_like(vel), vel)
    distance, offset = wall_distance(gap, clipped)
    inside = distance < CLEARANCE
    if not inside.any():
        return clipped, vel
    # On the centre line itself the normal is undefined: leave towards the side it came from.
    side = torch.where(old[:, 1] < WALL_Y, -1.0, 1.0).to(new.dtype)
    fallback = torch.stack([torch.zeros_like(side), side], dim=1)
    normal = torch.where(
        (distance > 0)[:, None], offset / distance.clamp_min(1e-12)[:, None], fallback
    )
    surface = clipped - offset + CLEARANCE * normal
    into = (vel * normal).sum(-1).clamp(max=0.0)
    pos = torch.where(inside[:, None], surface.clamp(POS_LOW, POS_HIGH), clipped)
    vel = torch.where(inside[:, None], vel - into[:, None] * normal, vel)
    return pos, vel


def dynamics(
    params: Mapping[str, Any], obs: torch.Tensor, acts: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One env step from any states: (obs [B, 4], acts [B, 2] in the box) -> (next_obs, reward [B]).

    ``frame_skip`` substeps of MuJoCo's Euler step with implicit damping (module docstring).
    """
    h, mass, damping = params["timestep"], params["mass"], params["damping"]
    reward = paid_reward(obs, acts)
    pos, vel = obs[:, 0:2], obs[:, 2:4]
    for _ in range(params["frame_skip"]):
        vel = (mass * vel + h * acts) / (mass + h * damping)
        pos, vel = collide(params["gap"], pos, pos + h * vel, vel)
    return torch.cat([pos, vel.clamp(-MAX_SPEED, MAX_SPEED)], dim=1), reward


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
        pos = torch.as_tensor(START, dtype=self.dtype, device=self.device).expand(k, 2)
        noise = START_VEL_NOISE
        return torch.cat([pos, self.uniform(k, (-noise, -noise), (noise, noise))], dim=1)

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
    """Waypoint PD controller: through the variant's passage, then to the goal.

    While the straight line to the goal is blocked by the wall, it steers for a point above
    the middle of the passage (or below it, if the wall is in the way of that too); once
    the line is clear, for the goal. Force = mass (kp (target - pos) - kd vel) + damping vel,
    clipped: the damping term cancels the joint damping, so the position error is a
    critically damped oscillator (kd = 2 sqrt(kp)). ``device`` is accepted for the
    contract; the policy runs on the device of the observations it is given.
    """
    p = resolve_params(params)
    lo, hi = wall_extent(p["gap"])
    gap_x = (hi + POS_HIGH) / 2 if p["gap"] == "right" else (POS_LOW + lo) / 2
    kp = 400.0
    kd = 2 * math.sqrt(kp)

    def policy(obs: torch.Tensor) -> torch.Tensor:
        pos, vel = obs[..., 0:2], obs[..., 2:4]
        kw = {"dtype": obs.dtype, "device": obs.device}
        goal = torch.as_tensor(GOAL, **kw).expand_as(pos)
        above = torch.as_tensor((gap_x, WALL_Y + 2 * CLEARANCE), **kw).expand_as(pos)
        below = torch.as_tensor((gap_x, WALL_Y - 2 * CLEARANCE), **kw).expand_as(pos)
        via = torch.where(blocks_segment(p["gap"], pos, above)[:, None], below, above)
        target = torch.where(blocks_segment(p["gap"], pos, goal)[:, None], via, goal)
        force = p["mass"] * (kp * (target - pos) - kd * vel) + p["damping"] * vel
        return force.clamp(-1.0, 1.0)

    return policy


def sample_uniform_states(
    params: Mapping[str, Any] | None, n: int, generator: torch.Generator
) -> torch.Tensor:
    """[n, 4] observations uniform over the free space: the observation box minus the wall.

    Rejection sampling with ``generator`` (deterministic for a seed); states inside the
    wall capsule cannot occur. The wall is the variant's, so train and test draw from
    different sets.
    """
    gap = resolve_params(params)["gap"]
    low = torch.as_tensor(OBS_LOW, device=generator.device)
    high = torch.as_tensor(OBS_HIGH, device=generator.device)
    kept: list[torch.Tensor] = []
    have = 0
    while have < n:
        u = torch.rand(2 * n, low.shape[0], generator=generator, device=generator.device)
        obs = low + (high - low) * u
        free = obs[wall_distance(gap, obs[:, :2])[0] >= CLEARANCE]
        kept.append(free)
        have += free.shape[0]
    return torch.cat(kept)[:n]
