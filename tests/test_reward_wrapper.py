"""The learned-reward wrapper sees the right (s, a, s', done) across auto-resets.

The checks use real gymnasium environments whose reward and dynamics we can
recompute from (s, a, s') alone: if the wrapper fed the reset observation as s'
on the last step of an episode, or the terminal observation as s on the first
step of the next one, the recomputed values would disagree.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from benchmark.envs.reward_wrapper import LearnedRewardVecEnv

PENDULUM_DT, PENDULUM_G, PENDULUM_MAX_SPEED, PENDULUM_MAX_TORQUE = 0.05, 10.0, 8.0, 2.0


def pendulum_reward(obs, acts, next_obs, dones):
    """Pendulum-v1's own reward, computed from the state *before* the step."""
    th = torch.atan2(obs[:, 1], obs[:, 0])
    u = acts[:, 0].clamp(-PENDULUM_MAX_TORQUE, PENDULUM_MAX_TORQUE)
    return -(th**2 + 0.1 * obs[:, 2] ** 2 + 0.001 * u**2)


def pendulum_dynamics_residual(obs, acts, next_obs):
    """|s' − f(s, a)| for Pendulum-v1's Euler step (m = l = 1): zero for a true transition."""
    th = torch.atan2(obs[:, 1], obs[:, 0])
    u = acts[:, 0].clamp(-PENDULUM_MAX_TORQUE, PENDULUM_MAX_TORQUE)
    thdot = obs[:, 2] + (3 * PENDULUM_G / 2 * torch.sin(th) + 3.0 * u) * PENDULUM_DT
    thdot = thdot.clamp(-PENDULUM_MAX_SPEED, PENDULUM_MAX_SPEED)
    th_next = th + thdot * PENDULUM_DT
    predicted = torch.stack([torch.cos(th_next), torch.sin(th_next), thdot], dim=1)
    return (predicted - next_obs).abs().amax(dim=1)


class Recorder:
    """A RewardFn that records every batch it is called with."""

    def __init__(self, fn):
        self.fn = fn
        self.calls: list[tuple[torch.Tensor, ...]] = []

    def __call__(self, obs, acts, next_obs, dones):
        self.calls.append((obs.clone(), acts.clone(), next_obs.clone(), dones.clone()))
        return self.fn(obs, acts, next_obs, dones)


def pendulum_venv(limits: list[int], seed: int) -> DummyVecEnv:
    venv = DummyVecEnv([lambda n=n: gym.make("Pendulum-v1", max_episode_steps=n) for n in limits])
    venv.seed(seed)
    return venv


def test_wrapper_passes_terminal_and_reset_observations_across_episode_boundaries():
    limits = [3, 5, 7]  # episodes end on different steps in different envs
    recorder = Recorder(pendulum_reward)
    venv = LearnedRewardVecEnv(pendulum_venv(limits, seed=0), recorder)
    rng = np.random.default_rng(0)
    obs = venv.reset()
    n_done = np.zeros(len(limits), dtype=int)
    for _ in range(22):
        acts = rng.uniform(-2.5, 2.5, size=(len(limits), 1)).astype(np.float32)
        prev = obs
        obs, rewards, dones, infos = venv.step(acts)
        s, a, s_next, d = recorder.calls[-1]
        # s is what the policy saw (the reset observation after a done), a the action taken.
        np.testing.assert_array_equal(s.numpy(), prev)
        np.testing.assert_array_equal(a.numpy(), acts)
        np.testing.assert_array_equal(d.numpy(), dones.astype(np.float32))
        # s' is the true successor: the terminal observation where an episode ended.
        for i in range(len(limits)):
            expected = infos[i]["terminal_observation"] if dones[i] else obs[i]
            np.testing.assert_array_equal(s_next[i].numpy(), expected)
        assert pendulum_dynamics_residual(s, a, s_next).max() < 1e-4
        # The learned reward is what the wrapper returns; the env's own is kept in infos.
        gt = np.array([info["ground_truth_reward"] for info in infos])
        np.testing.assert_allclose(rewards, gt, rtol=1e-4, atol=1e-4)
        n_done += dones
    assert (n_done >= 2).all(), "every env must cross at least two episode boundaries"
    # Where a done happened, the reset obs is genuinely different from the terminal one,
    # so the checks above could tell them apart.
    assert recorder.calls[2][3][0] == 1.0


