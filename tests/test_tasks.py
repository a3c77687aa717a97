"""The task registry: every shipped task loads and is consistent; bad files fail clearly."""

import dataclasses
import re

import numpy as np
import pytest
import torch

from benchmark.tasks import Budget, TaskError, list_tasks, load_task
from benchmark.tasks.coverage import encode

TASKS = list_tasks()
REQUIRED = {"gridworld", "pointmass", "halfcheetah", "hopper"}


def test_the_standard_tasks_are_registered():
    assert REQUIRED <= set(TASKS)


@pytest.mark.parametrize("name", TASKS)
def test_task_declares_its_spaces_rewards_coverages_and_budgets(name):
    task = load_task(name)
    assert task.name == name and task.version >= 1 and 0 < task.discount <= 1
    assert task.reward_names[0] == "ground_truth" and len(task.reward_names) >= 5
    assert {"shaped", "sparse", "no_control_cost"} <= set(task.reward_names)
    assert {"random", "expert", "mixture"} <= set(task.coverage_names)
    assert set(task.budgets) == {"smoke", "standard", "full"}
    assert all(isinstance(b, Budget) for b in task.budgets.values())
    assert task.env_params["train"] != task.env_params["test"]  # the test dynamics differ
    train, test = task.make_env(0, "train"), task.make_env(0, "test")
    assert train.observation_space == test.observation_space == task.observation_space
    assert train.action_space == test.action_space == task.action_space
    assert (task.tabular is not None) == (name == "gridworld")


@pytest.mark.parametrize("variant", ["train", "test"])
@pytest.mark.parametrize("name", TASKS)
def test_ground_truth_matches_what_the_environment_pays(name, variant):
    """Along real random rollouts, through episode ends (Hopper terminates quickly)."""
    task = load_task(name)
    steps = min(task.horizon + 5, 120)
    venv = task.make_vec_env(2, seed=11, variant=variant)
    reward = task.reward("ground_truth")
    task.action_space.seed(0)
    obs = venv.reset()
    for _ in range(steps):
        acts = np.stack([task.action_space.sample() for _ in range(2)])
        new_obs, paid, dones, infos = venv.step(acts)
        next_obs = np.array(new_obs, copy=True)
        for i in np.flatnonzero(dones):
            next_obs[i] = infos[i]["terminal_observation"]
        ours = reward(
            encode(task.observation_space, obs),
            encode(task.action_space, acts),
            encode(task.observation_space, next_obs),
            torch.as_tensor(dones, dtype=torch.float32),
        )
        assert ours.shape == (2,)
        np.testing.assert_allclose(ours.double().numpy(), paid, rtol=1e-5, atol=1e-5)
        obs = new_obs
    venv.close()


@pytest.mark.parametrize("name", TASKS)
def test_every_reward_returns_a_finite_batch_on_coverage_data(name, tmp_path, monkeypatch):
    monkeypatch.setenv("EPIC_BENCH_CACHE", str(tmp_path))
    task = load_task(name)
    t = task.coverage("random").sample(64, 16, seed=0).transitions
    for reward_name in task.reward_names:
        values = task.reward(reward_name)(t.obs, t.acts, t.next_obs, t.dones)
        assert values.shape == (64,) and torch.isfinite(values).all(), reward_name


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(TaskError, match=r"unknown task 'nope'.*gridworld"):
        load_task("nope")
    task = load_task("gridworld")
    with pytest.raises(TaskError, match=r"no reward 'best'.*ground_truth.*shaped"):
        task.reward("best")
    with pytest.raises(TaskError, match=r"no coverage 'everywhere'.*random.*expert"):
        task.coverage("everywhere")
    with pytest.raises(TaskError, match="variant"):
        task.make_env(0, "validation")


def test_missing_task_file_path_is_named(tmp_path):
    with pytest.raises(TaskError, match="no task file at"):
        load_task(tmp_path / "absent.toml")


