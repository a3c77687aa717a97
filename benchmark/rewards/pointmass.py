"""Reward families for PointMass (benchmark.envs.pointmass), as batched torch RewardFns.

Each entry of `REWARDS` is a factory: ``REWARDS[name](**params) -> RewardFn`` with
``RewardFn(obs [B, 6], acts [B, 2], next_obs [B, 6], dones [B]) -> [B]``. They read
only (s, a, s') — the goal is part of the observation — and compute in the
dtype and on the device of their inputs. Actions are clipped to [-1, 1]^2, the
action the environment executes, so ``ground_truth`` equals what the env pays
for any recorded action.

Rewards and their TOML parameters (all optional):

    ground_truth     -||pos' - goal|| - ctrl_coef ||a||^2        ctrl_coef = 1.0
    shaped           ground_truth + discount Phi(s') - Phi(s)    discount = 0.99, scale = 1.0,
                     potential = "quadratic": Phi = -scale ||pos - goal||^2, or
                     "sinusoid": Phi = scale sin(2 pos_x) cos(2 pos_y)   (+ ctrl_coef)
    sparse           1 if ||pos' - goal|| < radius else 0        radius = 0.2
    no_control_cost  -||pos' - goal||
    away             +||pos' - goal|| - ctrl_coef ||a||^2 (wants distance from the goal)

``shaped`` is *not* masked by ``dones``: it is exactly R + gamma Phi(s') - Phi(s),
the form EPIC is invariant to, so its EPIC distance to ``ground_truth`` is 0.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from benchmark.data import RewardFn
from benchmark.envs.pointmass import CTRL_COEF

GoalOf = Callable[[torch.Tensor], torch.Tensor]


def check_inputs(
    obs: torch.Tensor, acts: torch.Tensor, next_obs: torch.Tensor, obs_dim: int, family: str
) -> None:
    """Shape check at the RewardFn boundary, with an error that says what to pass."""
    if obs.ndim != 2 or obs.shape[1] != obs_dim or next_obs.shape != obs.shape:
        raise ValueError(
            f"{family} reward: obs and next_obs must have shape [B, {obs_dim}], got "
            f"{tuple(obs.shape)} and {tuple(next_obs.shape)}"
        )
    if acts.ndim != 2 or acts.shape != (obs.shape[0], 2):
        raise ValueError(
            f"{family} reward: acts must have shape [B, 2] with B = {obs.shape[0]}, got {tuple(acts.shape)}"
        )


def control_cost(acts: torch.Tensor) -> torch.Tensor:
    """[B] ||clip(a, -1, 1)||^2: the force the environment actually applies."""
    return (acts.clamp(-1.0, 1.0) ** 2).sum(-1)


def goal_distance(obs: torch.Tensor, goal_of: GoalOf) -> torch.Tensor:
    """[B] Euclidean distance from position obs[:, 0:2] to the goal."""
    return torch.linalg.vector_norm(obs[:, 0:2] - goal_of(obs), dim=-1)


def make_potential(
    potential: str, scale: float, goal_of: GoalOf
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Phi(s) [B] for the shaped reward: a quadratic bowl at the goal or a sinusoid."""
    if potential == "quadratic":
        return lambda obs: -scale * ((obs[:, 0:2] - goal_of(obs)) ** 2).sum(-1)
    if potential == "sinusoid":
        return lambda obs: scale * torch.sin(2.0 * obs[:, 0]) * torch.cos(2.0 * obs[:, 1])
    raise ValueError(
        f"shaped reward: potential must be 'quadratic' or 'sinusoid', got {potential!r}"
    )


Body = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def checked_reward(body: Body, obs_dim: int, family: str) -> RewardFn:
    """A RewardFn that checks shapes, casts actions to the obs dtype, and calls body(s, a, s')."""

    def reward(obs, acts, next_obs, dones):
        check_inputs(obs, acts, next_obs, obs_dim, family)
        return body(obs, acts.to(obs.dtype), next_obs)

    return reward


def build_family(
    goal_of: GoalOf,
    obs_dim: int,
    family: str,
    ctrl_default: float,
    sparse_radius: float = 0.2,
    paid_on: str = "next",
) -> dict[str, Callable[..., RewardFn]]:
    """The goal-reaching reward factories, for any env whose obs starts with [pos(2), ...].

    ``paid_on`` says whose position the distance terms read: ``"next"`` (s', PointMass) or
    ``"current"`` (s, PointMaze, as its reference env pays before simulating the step).
    """
    if paid_on not in ("next", "current"):
        raise ValueError(f"{family} rewards: paid_on must be 'next' or 'current', got {paid_on!r}")

    def wrap(body: Body) -> RewardFn:
        return checked_reward(body, obs_dim, family)

    def at(s: torch.Tensor, s2: torch.Tensor) -> torch.Tensor:
        return s2 if paid_on == "next" else s

    def ground_truth(ctrl_coef: float = ctrl_default) -> RewardFn:
        return wrap(
            lambda s, a, s2: -goal_distance(at(s, s2), goal_of) - ctrl_coef * control_cost(a)
        )

    def shaped(
        discount: float = 0.99,
        scale: float = 1.0,
        potential: str = "quadratic",
        ctrl_coef: float = ctrl_default,
    ) -> RewardFn:
        phi = make_potential(potential, scale, goal_of)
        base = ground_truth(ctrl_coef)
        return lambda s, a, s2, d: base(s, a, s2, d) + discount * phi(s2) - phi(s)

    def sparse(radius: float = sparse_radius) -> RewardFn:
        if radius <= 0:
            raise ValueError(f"sparse reward: radius must be > 0, got {radius}")
        return wrap(lambda s, a, s2: (goal_distance(at(s, s2), goal_of) < radius).to(s2.dtype))

    def no_control_cost() -> RewardFn:
        return wrap(lambda s, a, s2: -goal_distance(at(s, s2), goal_of))

    def away(ctrl_coef: float = ctrl_default) -> RewardFn:
        return wrap(
            lambda s, a, s2: goal_distance(at(s, s2), goal_of) - ctrl_coef * control_cost(a)
        )

    return {
        "ground_truth": ground_truth,
        "shaped": shaped,
        "sparse": sparse,
        "no_control_cost": no_control_cost,
        "away": away,
    }


REWARDS: dict[str, Callable[..., RewardFn]] = build_family(
    goal_of=lambda obs: obs[:, 4:6], obs_dim=6, family="pointmass", ctrl_default=CTRL_COEF
)
