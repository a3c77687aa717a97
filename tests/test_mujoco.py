"""HalfCheetah/Hopper envs and their locomotion rewards, checked against real MuJoCo rollouts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.data import Transitions
from benchmark.envs import mujoco as mj
from benchmark.metrics.epic import canonicalize
from benchmark.rewards import locomotion as loco
from benchmark.tasks import load_task

ENV_IDS = ["HalfCheetah-v4", "Hopper-v4"]
TEST_SCALES = {"mass_scale": 1.3, "friction_scale": 0.7}


def random_rollout(params: dict, steps: int, seed: int):
    """(obs, acts, next_obs, dones, env_rewards, terminated) over `steps` random steps, resetting at ends."""
    env = mj.make_env(params, seed)
    obs, _ = env.reset(seed=seed)
    rows = []
    for _ in range(steps):
        act = env.action_space.sample()
        nxt, rew, term, trunc, _ = env.step(act)
        rows.append((obs, act, nxt, float(term or trunc), rew, term))
        obs = env.reset()[0] if (term or trunc) else nxt
    cols = list(zip(*rows, strict=True))
    tensors = [torch.as_tensor(np.array(c)) for c in cols[:4]]
    return (*tensors, np.array(cols[4]), np.array(cols[5]))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_observation_includes_x_position_as_float64(env_id):
    env = mj.make_env({"id": env_id}, seed=0)
    obs, _ = env.reset(seed=0)
    data = env.unwrapped.data
    assert obs.dtype == np.float64
    assert obs.shape == (loco.SPECS[env_id].obs_dim,)
    for _ in range(5):
        obs, *_ = env.step(env.action_space.sample())
    assert obs[0] == data.qpos[0]
    assert obs[0] != 0.0
    assert env.spec.max_episode_steps == 1000


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_horizon_sets_time_limit(env_id):
    env = mj.make_env({"id": env_id, "horizon": 7}, seed=0)
    env.reset(seed=0)
    steps, done = 0, False
    while not done:
        _, _, term, trunc, _ = env.step(np.zeros(env.action_space.shape, dtype=np.float32))
        steps, done = steps + 1, term or trunc
    assert steps <= 7 and (trunc or term)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_test_variant_scales_masses_and_friction(env_id):
    train = mj.make_env({"id": env_id}, 0).unwrapped.model
    test = mj.make_env({"id": env_id, **TEST_SCALES}, 0).unwrapped.model
    np.testing.assert_allclose(test.body_mass, 1.3 * train.body_mass)
    np.testing.assert_allclose(test.geom_friction, 0.7 * train.geom_friction)
    assert test.body_mass[1:].sum() > train.body_mass[1:].sum() > 0


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_test_variant_changes_trajectory_not_spaces(env_id):
    train_env = mj.make_env({"id": env_id}, 0)
    test_env = mj.make_env({"id": env_id, **TEST_SCALES}, 0)
    assert train_env.observation_space == test_env.observation_space
    assert train_env.action_space == test_env.action_space
    a, _ = train_env.reset(seed=3)
    b, _ = test_env.reset(seed=3)
    np.testing.assert_array_equal(a, b)
    actions = np.random.default_rng(0).uniform(-1, 1, (20, *train_env.action_space.shape))
    for act in actions:
        a, *_ = train_env.step(act.astype(np.float32))
        b, *_ = test_env.step(act.astype(np.float32))
    assert np.abs(a - b).max() > 1e-3


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_same_rollout(env_id):
    first = random_rollout({"id": env_id}, 50, seed=5)
    second = random_rollout({"id": env_id}, 50, seed=5)
    torch.testing.assert_close(first[2], second[2], rtol=0, atol=0)


@pytest.mark.parametrize("variant", [{}, TEST_SCALES], ids=["train", "test"])
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_ground_truth_matches_env_reward_on_random_rollouts(env_id, variant):
    obs, acts, nxt, dones, env_rew, terminated = random_rollout(
        {"id": env_id, **variant}, 1500, seed=1
    )
    assert obs.dtype == torch.float64
    pred = loco.ground_truth(env_id)(obs, acts, nxt, dones)
    assert pred.shape == (len(obs),) and pred.dtype == torch.float64
    # HalfCheetah's control cost is computed in float32 by gymnasium (float32 actions):
    # agreement to one float32 ulp of a cost of order 1.
    np.testing.assert_allclose(pred.numpy(), env_rew, rtol=0, atol=2e-7)
    if env_id == "Hopper-v4":
        assert terminated.sum() >= 10, "random Hopper should fall many times in 1500 steps"
        np.testing.assert_allclose(pred.numpy()[terminated], env_rew[terminated], atol=1e-12)


def test_hopper_healthy_reward_when_not_terminating():
    """With terminate_when_unhealthy=False gymnasium pays h only while healthy(s')."""
    import gymnasium as gym

    env = gym.make(
        "Hopper-v4",
        exclude_current_positions_from_observation=False,
        terminate_when_unhealthy=False,
    )
    spec = loco.SPECS["Hopper-v4"]
    from dataclasses import replace

    spec = replace(spec, terminate_when_unhealthy=False)
    obs, _ = env.reset(seed=0)
    env.action_space.seed(0)
    rows = []
    for _ in range(300):
        act = env.action_space.sample()
        nxt, rew, *_ = env.step(act)
        rows.append((obs, act, nxt, rew))
        obs = nxt
    o, a, n, r = (torch.as_tensor(np.array(c)) for c in zip(*rows, strict=True))
    pred = loco._locomotion(spec)(o, a, n, torch.zeros(len(o)))
    healthy = loco.is_healthy(spec, n)
    assert healthy.any() and not healthy.all()
    np.testing.assert_allclose(pred.numpy(), r.numpy(), atol=1e-12)


@pytest.mark.parametrize("name", sorted(loco.REWARDS))
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_named_rewards_are_finite_with_shape_b(env_id, name):
    obs, acts, nxt, dones, *_ = random_rollout({"id": env_id}, 64, seed=2)
    r = loco.make_reward(name, {"env": env_id})(obs, acts, nxt, dones)
    assert r.shape == (64,)
    assert torch.isfinite(r).all()
    # float32 inputs (e.g. a coverage dataset stored as float32) also work.
    r32 = loco.make_reward(name, {"env": env_id})(obs.float(), acts, nxt.float(), dones)
    assert r32.shape == (64,) and r32.dtype == torch.float32


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_variant_rewards_relate_to_ground_truth(env_id):
    obs, acts, nxt, dones, *_ = random_rollout({"id": env_id}, 300, seed=4)
    spec = loco.SPECS[env_id]
    gt = loco.ground_truth(env_id)(obs, acts, nxt, dones)
    velocity = (nxt[:, 0] - obs[:, 0]) / spec.dt
    ctrl = spec.ctrl_cost_weight * acts.double().square().sum(-1)

    shaped = loco.shaped(env_id, discount=0.9)(obs, acts, nxt, dones)
    phi = lambda s: 1.0 * s[:, spec.velocity_index] + 10.0 * s[:, 1]  # noqa: E731
    torch.testing.assert_close(shaped - gt, 0.9 * phi(nxt) - phi(obs))
    assert (shaped - gt).abs().mean() > 0.1 * gt.abs().mean(), "shaping must not be negligible"

    no_ctrl = loco.no_control_cost(env_id)(obs, acts, nxt, dones)
    torch.testing.assert_close(no_ctrl - gt, ctrl, atol=1e-6, rtol=1e-6)

    back = loco.backward(env_id)(obs, acts, nxt, dones)
    torch.testing.assert_close(gt - back, 2 * velocity, atol=1e-9, rtol=1e-9)

    sparse = loco.sparse(env_id, velocity_threshold=0.0, bonus=2.0)(obs, acts, nxt, dones)
    torch.testing.assert_close(sparse, 2.0 * (velocity > 0).double())
    assert 0 < (sparse > 0).sum() < len(sparse)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_canonical_ground_truth_is_the_distance_run(env_id):
    """(x' − x)/dt = γΦ(s') − Φ(s) + (1 − γ) x'/dt with Φ(s) = x/dt, and EPIC's C removes
    the shaping: C(r) = w_f (1 − γ) x'/dt − w_c ‖a‖² [+ h] + const on any coverage. So on
    expert coverage the canonical ground truth is the distance run (issue 17: why EPIC there
    grades how a learned reward depends on the absolute position)."""
    obs, acts, nxt, dones, *_ = random_rollout({"id": env_id}, 300, seed=5)
    spec, gamma = loco.SPECS[env_id], 0.99
    g = torch.Generator().manual_seed(0)
    states = nxt[torch.randint(0, 300, (64,), generator=g)]
    actions = acts[torch.randint(0, 300, (64,), generator=g)]
    c = canonicalize(loco.ground_truth(env_id), Transitions(obs, acts, nxt, dones), states,
                     actions, gamma)  # fmt: skip
    progress = spec.forward_reward_weight * (1 - gamma) * nxt[:, 0] / spec.dt
    ctrl = spec.ctrl_cost_weight * acts.double().square().sum(-1)
    healthy = 1.0 if spec.has_healthy_reward else 0.0  # terminate_when_unhealthy: always paid
    residual = c - (progress - ctrl + healthy)
    assert residual.std() < 1e-6 * c.std()
    assert progress.std() > 0.5 * c.std(), "the distance term must dominate C(r)"


def test_reward_rejects_observation_without_x():
    r = loco.ground_truth("HalfCheetah-v4")
    with pytest.raises(ValueError, match=r"obs of shape \[B, 18\].*x missing"):
        r(torch.zeros(4, 17), torch.zeros(4, 6), torch.zeros(4, 17), torch.zeros(4))


def test_bad_names_and_params_get_clear_errors():
    with pytest.raises(ValueError, match="locomotion rewards know envs"):
        loco.ground_truth("Ant-v4")
    with pytest.raises(ValueError, match="unknown locomotion reward 'forward'"):
        loco.make_reward("forward", {"env": "Hopper-v4"})
    with pytest.raises(ValueError, match="bad parameters.*'shaped'"):
        loco.make_reward("shaped", {"env": "Hopper-v4", "gamma": 0.9})
    with pytest.raises(ValueError, match="env id must be one of"):
        mj.make_env({"id": "Walker2d-v4"}, 0)
    with pytest.raises(ValueError, match=r"unknown MuJoCo env parameter\(s\) \['mass'\]"):
        mj.make_env({"id": "Hopper-v4", "mass": 2.0}, 0)
    with pytest.raises(ValueError, match="mass_scale must be a positive"):
        mj.make_env({"id": "Hopper-v4", "mass_scale": 0}, 0)


def test_make_vec_env_seeds_each_copy():
    params = {"id": "Hopper-v4", "horizon": 1000, "discount": 0.99, **TEST_SCALES}
    vec = mj.make_vec_env(params, n=3, seed=11)
    first = vec.reset()
    assert first.shape == (3, 12)
    assert np.abs(first[0] - first[1]).max() > 0, "copies must get different seeds"
    again = mj.make_vec_env(params, n=3, seed=11).reset()
    np.testing.assert_array_equal(first, again)
    model = vec.envs[0].unwrapped.model
    np.testing.assert_allclose(
        model.body_mass, 1.3 * mj.make_env({"id": "Hopper-v4"}, 0).unwrapped.model.body_mass
    )


def test_building_envs_prints_no_deprecation_noise(capfd, tmp_path, monkeypatch):
    """gymnasium 0.29's XML trips a MuJoCo 4 deprecation warning on every build; we drop it."""
    monkeypatch.chdir(tmp_path)
    for env_id in ("HalfCheetah-v4", "Hopper-v4"):
        mj.make_env({"id": env_id}, seed=0).close()
    captured = capfd.readouterr()
    assert "settotalmass" not in captured.err + captured.out
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()


def test_other_mujoco_warnings_still_surface():
    with pytest.warns(RuntimeWarning, match="MuJoCo: Nan, Inf or huge value in QACC"):
        mj._forward_mujoco_warning("Nan, Inf or huge value in QACC at DOF 0")


@pytest.mark.parametrize("name", ["halfcheetah", "hopper"])
def test_step_from_an_observation_reproduces_the_env_step(name):
    """DARD's transition model: the observation (x kept) restores the simulator state."""
    from benchmark.metrics.dynamics import transition_model

    task = load_task(name)
    env = task.make_env(seed=0)
    obs, _ = env.reset(seed=0)
    rows, acts, nexts = [], [], []
    for _ in range(20):
        a = env.action_space.sample()
        nxt, *_ = env.step(a)
        rows.append(obs), acts.append(a), nexts.append(nxt)
        obs = nxt
    model = transition_model(task)
    got = model(torch.as_tensor(np.array(rows)), torch.as_tensor(np.array(acts)), None)
    assert got.dtype == torch.float64
    np.testing.assert_array_equal(got.numpy(), np.array(nexts))
