"""The gridworld: its tables, its env and its reward family agree with each other."""

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from benchmark.envs import gridworld
from benchmark.rewards import gridworld as rewards
from benchmark.tasks import load_task
from benchmark.tasks.coverage import encode


@pytest.fixture(scope="module")
def task():
    return load_task("gridworld")


def test_env_passes_gymnasium_checker(task):
    check_env(task.make_env(0, "test").unwrapped, skip_render_check=True)


@pytest.mark.parametrize("variant", ["train", "test"])
def test_ground_truth_matches_env_reward_along_rollouts(task, variant):
    venv = task.make_vec_env(4, seed=3, variant=variant)
    rng = np.random.default_rng(0)
    obs = venv.reset()
    reward = task.reward("ground_truth")
    for _ in range(60):  # three episodes per env, crossing resets
        acts = rng.integers(0, 5, size=4)
        new_obs, paid, dones, infos = venv.step(acts)
        next_obs = np.array(
            [
                infos[i]["terminal_observation"] if d else o
                for i, (o, d) in enumerate(zip(new_obs, dones, strict=True))
            ]
        )
        ours = reward(
            encode(task.observation_space, obs),
            encode(task.action_space, acts),
            encode(task.observation_space, next_obs),
            torch.as_tensor(dones, dtype=torch.float32),
        )
        np.testing.assert_allclose(ours.numpy(), paid, rtol=1e-6, atol=1e-6)
        obs = new_obs


def test_train_is_deterministic_and_test_slips_perpendicular(task):
    P = task.tabular.transitions
    np.testing.assert_allclose(P["train"].sum(-1), 1.0)
    np.testing.assert_allclose(P["test"].sum(-1), 1.0)
    assert set(np.unique(P["train"])) == {0.0, 1.0}
    centre, up, left, right = 12, 7, 11, 13  # (2,2) and its neighbours in a 5x5 grid
    np.testing.assert_allclose(P["test"][centre, 0, [up, left, right]], [0.8, 0.1, 0.1])
    assert P["test"][centre, 4, centre] == 1.0  # stay never slips
    assert P["train"][0, 0, 0] == 1.0  # a move into the wall stays put


def test_env_samples_the_slippery_table(task):
    env = task.make_env(5, "test")
    counts = np.zeros(25)
    for _ in range(4000):
        env.reset()
        env.unwrapped._state = 12
        s2, *_ = env.step(0)
        counts[s2] += 1
    np.testing.assert_allclose(counts / 4000, task.tabular.transitions["test"][12, 0], atol=0.02)


def test_same_seed_same_episode(task):
    def episode(seed):
        env = task.make_env(seed, "test")
        env.reset()
        return [env.step(a % 4)[0] for a in range(20)]

    assert episode(7) == episode(7)
    assert episode(7) != episode(8)


def test_expert_walks_to_the_goal_and_stays(task):
    policy = task.expert_policy()
    env = task.make_env(0, "train")
    s, _ = env.reset()
    path = [s]
    for _ in range(20):
        s, *_ = env.step(int(policy(torch.tensor([s]))[0]))
        path.append(s)
    row, col = divmod(int(path[0]), 5)
    steps = (4 - row) + (4 - col)  # Manhattan distance from the start cell to the goal (4, 4)
    assert path.index(24) == steps
    assert all(x == 24 for x in path[steps:])


def test_reward_tables_have_the_designed_relations(task):
    R = task.tabular.rewards
    np.testing.assert_allclose(R["opposite"], -R["ground_truth"])
    phi = rewards.potential(5, 5, 1.0).numpy()
    assert phi.std() > 0.1  # a non-trivial potential
    np.testing.assert_allclose(
        R["shaped"] - R["ground_truth"],
        np.broadcast_to(task.discount * phi[None, None, :] - phi[:, None, None], (25, 5, 25)),
        atol=1e-12,
    )
    moved = np.arange(5) != gridworld.STAY
    np.testing.assert_allclose(
        R["no_control_cost"] - R["ground_truth"], 0.1 * moved[None, :, None] * np.ones((25, 5, 25))
    )
    assert set(np.unique(R["sparse"])) == {0.0, 1.0}
    assert (R["sparse"][:, :, 24] == 1.0).all()


def test_env_reward_table_equals_ground_truth_table(task):
    np.testing.assert_allclose(
        gridworld.reward_table(task.env_params["train"]),
        task.tabular.rewards["ground_truth"],
        atol=1e-12,
    )


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="slip"):
        gridworld.parse_params({"slip": 1.5})
    with pytest.raises(ValueError, match="goal"):
        gridworld.parse_params({"goal": [9, 9]})
    with pytest.raises(ValueError, match="unknown gridworld parameter"):
        gridworld.parse_params({"wind": 0.3})


def test_reward_rejects_indices_instead_of_one_hot(task):
    with pytest.raises(ValueError, match="one-hot"):
        task.reward("ground_truth")(torch.zeros(3), torch.zeros(3), torch.zeros(3), torch.zeros(3))
