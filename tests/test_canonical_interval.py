"""The two-source interval of EPIC, STARC and DARD: whole episodes, clustered samples.

Expected values come from theory: a bootstrap that resamples L identical copies of each
of K independent values as N = K·L independent rows sees a spread sqrt(L) times too
small, so resampling whole episodes must widen the interval by about sqrt(L); and on the
gridworld the interval must contain the exact value computed from the task's tables.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.data import Transitions
from benchmark.metrics import dard, epic, starc
from benchmark.metrics.canonical_interval import SampleEpisodes, two_source_bootstrap
from benchmark.metrics.registry import STANDARD_N_SAMPLES, STANDARD_N_TRANSITIONS, UnitInputs
from benchmark.submissions import load_submission
from benchmark.tasks import load_task

REPO = Path(__file__).resolve().parents[1]


def _width(ci) -> float:
    return ci.high - ci.low


def test_episode_ids_split_at_dones_and_where_a_transition_does_not_continue():
    # States as numbers: 0->1->2 (done), 5->6, then 9 does not start at 6's successor 7.
    obs = torch.tensor([[0.0], [1.0], [2.0], [5.0], [6.0], [9.0]])
    nxt = torch.tensor([[1.0], [2.0], [3.0], [6.0], [7.0], [4.0]])
    dones = torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0, 0.0])
    ids = Transitions(obs, torch.zeros(6, 1), nxt, dones).episode_ids()
    assert ids.tolist() == [0, 0, 0, 1, 1, 2]


def test_whole_episode_bootstrap_widens_the_interval_by_root_episode_length():
    """K episodes of L identical rows: K independent values. Rows resampled one by one see
    N = K·L values, so their interval is about sqrt(L) = 4 times too narrow."""
    k, length = 64, 16
    rng = np.random.default_rng(0)
    x = rng.normal(size=k)
    y = 0.6 * x + 0.8 * rng.normal(size=k)
    raw = np.stack([np.repeat(x, length), np.repeat(y, length)])  # [2, N]
    n = raw.shape[1]
    # No mean terms: one group whose sums are zero, so C(R) = R.
    none = dict(group_sums=np.zeros((2, 1, 1)), group_sizes=np.ones(1), at_s=np.zeros(n, int),
                at_next=np.zeros(n, int), discount=0.9, seed=0)  # fmt: skip
    rows = two_source_bootstrap(raw, **none)
    episodes = two_source_bootstrap(raw, episodes=np.repeat(np.arange(k), length), **none)
    assert rows.estimate == episodes.estimate
    assert 0.7 * np.sqrt(length) < _width(episodes) / _width(rows) < 1.4 * np.sqrt(length)


def test_samples_from_one_episode_are_resampled_together():
    """The mean term's M samples come from C episodes of L identical samples each: with
    the episodes known the interval's mean-term part widens by about sqrt(L)."""
    n, m, length = 400, 256, 16
    rng = np.random.default_rng(1)
    # R(x_u, a_j, s_j) = f(u) · g(j): C(R) = R(s,a,s') + γ f(s') ḡ − f(s) ḡ, with ḡ the
    # sample mean of g, the only random part once the transitions are fixed.
    f = rng.normal(size=(2, 8))
    g = np.repeat(rng.normal(size=m // length), length)
    raw = 0.01 * rng.normal(size=(2, n))
    at_s, at_next = rng.integers(0, 8, n), rng.integers(0, 8, n)
    sums = f[:, :, None] * g[None, None, :]  # [2, U, G = M]
    kw = dict(group_sizes=np.ones(m), at_s=at_s, at_next=at_next, discount=0.9, seed=0)
    clusters = np.repeat(np.arange(m // length), length)
    fixed_rows = np.zeros(n, dtype=int)  # one block: the transitions are not resampled
    iid = two_source_bootstrap(raw, sums, episodes=fixed_rows, **kw)
    clustered = two_source_bootstrap(
        raw, sums, episodes=fixed_rows, sample_episodes=SampleEpisodes(clusters, clusters), **kw
    )
    assert iid.estimate == clustered.estimate
    assert _width(clustered) > 2.0 * _width(iid)


def test_long_episodes_are_cut_into_at_least_min_blocks_blocks():
    """Episodes of 3 and 7 transitions, N = 10, at least 4 blocks: blocks of at most
    ceil(10 / 4) = 3, so the 7 are cut 3 + 3 + 1 and the 3 stay whole."""
    obs = torch.arange(10.0)[:, None]
    dones = torch.zeros(10)
    dones[2] = 1.0
    t = Transitions(obs, torch.zeros(10, 1), obs + 1, dones)
    assert t.bootstrap_blocks(min_blocks=4).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]


def test_coverage_samples_record_the_rollout_block_of_each_state_and_action():
    """Gridworld (horizon 20): M = 256 from 8 streams of 32 steps is 8 episodes of 20
    steps and 8 cut ones of 12; blocks hold at most ceil(256 / 16) = 16, so the 20 are
    cut 16 + 4: each block id labels 16, 4 or 12 samples, 8 of each."""
    task = load_task("gridworld")
    sample = task.coverage("random").sample(64, 256, seed=0, cache=False)
    for ids in (sample.state_blocks, sample.action_blocks):
        counts = sorted(np.bincount(ids.numpy()).tolist())
        assert counts == [4] * 8 + [12] * 8 + [16] * 8
    uniform = task.coverage("uniform").sample(64, 256, seed=0, cache=False)
    # Independent draws: an id is shared only when a state happens to be its
    # predecessor's successor (probability about 1/25 on 25 states).
    assert len(np.unique(uniform.state_blocks.numpy())) > 0.8 * 256


def _exact(task, table, metric: str, coverage: str) -> float:
    tab, gamma = task.tabular, task.discount
    c = tab.coverage[coverage]
    gt = tab.rewards["ground_truth"]
    if metric == "epic":
        return epic.epic_distance_tabular(table, gt, state_dist=c.state_dist,
                                          action_dist=c.action_dist,
                                          transition_dist=c.transition_dist, discount=gamma)  # fmt: skip
    if metric == "starc":
        return starc.starc_distance_tabular(table, gt, discount=gamma, canonicalization="epic",
                                            state_dist=c.state_dist, action_dist=c.action_dist,
                                            weights=c.transition_dist)  # fmt: skip
    return dard.dard_distance_tabular(table, gt, transition=tab.transitions["train"],
                                      action_dist=c.action_dist,
                                      transition_dist=c.transition_dist, discount=gamma)  # fmt: skip


@pytest.mark.parametrize("metric", ["epic", "starc", "dard"])
def test_board_interval_contains_the_exact_gridworld_value(metric, private_cache):
    """The sampled units at the standard sizes on `random` coverage (where row intervals
    undercovered most): a 95% interval misses in 5 seeds at most once (P ≈ 0.02)."""
    from benchmark.metrics.registry import metric as spec
    from benchmark.tasks.tabular import reward_table

    task = load_task("gridworld")
    sub = load_submission(REPO / "submissions" / "gridworld-preferences")
    reward = sub.load_reward()
    exact = _exact(task, reward_table(reward, task.tabular.n_states, task.tabular.n_actions),
                   metric, "random")  # fmt: skip
    run = spec(metric).runner()
    inside = []
    for seed in range(5):
        row = run(UnitInputs(task, reward, task.reward("ground_truth"), "random", seed,
                             "standard", STANDARD_N_TRANSITIONS, STANDARD_N_SAMPLES, "cpu"))  # fmt: skip
        assert row["ci_low"] <= row["value"] <= row["ci_high"]
        inside.append(row["ci_low"] <= exact <= row["ci_high"])
    assert sum(inside) >= 4, f"{metric}: exact {exact:.4f} inside {inside}"


def test_sample_blocks_of_the_wrong_shape_are_named_in_the_error():
    task = load_task("gridworld")
    sample = task.coverage("random").sample(64, 32, seed=0, cache=False)
    kw = dict(transitions=sample.transitions, state_samples=sample.state_samples,
              action_samples=sample.action_samples, discount=task.discount)  # fmt: skip
    gt, shaped = task.reward("ground_truth"), task.reward("no_control_cost")
    with pytest.raises(ValueError, match=r"action_blocks must be \[M\] = \[32\] integer"):
        epic.epic_distance_with_ci(gt, shaped, **kw, state_blocks=sample.state_blocks,
                                   action_blocks=sample.action_blocks[:5])  # fmt: skip
    with pytest.raises(ValueError, match="action_blocks is needed with state_blocks"):
        starc.starc_distance_with_ci(gt, shaped, **kw, state_blocks=sample.state_blocks)
