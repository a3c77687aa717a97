"""DARD (Wulfe et al. 2022): invariances, sampled vs exact, and its motivating property.

Expected values come from the definition (shaping cancels term by term, so the
distance is 0), from the exact tabular sums, and from a hand-built reward that differs
only where the dynamics never go.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.data import Transitions
from benchmark.metrics import dard
from benchmark.metrics.dynamics import tabular_transition_model, transition_model
from benchmark.metrics.epic import epic_distance, epic_distance_tabular
from benchmark.tasks import load_task


def table_reward(table: np.ndarray):
    """RewardFn that looks R(s, a, s') up in a [S, A, S] table via argmax of one-hots."""
    t = torch.as_tensor(table)

    def reward(obs, acts, next_obs, dones):
        return t[obs.argmax(-1), acts.argmax(-1), next_obs.argmax(-1)]

    return reward


def shaping(potential: np.ndarray, discount: float) -> np.ndarray:
    """[S, 1, S] table γΦ(s') − Φ(s)."""
    return discount * potential[None, None, :] - potential[:, None, None]


def random_mdp(seed: int, n_s: int, n_a: int):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(n_s, 0.5), size=(n_s, n_a))
    d_a = rng.dirichlet(np.ones(n_a))
    d_t = rng.dirichlet(np.ones(n_s * n_a * n_s)).reshape(n_s, n_a, n_s)
    return rng, p, d_a, d_t


@pytest.fixture(scope="module")
def grid():
    task = load_task("gridworld")
    tab = task.tabular
    cov = tab.coverage["random"]
    return task, tab, cov


# --------------------------------------------------------------------------- exact


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(2, 6),
    st.integers(1, 4),
    st.floats(0.0, 1.0),
    st.floats(0.01, 100.0),
)
def test_exact_dard_is_zero_for_shaped_and_rescaled_reward(seed, n_s, n_a, discount, scale):
    rng, p, d_a, d_t = random_mdp(seed, n_s, n_a)
    r = rng.normal(size=(n_s, n_a, n_s))
    other = scale * r + shaping(rng.normal(size=n_s) * 10, discount)
    kw = dict(transition=p, action_dist=d_a, transition_dist=d_t, discount=discount)
    assert dard.dard_distance_tabular(r, other, **kw) == pytest.approx(0.0, abs=1e-6)
    assert dard.dard_distance_tabular(r, -r, **kw) == pytest.approx(1.0, abs=1e-9)
    ca = dard.canonicalize_tabular(r, transition=p, action_dist=d_a, discount=discount)
    cb = dard.canonicalize_tabular(other, transition=p, action_dist=d_a, discount=discount)
    np.testing.assert_allclose(cb, scale * ca, atol=1e-9 * max(1.0, np.abs(cb).max()))


def test_exact_dard_on_gridworld_tables(grid):
    task, tab, cov = grid
    kw = dict(
        transition=tab.transitions["train"],
        action_dist=cov.action_dist,
        transition_dist=cov.transition_dist,
        discount=task.discount,
    )
    gt = tab.rewards["ground_truth"]
    assert dard.dard_distance_tabular(gt, tab.rewards["shaped"], **kw) == pytest.approx(0, abs=1e-7)
    phi = np.random.default_rng(0).normal(size=gt.shape[0])
    rescaled = 3.0 * gt + shaping(phi, task.discount)
    assert dard.dard_distance_tabular(gt, rescaled, **kw) == pytest.approx(0, abs=1e-7)
    assert dard.dard_distance_tabular(gt, tab.rewards["opposite"], **kw) > 0.5


def test_exact_canonicalization_matches_a_direct_sum_of_the_definition():
    """Independent of the einsums: the four terms of eq. 3 as nested loops."""
    rng, p, d_a, _ = random_mdp(3, 3, 2)
    r = rng.normal(size=(3, 2, 3))
    g = 0.8
    expected = np.empty_like(r)
    for s in range(3):
        for a in range(2):
            for s2 in range(3):
                total = r[s, a, s2]
                for b in range(2):
                    for u in range(3):
                        total -= d_a[b] * p[s, b, u] * r[s, b, u]
                        total += g * d_a[b] * p[s2, b, u] * r[s2, b, u]
                        for v in range(3):
                            total -= g * d_a[b] * p[s, b, u] * p[s2, b, v] * r[u, b, v]
                expected[s, a, s2] = total
    got = dard.canonicalize_tabular(r, transition=p, action_dist=d_a, discount=g)
    np.testing.assert_allclose(got, expected, atol=1e-12)


# --------------------------------------------------------------------------- sampled vs exact


