"""Sample-based EPIC agrees with the exact tabular value; fast paths change nothing."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from imitation.data.types import Transitions as ImitationTransitions
from imitation.rewards.reward_nets import BasicRewardNet

from benchmark.data import Transitions
from benchmark.metrics.epic import (
    DEFAULT_DISCOUNT,
    DEFAULT_MAX_BATCH,
    DEFAULT_N_BOOTSTRAP,
    DEFAULT_N_SEEDS,
    MAX_BATCH_ACCELERATOR,
    MAX_BATCH_CPU,
    PAPER_N_SAMPLES,
    PAPER_N_TRANSITIONS,
    canonicalize,
    canonicalize_tabular,
    epic_distance,
    epic_distance_tabular,
    epic_distance_with_ci,
    resolve_max_batch,
)

# --- tabular rewards as RewardFns over one-hot observations and actions ---------------


def table_reward(table: np.ndarray):
    """RewardFn that looks R(s, a, s') up in a [S, A, S] table via argmax of one-hots."""
    t = torch.as_tensor(table)

    def reward(obs, acts, next_obs, dones):
        return t[obs.argmax(-1), acts.argmax(-1), next_obs.argmax(-1)]

    return reward


def small_mdp(seed=0, n_s=4, n_a=3):
    """Rational, non-uniform D_S = k_s / K and D_A = k_a / K' so that samples repeating
    state s k_s times and action a k_a times enumerate the product distribution exactly."""
    rng = np.random.default_rng(seed)
    k_s = rng.integers(1, 4, size=n_s)
    k_a = rng.integers(1, 4, size=n_a)
    d_t = rng.dirichlet(np.ones(n_s * n_a * n_s)).reshape(n_s, n_a, n_s)
    return rng, k_s, k_a, d_t


def enumerated_inputs(k_s, k_a, d_t):
    n_s, n_a = len(k_s), len(k_a)
    e_s, e_a = np.eye(n_s), np.eye(n_a)
    triples = np.array([(s, a, t) for s in range(n_s) for a in range(n_a) for t in range(n_s)])
    transitions = Transitions.create(e_s[triples[:, 0]], e_a[triples[:, 1]], e_s[triples[:, 2]])
    # Pairs (a_j, s_j): every action a repeated k_a times crossed with every state s
    # repeated k_s times, i.e. exactly the product distribution D_A × D_S.
    acts = np.repeat(np.arange(n_a), k_a)
    states = np.repeat(np.arange(n_s), k_s)
    pair_a, pair_s = np.meshgrid(acts, states, indexing="ij")
    return dict(
        transitions=transitions,
        state_samples=e_s[pair_s.ravel()],
        action_samples=e_a[pair_a.ravel()],
        weights=d_t.reshape(-1),
    )


def test_defaults_match_the_paper():
    assert DEFAULT_DISCOUNT == 0.99
    assert PAPER_N_TRANSITIONS == PAPER_N_SAMPLES == 4096
    assert DEFAULT_N_SEEDS == 3
    assert DEFAULT_N_BOOTSTRAP == 1000


def test_batch_size_defaults_to_the_device_and_rejects_nonsense():
    assert DEFAULT_MAX_BATCH is None
    assert resolve_max_batch(None, torch.device("cpu")) == MAX_BATCH_CPU
    assert resolve_max_batch(None, torch.device("cuda")) == MAX_BATCH_ACCELERATOR
    assert resolve_max_batch(7, torch.device("cuda")) == 7
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="max_batch must be a positive int"):
            resolve_max_batch(bad, torch.device("cpu"))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_samples_enumerating_the_support_give_the_exact_value(seed):
    rng, k_s, k_a, d_t = small_mdp(seed)
    ra, rb = rng.normal(size=(2, len(k_s), len(k_a), len(k_s)))
    d_s, d_a = k_s / k_s.sum(), k_a / k_a.sum()
    exact = epic_distance_tabular(
        ra, rb, state_dist=d_s, action_dist=d_a, transition_dist=d_t, discount=0.9
    )
    inputs = enumerated_inputs(k_s, k_a, d_t)
    sampled = epic_distance(table_reward(ra), table_reward(rb), discount=0.9, **inputs)
    assert sampled == pytest.approx(exact, abs=1e-12)

    inputs.pop("weights")
    c = canonicalize(table_reward(ra), discount=0.9, **inputs)
    expected = canonicalize_tabular(ra, state_dist=d_s, action_dist=d_a, discount=0.9)
    np.testing.assert_allclose(c.numpy(), expected.reshape(-1), atol=1e-12)


