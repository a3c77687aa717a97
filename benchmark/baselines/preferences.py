"""Preference-comparisons baseline (Christiano et al. 2017) with imitation.

Synthetic preferences from the ground truth: the task's vector env pays the
ground-truth reward, so imitation's SyntheticGatherer compares fragment returns under
it. A PPO agent trained on the current reward model (AgentTrainer) supplies the
trajectories; RandomFragmenter cuts fragment pairs; BasicRewardTrainer fits a
BasicRewardNet by the Bradley-Terry cross-entropy loss.

Budget (issue 17): the standard budget gathers 10⁴ comparisons, and 10% more are
withheld from training (`preference_accuracy.HeldOutFragmenter`) to measure held-out
accuracy, recorded in submission.toml beside the training accuracy. Half of the sampled
trajectories mix random actions into the agent's (imitation's ``exploration_frac``):
the EPIC paper's own preference models were fitted on fragments of a fixed policy, random
by default (evaluating-rewards ``train_preferences``: ``policy_type = "random"``) and the
random/expert mixture for PointMaze (``runners/transfer_point_maze.sh``), and EPIC is
scored on random and mixture coverage as well as the expert's.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from imitation.algorithms import preference_comparisons as pc
from imitation.rewards.reward_nets import BasicRewardNet
from imitation.util import logger as imitation_logger
from stable_baselines3 import PPO

from benchmark.baselines.common import Checkpoints, TrainResult, data_seed, seed_everything
from benchmark.baselines.preference_accuracy import HeldOutFragmenter, held_out_accuracy

if TYPE_CHECKING:
    from benchmark.tasks import Task


@dataclass(frozen=True)
class PreferencesBudget:
    total_timesteps: int  # agent environment steps
    total_comparisons: int  # synthetic preference queries
    num_iterations: int = 5
    fragment_length: int = 10
    n_envs: int = 4
    ppo_n_steps: int = 256
    reward_epochs: int = 3
    hid_sizes: tuple[int, ...] = (64, 64)
    held_out_fraction: float = 0.1  # extra comparisons withheld from training, for accuracy
    exploration_frac: float = 0.5  # share of trajectories that mix in random actions
    initial_epoch_multiplier: float = 4.0  # imitation's default 200 is for tiny first batches


BUDGETS = {
    "smoke": PreferencesBudget(total_timesteps=2048, total_comparisons=100, num_iterations=2),
    "standard": PreferencesBudget(total_timesteps=40_000, total_comparisons=10_000),
}


def train_preferences(
    task: Task, budget: PreferencesBudget, seed: int, *, checkpoints: int = 0
) -> TrainResult:
    """Run imitation's PreferenceComparisons on the task's train env; return the reward net.

    ``checkpoints`` K: also keep copies of the net at the end of K evenly spaced
    iterations (imitation's per-iteration callback). imitation runs ``num_iterations + 1``
    of them: the first on the initial comparisons, then one per scheduled batch (measured:
    a copy after ``num_iterations`` differed from the returned net).
    """
    snapshots = Checkpoints(checkpoints, budget.num_iterations + 1, "iterations")
    rng = seed_everything(seed)
    env_seed = data_seed(seed, 0)  # disjoint from every evaluation seed
    venv = task.make_vec_env(budget.n_envs, env_seed)
    net = BasicRewardNet(
        venv.observation_space,
        venv.action_space,
        use_state=True,
        use_action=True,
        use_next_state=True,
        hid_sizes=budget.hid_sizes,
    )
    with tempfile.TemporaryDirectory() as log_dir:
        log = imitation_logger.configure(log_dir, format_strs=[])
        agent = PPO(
            "MlpPolicy",
            venv,
            n_steps=budget.ppo_n_steps,
            batch_size=64,
            seed=seed,
            device="cpu",
            verbose=0,
        )
        generator = pc.AgentTrainer(
            algorithm=agent,
            reward_fn=net,
            venv=venv,
            exploration_frac=budget.exploration_frac,
            rng=rng,
            custom_logger=log,
        )
        trainer = pc.BasicRewardTrainer(
            preference_model=pc.PreferenceModel(net, discount_factor=task.discount),
            loss=pc.CrossEntropyRewardLoss(),
            epochs=budget.reward_epochs,
            rng=rng,
            custom_logger=log,
        )
        fragmenter = HeldOutFragmenter(
            pc.RandomFragmenter(warning_threshold=0, rng=rng, custom_logger=log),
            budget.held_out_fraction,
        )
        algorithm = pc.PreferenceComparisons(
            generator,
            net,
            num_iterations=budget.num_iterations,
            fragmenter=fragmenter,
            preference_gatherer=pc.SyntheticGatherer(
                discount_factor=task.discount, rng=rng, custom_logger=log
            ),
            reward_trainer=trainer,
            fragment_length=budget.fragment_length,
            transition_oversampling=1 + budget.held_out_fraction,
            initial_comparison_frac=0.1,
            initial_epoch_multiplier=budget.initial_epoch_multiplier,
            allow_variable_horizon=True,
            query_schedule="hyperbolic",
            custom_logger=log,
        )
        stats = algorithm.train(
            budget.total_timesteps,
            budget.total_comparisons,
            callback=lambda iteration: snapshots(iteration + 1, net),
        )
        n_trained = len(algorithm.dataset)
    venv.close()
    net.eval()
    accuracy, n_decided = held_out_accuracy(net, fragmenter.held_out, task.discount)
    return TrainResult(
        net=net,
        metrics={
            "reward_accuracy": float(stats["reward_accuracy"]),  # on the training comparisons
            "held_out_accuracy": accuracy,
            "held_out_comparisons": float(n_decided),
            "held_out_ties": float(len(fragmenter.held_out) - n_decided),
            "train_comparisons": float(n_trained),
        },
        data_seeds={"envs": env_seed},
        checkpoints=snapshots.taken,
        description=(
            "BasicRewardNet (state, action, next state) learned by imitation's preference "
            "comparisons from synthetic ground-truth preferences over fragments of a PPO agent's "
            f"trajectories ({budget.exploration_frac:.0%} of them mixing in random actions); "
            "held_out_accuracy is measured on comparisons withheld from training."
        ),
    )
