"""ERC: episode returns split at dones, Pearson distance, and where it differs from EPIC."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from benchmark.data import Transitions
from benchmark.metrics.epic import epic_distance, pearson_distance
from benchmark.metrics.erc import (
    DEFAULT_ERC_DISCOUNT,
    episode_returns,
    erc_distance,
    erc_distance_tabular,
)


def pendulum_episodes(n_episodes: int, length: int = 20, seed: int = 0) -> Transitions:
    """Random-action rollouts of the real Pendulum-v1, episode by episode (time limit)."""
    env = gym.make("Pendulum-v1", max_episode_steps=length)
    rng = np.random.default_rng(seed)
    obs_l, act_l, next_l, done_l = [], [], [], []
    for ep in range(n_episodes):
        obs, _ = env.reset(seed=seed + ep)
        done = False
        while not done:
            act = rng.uniform(-2, 2, size=1).astype(np.float32)
            nxt, _, term, trunc, _ = env.step(act)
            done = term or trunc
            obs_l.append(obs)
            act_l.append(act)
            next_l.append(nxt)
            done_l.append(float(done))
            obs = nxt
    return Transitions.create(np.array(obs_l), np.array(act_l), np.array(next_l), np.array(done_l))


def upright(obs, acts, next_obs, dones):
    """cos(θ) of the next state: Pendulum's 'be upright' objective."""
    return next_obs[:, 0]


def torque_cost(obs, acts, next_obs, dones):
    return -(acts[:, 0] ** 2)


def test_episode_returns_by_hand():
    rewards = torch.tensor([1.0, 2, 3, 4, 5, 6])
    dones = torch.tensor([0.0, 1, 0, 0, 1, 0])  # the last transition starts an unfinished episode
    torch.testing.assert_close(
        episode_returns(rewards, dones), torch.tensor([3.0, 12.0], dtype=torch.float64)
    )
    # γ = 0.5 restarts at each episode: 1 + 0.5·2 = 2 and 3 + 0.5·4 + 0.25·5 = 6.25.
    torch.testing.assert_close(
        episode_returns(rewards, dones, 0.5), torch.tensor([2.0, 6.25], dtype=torch.float64)
    )
    assert episode_returns(rewards, torch.zeros(6)).numel() == 0


def test_erc_equals_pearson_distance_of_returns_computed_by_a_loop():
    tr = pendulum_episodes(8)
    d = erc_distance(upright, torque_cost, transitions=tr, discount=1.0)
    g_a, g_b, acc_a, acc_b = [], [], 0.0, 0.0
    for _, a, n, done in zip(tr.obs, tr.acts, tr.next_obs, tr.dones, strict=True):
        acc_a += float(n[0])
        acc_b += -(float(a[0]) ** 2)
        if done:
            g_a.append(acc_a)
            g_b.append(acc_b)
            acc_a = acc_b = 0.0
    rho = np.corrcoef(g_a, g_b)[0, 1]
    assert d == pytest.approx(np.sqrt((1 - rho) / 2), abs=1e-6)  # float32 rewards


def test_erc_is_zero_for_positive_affine_and_one_for_negation():
    tr = pendulum_episodes(
        6
    )  # equal-length episodes: a constant offset shifts every return equally

    def affine(o, a, n, d):
        return 3.0 * upright(o, a, n, d) + 1.0

    def negated(o, a, n, d):
        return -upright(o, a, n, d)

    assert erc_distance(upright, affine, transitions=tr) == pytest.approx(0.0, abs=1e-7)
    assert erc_distance(upright, negated, transitions=tr) == pytest.approx(1.0, abs=1e-9)


def test_erc_is_not_shaping_invariant_unlike_epic():
    tr = pendulum_episodes(10)

    def shaped(o, a, n, d):
        potential = lambda x: 5.0 * x[:, 1]  # noqa: E731  (sin θ)
        return upright(o, a, n, d) + potential(n) - potential(o)  # γ = 1

    assert erc_distance(upright, shaped, transitions=tr, discount=1.0) > 0.05
    g = np.random.default_rng(0)
    samples = dict(
        state_samples=tr.obs[g.integers(0, len(tr), 64)],
        action_samples=tr.acts[g.integers(0, len(tr), 64)],
    )
    assert epic_distance(upright, shaped, transitions=tr, discount=1.0, **samples) == pytest.approx(
        0.0, abs=1e-5
    )


def test_trailing_incomplete_episode_is_dropped():
    tr = pendulum_episodes(5)
    extra = pendulum_episodes(1, seed=99)[:7]  # 7 steps of an unfinished episode
    extra = Transitions(extra.obs, extra.acts * 100, extra.next_obs, torch.zeros(7))
    both = Transitions.concatenate([tr, extra])
    assert erc_distance(upright, torque_cost, transitions=both) == erc_distance(
        upright, torque_cost, transitions=tr
    )