def test_sampled_estimate_converges_to_the_exact_value():
    rng, k_s, k_a, d_t = small_mdp(7, n_s=5, n_a=2)
    n_s, n_a = len(k_s), len(k_a)
    d_s, d_a = k_s / k_s.sum(), k_a / k_a.sum()
    ra, rb = rng.normal(size=(2, n_s, n_a, n_s))
    rb = 0.5 * rb + ra  # correlated, so the distance is well inside (0, 1)
    exact = epic_distance_tabular(
        ra, rb, state_dist=d_s, action_dist=d_a, transition_dist=d_t, discount=0.9
    )
    e_s, e_a = np.eye(n_s), np.eye(n_a)

    def sampled_error(n, seed):
        g = np.random.default_rng(seed)
        flat = g.choice(d_t.size, size=n, p=d_t.ravel())
        s, a, t = np.unravel_index(flat, d_t.shape)
        tr = Transitions.create(e_s[s], e_a[a], e_s[t])
        d = epic_distance(
            table_reward(ra),
            table_reward(rb),
            transitions=tr,
            state_samples=e_s[g.choice(n_s, size=n, p=d_s)],
            action_samples=e_a[g.choice(n_a, size=n, p=d_a)],
            discount=0.9,
        )
        return abs(d - exact)

    small = np.mean([sampled_error(64, seed) for seed in range(5)])
    large = np.mean([sampled_error(4096, seed) for seed in range(5)])
    assert large < small / 3
    assert large < 0.02


def test_sampled_epic_is_zero_for_shaped_reward_and_one_for_negation():
    rng, k_s, k_a, d_t = small_mdp(3)
    ra = rng.normal(size=(len(k_s), len(k_a), len(k_s)))
    potential = rng.normal(size=len(k_s)) * 5
    shaped = 3.0 * ra + 0.9 * potential[None, None, :] - potential[:, None, None]
    # Random (non-enumerating) samples: shaping cancels exactly because the same
    # samples estimate the mean term at s and at s'.
    e_s, e_a = np.eye(len(k_s)), np.eye(len(k_a))
    inputs = dict(
        transitions=Transitions.create(
            e_s[rng.integers(0, len(k_s), 50)],
            e_a[rng.integers(0, len(k_a), 50)],
            e_s[rng.integers(0, len(k_s), 50)],
        ),
        state_samples=e_s[rng.integers(0, len(k_s), 30)],
        action_samples=e_a[rng.integers(0, len(k_a), 30)],
        discount=0.9,
    )
    assert epic_distance(table_reward(ra), table_reward(shaped), **inputs) == pytest.approx(
        0, abs=1e-6
    )
    assert epic_distance(table_reward(ra), table_reward(-ra), **inputs) == pytest.approx(
        1, abs=1e-9
    )


# --- continuous rewards: imitation nets, fast paths -------------------------------------


OBS_SPACE = gym.spaces.Box(-1.0, 1.0, shape=(5,))
ACT_SPACE = gym.spaces.Box(-1.0, 1.0, shape=(2,))


def reward_net(seed: int) -> BasicRewardNet:
    torch.manual_seed(seed)
    return BasicRewardNet(OBS_SPACE, ACT_SPACE, use_next_state=True)


