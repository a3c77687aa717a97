"""Ground-truth and variant rewards for HalfCheetah-v4 / Hopper-v4 as batched torch RewardFns.

Every reward here is a function of (s, a, s') of the observation *with* x in it
(``benchmark.envs.mujoco``: ``obs[..., 0] = x``, ``obs[..., 1] = z``, ``obs[..., 2] = pitch``).
Each takes ``(obs [B, obs_dim], acts [B, act_dim], next_obs [B, obs_dim], dones [B])``
and returns ``[B]`` in the promoted dtype of obs and acts; pass float64 observations
(as the env gives them) to get the env's reward to float64 precision.

The ground truth (gymnasium 0.29 ``half_cheetah_v4.py`` / ``hopper_v4.py``):

    r(s, a, s') = w_f (x' - x) / dt - w_c ||a||^2 [+ h(s')]

with dt = 0.05, w_c = 0.1 (HalfCheetah) and dt = 0.008, w_c = 1e-3, plus for Hopper the
healthy reward h(s') = 1 if healthy(s') or terminate_when_unhealthy, else 0. With the
default terminate_when_unhealthy=True gymnasium pays h = 1 on every step, including the
step that terminates. healthy(s') checks z' in (0.7, inf), pitch' in (-0.2, 0.2) and
every entry of s'[2:] in (-100, 100); the env checks the unclipped velocities while the
observation clips them to [-10, 10], which can only differ when a velocity exceeds 100.

``REWARDS`` maps names to factories; each factory takes the TOML reward table's
parameters (``env`` = the gymnasium id is required) and returns a RewardFn:

- ``ground_truth(env)``: exactly what the env pays.
- ``shaped(env, discount=0.99, velocity_weight=1.0, height_weight=10.0)``: ground truth
  + discount * phi(s') - phi(s), phi(s) = velocity_weight * xdot(s) + height_weight * z(s).
  EPIC distance to the ground truth is 0 when ``discount`` equals the task's discount.
- ``sparse(env, velocity_threshold=None, bonus=1.0)``: ``bonus`` when the forward velocity
  (x' - x)/dt exceeds the threshold (default 2.0 m/s HalfCheetah, 1.0 m/s Hopper), else 0.
- ``no_control_cost(env)``: ground truth without the control cost.
- ``backward(env)``: pays -w_f (x' - x)/dt (running backwards), same control cost and
  healthy reward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch

from benchmark.data import RewardFn


@dataclass(frozen=True)
class LocomotionSpec:
    """Constants of a gymnasium MuJoCo v4 locomotion reward (its constructor defaults)."""

    env_id: str
    obs_dim: int
    act_dim: int
    dt: float
    velocity_index: int  # index of xdot (qvel[0]) in the observation
    forward_reward_weight: float = 1.0
    ctrl_cost_weight: float = 0.1
    healthy_reward: float = 0.0
    terminate_when_unhealthy: bool = False
    healthy_state_range: tuple[float, float] = (-100.0, 100.0)
    healthy_z_range: tuple[float, float] = (0.7, float("inf"))
    healthy_angle_range: tuple[float, float] = (-0.2, 0.2)
    has_healthy_reward: bool = False
    sparse_velocity_threshold: float = 1.0


SPECS: dict[str, LocomotionSpec] = {
    "HalfCheetah-v4": LocomotionSpec(
        env_id="HalfCheetah-v4",
        obs_dim=18,
        act_dim=6,
        dt=5 * 0.01,
        velocity_index=9,
        ctrl_cost_weight=0.1,
        sparse_velocity_threshold=2.0,
    ),
    "Hopper-v4": LocomotionSpec(
        env_id="Hopper-v4",
        obs_dim=12,
        act_dim=3,
        dt=4 * 0.002,
        velocity_index=6,
        ctrl_cost_weight=1e-3,
        healthy_reward=1.0,
        terminate_when_unhealthy=True,
        has_healthy_reward=True,
        sparse_velocity_threshold=1.0,
    ),
}


def get_spec(env: str) -> LocomotionSpec:
    if env not in SPECS:
        raise ValueError(
            f"locomotion rewards know envs {sorted(SPECS)}, got env={env!r}; "
            "set `env` in the task's reward table"
        )
    return SPECS[env]


def _check(spec: LocomotionSpec, obs, acts, next_obs) -> tuple[torch.Tensor, ...]:
    """Shape checks at the boundary; promote to one floating dtype.

    The actions keep their own dtype: gymnasium computes the control cost in the
    action's dtype (float32 from SB3), so we do too and promote afterwards.
    """
    for name, x, dim in (
        ("obs", obs, spec.obs_dim),
        ("next_obs", next_obs, spec.obs_dim),
        ("acts", acts, spec.act_dim),
    ):
        if x.ndim != 2 or x.shape[-1] != dim:
            raise ValueError(
                f"{spec.env_id} reward expects {name} of shape [B, {dim}], got {tuple(x.shape)}"
                + (" (is x missing from the observation?)" if name != "acts" else "")
            )
    dtype = torch.promote_types(torch.promote_types(obs.dtype, acts.dtype), next_obs.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float32
    if not acts.dtype.is_floating_point:
        acts = acts.to(dtype)
    return obs.to(dtype), acts, next_obs.to(dtype)


def forward_velocity(spec: LocomotionSpec, obs: torch.Tensor, next_obs: torch.Tensor):
    """(x' - x) / dt, [B]."""
    return (next_obs[:, 0] - obs[:, 0]) / spec.dt


def control_cost(spec: LocomotionSpec, acts: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """w_c * ||a||^2, [B]; uses the action as given (gymnasium does not clip it).

    The squares are added left to right in the action's dtype, as ``np.sum`` does for
    so few float32 entries; ``torch.sum`` accumulates float32 in double on CPU and
    differs from the env in the last bit for 6-D actions.
    """
    squares = acts.square()
    total = squares[:, 0]
    for j in range(1, squares.shape[1]):
        total = total + squares[:, j]
    return (spec.ctrl_cost_weight * total).to(dtype)


def is_healthy(spec: LocomotionSpec, next_obs: torch.Tensor) -> torch.Tensor:
    """Hopper's healthy predicate on s' (strict inequalities, as gymnasium), bool [B]."""
    z, angle, state = next_obs[:, 1], next_obs[:, 2], next_obs[:, 2:]
    lo, hi = spec.healthy_state_range
    zlo, zhi = spec.healthy_z_range
    alo, ahi = spec.healthy_angle_range
    return (
        ((lo < state) & (state < hi)).all(dim=-1)
        & (zlo < z)
        & (z < zhi)
        & (alo < angle)
        & (angle < ahi)
    )


def healthy_reward(spec: LocomotionSpec, next_obs: torch.Tensor) -> torch.Tensor:
    """h(s') = healthy_reward * (healthy(s') or terminate_when_unhealthy), [B]."""
    if not spec.has_healthy_reward:
        return torch.zeros(next_obs.shape[0], dtype=next_obs.dtype, device=next_obs.device)
    paid = is_healthy(spec, next_obs) | spec.terminate_when_unhealthy
    return spec.healthy_reward * paid.to(next_obs.dtype)


def _locomotion(spec: LocomotionSpec) -> RewardFn:
    def reward(obs, acts, next_obs, dones):
        obs, acts, next_obs = _check(spec, obs, acts, next_obs)
        forward = spec.forward_reward_weight * forward_velocity(spec, obs, next_obs)
        # gymnasium's order: (forward + healthy) − ctrl (float addition is not associative)
        return (forward + healthy_reward(spec, next_obs)) - control_cost(spec, acts, obs.dtype)

    return reward


def ground_truth(env: str) -> RewardFn:
    """Exactly the env's reward: w_f (x'-x)/dt - w_c ||a||^2 [+ h(s')]."""
    return _locomotion(get_spec(env))


def no_control_cost(env: str) -> RewardFn:
    """The ground truth with w_c = 0: indifferent to effort."""
    return _locomotion(replace(get_spec(env), ctrl_cost_weight=0.0))


def backward(env: str) -> RewardFn:
    """Pays for running in -x, same control cost and healthy reward."""
    spec = get_spec(env)
    return _locomotion(replace(spec, forward_reward_weight=-spec.forward_reward_weight))


def potential(
    spec: LocomotionSpec, obs: torch.Tensor, velocity_weight: float, height_weight: float
):
    """phi(s) = velocity_weight * xdot(s) + height_weight * z(s), [B]."""
    return velocity_weight * obs[:, spec.velocity_index] + height_weight * obs[:, 1]


def shaped(
    env: str, discount: float = 0.99, velocity_weight: float = 1.0, height_weight: float = 10.0
) -> RewardFn:
    """Ground truth + discount * phi(s') - phi(s) (Ng et al. 1999): same optimal policies."""
    if not 0.0 <= float(discount) <= 1.0:
        raise ValueError(f"shaped reward discount must be in [0, 1], got {discount!r}")
    spec = get_spec(env)
    base = _locomotion(spec)

    def reward(obs, acts, next_obs, dones):
        obs, acts, next_obs = _check(spec, obs, acts, next_obs)
        phi = potential(spec, obs, velocity_weight, height_weight)
        phi_next = potential(spec, next_obs, velocity_weight, height_weight)
        return base(obs, acts, next_obs, dones) + discount * phi_next - phi

    return reward


def sparse(env: str, velocity_threshold: float | None = None, bonus: float = 1.0) -> RewardFn:
    """``bonus`` on steps whose forward velocity (x'-x)/dt exceeds the threshold, else 0."""
    spec = get_spec(env)
    threshold = spec.sparse_velocity_threshold if velocity_threshold is None else velocity_threshold

    def reward(obs, acts, next_obs, dones):
        obs, acts, next_obs = _check(spec, obs, acts, next_obs)
        return bonus * (forward_velocity(spec, obs, next_obs) > threshold).to(obs.dtype)

    return reward


REWARDS: dict[str, Callable[..., RewardFn]] = {
    "ground_truth": ground_truth,
    "shaped": shaped,
    "sparse": sparse,
    "no_control_cost": no_control_cost,
    "backward": backward,
}


def make_reward(name: str, params: dict[str, Any]) -> RewardFn:
    """Build ``REWARDS[name]`` from a TOML table; errors say which name/parameter was wrong."""
    if name not in REWARDS:
        raise ValueError(f"unknown locomotion reward {name!r}; choose one of {sorted(REWARDS)}")
    try:
        return REWARDS[name](**params)
    except TypeError as err:
        raise ValueError(f"bad parameters {params} for locomotion reward {name!r}: {err}") from err
