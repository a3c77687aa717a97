"""Held-out preference accuracy: hand-computed values, and a real tiny training run."""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pytest
import torch
from imitation.algorithms import preference_comparisons as pc
from imitation.data import rollout
from imitation.policies.base import RandomPolicy
from imitation.rewards.reward_nets import BasicRewardNet

from benchmark.baselines import preferences
from benchmark.baselines.preference_accuracy import (
    HeldOutFragmenter,
    discounted_returns,
    held_out_accuracy,
    preference_accuracy,
)
from benchmark.tasks import load_task


@pytest.fixture(scope="module")
def gridworld():
    return load_task("gridworld")


@pytest.fixture(scope="module")
def random_trajectories(gridworld):
    venv = gridworld.make_vec_env(2, 12345)
    rng = np.random.default_rng(0)
    trajectories = rollout.generate_trajectories(
        RandomPolicy(venv.observation_space, venv.action_space),
        venv,
        rollout.make_sample_until(min_timesteps=600),
        rng=rng,
    )
    venv.close()
    return trajectories


def test_discounted_return_of_a_fragment_is_the_geometric_sum():
    # 1 + 0.5 + 0.25 = 1.75; 2 - 0.5 * 4 = 0
    returns = discounted_returns(np.array([[1.0, 1.0, 1.0], [2.0, -4.0, 0.0]]), 0.5)
    assert returns.tolist() == [1.75, 0.0]


def test_accuracy_counts_agreeing_pairs_and_leaves_true_ties_out():
    predicted_1 = np.array([1.0, 2.0, 3.0, 0.0])
    predicted_2 = np.array([0.0, 3.0, 3.0, 1.0])
    true_1 = np.array([5.0, 1.0, 2.0, 9.0])
    true_2 = np.array([4.0, 2.0, 2.0, 1.0])
    # pair 0 agrees (1 > 0, 5 > 4), pair 1 agrees (2 < 3, 1 < 2), pair 2 is a true tie,
    # pair 3 disagrees (0 < 1 but 9 > 1): 2 of 3 decided pairs.
    assert preference_accuracy(predicted_1, predicted_2, true_1, true_2) == (2 / 3, 3)


def test_accuracy_with_only_ties_is_nan_over_zero_pairs():
    acc, n = preference_accuracy(np.ones(2), np.zeros(2), np.ones(2), np.ones(2))
    assert math.isnan(acc) and n == 0


def test_held_out_fragmenter_withholds_distinct_pairs_it_never_returns(
    gridworld, random_trajectories
):
    inner = pc.RandomFragmenter(rng=np.random.default_rng(1), warning_threshold=0)
    fragmenter = HeldOutFragmenter(inner, 0.25)
    train = fragmenter(random_trajectories, 5, 20)
    train_again = fragmenter(random_trajectories, 5, 7)
    assert len(train) == 20 and len(train_again) == 7
    assert len(fragmenter.held_out) == 5 + 2  # ceil(0.25 * 20), ceil(0.25 * 7)
    returned = {id(f) for pair in (*train, *train_again) for f in pair}
    assert not returned & {id(f) for pair in fragmenter.held_out for f in pair}
    with pytest.raises(ValueError, match="held-out fraction"):
        HeldOutFragmenter(inner, 0.0)


def test_a_negated_net_gets_the_complementary_held_out_accuracy(gridworld, random_trajectories):
    """Negating the reward flips every strict preference: accuracies sum to 1."""
    fragmenter = HeldOutFragmenter(
        pc.RandomFragmenter(rng=np.random.default_rng(2), warning_threshold=0), 0.5
    )
    fragmenter(random_trajectories, 4, 60)
    torch.manual_seed(0)
    net = BasicRewardNet(gridworld.observation_space, gridworld.action_space)
    negated = copy.deepcopy(net)
    last = negated.mlp.dense_final
    with torch.no_grad():
        last.weight.neg_()
        last.bias.neg_()
    acc, n = held_out_accuracy(net, fragmenter.held_out, gridworld.discount)
    acc_neg, n_neg = held_out_accuracy(negated, fragmenter.held_out, gridworld.discount)
    assert n == n_neg > 0
    assert acc + acc_neg == pytest.approx(1.0)


def test_a_real_tiny_run_trains_on_its_comparisons_and_scores_the_withheld_ones(gridworld):
    budget = dataclasses.replace(
        preferences.BUDGETS["smoke"], total_timesteps=512, total_comparisons=40, ppo_n_steps=64
    )
    result = preferences.train_preferences(gridworld, budget, seed=0)
    m = result.metrics
    assert m["train_comparisons"] == 40  # every requested comparison, none of the withheld
    # Withheld: ceil(10% of each gather). imitation gathers 10% first (4), then splits the
    # other 36 over 2 iterations by its hyperbolic schedule (1/1, 1/2 -> 24, 12): 1 + 3 + 2.
    assert m["held_out_comparisons"] + m["held_out_ties"] == 6
    assert m["held_out_comparisons"] == 0 or 0.0 <= m["held_out_accuracy"] <= 1.0
    assert result.data_seeds["envs"] >= 10_000