def enumerated(n_s: int, n_a: int, d_t: np.ndarray):
    """Every (s, a, s') once, weighted by D_T, and every action once (D_A uniform)."""
    e_s, e_a = np.eye(n_s), np.eye(n_a)
    s, a, s2 = np.meshgrid(np.arange(n_s), np.arange(n_a), np.arange(n_s), indexing="ij")
    keep = d_t[s, a, s2].ravel() > 0
    s, a, s2 = s.ravel()[keep], a.ravel()[keep], s2.ravel()[keep]
    transitions = Transitions.create(e_s[s], e_a[a], e_s[s2])
    return transitions, d_t[s, a, s2], e_a


def test_sampled_dard_equals_exact_on_gridworld_when_samples_enumerate_the_support(grid):
    """Train dynamics are deterministic: the successor draws are exact, so is the value."""
    task, tab, cov = grid
    p = tab.transitions["train"]
    gt, sparse = tab.rewards["ground_truth"], tab.rewards["sparse"]
    transitions, weights, actions = enumerated(tab.n_states, tab.n_actions, cov.transition_dist)
    exact = dard.dard_distance_tabular(
        gt,
        sparse,
        transition=p,
        action_dist=np.full(tab.n_actions, 1 / tab.n_actions),
        transition_dist=cov.transition_dist,
        discount=task.discount,
    )
    sampled = dard.dard_distance(
        table_reward(gt),
        table_reward(sparse),
        transitions=transitions,
        weights=weights,
        action_samples=actions,
        transition_model=transition_model(task),
        discount=task.discount,
    )
    assert sampled == pytest.approx(exact, abs=1e-9)
    assert 0.05 < exact < 0.5


@pytest.mark.parametrize("variant", ["train", "test"])
def test_sampled_dard_converges_to_exact_and_its_interval_covers_it(grid, variant):
    """iid draws from D_T and D_A; the test variant's slips make the successors random."""
    task, tab, cov = grid
    p = tab.transitions[variant]
    gt, other = tab.rewards["ground_truth"], tab.rewards["no_control_cost"]
    d_t = cov.transition_dist
    exact = dard.dard_distance_tabular(
        gt,
        other,
        transition=p,
        action_dist=cov.action_dist,
        transition_dist=d_t,
        discount=task.discount,
    )
    e_s, e_a = np.eye(tab.n_states), np.eye(tab.n_actions)
    covered, errors = [], []
    for seed in range(5):
        g = np.random.default_rng(seed)
        s, a, s2 = np.unravel_index(g.choice(d_t.size, size=1500, p=d_t.ravel()), d_t.shape)
        res = dard.dard_distance_with_ci(
            table_reward(gt),
            table_reward(other),
            transitions=Transitions.create(e_s[s], e_a[a], e_s[s2]),
            action_samples=e_a[g.choice(tab.n_actions, size=150, p=cov.action_dist)],
            transition_model=tabular_transition_model(p),
            discount=task.discount,
            num_resamples=300,
            seed=seed,
        )
        covered.append(res.ci_low <= exact <= res.ci_high)
        errors.append(abs(res.distance - exact))
    assert np.mean(errors) < 0.02
    assert np.mean(covered) >= 3 / 5


# --------------------------------------------------------------------------- sampled, PointMass


def test_sampled_dard_on_pointmass_is_zero_for_shaped_and_rescaled_reward():
    task = load_task("pointmass")
    sample = task.coverage("random").sample(512, 32, seed=0)
    gt = task.reward("ground_truth")

    def potential(obs):
        i = torch.arange(obs.shape[1], dtype=obs.dtype)
        return torch.cos((i + 1) * obs + i).sum(1)

    def shaped(obs, acts, next_obs, dones):
        g = task.discount
        return 2.5 * gt(obs, acts, next_obs, dones) + g * potential(next_obs) - potential(obs)

    def negated(obs, acts, next_obs, dones):
        return -gt(obs, acts, next_obs, dones)

    def other_cost(obs, acts, next_obs, dones):
        target = torch.tensor([0.5, -0.5], dtype=acts.dtype)
        return gt(obs, acts, next_obs, dones) - ((acts - target) ** 2).sum(1)

    kw = dict(
        transitions=sample.transitions,
        action_samples=sample.action_samples,
        transition_model=transition_model(task),
        discount=task.discount,
    )
    assert dard.dard_distance(gt, shaped, **kw) == pytest.approx(0.0, abs=1e-3)
    assert dard.dard_distance(gt, negated, **kw) == pytest.approx(1.0, abs=1e-6)
    other = dard.dard_distance(gt, other_cost, **kw)
    assert 0.05 < other < 0.95


