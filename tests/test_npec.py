"""NPEC on tabular rewards with one-hot observations: the equivalence-class cases."""

import numpy as np
import pytest
import torch

from benchmark.data import Transitions
from benchmark.metrics.npec import fit_equivalent_residual, npec_distance

N_S, N_A, GAMMA = 5, 2, 0.9


def table_reward(table: np.ndarray):
    t = torch.as_tensor(table)

    def reward(obs, acts, next_obs, dones):
        return t[obs.argmax(-1), acts.argmax(-1), next_obs.argmax(-1)]

    return reward


@pytest.fixture(scope="module")
def mdp():
    """Every (s, a, s') once, with random non-uniform D_T weights."""
    rng = np.random.default_rng(0)
    e_s, e_a = np.eye(N_S), np.eye(N_A)
    idx = np.array([(s, a, t) for s in range(N_S) for a in range(N_A) for t in range(N_S)])
    transitions = Transitions.create(e_s[idx[:, 0]], e_a[idx[:, 1]], e_s[idx[:, 2]])
    weights = rng.dirichlet(np.ones(len(idx)))
    reward = rng.normal(size=(N_S, N_A, N_S))
    potential = rng.normal(size=N_S) * 3
    return dict(
        rng=rng, transitions=transitions, weights=weights, reward=reward, potential=potential
    )


def npec(mdp, a, b, **kw):
    return npec_distance(
        table_reward(a),
        table_reward(b),
        transitions=mdp["transitions"],
        weights=mdp["weights"],
        discount=GAMMA,
        potential="linear",
        steps=600,
        lr=0.1,
        **kw,
    )


def shaping(potential):
    f = GAMMA * potential[None, None, :] - potential[:, None, None]
    return np.broadcast_to(f, (N_S, N_A, N_S)).copy()


def test_npec_is_zero_for_shaped_and_rescaled_target(mdp):
    r = mdp["reward"]
    assert npec(mdp, r, 2.5 * r + shaping(mdp["potential"])) == pytest.approx(0.0, abs=0.02)
    assert npec(mdp, r, 0.3 * r) == pytest.approx(0.0, abs=0.02)


def test_npec_of_negation_is_one(mdp):
    # The best λ > 0 goes to 0, leaving the residual of fitting R_B by shaping alone.
    assert npec(mdp, mdp["reward"], -mdp["reward"]) == pytest.approx(1.0, abs=0.02)


def test_npec_matches_closed_form_least_squares(mdp):
    # For p = 2 with a table Φ, both infima are weighted least-squares problems:
    # solve them exactly (λ unconstrained is > 0 here) and compare.
    r_a = mdp["reward"]
    r_b = 0.7 * r_a + np.random.default_rng(2).normal(size=r_a.shape)
    w = mdp["weights"]
    shaping_basis = np.stack(
        [shaping(np.eye(N_S)[i]).reshape(-1) for i in range(N_S)] + [np.ones(r_a.size)], axis=1
    )  # columns: shaping of each one-hot potential, + a constant (Φ's bias is shaping of a constant)

    def lstsq_residual(design):
        sw = np.sqrt(w)[:, None]
        coef, *_ = np.linalg.lstsq(design * sw, r_b.reshape(-1) * sw[:, 0], rcond=None)
        res = design @ coef - r_b.reshape(-1)
        return np.sqrt(w @ res**2), coef

    denom, _ = lstsq_residual(shaping_basis)
    num, coef = lstsq_residual(np.column_stack([r_a.reshape(-1), shaping_basis]))
    assert coef[0] > 0
    assert npec(mdp, r_a, r_b) == pytest.approx(num / denom, abs=0.01)


def test_npec_is_in_unit_interval_and_seeded_and_asymmetric_for_p1(mdp):
    g = np.random.default_rng(1)
    r_a = mdp["reward"]
    r_b = g.normal(size=r_a.shape)
    r_b[:, 0] += 3 * r_a[:, 0]
    d_ab, d_ba = npec(mdp, r_a, r_b), npec(mdp, r_b, r_a)
    assert 0.0 < d_ab < 1.0 and 0.0 < d_ba < 1.0
    # For p = 2 NPEC is the sine of the angle between the rewards' components
    # orthogonal to the shapings, which is symmetric; for p = 1 it is not.
    assert d_ab == pytest.approx(d_ba, abs=0.01)
    assert abs(npec(mdp, r_a, r_b, p=1) - npec(mdp, r_b, r_a, p=1)) > 0.05
    assert npec(mdp, r_a, r_b, seed=3) == npec(mdp, r_a, r_b, seed=3)


def test_npec_with_mlp_potential(mdp):
    r = mdp["reward"]
    d = npec_distance(
        table_reward(r),
        table_reward(r + shaping(mdp["potential"])),
        transitions=mdp["transitions"],
        discount=GAMMA,
        potential="mlp",
        hidden=(16,),
        steps=300,
        lr=0.03,
    )
    assert d == pytest.approx(0.0, abs=0.05)


def test_target_that_is_only_shaping_gives_zero(mdp):
    assert npec(mdp, mdp["reward"], shaping(mdp["potential"])) == 0.0


def test_fit_without_source_is_the_distance_to_the_nearest_shaping():
    # Target exactly a shaping plus a constant: the zero reward's class reaches it.
    g = torch.Generator().manual_seed(0)
    obs = torch.eye(3)[torch.randint(0, 3, (40,), generator=g)].double()
    nxt = torch.eye(3)[torch.randint(0, 3, (40,), generator=g)].double()
    phi = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    target = 0.5 * (nxt @ phi) - obs @ phi + 0.1
    w = torch.full((40,), 1 / 40, dtype=torch.float64)
    res = fit_equivalent_residual(
        None, target, obs, nxt, discount=0.5, weights=w, potential="linear", steps=1500, lr=0.05
    )
    assert res < 1e-3


def test_npec_errors(mdp):
    r = table_reward(mdp["reward"])
    kw = dict(transitions=mdp["transitions"])
    with pytest.raises(ValueError, match=r"discount must be a number in \[0, 1\]"):
        npec_distance(r, r, discount=-1, **kw)
    with pytest.raises(ValueError, match="p must be >= 1"):
        npec_distance(r, r, p=0.5, **kw)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        npec_distance(r, r, steps=0, **kw)
    with pytest.raises(ValueError, match="potential must be one of"):
        npec_distance(r, r, potential="table", **kw)
    with pytest.raises(ValueError, match="weights must have shape"):
        npec_distance(r, r, weights=np.ones(3), **kw)
    with pytest.raises(ValueError, match="source returned 1 non-finite"):
        nan_table = mdp["reward"].copy()
        nan_table[0, 0, 0] = np.nan
        npec_distance(table_reward(nan_table), r, **kw)


def test_npec_is_invariant_to_shaping_and_rescaling_of_the_target(mdp):
    r_a = mdp["reward"]
    r_b = r_a + 0.5 * np.random.default_rng(4).normal(size=r_a.shape)
    plain = npec(mdp, r_a, r_b)
    transformed = npec(mdp, r_a, 3.0 * r_b + shaping(mdp["potential"]))
    assert 0.2 < plain < 0.95
    assert transformed == pytest.approx(plain, abs=0.01)
