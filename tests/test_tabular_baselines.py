"""Exact tabular NPEC and ERC (used by the meta-benchmark) against independent estimates."""

import numpy as np
import pytest
import torch

from benchmark.data import Transitions
from benchmark.metrics.erc import erc_distance_tabular
from benchmark.metrics.npec import npec_distance, npec_distance_tabular
from benchmark.tasks import load_task


def table_reward(table: np.ndarray):
    t = torch.as_tensor(table, dtype=torch.float32)

    def reward(obs, acts, next_obs, dones):
        return t[obs.argmax(-1), acts.argmax(-1), next_obs.argmax(-1)]

    return reward


def test_exact_npec_matches_the_fitted_linear_potential_npec():
    rng = np.random.default_rng(0)
    n_s, n_a, g = 4, 2, 0.9
    d_t = rng.dirichlet(np.ones(n_s * n_a * n_s)).reshape(n_s, n_a, n_s)
    target = rng.normal(size=(n_s, n_a, n_s))
    source = target + 0.7 * rng.normal(size=target.shape)
    e_s, e_a = np.eye(n_s), np.eye(n_a)
    s, a, s2 = (x.ravel() for x in np.meshgrid(*map(np.arange, d_t.shape), indexing="ij"))
    fitted = npec_distance(
        table_reward(source), table_reward(target),
        transitions=Transitions.create(e_s[s], e_a[a], e_s[s2]), weights=d_t.ravel(),
        discount=g, potential="linear", seed=0,
    )  # fmt: skip
    exact = npec_distance_tabular(source, target, transition_dist=d_t, discount=g)
    assert 0.1 < exact < 0.95
    assert fitted == pytest.approx(exact, abs=0.02)


def test_exact_npec_is_zero_for_equivalent_rewards_and_one_for_opposite():
    rng = np.random.default_rng(1)
    d_t = rng.dirichlet(np.ones(3 * 2 * 3)).reshape(3, 2, 3)
    r = rng.normal(size=(3, 2, 3))
    phi = rng.normal(size=3)
    shaped = 2.0 * r + 0.9 * phi[None, None, :] - phi[:, None, None]
    assert npec_distance_tabular(shaped, r, transition_dist=d_t, discount=0.9) < 1e-7
    assert npec_distance_tabular(-r, r, transition_dist=d_t, discount=0.9) == 1.0


def test_exact_erc_matches_monte_carlo_returns_on_gridworld():
    task = load_task("gridworld")
    tab = task.tabular
    p, mu = tab.transitions["train"], tab.initial_state_dist
    pi = tab.policies["random"].modes[0]
    ra, rb = tab.rewards["ground_truth"], tab.rewards["sparse"]
    exact = erc_distance_tabular(
        ra, rb, transition=p, initial_state_dist=mu, policy=pi, horizon=task.horizon, discount=1.0
    )
    rng = np.random.default_rng(0)
    n = 40_000
    s = rng.choice(len(mu), size=n, p=mu)
    ga, gb = np.zeros(n), np.zeros(n)
    for _ in range(task.horizon):
        a = (rng.random(n)[:, None] > np.cumsum(pi[s], axis=1)).sum(1)
        s2 = (rng.random(n)[:, None] > np.cumsum(p[s, a], axis=1)).sum(1)
        ga += ra[s, a, s2]
        gb += rb[s, a, s2]
        s = s2
    rho = np.corrcoef(ga, gb)[0, 1]
    assert exact == pytest.approx(np.sqrt((1 - rho) / 2), abs=0.01)