def test_naive_next_obs_would_be_caught():
    """Guard: using the reset observation as s' breaks the dynamics check we rely on."""
    venv = pendulum_venv([4], seed=1)
    obs = venv.reset()
    for _ in range(4):
        acts = np.zeros((1, 1), dtype=np.float32)
        prev = obs
        obs, _, dones, infos = venv.step(acts)
    assert dones[0]
    wrong = pendulum_dynamics_residual(
        torch.as_tensor(prev), torch.as_tensor(acts), torch.as_tensor(obs)
    )
    right = pendulum_dynamics_residual(
        torch.as_tensor(prev),
        torch.as_tensor(acts),
        torch.as_tensor(infos[0]["terminal_observation"][None]),
    )
    assert right.item() < 1e-4 < wrong.item()


def test_discrete_spaces_are_one_hot_and_goal_reward_uses_terminal_state():
    """FrozenLake: the goal pays 1 on the step *into* state 15, which the env then resets."""
    n_states, goal = 16, 15

    def reaches_goal(obs, acts, next_obs, dones):
        assert obs.shape == next_obs.shape == (2, n_states) and acts.shape == (2, 4)
        assert torch.all(obs.sum(1) == 1) and torch.all(acts.sum(1) == 1)
        return next_obs[:, goal]

    venv = DummyVecEnv([lambda: gym.make("FrozenLake-v1", is_slippery=False)] * 2)
    venv.seed(0)
    wrapped = LearnedRewardVecEnv(venv, reaches_goal)
    wrapped.reset()
    right, down = 2, 1
    path = [right, right, down, down, down, right]  # 0 → 1 → 2 → 6 → 10 → 14 → 15
    total = np.zeros(2)
    for a in path:
        obs, rewards, dones, infos = wrapped.step(np.array([a, a]))
        gt = np.array([info["ground_truth_reward"] for info in infos])
        np.testing.assert_array_equal(rewards, gt)
        total += rewards
    assert dones.all() and (obs == 0).all() and total.tolist() == [1.0, 1.0]
    # After the reset, the next transition starts from the start state again.
    _, rewards, _, _ = wrapped.step(np.array([right, right]))
    assert rewards.tolist() == [0.0, 0.0]


def test_reward_of_wrong_shape_is_rejected_with_a_clear_error():
    venv = LearnedRewardVecEnv(pendulum_venv([5, 5], seed=0), lambda o, a, n, d: o.sum())
    venv.reset()
    with pytest.raises(ValueError, match="one reward per transition"):
        venv.step(np.zeros((2, 1), dtype=np.float32))


def test_non_finite_reward_is_rejected():
    venv = LearnedRewardVecEnv(
        pendulum_venv([5], seed=0), lambda o, a, n, d: torch.full((o.shape[0],), float("nan"))
    )
    venv.reset()
    with pytest.raises(ValueError, match="non-finite"):
        venv.step(np.zeros((1, 1), dtype=np.float32))


