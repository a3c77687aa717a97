"""AIRL baseline (Fu et al. 2018) with imitation, from the task's expert demonstrations.

Demonstrations are the task's ``expert`` coverage (rollouts of its expert policy),
converted to imitation Transitions and drawn with a training-data seed (disjoint from
every evaluation seed). The discriminator's reward is a BasicShapedRewardNet,
g + γΦ(s') − Φ(s); as the EPIC paper's pipeline does (evaluating-rewards loads AIRL models
as imitation's ``RewardNet_unshaped``, ``scripts/pipeline/combined_distances.py``) we
submit the unshaped base g, ``reward_net.base``.

Two variants, as the EPIC paper's PointMaze script trains both (``use_action`` True and
False, ``runners/transfer_point_maze.sh``): state-action, g(s, a), and state-only, g(s)
— Fu et al.'s state-only reward, the form meant to recover a reward disentangled from
the dynamics.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from imitation.algorithms.adversarial.airl import AIRL
from imitation.rewards.reward_nets import BasicShapedRewardNet
from imitation.util import logger as imitation_logger
from stable_baselines3 import PPO

from benchmark.baselines.common import (
    Checkpoints,
    TrainResult,
    data_seed,
    seed_everything,
    to_imitation_transitions,
)

if TYPE_CHECKING:
    from benchmark.tasks import Task

EXPERT_COVERAGE = "expert"


@dataclass(frozen=True)
class AIRLBudget:
    total_timesteps: int  # generator environment steps
    n_demonstrations: int  # expert transitions
    demo_batch_size: int = 256
    n_disc_updates_per_round: int = 4
    n_envs: int = 4
    ppo_n_steps: int = 256
    reward_hid_sizes: tuple[int, ...] = (64, 64)
    potential_hid_sizes: tuple[int, ...] = (64, 64)


BUDGETS = {
    "smoke": AIRLBudget(total_timesteps=2048, n_demonstrations=1024),
    "standard": AIRLBudget(total_timesteps=60_000, n_demonstrations=8192),
}


def train_airl(
    task: Task, budget: AIRLBudget, seed: int, *, state_only: bool = False, checkpoints: int = 0
) -> TrainResult:
    """Run imitation's AIRL on the task's train env against expert coverage transitions.

    ``state_only``: the reward base g sees the state only (no action), Fu et al.'s state-only form.
    ``checkpoints`` K: also keep copies of the base g after K evenly spaced rounds
    (generator + discriminator updates; imitation's per-round callback).
    """
    if EXPERT_COVERAGE not in task.coverage_names:
        raise ValueError(
            f"task {task.name} has no '{EXPERT_COVERAGE}' coverage to draw demonstrations from "
            f"(coverages: {', '.join(task.coverage_names)})"
        )
    rng = seed_everything(seed)
    seeds = {"demonstrations": data_seed(seed, 0), "envs": data_seed(seed, 1)}
    sample = task.coverage(EXPERT_COVERAGE).sample(
        budget.n_demonstrations, 16, seeds["demonstrations"], cache=False
    )
    demos = to_imitation_transitions(sample.transitions, task.observation_space, task.action_space)
    venv = task.make_vec_env(budget.n_envs, seeds["envs"])
    net = BasicShapedRewardNet(
        venv.observation_space,
        venv.action_space,
        reward_hid_sizes=budget.reward_hid_sizes,
        potential_hid_sizes=budget.potential_hid_sizes,
        use_action=not state_only,
        use_next_state=False,
        discount_factor=task.discount,
    )
    with tempfile.TemporaryDirectory() as log_dir:
        log = imitation_logger.configure(log_dir, format_strs=[])
        learner = PPO(
            "MlpPolicy",
            venv,
            n_steps=budget.ppo_n_steps,
            batch_size=64,
            ent_coef=0.0,
            seed=seed,
            device="cpu",
            verbose=0,
        )
        trainer = AIRL(
            demonstrations=demos,
            demo_batch_size=budget.demo_batch_size,
            venv=venv,
            gen_algo=learner,
            reward_net=net,
            n_disc_updates_per_round=budget.n_disc_updates_per_round,
            log_dir=log_dir,
            custom_logger=log,
            allow_variable_horizon=True,
        )
        rounds = budget.total_timesteps // trainer.gen_train_timesteps
        snapshots = Checkpoints(checkpoints, rounds, "rounds")
        trainer.train(budget.total_timesteps, callback=lambda r: snapshots(r + 1, net.base))
    del rng
    venv.close()
    base = "g(s)" if state_only else "g(s, a)"
    return TrainResult(
        net=net.base.eval(),
        metrics={"generator_timesteps": float(budget.total_timesteps)},
        description=(
            f"AIRL ({'state-only' if state_only else 'state-action'}; imitation) from the task's "
            f"expert-coverage demonstrations; the submitted model is the unshaped base {base} "
            "of its BasicShapedRewardNet, as the EPIC paper's pipeline does."
        ),
        data_seeds=seeds,
        checkpoints=snapshots.taken,
    )
