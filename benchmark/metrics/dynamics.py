"""Each task's transition model as a `benchmark.metrics.dard.TransitionModel`.

DARD (Wulfe et al. 2022) canonicalizes with draws from the environment's own dynamics.
Our simulators give them exactly: gridworld has its table T; the batched point
families step from arbitrary states (``step_from``); MuJoCo restores the full state
from the observation (x is kept in it) and steps (``benchmark.envs.mujoco.step_from``).
"""

from __future__ import annotations

import torch

from benchmark.metrics.dard import TransitionModel, tabular_transition_model
from benchmark.tasks import Task


def transition_model(task: Task, variant: str = "train") -> TransitionModel:
    """One step of ``task``'s ``variant`` dynamics from arbitrary encoded states.

    Args:
        task: a loaded Task.
        variant: ``"train"`` (the dynamics the coverage was drawn in; DARD's default)
            or ``"test"``.

    Returns:
        ``(obs [B, *obs], acts [B, *act], generator) -> next_obs [B, *obs]``.

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
