"""Expert policies for the MuJoCo tasks: SAC training and export without pickle.

Training follows the RL Baselines3 Zoo SAC setting for HalfCheetah/Hopper
(``hyperparams/sac.yml``: MlpPolicy [256, 256], learning_starts 10000, SB3 defaults
otherwise: lr 3e-4, batch 256, buffer 1e6, tau 0.005, gamma 0.99, automatic entropy).
The actor sees the observation *without* x (``obs[..., 1:]``), as the Zoo's policies do;
x grows without bound and carries no information for running.

An exported expert is a folder ``experts/<name>/`` with

- ``actor.safetensors``: the deterministic actor's weights (latent MLP + mean head),
- ``expert.json``: architecture, which obs entries the actor reads, action bounds,
  training seed/steps and the evaluation return.

Loading (`benchmark.envs.experts.load_expert`) reads only those two files; nothing is unpickled.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from safetensors.torch import save_file

from benchmark.envs import mujoco as mujoco_envs
from benchmark.envs.experts import ExpertSpec, load_expert, read_spec
from benchmark.paths import EXPERTS_DIR, atomic_write
from benchmark.tasks import Task, load_task

Policy = Callable[[torch.Tensor], torch.Tensor]

# RL Zoo hyperparams/sac.yml, HalfCheetah-v3 / Hopper-v3 (`*mujoco-defaults`).
ZOO_SAC = {"learning_starts": 10_000, "policy_kwargs": {"net_arch": [256, 256]}}
ZOO_TIMESTEPS = 1_000_000


class DropX(gym.ObservationWrapper):
    """Hide obs[0] (x) from the learner: the actor reads ``obs[1:]``."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        space = env.observation_space
        self.observation_space = gym.spaces.Box(
            low=space.low[1:], high=space.high[1:], dtype=space.dtype
        )

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return observation[1:]


def _weights_from_sb3(model) -> dict[str, torch.Tensor]:
    """The actor's deterministic path from an SB3 SAC model (no log-std head, no critics)."""
    actor = model.policy.actor
    state = {f"latent_pi.{k}": v for k, v in actor.latent_pi.state_dict().items()}
    state.update({f"mu.{k}": v for k, v in actor.mu.state_dict().items()})
    return {k: v.detach().cpu().float().contiguous() for k, v in state.items()}


def export_expert(model, spec: ExpertSpec, folder: Path) -> Path:
    """Write ``actor.safetensors`` + ``expert.json``, each atomically (tmp then rename)."""
    with atomic_write(folder / "actor.safetensors") as tmp:
        save_file(_weights_from_sb3(model), str(tmp))
    with atomic_write(folder / "expert.json") as tmp:
        tmp.write_text(json.dumps(asdict(spec), indent=2) + "\n")
    return folder


def rollout_returns(
    policy: Policy | None, params: dict[str, Any], episodes: int, seed: int
) -> np.ndarray:
    """Ground-truth returns of ``episodes`` full episodes; ``policy=None`` acts uniformly at random.

    Episode i is reset with seed ``seed + i``, so the numbers are reproducible.
    """
    env = mujoco_envs.make_env(params, seed)
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        env.action_space.seed(seed + i)
        total, done = 0.0, False
        while not done:
            if policy is None:
                act = env.action_space.sample()
            else:
                act = policy(torch.as_tensor(obs)[None]).numpy()[0]
            obs, reward, terminated, truncated, _ = env.step(act)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return np.asarray(returns)