# --------------------------------------------------------------------------- motivating property


def test_dard_ignores_rewards_on_impossible_transitions_where_epic_does_not(grid):
    """Wulfe et al.'s motivation, hand-built on the deterministic 5x5 grid.

    Every transition the dynamics allow moves at most one cell, and DARD's terms only
    pair a successor of s with a successor of s' (at most two cells apart). So a reward
    changed only on (u, a, v) with v three or more cells from u must have DARD exactly 0
    to the original, while EPIC, which evaluates R(s, A, S') for S' anywhere, sees it.
    """
    task, tab, cov = grid
    rows, cols = 5, 5
    cells = np.array([divmod(s, cols) for s in range(rows * cols)])
    manhattan = np.abs(cells[:, None, :] - cells[None, :, :]).sum(-1)  # [S, S]
    far = np.broadcast_to((manhattan >= 3)[:, None, :], tab.rewards["ground_truth"].shape)
    assert not np.any(tab.transitions["train"][far] > 0)  # really impossible

    gt = tab.rewards["ground_truth"]
    garbage = gt + far * np.random.default_rng(0).normal(scale=5.0, size=gt.shape)
    kw = dict(transition_dist=cov.transition_dist, discount=task.discount)
    d_dard = dard.dard_distance_tabular(
        gt, garbage, transition=tab.transitions["train"], action_dist=cov.action_dist, **kw
    )
    d_epic = epic_distance_tabular(
        gt, garbage, state_dist=cov.state_dist, action_dist=cov.action_dist, **kw
    )
    assert d_dard == pytest.approx(0.0, abs=1e-9)
    assert d_epic > 0.3

    sample = task.coverage("random").sample(800, 200, seed=0)
    inputs = dict(transitions=sample.transitions, action_samples=sample.action_samples)
    sampled_dard = dard.dard_distance(
        table_reward(gt),
        table_reward(garbage),
        transition_model=transition_model(task),
        discount=task.discount,
        **inputs,
    )
    sampled_epic = epic_distance(
        table_reward(gt),
        table_reward(garbage),
        state_samples=sample.state_samples,
        discount=task.discount,
        **inputs,
    )
    assert sampled_dard == pytest.approx(0.0, abs=1e-9)
    assert sampled_epic > 0.3


# --------------------------------------------------------------------------- errors


def test_input_errors_name_the_argument(grid):
    task, tab, cov = grid
    gt = tab.rewards["ground_truth"]
    kw = dict(action_dist=cov.action_dist, transition_dist=cov.transition_dist, discount=0.9)
    with pytest.raises(ValueError, match="transition must hold probabilities"):
        dard.dard_distance_tabular(gt, gt, transition=np.ones_like(gt), **kw)
    with pytest.raises(ValueError, match="reward_a .* and reward_b"):
        dard.dard_distance_tabular(gt, gt[:2], transition=tab.transitions["train"], **kw)
    sample = task.coverage("random").sample(64, 8, seed=0)
    with pytest.raises(ValueError, match="action_samples must have shape"):
        dard.dard_distance(
            table_reward(gt),
            table_reward(gt),
            transitions=sample.transitions,
            action_samples=sample.state_samples,
            transition_model=transition_model(task),
        )
    with pytest.raises(TypeError, match="transition_model must be a callable"):
        dard.dard_distance(
            table_reward(gt),
            table_reward(gt),
            transitions=sample.transitions,
            action_samples=sample.action_samples,
            transition_model=None,
        )
    with pytest.raises(ValueError, match="constant after canonicalization"):
        dard.dard_distance(
            table_reward(gt),
            table_reward(np.ones_like(gt)),
            transitions=sample.transitions,
            action_samples=sample.action_samples,
            transition_model=transition_model(task),
        )


def test_dard_maps_pointmass_distance_reward_to_a_constant():
    """A limitation of the paper's definition, checked on purpose (not a bug of ours).

    PointMass moves by its old velocity (pos' = pos + dt vel), so pos' does not depend
    on the action. For R = f(s') the fourth term is γ E f(S'') = γ m(s'), and
    C_T(R) = f(s') − E_A f(T(s, A)) = 0: DARD sees the ground truth's distance term
    -||pos' - goal|| as a constant, although it is what the task is about.
    """
    task = load_task("pointmass")
    sample = task.coverage("random").sample(256, 16, seed=0)
    canon = dard.canonicalize(
        task.reward("no_control_cost"),
        sample.transitions,
        sample.action_samples,
        transition_model(task),
        task.discount,
    )
    assert float(canon.abs().max()) < 1e-5
