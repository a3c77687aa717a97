"""Exact (tabular) EPIC: hand-worked cases and the pseudometric properties."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.metrics.epic import (
    canonicalize_tabular,
    epic_distance_tabular,
    pearson_distance,
)


def random_mdp(seed: int, n_states: int, n_actions: int):
    """Random non-uniform D_S, D_A, D_T (Dirichlet) and a random reward table."""
    rng = np.random.default_rng(seed)
    return dict(
        reward=rng.normal(size=(n_states, n_actions, n_states)),
        state_dist=rng.dirichlet(np.ones(n_states)),
        action_dist=rng.dirichlet(np.ones(n_actions)),
        transition_dist=rng.dirichlet(np.ones(n_states * n_actions * n_states)).reshape(
            n_states, n_actions, n_states
        ),
        rng=rng,
    )


def shaped(reward: np.ndarray, potential: np.ndarray, discount: float, scale: float = 1.0):
    """scale · R(s,a,s') + γ Φ(s') − Φ(s)."""
    return scale * reward + discount * potential[None, None, :] - potential[:, None, None]


def dists(mdp):
    return {k: mdp[k] for k in ("state_dist", "action_dist", "transition_dist")}


mdp_shapes = st.tuples(
    st.integers(0, 10_000), st.integers(2, 6), st.integers(1, 3), st.floats(0.0, 1.0)
)


# --- hand-derived cases ---------------------------------------------------------


def test_two_state_mdp_worked_by_hand():
    # Two states, one action, γ = 0.5, uniform D_S and D_A. R(s, a, s') = 1 if s' = 1:
    #   m(s) = E_{S'} R(s, ·, S') = 0.5 for both s, c = 0.5, so
    #   C(R)(s, s') = R + 0.5·0.5 − 0.5 − 0.5·0.5 = R − 0.5   -> [[-.5, .5], [-.5, .5]].
    # R'(s, s') = 1 if s = 0 (depends only on the start state):
    #   m'(0) = 1, m'(1) = 0, c' = 0.5, so
    #   C(R')(s, s') = R' + 0.5·m'(s') − m'(s) − 0.25
    #   (0,0): 1 + .5 − 1 − .25 = .25   (0,1): 1 + 0 − 1 − .25 = −.25
    #   (1,0): 0 + .5 − 0 − .25 = .25   (1,1): 0 + 0 − 0 − .25 = −.25
    # so C(R') = −C(R)/2 and under uniform D_T, ρ = −1 and D_EPIC = 1.
    reward = np.array([[[0.0, 1.0]], [[0.0, 1.0]]])
    reward_start = np.array([[[1.0, 1.0]], [[0.0, 0.0]]])
    uniform = dict(state_dist=[0.5, 0.5], action_dist=[1.0])
    c = canonicalize_tabular(reward, discount=0.5, **uniform)
    np.testing.assert_allclose(c[:, 0, :], [[-0.5, 0.5], [-0.5, 0.5]])
    c2 = canonicalize_tabular(reward_start, discount=0.5, **uniform)
    np.testing.assert_allclose(c2[:, 0, :], [[0.25, -0.25], [0.25, -0.25]])
    d_t = np.full((2, 1, 2), 0.25)
    d = epic_distance_tabular(reward, reward_start, transition_dist=d_t, discount=0.5, **uniform)
    assert d == pytest.approx(1.0)


def test_pearson_distance_hand_values():
    # ρ = 0 for these orthogonal centred vectors, so D = sqrt(1/2).
    assert pearson_distance(
        np.array([1.0, -1, 1, -1]), np.array([1.0, 1, -1, -1])
    ) == pytest.approx(np.sqrt(0.5))
    # Weights that drop the last two rows leave two points: perfectly correlated.
    w = np.array([1.0, 1.0, 0.0, 0.0])
    assert pearson_distance([1.0, 2, 3, 4], [5.0, 7, 0, -9], w) == pytest.approx(0.0, abs=1e-7)


def test_canonicalization_of_state_only_reward_with_zero_discount():
    # With γ = 0, C(R)(s,a,s') = R(s,a,s') − E_{A,S'} R(s,A,S'): a reward depending
    # only on s is removed entirely (it is potential shaping with Φ = −R).
    reward = np.repeat(np.arange(3.0)[:, None, None], 2, axis=1).repeat(3, axis=2)
    c = canonicalize_tabular(
        reward, state_dist=[0.2, 0.3, 0.5], action_dist=[0.5, 0.5], discount=0.0
    )
    np.testing.assert_allclose(c, 0.0, atol=1e-12)


# --- properties -------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(mdp_shapes, st.floats(0.01, 100.0))
def test_epic_is_zero_for_shaped_and_rescaled_reward(shape, scale):
    seed, n_s, n_a, gamma = shape
    mdp = random_mdp(seed, n_s, n_a)
    potential = mdp["rng"].normal(size=n_s) * 10
    d = epic_distance_tabular(
        mdp["reward"], shaped(mdp["reward"], potential, gamma, scale), discount=gamma, **dists(mdp)
    )
    assert d == pytest.approx(0.0, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(mdp_shapes)
def test_canonicalization_is_invariant_to_shaping(shape):
    seed, n_s, n_a, gamma = shape
    mdp = random_mdp(seed, n_s, n_a)
    potential = mdp["rng"].normal(size=n_s)
    kw = dict(state_dist=mdp["state_dist"], action_dist=mdp["action_dist"], discount=gamma)
    c = canonicalize_tabular(mdp["reward"], **kw)
    c_shaped = canonicalize_tabular(shaped(mdp["reward"], potential, gamma), **kw)
    np.testing.assert_allclose(c_shaped, c, atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(mdp_shapes)
def test_epic_of_negation_is_one(shape):
    seed, n_s, n_a, gamma = shape
    mdp = random_mdp(seed, n_s, n_a)
    d = epic_distance_tabular(mdp["reward"], -mdp["reward"], discount=gamma, **dists(mdp))
    assert d == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(mdp_shapes)
def test_epic_is_symmetric_bounded_and_satisfies_triangle_inequality(shape):
    seed, n_s, n_a, gamma = shape
    mdp = random_mdp(seed, n_s, n_a)
    rng = mdp["rng"]
    ra, rb, rc = (
        mdp["reward"],
        rng.normal(size=mdp["reward"].shape),
        rng.normal(size=mdp["reward"].shape),
    )
    kw = dict(discount=gamma, **dists(mdp))
    d_ab = epic_distance_tabular(ra, rb, **kw)
    d_ba = epic_distance_tabular(rb, ra, **kw)
    d_bc = epic_distance_tabular(rb, rc, **kw)
    d_ac = epic_distance_tabular(ra, rc, **kw)
    assert d_ab == pytest.approx(d_ba, abs=1e-12)
    for d in (d_ab, d_bc, d_ac):
        assert 0.0 <= d <= 1.0
    assert d_ac <= d_ab + d_bc + 1e-12


def test_tabular_accepts_torch_tensors():
    mdp = random_mdp(3, 4, 2)
    rb = np.random.default_rng(1).normal(size=(4, 2, 4))
    d_np = epic_distance_tabular(mdp["reward"], rb, discount=0.9, **dists(mdp))
    d_torch = epic_distance_tabular(
        torch.tensor(mdp["reward"], dtype=torch.float32),
        torch.tensor(rb),
        discount=0.9,
        **{k: torch.tensor(v) for k, v in dists(mdp).items()},
    )
    assert isinstance(d_torch, float)
    assert d_torch == pytest.approx(d_np, abs=1e-6)


def test_transition_distribution_matters():
    # Two rewards agreeing on half the transitions: putting all D_T mass there gives 0.
    mdp = random_mdp(5, 3, 2)
    ra = mdp["reward"]
    rb = ra.copy()
    rb[1:] = -ra[1:] + 5.0
    kw = dict(state_dist=mdp["state_dist"], action_dist=mdp["action_dist"], discount=0.0)
    # With γ = 0, C(R) = R − m(s); on start state 0 both rewards agree exactly.
    d_t = np.zeros_like(ra)
    d_t[0] = 1.0 / d_t[0].size
    assert epic_distance_tabular(ra, rb, transition_dist=d_t, **kw) == pytest.approx(0.0, abs=1e-7)
    assert epic_distance_tabular(ra, rb, transition_dist=mdp["transition_dist"], **kw) > 0.1


# --- errors -----------------------------------------------------------------------


def test_tabular_errors_name_the_bad_input():
    mdp = random_mdp(0, 3, 2)
    r = mdp["reward"]
    kw = dists(mdp)
    with pytest.raises(ValueError, match="reward_a .* must have the same shape"):
        epic_distance_tabular(r, r[:, :1], discount=0.9, **kw)
    with pytest.raises(ValueError, match=r"reward must have shape \[S, A, S\]"):
        epic_distance_tabular(r[:, :, :2], r[:, :, :2], discount=0.9, **kw)
    with pytest.raises(ValueError, match="state_dist must have shape"):
        epic_distance_tabular(r, -r, discount=0.9, **{**kw, "state_dist": np.ones(4) / 4})
    with pytest.raises(ValueError, match="action_dist must sum to 1"):
        epic_distance_tabular(r, -r, discount=0.9, **{**kw, "action_dist": np.ones(2)})
    with pytest.raises(ValueError, match="transition_dist must be finite and non-negative"):
        epic_distance_tabular(
            r, -r, discount=0.9, **{**kw, "transition_dist": -kw["transition_dist"]}
        )
    with pytest.raises(ValueError, match=r"discount must be a number in \[0, 1\]"):
        epic_distance_tabular(r, -r, discount=1.5, **kw)
    nan_r = r.copy()
    nan_r[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="1 non-finite"):
        epic_distance_tabular(nan_r, r, discount=0.9, **kw)


def test_constant_or_shaping_only_reward_is_a_clear_error():
    mdp = random_mdp(0, 3, 2)
    potential = np.array([1.0, -2.0, 0.5])
    only_shaping = shaped(np.full_like(mdp["reward"], 3.0), potential, 0.9)
    with pytest.raises(ValueError, match="reward_b is constant after canonicalization"):
        epic_distance_tabular(mdp["reward"], only_shaping, discount=0.9, **dists(mdp))


def test_pearson_distance_errors():
    with pytest.raises(ValueError, match="same shape"):
        pearson_distance(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="undefined: x or y is constant"):
        pearson_distance(np.ones(4), np.arange(4.0))
    with pytest.raises(ValueError, match="weights must be finite and non-negative"):
        pearson_distance(np.arange(3.0), np.arange(3.0), np.array([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match=r"weights must have shape \[N\] = \[3\]"):
        pearson_distance(np.arange(3.0), np.arange(3.0), np.ones(2))
    with pytest.raises(ValueError, match="2 non-finite"):
        pearson_distance(np.array([np.nan, 1.0, np.inf]), np.arange(3.0))


# --- mutation-run gaps (issue 16, fourth session) ---------------------------------
# Each test below was missing when a sampled mutation run of epic.py, canonical.py and
# inputs.py let a changed behaviour pass (docs/testing.md lists the mutants).

CONSTANT_MESSAGE = (
    r"is constant after canonicalization \(std \S+ under D_T\): EPIC is undefined for a "
    r"constant reward, or one that is a constant plus potential shaping, because a "
    r"correlation needs variance\. Such a reward ranks no behaviour above another; "
    r"compare a non-constant reward instead\.$"
)


def test_constant_reward_error_names_the_reward_and_says_what_to_do():
    mdp = random_mdp(1, 3, 2)
    constant = np.full_like(mdp["reward"], 3.0)
    with pytest.raises(ValueError, match="^reward_a " + CONSTANT_MESSAGE):
        epic_distance_tabular(constant, mdp["reward"], discount=0.9, **dists(mdp))
    with pytest.raises(ValueError, match="^reward_b " + CONSTANT_MESSAGE):
        epic_distance_tabular(mdp["reward"], constant, discount=0.9, **dists(mdp))


def test_a_reward_constant_on_the_support_of_d_t_is_constant():
    # Two states, two actions, γ = 0, uniform D_S and D_A, so C(R)(s, a, s') = R − m(s)
    # with m(s) the mean of R(s, ·, ·). D_T puts 1/2 on (0, 0, 0) and on (0, 1, 1).
    # R_A = 1 on both, 3 at (0, 0, 1), 0 elsewhere: m_A(0) = (1 + 3 + 0 + 1)/4 = 5/4, so
    # C(R_A) = −1/4 on all of D_T's support (but 7/4 at (0, 0, 1)): no variance under
    # D_T, hence no correlation, although the table as a whole varies.
    r_a = np.zeros((2, 2, 2))
    r_a[0, 0, 0] = r_a[0, 1, 1] = 1.0
    r_a[0, 0, 1] = 3.0
    r_b = np.zeros((2, 2, 2))
    r_b[0, 1, 1] = 1.0
    d_t = np.zeros((2, 2, 2))
    d_t[0, 0, 0] = d_t[0, 1, 1] = 0.5
    kw = dict(state_dist=[0.5, 0.5], action_dist=[0.5, 0.5], transition_dist=d_t, discount=0.0)
    c = canonicalize_tabular(r_a, state_dist=[0.5, 0.5], action_dist=[0.5, 0.5], discount=0.0)
    assert c[0, 0, 0] == c[0, 1, 1] == -0.25 and c[0, 0, 1] == 1.75
    with pytest.raises(ValueError, match="^reward_a " + CONSTANT_MESSAGE):
        epic_distance_tabular(r_a, r_b, **kw)


def test_constant_check_tolerance_is_64_eps_times_three_max_abs_reward():
    # R = 1 + δ·g(s'), g = +1 at s' = 0 and −1 at s' = 1, one action, γ = 0, uniform
    # D_S: m(s) = 1 exactly, so C(R) = ±δ and its std under uniform D_T is δ, exactly
    # (δ a multiple of ε keeps every sum exact). The documented tolerance is
    # 64 ε · 3 max|R| ≈ 192 ε: δ = 224 ε varies, δ = 160 ε counts as constant.
    eps = np.finfo(np.float64).eps
    g = np.array([[[1.0, -1.0]], [[1.0, -1.0]]])
    kw = dict(state_dist=[0.5, 0.5], action_dist=[1.0], transition_dist=np.full((2, 1, 2), 0.25),
              discount=0.0)  # fmt: skip
    # C(R) = δ·g and C(g) = g are perfectly correlated: distance 0.
    assert epic_distance_tabular(1.0 + 224 * eps * g, g, **kw) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="^reward_a " + CONSTANT_MESSAGE):
        epic_distance_tabular(1.0 + 160 * eps * g, g, **kw)


def test_pearson_distance_error_messages_to_their_end():
    with pytest.raises(
        ValueError,
        match=r"^Pearson distance is undefined: x or y is constant \(zero variance\) under "
        r"the given weights\. Check that the inputs vary\.$",
    ):
        pearson_distance(np.ones(4), np.arange(4.0))
    with pytest.raises(TypeError, match="^weights must be a numeric numpy array or torch tensor"):
        pearson_distance(np.arange(3.0), np.arange(3.0), np.array(["a", "b", "c"]))
    # A zero weight is allowed (a transition D_T never makes); the count names only the
    # negative and the NaN entry: 2 of the 4.
    with pytest.raises(
        ValueError, match="^weights must be finite and non-negative; 2 entries are not$"
    ):
        pearson_distance(np.arange(4.0), np.arange(4.0), np.array([0.0, -1.0, np.nan, 1.0]))


def _epic_by_numpy(r_a, r_b, d_s, d_a, d_t, discount):
    """Independent of `canonicalize_tabular`: C(R) = R + γ m(s') − m(s) − γ c with sums
    written out, and the weighted correlation from numpy's covariance."""

    def canon(r):
        m = (r * d_a[None, :, None] * d_s[None, None, :]).sum(axis=(1, 2))
        return r + discount * m[None, None, :] - m[:, None, None] - discount * (d_s @ m)

    cov = np.cov(canon(r_a).ravel(), canon(r_b).ravel(), aweights=d_t.ravel())
    rho = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
    return np.sqrt((1 - rho) / 2)


def test_exact_to_truth_is_epic_to_the_tasks_ground_truth_on_its_coverage():
    from benchmark.metrics.epic import exact_to_truth
    from benchmark.tasks import load_task

    task = load_task("gridworld")
    tab = task.tabular
    gt = tab.rewards["ground_truth"]
    rng = np.random.default_rng(0)
    phi = rng.normal(size=tab.n_states)
    # Shaped with the task's γ (0.9), not the metrics' default 0.99.
    assert exact_to_truth(shaped(gt, phi, task.discount, 2.0), task, "uniform") == pytest.approx(
        0.0, abs=1e-7
    )
    assert exact_to_truth(-gt, task, "uniform") == pytest.approx(1.0, abs=1e-9)
    table = rng.normal(size=gt.shape)
    values = {}
    for name in ("uniform", "expert"):
        cov = tab.coverage[name]
        values[name] = exact_to_truth(table, task, name)
        expected = _epic_by_numpy(table, gt, cov.state_dist, cov.action_dist,
                                  cov.transition_dist, task.discount)  # fmt: skip
        assert values[name] == pytest.approx(expected, abs=1e-10)
    assert abs(values["uniform"] - values["expert"]) > 1e-3