def train_expert(
    name: str,
    params: dict[str, Any],
    *,
    timesteps: int = ZOO_TIMESTEPS,
    seed: int = 0,
    eval_every: int = 10_000,
    eval_episodes: int = 3,
    out_dir: Path = EXPERTS_DIR,
    threads: int = 1,
    log: Callable[[str], None] = print,
    progress_bar: bool = False,
) -> ExpertSpec:
    """Train SAC (RL Zoo settings) and keep the best checkpoint under ``out_dir/name``.

    Every ``eval_every`` steps the deterministic actor is exported to a candidate folder
    and evaluated on ``eval_episodes`` episodes; the best so far replaces ``out_dir/name``,
    so stopping the run at any time leaves a usable expert.
    """
    # Lazy: SB3 training machinery is only needed when an expert is trained.
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback

    from benchmark.metrics.reoptimize import quiet_logger  # training only: keep imports light

    torch.set_num_threads(threads)
    params = mujoco_envs.check_params(params)
    env = DropX(mujoco_envs.make_env(params, seed))
    model = SAC("MlpPolicy", env, seed=seed, verbose=0, device="cpu", **ZOO_SAC)
    model.set_logger(quiet_logger())

    space = env.action_space
    base_spec = dict(
        env_id=params["id"],
        obs_dim=env.observation_space.shape[0] + 1,
        act_dim=space.shape[0],
        obs_dims_used=list(range(1, env.observation_space.shape[0] + 1)),
        net_arch=list(ZOO_SAC["policy_kwargs"]["net_arch"]),
        activation="relu",
        action_low=space.low.astype(float).tolist(),
        action_high=space.high.astype(float).tolist(),
        seed=seed,
    )
    best = {"mean": -math.inf}
    final = out_dir / name
    candidate = Path(tempfile.mkdtemp(prefix=f"expert-{name}-"))
    start = time.time()

    class EvalAndKeepBest(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % eval_every:
                return True
            spec = ExpertSpec(**base_spec, timesteps=self.num_timesteps)
            export_expert(self.model, spec, candidate)
            eval_seed = 10_000 + seed
            rets = rollout_returns(load_expert(candidate), params, eval_episodes, eval_seed)
            spec.eval_return_mean, spec.eval_return_std = float(rets.mean()), float(rets.std())
            spec.eval_episodes, spec.eval_seed = eval_episodes, eval_seed
            rate = self.num_timesteps / (time.time() - start)
            log(
                f"[{name}] step {self.num_timesteps}: return {rets.mean():.1f} ± {rets.std():.1f} "
                f"({rate:.0f} steps/s, best {best['mean']:.1f})"
            )
            if rets.mean() > best["mean"]:
                best["mean"] = float(rets.mean())
                export_expert(self.model, spec, final)
                log(f"[{name}] new best exported to {final}")
            return True

    try:
        model.learn(
            total_timesteps=timesteps, callback=EvalAndKeepBest(), progress_bar=progress_bar
        )
    finally:  # the candidate folder is scratch: removed however training ends
        shutil.rmtree(candidate, ignore_errors=True)
    return read_spec(final)


def evaluate_expert(
    name: str, params: dict[str, Any], episodes: int = 10, seed: int = 0
) -> tuple[float, float]:
    """Mean and std of the expert's ground-truth return over ``episodes`` seeded episodes."""
    rets = rollout_returns(load_expert(name), params, episodes, seed)
    return float(rets.mean()), float(rets.std())


# --- task-level commands (``epic-bench experts train/eval TASK``) ----------------------


def _task_expert(task_name: str) -> tuple[Task, dict[str, Any], str]:
    task = load_task(task_name)
    params = task.env_params["train"]
    if task.family != "mujoco" or not params.get("expert"):
        raise ValueError(
            f"task {task.name!r} has no trainable MuJoCo expert (family {task.family!r}); "
            "experts are trained for tasks whose [env.train] names `expert`"
        )
    return task, params, str(params["expert"])


def write_reference(toml_path: Path, values: dict[str, float | int | str]) -> None:
    """Set ``key = value`` lines in the ``[reference]`` table of a task file, in place.

    A targeted text edit (no TOML writer round trip) so comments and layout survive;
    the table is appended if the file has none.
    """
    lines = Path(toml_path).read_text().splitlines()
    if "[reference]" not in (line.strip() for line in lines):
        lines += ["", "[reference]"]
    start = next(i for i, line in enumerate(lines) if line.strip() == "[reference]") + 1
    end = next(
        (i for i in range(start, len(lines)) if lines[i].lstrip().startswith("[")), len(lines)
    )
    body = [line for line in lines[start:end] if line.split("=")[0].strip() not in values]
    while body and not body[-1].strip():
        body.pop()
    body += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    tail = lines[end:]
    Path(toml_path).write_text(
        "\n".join(lines[:start] + body + ([""] if tail else []) + tail) + "\n"
    )


def evaluate_task_expert(
    task_name: str, episodes: int = 10, seed: int = 0, write: bool = False
) -> dict[str, float | int | str]:
    """Ground-truth return of a task's committed expert on its train env; optionally record it.

    Returns (and with ``write`` stores in the task's ``[reference]``) expert_return_mean,
    expert_return_std, expert_eval_episodes, expert_eval_seed, expert_train_timesteps,
    expert_train_seed.
    """
    task, params, name = _task_expert(task_name)
    spec = read_spec(EXPERTS_DIR / name)
    rets = rollout_returns(load_expert(name), params, episodes, seed)
    values: dict[str, float | int | str] = {
        "expert_return_mean": round(float(rets.mean()), 2),
        "expert_return_std": round(float(rets.std()), 2),
        "expert_eval_episodes": episodes,
        "expert_eval_seed": seed,
        "expert_train_timesteps": spec.timesteps,
        "expert_train_seed": spec.seed,
    }
    if write:
        write_reference(task.path, values)
    return values


def train_task_expert(
    task_name: str, timesteps: int = ZOO_TIMESTEPS, seed: int = 0, eval_every: int = 10_000,
    threads: int = 1, progress_bar: bool = True,
) -> ExpertSpec:  # fmt: skip
    """Train the expert named in the task's ``[env.train]`` on its train env (``train_expert``)."""
    _, params, name = _task_expert(task_name)
    return train_expert(
        name, params, timesteps=timesteps, seed=seed, eval_every=eval_every, threads=threads,
        progress_bar=progress_bar,
    )  # fmt: skip