def trajectories(n_episodes=4, length=25, seed=0) -> Transitions:
    """Contiguous random-walk episodes: next_obs[t] == obs[t+1] inside an episode."""
    g = np.random.default_rng(seed)
    parts = []
    for _ in range(n_episodes):
        states = np.cumsum(g.normal(scale=0.1, size=(length + 1, 5)), axis=0)
        dones = np.zeros(length)
        dones[-1] = 1
        parts.append(
            Transitions.create(states[:-1], g.uniform(-1, 1, (length, 2)), states[1:], dones)
        )
    return Transitions.concatenate(parts)


def samples(m=40, seed=1):
    g = np.random.default_rng(seed)
    return dict(state_samples=g.normal(size=(m, 5)), action_samples=g.uniform(-1, 1, (m, 2)))


def test_imitation_reward_net_is_a_reward_fn():
    net_a, net_b = reward_net(0), reward_net(1)
    tr = trajectories()
    d = epic_distance(net_a, net_b, transitions=tr, discount=0.99, **samples())
    assert 0.0 < d < 1.0
    assert epic_distance(net_a, net_a, transitions=tr, discount=0.99, **samples()) == pytest.approx(
        0.0, abs=1e-4
    )

    def shaped(obs, acts, next_obs, dones):
        potential = lambda x: torch.sin(3 * x).sum(-1)  # noqa: E731
        return (
            2.0 * net_a(*(x.float() for x in (obs, acts, next_obs, dones)))
            + 0.99 * potential(next_obs)
            - potential(obs)
        )

    assert epic_distance(
        net_a, shaped, transitions=tr, discount=0.99, **samples()
    ) == pytest.approx(0.0, abs=1e-3)


def test_deduplication_matches_the_naive_path():
    net_a, net_b = reward_net(0), reward_net(1)
    tr = trajectories()
    kw = dict(transitions=tr, discount=0.95, **samples())
    fast = epic_distance(net_a, net_b, **kw)
    naive = epic_distance(net_a, net_b, deduplicate=False, **kw)
    assert fast == pytest.approx(naive, abs=1e-6)
    c_fast = canonicalize(net_a, tr, discount=0.95, **samples())
    c_naive = canonicalize(net_a, tr, discount=0.95, deduplicate=False, **samples())
    torch.testing.assert_close(c_fast, c_naive, atol=1e-6, rtol=0)


def test_chunking_gives_the_same_numbers_as_one_batch():
    net_a, net_b = reward_net(0), reward_net(1)
    kw = dict(transitions=trajectories(n_episodes=2, length=8), discount=0.9, **samples(m=12))
    one_batch = epic_distance(net_a, net_b, **kw)
    # 7 rows: chunks of one state with a partial sample tile; 5 rows: M = 12 split
    # into sample blocks and partial sums accumulated.
    for max_batch in (7, 5):
        assert epic_distance(net_a, net_b, max_batch=max_batch, **kw) == pytest.approx(
            one_batch, abs=1e-6
        )


def test_numpy_and_imitation_transitions_and_torch_inputs_agree():
    net_a, net_b = reward_net(0), reward_net(1)
    tr = trajectories()
    s = samples()
    ours = epic_distance(net_a, net_b, transitions=tr, discount=0.9, **s)
    imitation_tr = ImitationTransitions(
        obs=tr.obs.numpy(),
        acts=tr.acts.numpy(),
        infos=np.array([{}] * len(tr)),
        next_obs=tr.next_obs.numpy(),
        dones=tr.dones.numpy().astype(bool),
    )
    theirs = epic_distance(net_a, net_b, transitions=imitation_tr, discount=0.9, **s)
    as_torch = epic_distance(
        net_a,
        net_b,
        transitions=tr,
        discount=0.9,
        state_samples=torch.as_tensor(s["state_samples"]),
        action_samples=torch.as_tensor(s["action_samples"]),
        device="cpu",
    )
    assert theirs == pytest.approx(ours, abs=1e-9)
    assert as_torch == pytest.approx(ours, abs=1e-9)