def test_budgets_are_frozen():
    budget = load_task("gridworld").budgets["smoke"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        budget.total_timesteps = 5


def test_loads_by_path_root_and_environment_variable(tmp_path, monkeypatch):
    source = load_task("gridworld").path
    (tmp_path / "gridworld.toml").write_text(source.read_text())
    assert load_task(tmp_path / "gridworld.toml").path == tmp_path / "gridworld.toml"
    assert load_task("gridworld", root=tmp_path).path == tmp_path / "gridworld.toml"
    # $EPIC_BENCH_TASKS adds directories; a built-in name keeps the built-in file.
    monkeypatch.setenv("EPIC_BENCH_TASKS", str(tmp_path))
    with pytest.warns(UserWarning, match="is ignored: task 'gridworld' is already defined"):
        assert load_task("gridworld").path == source
        assert list_tasks() == list_tasks(root=source.parent)


def test_default_root_works_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_task("gridworld").name == "gridworld"


# --- broken task files ---------------------------------------------------------------

GRID = load_task("gridworld").path.read_text()


def _write(tmp_path, text: str, name: str = "gridworld"):
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("edit", "field", "why"),
    [
        (lambda s: s.replace("discount = 0.9\n", "", 1), "discount", "missing"),
        (lambda s: s.replace("discount = 0.9\n", 'discount = "high"\n', 1), "discount", "must be"),
        (lambda s: s.replace("horizon = 20", "horizon = 20.5"), "horizon", "must be int"),
        (
            lambda s: re.sub(r"^version = \d+", "version = 0", s, count=1, flags=re.M),
            "version",
            "positive",
        ),
        (
            lambda s: re.sub(r"^(version = \d+)", r"\1\nseeds = 3", s, count=1, flags=re.M),
            "seeds",
            "unknown key",
        ),
        (
            lambda s: s.replace('family = "gridworld"', 'family = "tetris"'),
            "env.family",
            "no module",
        ),
        (lambda s: s.replace("[env.test]", "[env.testing]"), "env.testing", "unknown key"),
        (
            lambda s: s.replace('factory = "sparse"', 'factory = "sparce"'),
            "rewards.sparse.factory",
            "not in",
        ),
        (
            lambda s: s.replace("potential_scale = 1.0", "potential_scael = 1.0"),
            "rewards.shaped",
            "do not fit",
        ),
        (
            lambda s: s.replace("discount = 0.9\npotential", "discount = 0.99\npotential"),
            "rewards.shaped.discount",
            "task discount",
        ),
        (
            lambda s: s.replace("[rewards.ground_truth]", "[rewards.truth]"),
            "rewards.ground_truth",
            "missing",
        ),
        (
            lambda s: s.replace('policy = "uniform"', 'policy = "everywhere"'),
            "coverage.uniform.policy",
            "not one of",
        ),
        (
            lambda s: s.replace("switch_probability = 0.05", "switch_probability = 1.5"),
            "coverage.mixture.switch_probability",
            "[0, 1]",
        ),
        (
            lambda s: s.replace("switch_probability = 0.05", "epsilon = 0.05"),
            "coverage.mixture.epsilon",
            "expert_noisy",
        ),
        (lambda s: s.replace("[budgets.full]", "[budgets.huge]"), "budgets.huge", "unknown key"),
        (
            lambda s: s.replace('algorithm = "value_iteration"', 'algorithm = "dqn"', 1),
            "budgets.smoke.algorithm",
            "not one of",
        ),
        (
            lambda s: s.replace("eval_episodes = 10\n", "eval_episodes = 0\n", 1),
            "budgets.smoke.eval_episodes",
            "positive",
        ),
        (lambda s: s.replace('name = "gridworld"', 'name = "grid"'), "name", "must match"),
        (
            lambda s: s + "\n[transfer]\nreference_runs = 3\n",
            "transfer.reference_runs",
            "must lie in [5, 100]",
        ),
        (
            lambda s: s + "\n[transfer]\nreference_run = 10\n",
            "transfer.reference_run",
            "unknown key",
        ),
    ],
)
def test_broken_task_file_names_the_file_and_field(tmp_path, edit, field, why):
    broken = edit(GRID)
    assert broken != GRID, "the edit did not apply; fix the test"
    path = _write(tmp_path, broken)
    with pytest.raises(TaskError) as info:
        load_task(path)
    message = str(info.value)
    assert str(path) in message
    assert f"field {field!r}" in message
    assert why in message


def test_invalid_toml_names_the_file(tmp_path):
    path = _write(tmp_path, GRID + "\n[[[ not toml")
    with pytest.raises(TaskError, match=re.escape(str(path)) + ".*not valid TOML"):
        load_task(path)


def test_bad_env_parameter_fails_when_the_env_is_built(tmp_path):
    task = load_task(_write(tmp_path, GRID.replace("slip = 0.2", "slip = 2.0")))
    with pytest.raises(ValueError, match="slip"):
        task.make_env(0, "test")
