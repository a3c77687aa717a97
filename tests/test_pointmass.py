"""PointMass: dynamics, seeding, adapters, rewards and expert (benchmark.envs/rewards.pointmass)."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from benchmark.envs import pointmass as pm
from benchmark.envs.batched import rollout
from benchmark.rewards.pointmass import REWARDS

TRAIN = {}
TEST = {"mass": 2.0, "drag": 0.5}


def random_policy(seed: int):
    gen = torch.Generator().manual_seed(seed)
    return lambda obs: torch.rand(obs.shape[0], 2, generator=gen) * 2 - 1


def flat(obs, acts, next_obs, rews, dones):
    return (
        obs.reshape(-1, 6),
        acts.reshape(-1, 2),
        next_obs.reshape(-1, 6),
        rews.reshape(-1),
        dones.reshape(-1),
    )


@pytest.mark.parametrize("params", [TRAIN, TEST])
def test_one_step_follows_euler_dynamics_with_mass_and_drag(params):
    core = pm.PointMassCore(3, params, seed=0)
    core.reset()
    core.state = torch.tensor(
        [
            [0.1, -0.2, 0.5, 0.3, 1.0, 1.0],
            [0.0, 0.0, -1.0, 0.0, 0.0, 0.5],
            [0.9, 0.9, 0.0, 0.0, -1.0, 0.0],
        ]
    )
    acts = torch.tensor([[1.0, -0.5], [0.2, 0.2], [-1.0, 1.0]])
    m, drag, dt = params.get("mass", 1.0), params.get("drag", 0.0), 0.1
    pos, vel = core.state[:, :2], core.state[:, 2:4]
    expect_pos = pos + dt * vel
    expect_vel = vel + dt * (acts / m - drag * vel)
    step = core.step(acts)
    torch.testing.assert_close(step.next_obs[:, :2], expect_pos)
    torch.testing.assert_close(step.next_obs[:, 2:4], expect_vel)
    torch.testing.assert_close(step.next_obs[:, 4:], core.state[:, 4:])
    expect_reward = -torch.linalg.vector_norm(expect_pos - step.next_obs[:, 4:], dim=1) - (
        acts**2
    ).sum(1)
    torch.testing.assert_close(step.reward, expect_reward)


def test_arena_wall_stops_motion_and_keeps_observations_in_the_box():
    core = pm.PointMassCore(64, TRAIN, seed=1)
    push_out = lambda obs: torch.sign(obs[:, :2]) + (obs[:, :2] == 0)  # noqa: E731
    obs, acts, next_obs, _, _ = rollout(core, push_out, 150)
    space = core.observation_space
    assert all(space.contains(o.numpy()) for o in next_obs.reshape(-1, 6)[::37])
    assert float(next_obs[..., :2].abs().max()) == pytest.approx(pm.ARENA)
    at_wall = next_obs[..., :2].abs() == pm.ARENA
    assert at_wall.any()
    # One step after arriving at the wall the velocity component into it is 0 or just re-accelerated.
    assert float(next_obs[..., 2:4][at_wall].abs().max()) <= 0.1 + 1e-6


@pytest.mark.parametrize("params", [TRAIN, TEST])
@pytest.mark.parametrize("who", ["random", "expert"])
def test_env_reward_equals_ground_truth_along_rollouts(params, who):
    core = pm.PointMassCore(32, params, seed=3)
    policy = random_policy(0) if who == "random" else pm.expert_policy(params)
    obs, acts, next_obs, rews, dones = flat(*rollout(core, policy, 250))
    gt = REWARDS["ground_truth"]()(obs, acts, next_obs, dones)
    torch.testing.assert_close(gt, rews, rtol=0, atol=1e-6)
    # Where the episode goes on, next_obs is the next obs (rollouts are contiguous).
    cont = (dones == 0).reshape(250, 32)[:-1]
    assert torch.equal(next_obs.reshape(250, 32, 6)[:-1][cont], obs.reshape(250, 32, 6)[1:][cont])


def test_vec_env_rewards_match_ground_truth_on_numpy_boundary():
    venv = pm.make_vec_env(TEST, n=8, seed=5)
    gt = REWARDS["ground_truth"]()
    obs = venv.reset()
    gen = np.random.default_rng(0)
    for _ in range(120):
        acts = gen.uniform(-1, 1, size=(8, 2)).astype(np.float32)
        new_obs, rews, dones, infos = venv.step(acts)
        next_obs = np.stack(
            [info.get("terminal_observation", o) for info, o in zip(infos, new_obs, strict=True)]
        )
        expect = gt(
            torch.from_numpy(obs),
            torch.from_numpy(acts),
            torch.from_numpy(next_obs),
            torch.zeros(8),
        )
        np.testing.assert_allclose(rews, expect.numpy(), atol=1e-6)
        obs = new_obs


def test_vec_env_auto_resets_like_dummy_vec_env():
    n, horizon = 4, 5
    venv = pm.make_vec_env({"horizon": horizon}, n=n, seed=0)
    obs = venv.reset()
    assert obs.shape == (n, 6) and obs.dtype == np.float32
    for _ in range(horizon):
        prev = obs
        obs, rews, dones, infos = venv.step(np.zeros((n, 2), dtype=np.float32))
        assert rews.shape == (n,) and dones.dtype == bool
        assert all("TimeLimit.truncated" in i for i in infos)
    assert dones.all()
    for i in range(n):
        assert infos[i]["TimeLimit.truncated"] is True
        terminal = infos[i]["terminal_observation"]
        # terminal obs continues the last obs (zero force), the returned obs is a fresh start.
        np.testing.assert_allclose(terminal[:2], prev[i, :2] + 0.1 * prev[i, 2:4], atol=1e-6)
        assert np.all(obs[i, 2:4] == 0) and np.all(np.abs(obs[i, :2]) <= pm.START)
    assert not np.allclose(obs[:, 4:], terminal[4:])  # goals resampled


def test_same_seed_same_numbers_different_seed_different():
    def run(seed):
        return rollout(pm.PointMassCore(16, TRAIN, seed=seed), random_policy(7), 120)

    a, b, c = run(11), run(11), run(12)
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)
    assert not torch.equal(a[0], c[0])

    v1, v2 = pm.make_vec_env(TRAIN, 4, seed=3), pm.make_vec_env(TRAIN, 4, seed=0)
    v2.seed(3)
    np.testing.assert_array_equal(v1.reset(), v2.reset())

    e1, e2 = pm.make_env(TRAIN, seed=9), pm.make_env(TRAIN, seed=9)
    np.testing.assert_array_equal(e1.reset()[0], e2.reset()[0])
    np.testing.assert_array_equal(e1.reset(seed=4)[0], e2.reset(seed=4)[0])


@pytest.mark.parametrize("params", [TRAIN, TEST])
def test_single_env_passes_gymnasium_and_sb3_checkers(params):
    env = pm.make_env(params, seed=0)
    check_env(env, skip_render_check=True)
    sb3_check_env(pm.make_env(params, seed=0), warn=True)
    assert env.observation_space == pm.make_env(TEST, 0).observation_space
    assert env.action_space == gym.spaces.Box(-1, 1, (2,), np.float32)


@pytest.mark.parametrize("params", [TRAIN, TEST])
def test_expert_is_far_better_than_random(params):
    expert = rollout(pm.PointMassCore(256, params, seed=0), pm.expert_policy(params), 100)[3]
    rand = rollout(pm.PointMassCore(256, params, seed=0), random_policy(1), 100)[3]
    # Same seed: same starts and goals. Returns per episode, summed over 100 steps.
    expert_ret, rand_ret = expert.sum(0).mean(), rand.sum(0).mean()
    assert expert_ret > 0.3 * rand_ret  # returns are negative: expert loses < 30% of random's
    assert expert_ret > -45


def test_shaping_telescopes_along_an_episode():
    """Sum_t gamma^t (shaped - gt) = gamma^T Phi(s_T) - Phi(s_0) for both potentials."""
    gamma = 0.9
    obs, acts, next_obs, _, dones = rollout(
        pm.PointMassCore(8, TRAIN, seed=2), random_policy(3), 100
    )
    gt = REWARDS["ground_truth"]()
    for potential in ("quadratic", "sinusoid"):
        shaped = REWARDS["shaped"](discount=gamma, scale=0.7, potential=potential)
        o, a, n2 = obs.double(), acts.double(), next_obs.double()
        diff = torch.stack(
            [
                shaped(o[t], a[t], n2[t], dones[t]) - gt(o[t], a[t], n2[t], dones[t])
                for t in range(100)
            ]
        )
        disc = gamma ** torch.arange(100, dtype=torch.float64)
        lhs = (disc[:, None] * diff).sum(0)
        pos0, posT, goal = o[0, :, :2], n2[-1, :, :2], o[0, :, 4:]
        if potential == "quadratic":
            phi0, phiT = -0.7 * ((pos0 - goal) ** 2).sum(1), -0.7 * ((posT - goal) ** 2).sum(1)
        else:
            phi0 = 0.7 * torch.sin(2 * pos0[:, 0]) * torch.cos(2 * pos0[:, 1])
            phiT = 0.7 * torch.sin(2 * posT[:, 0]) * torch.cos(2 * posT[:, 1])
        torch.testing.assert_close(lhs, gamma**100 * phiT - phi0)


def test_variant_rewards_mean_what_their_names_say():
    obs = pm.sample_uniform_states(TRAIN, 4000, torch.Generator().manual_seed(0))
    acts = torch.rand(4000, 2, generator=torch.Generator().manual_seed(1)) * 2 - 1
    next_obs = obs.clone()
    next_obs[:100, :2] = next_obs[:100, 4:] + 0.05  # some successors right at the goal
    dones = torch.zeros(4000)
    r = {name: f()(obs, acts, next_obs, dones) for name, f in REWARDS.items()}
    dist = torch.linalg.vector_norm(next_obs[:, :2] - next_obs[:, 4:], dim=1)
    assert torch.equal(r["sparse"], (dist < 0.2).float()) and r["sparse"][:100].all()
    torch.testing.assert_close(r["no_control_cost"], -dist)
    torch.testing.assert_close(r["ground_truth"] - r["no_control_cost"], -(acts**2).sum(1))
    assert torch.corrcoef(torch.stack([r["away"], r["ground_truth"]]))[0, 1] < -0.5


def test_rewards_keep_dtype_and_accept_out_of_box_actions():
    obs = pm.sample_uniform_states(TRAIN, 10, torch.Generator().manual_seed(0)).double()
    acts = torch.full((10, 2), 3.0, dtype=torch.float64)
    for name, factory in REWARDS.items():
        out = factory()(obs, acts, obs, torch.zeros(10, dtype=torch.float64))
        assert out.shape == (10,) and out.dtype == torch.float64, name
    gt = REWARDS["ground_truth"]()(obs, acts, obs, torch.zeros(10))
    torch.testing.assert_close(
        gt, REWARDS["ground_truth"]()(obs, acts.clamp(-1, 1), obs, torch.zeros(10))
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_core_and_rewards_run_on_cuda():
    obs, acts, next_obs, rews, dones = flat(
        *rollout(pm.PointMassCore(64, TEST, device="cuda"), pm.expert_policy(TEST), 50)
    )
    assert rews.is_cuda
    torch.testing.assert_close(
        REWARDS["ground_truth"]()(obs, acts, next_obs, dones), rews, atol=1e-5, rtol=0
    )


def test_bad_input_gets_clear_errors():
    with pytest.raises(ValueError, match="unknown env parameter"):
        pm.PointMassCore(2, {"masss": 2.0})
    with pytest.raises(ValueError, match="mass > 0"):
        pm.make_env({"mass": 0.0}, 0)
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        pm.PointMassCore(2).step(torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"\[B, 6\]"):
        REWARDS["ground_truth"]()(
            torch.zeros(4, 4), torch.zeros(4, 2), torch.zeros(4, 4), torch.zeros(4)
        )


def test_uniform_states_cover_the_observation_box_reproducibly():
    a = pm.sample_uniform_states(TRAIN, 5000, torch.Generator().manual_seed(0))
    b = pm.sample_uniform_states(TEST, 5000, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == (5000, 6)
    low, high = torch.from_numpy(pm.OBS_LOW), torch.from_numpy(pm.OBS_HIGH)
    assert ((a >= low) & (a <= high)).all()
    torch.testing.assert_close(a.mean(0), (low + high) / 2, atol=0.1, rtol=0)
    assert (a.min(0).values < low + 0.05).all() and (a.max(0).values > high - 0.05).all()


def test_sb3_ppo_trains_on_the_vec_env():
    from stable_baselines3 import PPO

    venv = pm.make_vec_env(TRAIN, n=4, seed=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny nets: extra threads only spin on a shared machine
    try:
        model = PPO("MlpPolicy", venv, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
        model.learn(total_timesteps=256)
    finally:
        torch.set_num_threads(threads)
    assert model.num_timesteps == 256
    acts, _ = model.predict(venv.reset(), deterministic=True)
    assert acts.shape == (4, 2)


def test_step_from_matches_the_core_from_arbitrary_states():
    gen = torch.Generator().manual_seed(0)
    obs = pm.sample_uniform_states(TEST, 500, gen)
    acts = torch.rand(500, 2, generator=gen) * 4 - 2  # some outside the box: clipped
    core = pm.PointMassCore(500, TEST)
    core.reset()
    core.state = obs.clone()
    expect = core.step(acts).next_obs
    torch.testing.assert_close(pm.step_from(TEST, obs, acts, gen), expect)
    assert not torch.equal(pm.step_from(TRAIN, obs, acts), expect)  # the variants differ


def test_task_level_keys_are_accepted():
    core = pm.PointMassCore(2, {"horizon": 7, "discount": 0.99, "mass": 2.0})
    assert core.horizon == 7 and core.params["mass"] == 2.0 and "discount" not in core.params


def test_partial_reset_restarts_only_masked_copies_and_their_clocks():
    core = pm.PointMassCore(4, {"horizon": 5}, seed=0)
    core.reset()
    for _ in range(3):
        core.step(torch.ones(4, 2))
    before = core.state.clone()
    mask = torch.tensor([True, False, True, False])
    obs = core.reset(mask)
    assert torch.equal(obs[~mask], before[~mask]) and (obs[mask, 2:4] == 0).all()
    assert not torch.equal(obs[mask], before[mask])
    ends = [core.step(torch.zeros(4, 2)).truncated.tolist() for _ in range(5)]
    assert ends[1] == [False, True, False, True]  # unmasked copies hit 5 steps first
    assert ends[4] == [True, False, True, False]  # masked copies restarted 3 steps later
