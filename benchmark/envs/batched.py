"""Batched torch environments and their gymnasium / SB3 adapters.

Why: PointMass and PointMaze are cheap enough that Python overhead dominates a
per-copy gymnasium env. A `BatchedCore` steps ``n`` copies at once as tensors
(on CPU or CUDA), so rollouts and coverage sampling run fully in torch. Two thin
adapters put standard interfaces on top of the same core:

- `CoreEnv`: a single `gymnasium.Env` (a core with ``n = 1``), for ``check_env``
  and anything that wants one environment.
- `CoreVecEnv`: a stable-baselines3 `VecEnv` over one core of ``n`` copies,
  numpy at the boundary, auto-reset exactly like SB3's ``DummyVecEnv``
  (``infos[i]["terminal_observation"]``, ``infos[i]["TimeLimit.truncated"]``).

A core's state *is* its observation (the spaces are small and fully observed),
so a family only implements `initial_obs` and `transition`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices

Policy = Callable[[torch.Tensor], torch.Tensor]


class CoreStep(NamedTuple):
    """What `BatchedCore.step` returns; every field has leading dimension ``n``.

    Attributes:
        next_obs: [n, obs_dim] the true successor s' (before any auto-reset).
        reward: [n] the reward the environment pays for (s, a, s').
        terminated: [n] bool, episode ended in a terminal state (never, here).
        truncated: [n] bool, episode hit the time limit.
        obs: [n, obs_dim] the observation to act on next: ``next_obs`` where the
            episode goes on, a fresh initial observation where it ended.
    """

    next_obs: torch.Tensor
    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    obs: torch.Tensor


def check_params(params: Mapping[str, Any], defaults: Mapping[str, Any], family: str) -> dict:
    """Merge a TOML ``[env.*]`` table into the family's defaults; reject unknown keys."""
    # Task adds the task-level ``discount`` to every table (docs/architecture.md); the
    # dynamics do not use it.
    unknown = sorted(set(params) - set(defaults) - {"discount"})
    if unknown:
        raise ValueError(
            f"{family}: unknown env parameter(s) {unknown}; valid parameters are "
            f"{sorted(defaults)} (see the module docstring of benchmark.envs.{family})"
        )
    merged = dict(defaults)
    merged.update({k: v for k, v in params.items() if k in defaults})
    return merged


def step_states(
    family: str,
    dynamics: Callable[[dict, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    params: dict,
    obs: torch.Tensor,
    acts: torch.Tensor,
    obs_dim: int,
    act_dim: int,
) -> torch.Tensor:
    """Successors ``[B, obs_dim]`` of arbitrary states under actions clipped to [-1, 1].

    One step from states no rollout reached: what the ``uniform`` coverage needs from a
    deterministic family. ``dynamics(params, obs, acts)`` returns (next_obs, reward).
    """
    if obs.ndim != 2 or obs.shape[1] != obs_dim or acts.shape != (obs.shape[0], act_dim):
        raise ValueError(
            f"{family} step_from: need obs [B, {obs_dim}] and acts [B, {act_dim}], got "
            f"{tuple(obs.shape)} and {tuple(acts.shape)}"
        )
    acts = acts.to(obs.dtype).clamp(-1.0, 1.0)
    return dynamics(params, obs, acts)[0]


def make_generator(seed: int, device: torch.device | str) -> torch.Generator:
    """A torch generator on ``device`` seeded with ``seed`` (same seed, same numbers)."""
    generator = torch.Generator(device=torch.device(device))
    generator.manual_seed(int(seed))
    return generator


class BatchedCore(ABC):
    """``n`` copies of one environment, stepped together as torch tensors.

    Subclasses set ``observation_space``, ``action_space`` (single-copy gymnasium
    Boxes, float32) and ``horizon``, and implement `initial_obs` and `transition`.
    Episodes end only by the time limit, so ``terminated`` is always False.

    Args:
        n: number of copies.
        device: where the state lives and the dynamics run.
        seed: seeds the core's own `torch.Generator` on ``device``.
        dtype: floating dtype of the state (float32 by default, like the spaces).
    """

    observation_space: gym.spaces.Box
    action_space: gym.spaces.Box
    horizon: int

    def __init__(
        self,
        n: int,
        *,
        device: torch.device | str = "cpu",
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if n < 1:
            raise ValueError(f"number of copies n must be >= 1, got {n}")
        self.n = int(n)
        self.device = torch.device(device)
        self.dtype = dtype
        self.generator = make_generator(seed, self.device)
        self.act_low = torch.as_tensor(self.action_space.low, dtype=dtype, device=self.device)
        self.act_high = torch.as_tensor(self.action_space.high, dtype=dtype, device=self.device)
        self.state = torch.zeros(n, self.obs_dim, dtype=dtype, device=self.device)
        # Step counters live on the host: the time limit is deterministic, and checking
        # it there spares a device->host sync per step on CUDA.
        self.elapsed = np.zeros(n, dtype=np.int64)
        self._no_done = torch.zeros(n, dtype=torch.bool, device=self.device)

    @property
    def obs_dim(self) -> int:
        return int(self.observation_space.shape[0])

    @property
    def act_dim(self) -> int:
        return int(self.action_space.shape[0])

    def seed(self, seed: int) -> None:
        """Re-seed the core's generator; takes effect from the next random draw."""
        self.generator.manual_seed(int(seed))

    def uniform(self, k: int, low: Sequence[float], high: Sequence[float]) -> torch.Tensor:
        """[k, len(low)] uniform draws in the box [low, high] from the core's generator."""
        lo = torch.as_tensor(low, dtype=self.dtype, device=self.device)
        hi = torch.as_tensor(high, dtype=self.dtype, device=self.device)
        u = torch.rand(
            k, lo.shape[0], generator=self.generator, device=self.device, dtype=self.dtype
        )
        return lo + (hi - lo) * u

    @abstractmethod
    def initial_obs(self, k: int) -> torch.Tensor:
        """[k, obs_dim] fresh initial states drawn from ``self.generator``."""

    @abstractmethod
    def transition(
        self, obs: torch.Tensor, acts: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Dynamics and payment: (obs [n, obs_dim], clipped acts [n, act_dim]) -> (next_obs, reward [n])."""

    def reset(self, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Start new episodes in all copies, or only where ``mask`` [n] is True.

        Returns the current observations [n, obs_dim] (a view-free copy).
        """
        if mask is None:
            self.state = self.initial_obs(self.n)
            self.elapsed[:] = 0
        else:
            host_mask = mask.cpu().numpy().astype(bool)
            k = int(host_mask.sum())
            if k:
                self.state = self.state.clone()
                self.state[mask.to(self.device)] = self.initial_obs(k)
                self.elapsed[host_mask] = 0
        return self.state.clone()

    def step(self, actions: torch.Tensor) -> CoreStep:
        """Advance every copy by one step and auto-reset the copies whose episode ended.

        Actions [n, act_dim] are clipped to the action box, as gymnasium envs do.
        """
        acts = torch.as_tensor(actions, device=self.device).to(self.dtype)
        if acts.shape != (self.n, self.act_dim):
            raise ValueError(
                f"actions must have shape ({self.n}, {self.act_dim}) for {self.n} copies, "
                f"got {tuple(acts.shape)}"
            )
        acts = torch.maximum(torch.minimum(acts, self.act_high), self.act_low)
        next_obs, reward = self.transition(self.state, acts)
        self.state = next_obs
        self.elapsed += 1
        ended = self.elapsed >= self.horizon
        if ended.any():
            truncated = torch.from_numpy(ended).to(self.device)
            obs = self.reset(truncated)
        else:
            truncated = self._no_done.clone()
            obs = next_obs.clone()
        return CoreStep(next_obs, reward, self._no_done.clone(), truncated, obs)


class CoreEnv(gym.Env):
    """A single gymnasium environment backed by a `BatchedCore` with ``n = 1`` on CPU.

    ``seed`` given at construction is used by the first ``reset()`` that passes no
    seed, so ``make_env(params, seed)`` is reproducible without a seeded reset.
    """

    metadata = {"render_modes": []}

    def __init__(self, core_factory: Callable[[int], BatchedCore], seed: int | None = None):
        super().__init__()
        self.core = core_factory(1)
        self.observation_space = self.core.observation_space
        self.action_space = self.core.action_space
        self.render_mode = None
        self._pending_seed = seed

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        if seed is None and self._pending_seed is not None:
            seed = self._pending_seed
        self._pending_seed = None
        super().reset(seed=seed)
        if seed is not None:
            self.core.seed(int(self.np_random.integers(2**62)))
        obs = self.core.reset()
        return obs[0].cpu().numpy(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        act = torch.as_tensor(np.asarray(action, dtype=np.float32)).reshape(1, -1)
        out = self.core.step(act)
        # Gymnasium expects no auto-reset: hand back the true successor.
        next_obs = out.next_obs[0].cpu().numpy()
        return next_obs, float(out.reward[0]), bool(out.terminated[0]), bool(out.truncated[0]), {}


class CoreVecEnv(VecEnv):
    """stable-baselines3 `VecEnv` over one `BatchedCore` of ``n`` copies.

    Numpy at the boundary (float32 observations, float32 rewards, bool dones);
    auto-reset semantics and info keys match SB3's ``DummyVecEnv``. ``seed(s)``
    takes effect at the next ``reset()``, as in SB3.
    """

    def __init__(self, core: BatchedCore):
        self.core = core
        self.render_mode = None
        self._actions: np.ndarray | None = None
        super().__init__(core.n, core.observation_space, core.action_space)

    def reset(self) -> np.ndarray:
        if self._seeds[0] is not None:
            self.core.seed(self._seeds[0])
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return self.core.reset().cpu().numpy()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self):
        acts = np.asarray(self._actions, dtype=np.float32).reshape(self.num_envs, -1)
        out = self.core.step(torch.from_numpy(acts))
        obs = out.obs.cpu().numpy()
        rewards = out.reward.float().cpu().numpy()
        terminated = out.terminated.cpu().numpy()
        truncated = out.truncated.cpu().numpy()
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if dones.any():
            next_obs = out.next_obs.cpu().numpy()
            for i in np.flatnonzero(dones):
                infos[i]["terminal_observation"] = next_obs[i]
        for i in range(self.num_envs):
            infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, rewards, dones, infos

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        # One generator drives all copies, so one seed suffices; SB3 expects a list.
        return super().seed(seed)

    def close(self) -> None:
        pass

    def _indices(self, indices: VecEnvIndices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int):
            return [indices]
        return list(indices)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self, attr_name) for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *args, indices: VecEnvIndices = None, **kwargs):
        raise AttributeError(
            f"CoreVecEnv has no per-copy environments to call {method_name!r} on; "
            "use .core (the batched torch core) instead"
        )

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None):
        return [False for _ in self._indices(indices)]


def rollout(
    core: BatchedCore, policy: Policy, n_steps: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run ``policy`` in ``core`` for ``n_steps`` steps from a fresh reset.

    Returns tensors with leading dims [n_steps, n]: obs, acts (clipped, as
    executed), next_obs (true successors), rewards, dones (float 0/1).
    """
    obs = core.reset()
    out_obs, out_acts, out_next, out_rew, out_done = [], [], [], [], []
    for _ in range(n_steps):
        acts = policy(obs).to(core.dtype)
        acts = torch.maximum(torch.minimum(acts, core.act_high), core.act_low)
        step = core.step(acts)
        out_obs.append(obs)
        out_acts.append(acts)
        out_next.append(step.next_obs)
        out_rew.append(step.reward)
        out_done.append((step.terminated | step.truncated).to(core.dtype))
        obs = step.obs
    return tuple(torch.stack(x) for x in (out_obs, out_acts, out_next, out_rew, out_done))
