"""Baselines: real imitation training on our tasks, written as valid submissions."""

from __future__ import annotations

import dataclasses
import tomllib

import gymnasium as gym
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from benchmark.baselines import airl, preferences, regression, train_baseline
from benchmark.baselines.common import to_env_format, to_imitation_transitions
from benchmark.cli import main
from benchmark.metrics.epic import epic_distance
from benchmark.submissions import ValidationConfig, validate_submission
from benchmark.tasks import load_task

FAST = ValidationConfig(n_transitions=64, batch_size=512, timing_repeats=1)


@pytest.fixture(scope="module")
def gridworld():
    return load_task("gridworld")


def _epic_to_truth(reward, task, seed: int = 5) -> float:
    sample = task.coverage("mixture").sample(1024, 512, seed)
    return epic_distance(
        reward,
        task.reward("ground_truth"),
        transitions=sample.transitions,
        state_samples=sample.state_samples,
        action_samples=sample.action_samples,
        discount=task.discount,
    )


def test_to_env_format_inverts_one_hot_for_discrete_and_keeps_boxes():
    space = gym.spaces.Discrete(4)
    idx = torch.tensor([3, 0, 2])
    assert to_env_format(torch.nn.functional.one_hot(idx, 4).float(), space).tolist() == [3, 0, 2]
    box = gym.spaces.Box(-1, 1, (2,), dtype=np.float32)
    x = torch.tensor([[0.5, -0.25]], dtype=torch.float64)
    out = to_env_format(x, box)
    assert out.dtype == np.float32 and out.tolist() == [[0.5, -0.25]]


def test_imitation_transitions_from_coverage_have_env_actions_and_bool_dones(gridworld):
    t = gridworld.coverage("expert").sample(40, 8, 0).transitions
    demos = to_imitation_transitions(t, gridworld.observation_space, gridworld.action_space)
    assert demos.obs.shape == (40,) and demos.acts.dtype == np.int64
    assert demos.dones.dtype == bool and demos.dones.sum() == int(t.dones.sum())
    assert (demos.acts == t.acts.argmax(1).numpy()).all()


def test_sanity_entries_are_valid_and_record_their_command(tmp_path, gridworld):
    subs = train_baseline("sanity", "gridworld", root=tmp_path)
    assert [s.name for s in subs] == [
        "gridworld-ground-truth",
        "gridworld-shaped",
        "gridworld-negated",
        "gridworld-random",
    ]
    for sub in subs:
        assert validate_submission(sub.path, FAST).passed, sub.name
        assert (
            sub.provenance["command"]
            == "epic-bench baselines train --method sanity --task gridworld"
        )
    random_net = subs[-1].load_reward()
    assert 0.05 < _epic_to_truth(random_net, gridworld) < 0.95


def test_regression_learns_the_ground_truth_better_than_a_random_net(tmp_path, gridworld):
    budget = dataclasses.replace(regression.BUDGETS["smoke"], steps=300, lr=3e-3)
    result = regression.train_regression(gridworld, budget, seed=0)
    assert result.metrics["train_r2"] > 0.9
    learned = _epic_to_truth(result.net, gridworld)
    torch.manual_seed(0)
    untrained = regression.train_regression(
        gridworld, dataclasses.replace(budget, steps=0), seed=0
    ).net
    assert learned < 0.2 < _epic_to_truth(untrained, gridworld)


def test_airl_writes_its_unshaped_base_with_command_and_budget(tmp_path, gridworld):
    (sub,) = train_baseline("airl", "gridworld", budget="smoke", seed=1, root=tmp_path)
    assert sub.name == "gridworld-airl" and sub.method == "AIRL"
    assert sub.model.architecture == "BasicRewardNet"  # the base g, not the shaped net
    assert not sub.model.options["use_next_state"]
    raw = tomllib.loads((sub.path / "submission.toml").read_text())
    prov = raw["provenance"]
    assert prov["command"] == (
        "epic-bench baselines train --method airl --task gridworld --budget smoke --seed 1"
    )
    assert prov["budget"]["total_timesteps"] == airl.BUDGETS["smoke"].total_timesteps
    assert validate_submission(sub.path, FAST).passed


