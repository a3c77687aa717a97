"""Reoptimize: train an SB3 policy on a reward in a task's env, and evaluate it on the ground truth.

The two halves of a transfer score that touch RL (`benchmark.metrics.transfer`
composes them into the normalized score):

- `train_policy`: ``budget.algorithm`` (PPO/SAC) for ``budget.total_timesteps`` in
  ``task.make_vec_env(budget.n_envs, seed, variant)``, the reward replaced by a learned
  RewardFn through `LearnedRewardVecEnv` (one batched call per vector step), or the
  environment's own reward when ``reward`` is None.
- `evaluate_policy` / `evaluate_random`: mean undiscounted ground-truth return over a
  fixed, seeded set of evaluation episodes: one episode in each of ``budget.eval_episodes``
  envs seeded from ``EVAL_SEED_OFFSET``, so every policy of a (task, variant, budget), of
  any seed, meets the same initial states (transfer protocol 2; protocol 1 seeded them
  from ``EVAL_SEED_OFFSET + seed``). ``seed`` seeds only the random policy's actions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from benchmark.data import RewardFn
from benchmark.envs.reward_wrapper import LearnedRewardVecEnv
from benchmark.metrics.cpu_threads import single_thread_on_cpu

if TYPE_CHECKING:
    from benchmark.tasks import Budget, Task

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "sac": SAC}
# Evaluation episodes use seeds far from the training envs' seeds.
EVAL_SEED_OFFSET = 1_000_003
# hyperparams keys that configure our wrappers (as in RL Zoo's yaml), not the SB3 constructor.
WRAPPER_KEYS = ("normalize_reward",)


# --------------------------------------------------------------------------- training


def train_policy(
    task: Task,
    reward: RewardFn | None,
    budget: Budget,
    *,
    seed: int,
    device: str = "cpu",
    variant: str = "test",
    progress: bool = False,
) -> BaseAlgorithm:
    """Train ``budget.algorithm`` for ``budget.total_timesteps`` on ``reward`` (None: the env's own).

    ``budget.hyperparams`` go to the SB3 constructor, except ``normalize_reward``
    (RL Zoo's ``normalize``), which wraps the env in ``VecNormalize(norm_obs=False)``
    so that the scale of a learned reward does not change the optimization.
    """
    algo = ALGORITHMS.get(budget.algorithm)
    if algo is None:
        raise ValueError(
            f"task {task.name}: unknown transfer algorithm {budget.algorithm!r}; "
            f"use one of {sorted(ALGORITHMS)} or 'value_iteration' (tabular tasks)"
        )
    kwargs, wrappers = _sb3_kwargs(budget.hyperparams)
    venv: VecEnv = task.make_vec_env(int(budget.n_envs), seed=seed, variant=variant, device=device)
    if reward is not None:
        venv = LearnedRewardVecEnv(venv, reward, device=device)
    if wrappers.get("normalize_reward"):
        venv = VecNormalize(venv, norm_obs=False, norm_reward=True,
                            gamma=kwargs.get("gamma", 0.99))  # fmt: skip
    with single_thread_on_cpu(device):
        model = algo("MlpPolicy", venv, seed=seed, device=device, verbose=0, **kwargs)
        model.set_logger(quiet_logger())
        model.learn(int(budget.total_timesteps), progress_bar=progress)
    venv.close()  # the policy is all evaluation needs; frees subprocess envs
    return model


def quiet_logger() -> Logger:
    """An SB3 logger with no outputs.

    Why: without one, every ``learn`` call creates an empty ``$TMPDIR/SB3-<date>`` folder
    (SB3's default logger) that nothing removes; our runs log through W&B instead.
    """
    return Logger(folder=None, output_formats=[])


def _sb3_kwargs(hyperparams: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """TOML values → SB3 constructor arguments (activation names → torch modules, lists → tuples)."""
    kwargs = dict(hyperparams or {})
    wrappers = {k: kwargs.pop(k) for k in WRAPPER_KEYS if k in kwargs}
    policy_kwargs = dict(kwargs.get("policy_kwargs", {}))
    if isinstance(policy_kwargs.get("activation_fn"), str):
        name = policy_kwargs["activation_fn"].lower()
        activations = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "elu": torch.nn.ELU}
        if name not in activations:
            raise ValueError(f"activation_fn {name!r} unknown; use one of {sorted(activations)}")
        policy_kwargs["activation_fn"] = activations[name]
    if policy_kwargs:
        kwargs["policy_kwargs"] = policy_kwargs
    if isinstance(kwargs.get("train_freq"), list):
        kwargs["train_freq"] = tuple(kwargs["train_freq"])
    return kwargs, wrappers


# --------------------------------------------------------------------------- evaluation


def evaluate_policy(
    task: Task, model: BaseAlgorithm, budget: Budget, *, seed: int, device: str = "cpu",
    variant: str = "test",
) -> float:  # fmt: skip
    """Mean ground-truth return of the deterministic policy over the fixed evaluation episodes."""

    def act(obs: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
        return model.predict(obs, deterministic=True)[0]

    return _evaluate(task, act, budget, seed=seed, device=device, variant=variant)


def evaluate_random(
    task: Task, budget: Budget, *, seed: int, device: str = "cpu", variant: str = "test"
) -> float:
    """Mean ground-truth return of the uniformly random policy over the same episodes."""
    space = task.action_space

    def act(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n = obs.shape[0]
        if hasattr(space, "n"):
            return rng.integers(int(space.n), size=n)
        return rng.uniform(space.low, space.high, size=(n, *space.shape)).astype(space.dtype)

    return _evaluate(task, act, budget, seed=seed, device=device, variant=variant)


def _evaluate(
    task: Task, act: Any, budget: Budget, *, seed: int, device: str, variant: str
) -> float:
    """One episode in each of ``eval_episodes`` envs: the task's fixed episode set.

    Common initial states for every policy and seed (common random numbers): a
    submission's difference from the reference is not which starts it drew. ``seed``
    seeds the action noise of a stochastic ``act`` (the random policy).

    The first episode of each env is counted; envs that finish early keep stepping
    (batched envs cannot pause) but their later rewards are ignored.
    """
    n = int(budget.eval_episodes)
    venv = task.make_vec_env(n, seed=EVAL_SEED_OFFSET, variant=variant, device=device)
    rng = np.random.default_rng(EVAL_SEED_OFFSET + seed)
    obs = venv.reset()
    returns = np.zeros(n)
    finished = np.zeros(n, dtype=bool)
    max_steps = 100 * int(getattr(task, "horizon", None) or 10_000)
    with single_thread_on_cpu(device):
        for _ in range(max_steps):
            obs, rewards, dones, _ = venv.step(act(obs, rng))
            returns += np.where(finished, 0.0, rewards)
            finished |= np.asarray(dones, dtype=bool)
            if finished.all():
                venv.close()
                return float(returns.mean())
    raise RuntimeError(
        f"task {task.name}: evaluation episodes did not end within {max_steps} steps"
    )