def test_dones_are_ignored():
    tr = trajectories()
    no_dones = Transitions(tr.obs, tr.acts, tr.next_obs, torch.zeros_like(tr.dones))
    net_a, net_b = reward_net(0), reward_net(1)
    kw = dict(discount=0.9, **samples())
    assert epic_distance(net_a, net_b, transitions=tr, **kw) == epic_distance(
        net_a, net_b, transitions=no_dones, **kw
    )


def test_epic_with_ci_brackets_the_estimate_and_is_seeded():
    net_a, net_b = reward_net(0), reward_net(1)
    kw = dict(transitions=trajectories(), discount=0.9, num_resamples=200, **samples())
    res = epic_distance_with_ci(net_a, net_b, seed=3, **kw)
    assert res.ci_low <= res.distance <= res.ci_high
    assert res.ci_high - res.ci_low > 0
    assert res == epic_distance_with_ci(net_a, net_b, seed=3, **kw)
    assert res.distance == pytest.approx(
        epic_distance(net_a, net_b, **{k: v for k, v in kw.items() if k != "num_resamples"})
    )


# --- errors -----------------------------------------------------------------------


def _ok_inputs():
    return dict(transitions=trajectories(n_episodes=1, length=10), discount=0.9, **samples(m=6))


def test_input_errors_name_the_argument():
    net = reward_net(0)
    ok = _ok_inputs()
    s = ok["state_samples"]
    a = ok["action_samples"]
    cases = [
        ({"state_samples": s[:, :3]}, r"state_samples must have shape \[M, \*obs_shape\]"),
        ({"action_samples": a[:, :1]}, r"action_samples must have shape \[M, \*act_shape\]"),
        ({"action_samples": a[:4]}, "must have the same length M"),
        ({"discount": -0.1}, r"discount must be a number in \[0, 1\]"),
        ({"discount": 1.01}, r"discount must be a number in \[0, 1\]"),
        ({"weights": np.ones(3)}, r"weights must have shape \[N\] = \[10\]"),
        ({"weights": -np.ones(10)}, "weights must be finite and non-negative"),
        ({"weights": np.zeros(10)}, "weights sum to zero"),
        ({"max_batch": 0}, "max_batch must be a positive int"),
        ({"transitions": trajectories(n_episodes=1, length=10)[:1]}, "at least 2 rows"),
    ]
    for override, message in cases:
        with pytest.raises(ValueError, match=message):
            epic_distance(net, net, **{**ok, **override})
    with pytest.raises(TypeError, match="transitions must be a benchmark.data.Transitions"):
        epic_distance(net, net, **{**ok, "transitions": [1, 2, 3]})
    with pytest.raises(TypeError, match="must be a RewardFn callable"):
        epic_distance(net, "not a reward", **ok)


def test_reward_output_of_wrong_shape_is_an_error():
    def column_reward(obs, acts, next_obs, dones):
        return obs[:, :1]

    with pytest.raises(ValueError, match=r"reward_b returned shape \(10, 1\) for a batch of 10"):
        epic_distance(reward_net(0), column_reward, **_ok_inputs())


def test_non_finite_rewards_are_reported_with_counts():
    def nan_when_positive(obs, acts, next_obs, dones):
        r = obs[:, 0].clone()
        r[obs[:, 0] > 0] = torch.nan
        return r

    ok = _ok_inputs()
    n_bad = int((ok["transitions"].obs[:, 0] > 0).sum())
    with pytest.raises(ValueError, match=f"reward_a returned non-finite values.*at {n_bad} of 10"):
        epic_distance(nan_when_positive, reward_net(0), **ok)


