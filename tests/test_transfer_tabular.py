"""Exact tabular reoptimization: value iteration and policy values against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.metrics import tabular_transfer as tt


def chain_mdp(n: int = 5, slip: float = 0.0):
    """A chain of n states, actions left(0)/right(1); reward 1 for arriving at the right end.

    With ``slip`` the move goes the other way with that probability.
    """
    transition = np.zeros((n, 2, n))
    for s in range(n):
        left, right = max(s - 1, 0), min(s + 1, n - 1)
        transition[s, 0, left] += 1 - slip
        transition[s, 0, right] += slip
        transition[s, 1, right] += 1 - slip
        transition[s, 1, left] += slip
    reward = np.zeros((n, 2, n))
    reward[:, :, n - 1] = 1.0
    initial = np.zeros(n)
    initial[0] = 1.0
    return transition, reward, initial


def test_value_of_a_constant_reward_is_the_geometric_series():
    transition, _, initial = chain_mdp()
    reward = np.full_like(transition, 2.0)
    policy = tt.uniform_policy(5, 2)
    assert tt.policy_value(policy, reward, transition, initial, 0.9) == pytest.approx(2.0 / 0.1)


def test_optimal_policy_on_the_chain_goes_right_with_closed_form_value():
    gamma, n = 0.9, 5
    transition, reward, initial = chain_mdp(n)
    policy = tt.optimal_policy(reward, transition, gamma)
    assert (policy[:, 1] == 1).all()
    # From state 0: n−1 moves, reward 1 on arrival and on every step after (stay at the end).
    expected = gamma ** (n - 2) / (1 - gamma)
    assert tt.policy_value(policy, reward, transition, initial, gamma) == pytest.approx(expected)


def test_policy_value_matches_iterative_evaluation_for_a_stochastic_policy():
    gamma = 0.8
    transition, reward, initial = chain_mdp(6, slip=0.2)
    policy = np.random.default_rng(0).dirichlet(np.ones(2), size=6)
    v = np.zeros(6)
    for _ in range(2000):
        v = np.einsum("sa,sat,sat->s", policy, transition, reward + gamma * v[None, None, :])
    assert tt.policy_value(policy, reward, transition, initial, gamma) == pytest.approx(initial @ v)


def test_value_iteration_satisfies_the_bellman_optimality_equation():
    gamma = 0.95
    transition, reward, _ = chain_mdp(7, slip=0.3)
    reward = reward + np.random.default_rng(1).normal(size=reward.shape)
    q = tt.value_iteration(reward, transition, gamma)
    backup = (transition * (reward + gamma * q.max(axis=1)[None, None, :])).sum(axis=2)
    np.testing.assert_allclose(q, backup, atol=1e-7)


def test_potential_shaping_leaves_the_optimal_policy_and_its_value_unchanged():
    gamma = 0.9
    transition, reward, initial = chain_mdp(6, slip=0.1)
    phi = np.random.default_rng(2).normal(size=6) * 5
    shaped = 3.0 * reward + gamma * phi[None, None, :] - phi[:, None, None]
    best = tt.policy_value(
        tt.optimal_policy(reward, transition, gamma), reward, transition, initial, gamma
    )
    via_shaped = tt.optimal_policy(shaped, transition, gamma)
    assert tt.policy_value(via_shaped, reward, transition, initial, gamma) == pytest.approx(best)


def test_negated_reward_is_optimized_to_the_worst_policy():
    gamma = 0.9
    transition, reward, initial = chain_mdp(5)
    worst = tt.optimal_policy(-reward, transition, gamma)
    assert (worst[:, 0] == 1).all()
    assert tt.policy_value(worst, reward, transition, initial, gamma) == pytest.approx(0.0)


def test_reward_table_evaluates_the_reward_fn_on_every_one_hot_transition():
    calls = []

    def reward(obs, acts, next_obs, dones):
        calls.append(obs.shape[0])
        return obs.argmax(1) * 100.0 + acts.argmax(1) * 10.0 + next_obs.argmax(1) + dones

    table = tt.reward_table(reward, 4, 3)
    assert calls == [4 * 3 * 4], "one batched call over all (s, a, s')"
    s, a, t = np.meshgrid(np.arange(4), np.arange(3), np.arange(4), indexing="ij")
    np.testing.assert_array_equal(table, s * 100 + a * 10 + t)


def test_reward_table_rejects_a_reward_of_the_wrong_shape():
    with pytest.raises(ValueError, match="one reward per transition"):
        tt.reward_table(lambda o, a, n, d: torch.zeros(3), 4, 2)


def test_undiscounted_values_are_refused():
    transition, reward, initial = chain_mdp()
    with pytest.raises(ValueError, match="discount in"):
        tt.value_iteration(reward, transition, 1.0)


def test_actions_apart_by_float32_rounding_are_tied_and_go_to_the_lowest_index():
    """A state-only float32 net pays equal actions equally up to its kernels' rounding
    (measured 6.5e-9 relative apart on an AVX-512 CPU, in the other order on another
    CPU): the greedy policy must not let the CPU choose. Real differences stay ordered."""
    import numpy as np

    from benchmark.metrics.tabular_transfer import greedy_policy

    eps32 = float(np.finfo(np.float32).eps)
    for noise in (+0.05 * eps32, -0.05 * eps32, +0.5 * eps32):
        q = np.array([[10.0, 10.0 * (1 + noise), 3.0]])
        assert greedy_policy(q).tolist() == [[1.0, 0.0, 0.0]], noise
    q = np.array([[10.0, 10.0 * (1 + 1e-5), 3.0]])  # 1e-5: a real preference
    assert greedy_policy(q).tolist() == [[0.0, 1.0, 0.0]]
