"""Transition models for DARD: one step of a task's dynamics from arbitrary states.

DARD (Wulfe et al. 2022) canonicalizes with draws from the environment's own dynamics.
Our simulators give them exactly: gridworld has its table T; the batched point
families step from arbitrary states (``step_from``); MuJoCo restores the full state
from the observation (x is kept in it) and steps (``benchmark.envs.mujoco.step_from``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from benchmark.metrics.inputs import ArrayLike, to_numpy

if TYPE_CHECKING:
    from benchmark.tasks import Task

# ``(obs [B, *obs], acts [B, *act], generator) -> next_obs [B, *obs]`` drawn from
# T(·|obs, acts). Deterministic models ignore the generator.
TransitionModel = Callable[[torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]


def transition_model(task: Task, variant: str = "train") -> TransitionModel:
    """One step of ``task``'s ``variant`` dynamics from arbitrary encoded states.

    Args:
        task: a loaded Task.
        variant: ``"train"`` (the dynamics the coverage was drawn in; DARD's default)
            or ``"test"``.

    Raises:
        ValueError: the family can neither give a table nor step from a state.
    """
    if variant not in task.env_params:
        raise ValueError(f"variant must be one of {sorted(task.env_params)}, got {variant!r}")
    module = task.env_family
    params = task.env_params[variant]
    if hasattr(module, "tabular_dynamics"):
        table, _ = module.tabular_dynamics(params)
        return tabular_transition_model(table)
    if not hasattr(module, "step_from"):
        raise ValueError(
            f"task {task.name!r}: env family {task.family!r} has no step_from(params, obs, acts, "
            "generator), so DARD has no transition model for it"
        )

    def step(obs: torch.Tensor, acts: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return module.step_from(params, obs, acts, generator)

    return step


def tabular_transition_model(transition: ArrayLike) -> TransitionModel:
    """A `TransitionModel` over one-hot states that samples T(·|s, a) from a table.

    Args:
        transition: ``[S, A, S]`` T(s' | s, a).

    Returns:
        ``(obs [B, S] one-hot, acts [B, A] one-hot, generator) -> next_obs [B, S]``.
    """
    p = torch.as_tensor(to_numpy(transition, "transition"))
    if p.ndim != 3 or p.shape[0] != p.shape[2]:
        raise ValueError(f"transition must have shape [S, A, S], got {list(p.shape)}")
    cdf = p.cumsum(dim=2)

    def step(obs: torch.Tensor, acts: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        s = obs.argmax(dim=1).cpu()
        a = acts.argmax(dim=1).cpu()
        u = torch.rand(s.shape[0], 1, generator=generator, device=generator.device).cpu()
        rows = cdf[s, a].to(u.dtype)
        nxt = torch.searchsorted(rows, u * rows[:, -1:], right=True).squeeze(1)
        nxt = nxt.clamp(max=p.shape[2] - 1)
        return torch.nn.functional.one_hot(nxt, p.shape[2]).to(obs.device, obs.dtype)

    return step