def test_discounted_returns_change_the_distance():
    tr = pendulum_episodes(8)
    undiscounted = erc_distance(upright, torque_cost, transitions=tr, discount=1.0)
    discounted = erc_distance(upright, torque_cost, transitions=tr, discount=0.5)
    assert 0.0 <= discounted <= 1.0 and discounted != pytest.approx(undiscounted)


def test_erc_errors():
    tr = pendulum_episodes(1)
    with pytest.raises(ValueError, match="at least 2 complete episodes.*contain 1"):
        erc_distance(upright, torque_cost, transitions=tr)
    two = pendulum_episodes(2)
    with pytest.raises(ValueError, match="episode returns of one reward are constant"):
        erc_distance(upright, lambda o, a, n, d: torch.ones(len(o)), transitions=two)
    with pytest.raises(ValueError, match=r"discount must be a number in \[0, 1\]"):
        erc_distance(upright, torque_cost, transitions=two, discount=2.0)


def enumerated_erc(ra, rb, p, init, pi, switch, mode0, horizon, discount):
    """ERC by enumerating every trajectory (mode, state, action sequences) of a tiny MDP."""
    import itertools

    n_k, n_s, n_a = pi.shape
    probs, g_a, g_b = [], [], []
    steps = list(itertools.product(range(n_k), range(n_a), range(n_s)))
    for s0 in range(n_s):
        for path in itertools.product(steps, repeat=horizon):
            prob, s, ret_a, ret_b, prev = init[s0], s0, 0.0, 0.0, None
            for t, (k, a, s2) in enumerate(path):
                prob *= (mode0[k] if prev is None else switch[prev, k]) * pi[k, s, a] * p[s, a, s2]
                ret_a += discount**t * ra[s, a, s2]
                ret_b += discount**t * rb[s, a, s2]
                s, prev = s2, k
            probs.append(prob)
            g_a.append(ret_a)
            g_b.append(ret_b)
    return float(pearson_distance(np.array(g_a), np.array(g_b), np.array(probs)))


def test_default_discount_is_the_reference_scripts():
    # evaluating_rewards/scripts/distances/erc.py, default_config: discount = 0.99
    assert DEFAULT_ERC_DISCOUNT == 0.99


@pytest.mark.parametrize("seed", [0, 1])
def test_exact_erc_equals_enumeration_of_all_trajectories(seed):
    g = np.random.default_rng(seed)
    n_s, n_a, n_k, horizon = 2, 2, 2, 3
    p = g.dirichlet(np.ones(n_s), size=(n_s, n_a))
    init = g.dirichlet(np.ones(n_s))
    pi = g.dirichlet(np.ones(n_a), size=(n_k, n_s))
    switch = np.array([[0.9, 0.1], [0.3, 0.7]])
    mode0 = np.array([0.4, 0.6])
    ra, rb = g.normal(size=(2, n_s, n_a, n_s))
    exact = erc_distance_tabular(
        ra, rb, transition=p, initial_state_dist=init, policy=pi, horizon=horizon,
        discount=0.9, mode_switch=switch, initial_mode=mode0,
    )  # fmt: skip
    assert exact == pytest.approx(
        enumerated_erc(ra, rb, p, init, pi, switch, mode0, horizon, 0.9), abs=1e-12
    )


def test_sampled_erc_approaches_the_exact_value_on_many_episodes():
    g = np.random.default_rng(3)
    n_s, n_a, horizon = 4, 3, 6
    p = g.dirichlet(np.ones(n_s), size=(n_s, n_a))
    init = g.dirichlet(np.ones(n_s))
    pi = g.dirichlet(np.ones(n_a), size=n_s)
    ra = g.normal(size=(n_s, n_a, n_s))
    rb = ra + g.normal(size=ra.shape)
    exact = erc_distance_tabular(
        ra, rb, transition=p, initial_state_dist=init, policy=pi, horizon=horizon, discount=0.95
    )
    n_ep = 20000
    s = g.choice(n_s, size=n_ep, p=init)
    rows = []
    for _ in range(horizon):
        a = (g.random(n_ep)[:, None] > np.cumsum(pi[s], axis=1)).sum(axis=1)
        s2 = (g.random(n_ep)[:, None] > np.cumsum(p[s, a], axis=1)).sum(axis=1)
        rows.append((s, a, s2))
        s = s2
    s_, a_, s2_ = (np.stack(x, axis=1).reshape(-1) for x in zip(*rows, strict=True))
    dones = np.tile(np.r_[np.zeros(horizon - 1), 1.0], n_ep)
    e_s, e_a = np.eye(n_s), np.eye(n_a)
    episodes = Transitions.create(e_s[s_], e_a[a_], e_s[s2_], dones)

    def table(r):
        return lambda o, a, n, d: torch.as_tensor(r)[o.argmax(-1), a.argmax(-1), n.argmax(-1)]

    sampled = erc_distance(table(ra), table(rb), transitions=episodes, discount=0.95)
    assert 0.1 < exact < 0.9
    assert sampled == pytest.approx(exact, abs=0.01)  # ~4 standard errors at 20 000 episodes