def test_imitation_reward_net_plugs_in_unchanged():
    from imitation.rewards.reward_nets import BasicRewardNet

    base = pendulum_venv([5, 6], seed=0)
    net = BasicRewardNet(base.observation_space, base.action_space, use_next_state=True)
    venv = LearnedRewardVecEnv(base, net)
    obs = venv.reset()
    acts = np.full((2, 1), 0.5, dtype=np.float32)
    next_obs, rewards, _, _ = venv.step(acts)
    expected = net.predict_processed(obs, acts, next_obs, np.zeros(2, dtype=bool))
    np.testing.assert_allclose(rewards, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("task_name", ["pointmass", "gridworld"])
def test_task_ground_truth_through_the_wrapper_equals_the_env_reward(task_name):
    """On the benchmark's own VecEnvs (batched torch PointMass, Discrete gridworld): the
    ground-truth RewardFn depends on s', so any off-by-one at auto-reset would show."""
    from benchmark.tasks import load_task

    task = load_task(task_name)
    n = 8
    venv = LearnedRewardVecEnv(
        task.make_vec_env(n, seed=0, variant="test"), task.reward("ground_truth")
    )
    venv.reset()
    rng = np.random.default_rng(0)
    n_done = 0
    for _ in range(task.horizon + 3):
        if hasattr(task.action_space, "n"):
            acts = rng.integers(task.action_space.n, size=n)
        else:
            acts = rng.uniform(-1, 1, size=(n, *task.action_space.shape)).astype(np.float32)
        _, rewards, dones, infos = venv.step(acts)
        gt = np.array([info["ground_truth_reward"] for info in infos])
        np.testing.assert_allclose(rewards, gt, rtol=1e-5, atol=1e-5)
        n_done += int(dones.sum())
    assert n_done >= n, "every env must cross an episode boundary"


# --------------------------------------------------------------------------- sanity entries


def _step_sanity_entry(task_name: str, steps: int, contained: bool = False):
    """The task's ground-truth sanity submission through the wrapper for ``steps`` random steps.

    ``contained``: in a contained worker, as the evaluator runs every submission (the
    inputs cross a pipe, so their dtype must survive it). Returns (wrapper rewards,
    VecEnv rewards, infos) per step.
    """
    from benchmark.submissions import load_submission
    from benchmark.submissions.contained import ContainedReward, WorkerLimits
    from benchmark.tasks import load_task

    task = load_task(task_name)
    submission = load_submission(f"submissions/{task_name}-ground-truth")
    if contained:
        reward = ContainedReward(submission, WorkerLimits(threads=1))
    else:
        reward = submission.load_reward()
    venv = LearnedRewardVecEnv(task.make_vec_env(2, seed=0, variant="train"), reward)
    venv.reset()
    space, rng, out = task.action_space, np.random.default_rng(0), []
    for _ in range(steps):
        if hasattr(space, "n"):
            acts = rng.integers(int(space.n), size=2)
        else:
            acts = rng.uniform(space.low, space.high, size=(2, *space.shape)).astype(space.dtype)
        _, rewards, _, infos = venv.step(acts)
        env_rewards = np.array([i["ground_truth_reward"] for i in infos])
        out.append((rewards, env_rewards, infos))
    venv.close()
    if contained:
        reward.close()
    return out


@pytest.mark.parametrize("contained", [False, True], ids=["in-process", "contained"])
@pytest.mark.parametrize(
    "task_name", ["gridworld", "pointmass", "pointmaze", "halfcheetah", "hopper"]
)
def test_ground_truth_entry_pays_exactly_what_the_env_pays(task_name, contained):
    """Bit for bit, as SB3 stores it (the VecEnv's float32 reward buffer): so training the
    ground-truth sanity entry through the wrapper is the reference run of the same seed.
    Contained too: the evaluator's transfer trains on the worker's rewards, and a worker
    fed float32 copies of MuJoCo's float64 positions paid up to 3e-6 off per step."""
    for rewards, env_rewards, _ in _step_sanity_entry(task_name, 150, contained):
        np.testing.assert_array_equal(rewards.astype(np.float32), env_rewards.astype(np.float32))


@pytest.mark.parametrize("contained", [False, True], ids=["in-process", "contained"])
def test_halfcheetah_ground_truth_entry_is_float64_exact(contained):
    """Before the VecEnv's float32 buffer: gymnasium's own float64 terms, forward_reward −
    ctrl_cost (its info reports reward_run and reward_ctrl = −ctrl_cost)."""
    for rewards, _, infos in _step_sanity_entry("halfcheetah", 60, contained):
        assert rewards.dtype == np.float64
        expected = np.array([i["reward_run"] + i["reward_ctrl"] for i in infos])
        np.testing.assert_array_equal(rewards, expected)