def test_unknown_method_or_budget_is_a_clear_cli_error(tmp_path):
    runner = CliRunner()
    bad_budget = runner.invoke(
        main, ["baselines", "train", "--method", "regression", "--task", "gridworld",
               "--budget", "huge", "--root", str(tmp_path)],
    )  # fmt: skip
    assert bad_budget.exit_code != 0 and "unknown budget 'huge'" in bad_budget.output
    bad_task = runner.invoke(
        main,
        ["baselines", "train", "--method", "sanity", "--task", "nope", "--root", str(tmp_path)],
    )
    assert bad_task.exit_code != 0 and "nope" in bad_task.output


@pytest.mark.slow
def test_preference_comparisons_smoke_run_gives_a_valid_submission(tmp_path, gridworld):
    (sub,) = train_baseline("preferences", "gridworld", budget="smoke", root=tmp_path)
    assert sub.method == "preference comparisons" and sub.paper
    prov = sub.provenance
    assert prov["budget"]["total_comparisons"] == preferences.BUDGETS["smoke"].total_comparisons
    assert 0.0 <= prov["metrics"]["reward_accuracy"] <= 1.0
    assert validate_submission(sub.path, FAST).passed


def test_baseline_methods_are_the_vocabulary_the_cli_offers():
    from benchmark.baselines import METHODS
    from benchmark.vocabulary import BASELINE_METHODS

    assert METHODS == BASELINE_METHODS


def test_training_data_seeds_are_disjoint_from_evaluation_and_reference_seeds():
    from benchmark.baselines.common import DATA_STREAMS, data_seed
    from benchmark.evaluation.grid import EvaluationError, expand_grid
    from benchmark.metrics.transfer_reference import REFERENCE_SEEDS

    training = {data_seed(seed, stream) for seed in range(50) for stream in range(DATA_STREAMS)}
    assert len(training) == 50 * DATA_STREAMS  # every (seed, stream) its own seed
    assert min(training) == 10_000
    # The grid evaluates seeds 0..seeds-1 and refuses more than 10 000 of them.
    assert not training & set(range(10_000)) and not training & set(REFERENCE_SEEDS)
    with pytest.raises(EvaluationError, match="training-data seeds"):
        expand_grid([], seeds=10_001)
    with pytest.raises(ValueError, match="data stream"):
        data_seed(0, DATA_STREAMS)


def test_regression_trains_on_coverage_seeds_no_evaluation_draws(tmp_path, gridworld):
    (sub,) = train_baseline("regression", "gridworld", budget="smoke", seed=3, root=tmp_path)
    seeds = sub.provenance["data_seeds"]
    assert set(seeds) == set(gridworld.coverage_names)
    assert all(s >= 10_000 for s in seeds.values()) and len(set(seeds.values())) == len(seeds)


def test_state_only_airl_submission_ignores_the_action(tmp_path):
    """The exported g(s): any action at the same (s, s') gets the same reward."""
    pointmass = load_task("pointmass")
    budget = dataclasses.replace(airl.BUDGETS["smoke"], total_timesteps=512, ppo_n_steps=64)
    from benchmark.baselines.common import write_baseline

    result = airl.train_airl(pointmass, budget, seed=0, state_only=True)
    sub = write_baseline(
        result=result, task=pointmass, method="airl-state-only", method_label="AIRL (state-only)",
        budget_name="smoke", budget=budget, seed=0, root=tmp_path, seconds=0.0,
    )  # fmt: skip
    assert sub.name == "pointmass-airl-state-only"
    assert sub.model.options["use_action"] is False
    assert validate_submission(sub.path, FAST).passed
    reward = sub.load_reward()
    t = pointmass.coverage("random").sample(256, 8, 0).transitions
    other_acts = torch.flip(t.acts, [0]) * -3.0 + 0.5
    base = reward(t.obs, t.acts, t.next_obs, t.dones)
    assert base.std() > 0  # a reward of the state, not a constant
    assert torch.equal(base, reward(t.obs, other_acts, t.next_obs, t.dones))
