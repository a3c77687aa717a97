"""Replace a VecEnv's reward by a learned ``RewardFn``, one batched call per step.

Reoptimization transfer trains a policy on the learned reward. SB3's VecEnvs
auto-reset: when env ``i`` finishes an episode, ``step_wait`` returns the *reset*
observation in ``obs[i]`` and stashes the real last observation in
``infos[i]["terminal_observation"]``. The reward of that last transition must be
computed on the terminal observation (the classic off-by-one feeds it the reset
state), and the transition after it must start from the reset observation.

Inputs are preprocessed as imitation's ``RewardNet.preprocess`` does (float32,
one-hot for discrete spaces, on ``device``, under ``torch.no_grad()``), so an
imitation reward net can be passed unchanged. A reward that sets
``native_dtypes = True`` (the task-reward submissions: our own closed-form rewards)
gets Box batches in the env's own dtype instead (float64 on MuJoCo, float32 actions
from SB3), and its float64 output is kept: then the ground-truth sanity entry pays
exactly what the environment pays, bit for bit (`tests/test_reward_wrapper.py`), so
its transfer run is the reference run with the same seed.
"""

from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.preprocessing import preprocess_obs
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from benchmark.data import RewardFn, evaluating


def preprocess_batch(
    x: np.ndarray, space: spaces.Space, device: torch.device, native_dtypes: bool = False
) -> torch.Tensor:
    """A VecEnv batch ``[B, *shape]`` as the float tensor a RewardFn receives.

    Discrete → one-hot ``[B, n]``; Box → float32 ``[B, *shape]`` (images are
    scaled to [0, 1], as imitation's default ``normalize_images=True`` does).
    With ``native_dtypes`` a floating Box batch keeps its own dtype (e.g. float64).
    """
    if isinstance(space, spaces.Dict):
        raise TypeError("Dict observation spaces are not supported by the reward wrapper")
    t = torch.as_tensor(np.asarray(x), device=device)
    if native_dtypes and isinstance(space, spaces.Box) and t.dtype.is_floating_point:
        return t
    if isinstance(space, spaces.Discrete):
        t = t.reshape(-1)
    return preprocess_obs(t, space, normalize_images=True).to(torch.float32)


class LearnedRewardVecEnv(VecEnvWrapper):
    """A VecEnv whose reward is ``reward_fn(obs, acts, next_obs, dones)`` for the whole batch.

    The environment's own reward is kept in ``infos[i]["ground_truth_reward"]``.
    Per step: one RewardFn call on tensors of shape ``[n_envs, ...]``; the only
    Python loop is over the envs that just finished an episode.

    Args:
        venv: the VecEnv to wrap (SB3 auto-reset convention).
        reward_fn: the learned reward, ``[B,*obs],[B,*act],[B,*obs],[B] -> [B]``.
        device: where the reward is evaluated (``"cpu"``, ``"cuda"``).
    """

    def __init__(self, venv: VecEnv, reward_fn: RewardFn, device: str | torch.device = "cpu"):
        super().__init__(venv)
        self.reward_fn = reward_fn
        self.device = torch.device(device)
        # Our own closed-form rewards take the env's dtypes; learned nets take float32.
        self.native_dtypes = bool(getattr(reward_fn, "native_dtypes", False))
        self._prev_obs: np.ndarray | None = None
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        obs = self.venv.reset()
        self._prev_obs = np.array(obs, copy=True)
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        if self._prev_obs is None:
            raise RuntimeError("LearnedRewardVecEnv: call reset() before step()")
        self._actions = np.asarray(actions)
        self.venv.step_async(actions)

    def step_wait(self) -> VecEnvStepReturn:
        obs, env_rewards, dones, infos = self.venv.step_wait()
        next_obs = np.array(obs, copy=True) if np.any(dones) else obs
        for i in np.flatnonzero(dones):
            if "terminal_observation" not in infos[i]:
                raise KeyError(
                    f"env {i} reported done without infos[{i}]['terminal_observation']; the wrapped "
                    "VecEnv must follow SB3's auto-reset convention (DummyVecEnv does)"
                )
            next_obs[i] = infos[i]["terminal_observation"]
        rewards = self._learned_reward(self._prev_obs, self._actions, next_obs, dones)
        for info, r in zip(infos, env_rewards, strict=True):
            info["ground_truth_reward"] = float(r)
        # The next transition starts from what the policy sees: the reset obs for done envs.
        # (copied: a batched env may reuse its output buffer)
        self._prev_obs = np.array(obs, copy=True)
        return obs, rewards, dones, infos

    def _learned_reward(
        self, obs: np.ndarray, acts: np.ndarray, next_obs: np.ndarray, dones: np.ndarray
    ) -> np.ndarray:
        n = self.num_envs
        native = self.native_dtypes
        with evaluating(self.reward_fn):  # eval mode, no_grad; the model's modes restored
            r = self.reward_fn(
                preprocess_batch(obs, self.observation_space, self.device, native),
                preprocess_batch(acts, self.action_space, self.device, native),
                preprocess_batch(next_obs, self.observation_space, self.device, native),
                torch.as_tensor(np.asarray(dones), device=self.device).to(torch.float32),
            )
        r = torch.as_tensor(r).detach().reshape(-1)
        if r.shape[0] != n:
            raise ValueError(
                f"the learned reward returned {tuple(r.shape)} values for a batch of {n} "
                "transitions; a RewardFn must return one reward per transition, shape [B]"
            )
        # float64 rewards stay float64 (the env's own MuJoCo rewards are float64).
        dtype = torch.float64 if r.dtype == torch.float64 else torch.float32
        out = r.to("cpu", dtype).numpy()
        if not np.all(np.isfinite(out)):
            raise ValueError(
                f"the learned reward returned non-finite values {out[~np.isfinite(out)][:5]}; "
                "check the reward model (NaN weights, overflow) before reoptimizing on it"
            )
        return out