def test_constant_reward_is_a_clear_error_not_nan():
    def constant(obs, acts, next_obs, dones):
        return torch.full(obs.shape[:1], 2.5)

    def shaping_only(obs, acts, next_obs, dones):
        return 1.0 + 0.9 * next_obs.sum(-1) - obs.sum(-1)

    for reward in (constant, shaping_only):
        with pytest.raises(ValueError, match="reward_b is constant after canonicalization"):
            epic_distance(reward_net(0), reward, **_ok_inputs())


def test_epic_interval_follows_the_importance_weights():
    """C(R) by hand: with D_A symmetric in a_0 (E[A_0] = 0 exactly), R_A = a_0 and
    R_B = a_0 sign(s_0) canonicalize to themselves, so they agree exactly where s_0 > 0
    and are uncorrelated overall. Weights 1 on s_0 > 0 and 0 elsewhere give EPIC 0 and
    an interval at 0; without weights the distance is about sqrt(1/2)."""
    g = torch.Generator().manual_seed(0)
    n, m = 400, 64
    obs = torch.randn(n, 2, generator=g, dtype=torch.float64)
    acts = torch.randn(n, 2, generator=g, dtype=torch.float64)
    t = Transitions.create(obs, acts, torch.randn(n, 2, generator=g, dtype=torch.float64),
                           torch.zeros(n))  # fmt: skip
    half = torch.randn(m // 2, 2, generator=g, dtype=torch.float64)
    inputs = dict(transitions=t, state_samples=torch.randn(m, 2, generator=g, dtype=torch.float64),
                  action_samples=torch.cat([half, -half]), discount=0.9, seed=0)  # fmt: skip

    def reward_a(o, a, o2, d):
        return a[:, 0]

    def reward_b(o, a, o2, d):
        return a[:, 0] * torch.sign(o[:, 0])

    weights = (obs[:, 0] > 0).double().numpy()
    weighted = epic_distance_with_ci(reward_a, reward_b, weights=weights, **inputs)
    plain = epic_distance_with_ci(reward_a, reward_b, **inputs)
    assert weighted.distance == pytest.approx(0.0, abs=1e-6)
    assert weighted.ci_high < 1e-6
    assert plain.ci_low > 0.5 and plain.distance == pytest.approx(np.sqrt(0.5), abs=0.1)


# --- mutation-run gaps (issue 16, fourth session) ---------------------------------
# Each test below was missing when a sampled mutation run of epic.py, canonical.py and
# inputs.py let a changed behaviour pass (docs/testing.md lists the mutants).


def test_constant_reward_is_named_under_weights_that_do_not_sum_to_one():
    """Importance weights are relative: weights 2 on every transition are the uniform
    D_T, under which a constant reward has no variance."""

    def constant(obs, acts, next_obs, dones):
        return torch.full(obs.shape[:1], 2.5)

    kw = {**_ok_inputs(), "weights": np.full(10, 2.0)}
    with pytest.raises(ValueError, match="^reward_b is constant after canonicalization"):
        epic_distance(reward_net(0), constant, **kw)
    with pytest.raises(ValueError, match="^reward_b is constant after canonicalization"):
        epic_distance_with_ci(reward_net(0), constant, num_resamples=20, **kw)


def test_the_interval_evaluates_each_distinct_state_once():
    """One contiguous episode of 10 transitions visits 11 distinct states, so each reward
    sees its 10 transitions plus 11 states × M = 6 mean-term pairs: 76 rows (without the
    deduplication, 10 + 20 × 6 = 130). The bootstrap replicates evaluate nothing more."""
    rows = {"a": 0, "b": 0}

    def counted(key, sign):
        def reward(obs, acts, next_obs, dones):
            rows[key] += obs.shape[0]
            return sign * obs[:, 0] * acts[:, 0] + next_obs[:, 1]

        return reward

    epic_distance_with_ci(counted("a", 1.0), counted("b", -1.0), num_resamples=50,
                          **_ok_inputs())  # fmt: skip
    assert rows == {"a": 76, "b": 76}


@pytest.mark.parametrize("distance", [epic_distance, epic_distance_with_ci])
def test_rewards_are_evaluated_on_the_device_asked_for(distance):
    """``device`` is where the inputs go; torch's data-less "meta" device is one any
    machine has, so the reward records where its inputs are and stops the run there."""
    seen = []

    class Seen(Exception):
        pass

    def recorded(obs, acts, next_obs, dones):
        seen.append({x.device.type for x in (obs, acts, next_obs, dones)})
        raise Seen

    with pytest.raises(Seen):
        distance(recorded, recorded, device="meta", **_ok_inputs())
    assert seen == [{"meta"}]


def test_a_small_reward_paired_with_a_large_one_is_not_called_constant():
    """The constant check is relative to each reward's own magnitude: 1e-9·f and 1e9·f
    canonicalize to multiples of C(f), so their distance is 0, not an error."""

    def f(obs, acts, next_obs, dones):
        return obs[:, 0] * acts[:, 0] + next_obs[:, 1]

    def tiny(*x):
        return 1e-9 * f(*x)

    def huge(*x):
        return 1e9 * f(*x)

    assert epic_distance(tiny, huge, **_ok_inputs()) == pytest.approx(0.0, abs=1e-6)
    res = epic_distance_with_ci(tiny, huge, num_resamples=20, **_ok_inputs())
    assert res.distance == pytest.approx(0.0, abs=1e-6)


def test_scalar_states_are_states_of_shape_one():
    """obs of shape [N] (obs_shape = ()) with state samples [M]: the same distance as the
    same rewards on [N, 1] states."""
    t = trajectories(n_episodes=1, length=10)
    s = samples(m=6)

    def first(x):
        return x.reshape(x.shape[0], -1)[:, 0]

    def reward_a(obs, acts, next_obs, dones):
        return first(obs) * acts[:, 0] + first(next_obs) ** 2

    def reward_b(obs, acts, next_obs, dones):
        return torch.sin(3 * first(obs)) + acts[:, 1]

    def distance(cut):
        tr = Transitions.create(cut(t.obs), t.acts, cut(t.next_obs), t.dones)
        return epic_distance(reward_a, reward_b, transitions=tr, discount=0.9,
                             state_samples=cut(torch.as_tensor(s["state_samples"])),
                             action_samples=s["action_samples"])  # fmt: skip

    assert distance(lambda x: x[:, 0]) == distance(lambda x: x[:, :1])


def test_unpaired_sample_counts_are_named_with_both_lengths():
    ok = _ok_inputs()
    with pytest.raises(
        ValueError,
        match=r"^state_samples \(6 rows\) and action_samples \(4 rows\) must have the same "
        r"length M: pair j is used together as \(a_j, s'_j\)$",
    ):
        epic_distance(
            reward_net(0), reward_net(1), **{**ok, "action_samples": ok["action_samples"][:4]}
        )


def test_samples_reach_a_plain_reward_in_the_transitions_dtype():
    """float64 numpy samples with float32 transitions: a RewardFn that is no module (so no
    parameter dtype to cast to) gets every input as float32, as its transitions are; a
    float32 matrix product would refuse a float64 operand."""
    t = trajectories(n_episodes=1, length=10)
    t32 = Transitions(*(x.float() for x in (t.obs, t.acts, t.next_obs, t.dones)))
    w_obs = torch.linspace(-1, 1, 5)
    w_act = torch.tensor([0.5, -2.0])

    def linear(obs, acts, next_obs, dones):
        return obs @ w_obs + acts @ w_act + torch.sin(next_obs @ w_obs)

    def squared(obs, acts, next_obs, dones):
        return (obs @ w_obs) ** 2 - acts @ w_act

    d = epic_distance(linear, squared, transitions=t32, discount=0.9, **samples(m=6))
    assert 0.0 < d < 1.0
