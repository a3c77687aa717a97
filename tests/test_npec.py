"""NPEC: the equivalence-class cases on tables with one-hot observations, the exact
tabular value against an independent constrained least-squares solve, invariance to
shifts on a real environment's transitions, and the convergence stop."""

import numpy as np
import pytest
import torch

from benchmark.data import Transitions
from benchmark.metrics.npec import (
    DEFAULT_MAX_STEPS,
    fit_equivalent_residual,
    npec_denominator,
    npec_distance,
    npec_distance_tabular,
    npec_distance_with_fit,
)

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


@pytest.mark.parametrize("shift", [0.0, 10.0])
def test_npec_with_mlp_potential(mdp, shift):
    # A network potential reaches a large constant only after many steps; the fitted
    # shift makes R + 10 as close as R (before it, NPEC(GT + 10, GT) was about 1).
    r = mdp["reward"]
    d = npec_distance(
        table_reward(r),
        table_reward(r + shaping(mdp["potential"]) + shift),
        transitions=mdp["transitions"],
        discount=GAMMA,
        potential="mlp",
        hidden=(16,),
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
        None, target, obs, nxt, discount=0.5, weights=w, potential="linear", lr=0.05
    )
    assert res.residual < 1e-3


def test_npec_errors(mdp):
    r = table_reward(mdp["reward"])
    kw = dict(transitions=mdp["transitions"])
    with pytest.raises(ValueError, match=r"discount must be a number in \[0, 1\]"):
        npec_distance(r, r, discount=-1, **kw)
    with pytest.raises(ValueError, match="p must be >= 1"):
        npec_distance(r, r, p=0.5, **kw)
    with pytest.raises(ValueError, match="max_steps must be a positive int"):
        npec_distance(r, r, max_steps=0, **kw)
    with pytest.raises(ValueError, match="tol must be a positive relative change"):
        npec_distance(r, r, tol=0.0, **kw)
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


def lsq_linear_npec(r_a, r_b, d_t, discount):
    """D_NPEC by scipy's bounded least squares (λ >= 0) over [λ, c, Φ]: independent of
    the projection formula in `npec_distance_tabular`."""
    from scipy.optimize import lsq_linear

    n_s, n_a, _ = r_a.shape
    keep = d_t.reshape(-1) > 0
    sw = np.sqrt(d_t.reshape(-1)[keep])[:, None]
    # Φ(last state) = 0: a constant Φ only adds (γ − 1)Φ, which the shift absorbs, so
    # the span is unchanged and the design has full column rank (bvls needs it).
    phi_cols = [
        np.broadcast_to(
            discount * np.eye(n_s)[u][None, None, :] - np.eye(n_s)[u][:, None, None],
            r_a.shape,
        ).reshape(-1)[keep]
        for u in range(n_s - 1)
    ]
    shift_and_phi = np.column_stack([np.ones(keep.sum()), *phi_cols])
    y = r_b.reshape(-1)[keep] * sw[:, 0]
    den = lsq_linear(shift_and_phi * sw, y, method="bvls").fun
    design = np.column_stack([r_a.reshape(-1)[keep], shift_and_phi]) * sw
    lower = np.r_[0.0, np.full(shift_and_phi.shape[1], -np.inf)]
    num = lsq_linear(design, y, bounds=(lower, np.inf), method="bvls").fun
    return np.linalg.norm(num) / np.linalg.norm(den)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tabular_npec_equals_a_bounded_least_squares_solve(seed):
    g = np.random.default_rng(seed)
    d_t = g.dirichlet(np.ones(N_S * N_A * N_S)).reshape(N_S, N_A, N_S)
    d_t[d_t < 0.003] = 0.0  # a support that is not everything
    d_t /= d_t.sum()
    r_a = g.normal(size=(N_S, N_A, N_S))
    for r_b in (0.8 * r_a + g.normal(size=r_a.shape), -r_a + 0.3 * g.normal(size=r_a.shape)):
        exact = npec_distance_tabular(r_a, r_b, transition_dist=d_t, discount=GAMMA)
        assert exact == pytest.approx(lsq_linear_npec(r_a, r_b, d_t, GAMMA), abs=1e-9)


def test_tabular_npec_of_the_class_is_zero_and_of_negation_is_one(mdp):
    r = mdp["reward"]
    d_t = mdp["weights"].reshape(N_S, N_A, N_S)
    kw = dict(transition_dist=d_t, discount=GAMMA)
    for equivalent in (r + 5.0, 0.2 * r + shaping(mdp["potential"]) - 3.0):
        assert npec_distance_tabular(r, equivalent, **kw) == pytest.approx(0.0, abs=1e-7)
    assert npec_distance_tabular(r, -r, **kw) == pytest.approx(1.0, abs=1e-12)
    assert npec_distance_tabular(r, shaping(mdp["potential"]) + 2.0, **kw) == 0.0


def test_sampled_npec_with_a_table_potential_matches_the_exact_value(mdp):
    r_a = mdp["reward"]
    r_b = 0.7 * r_a + np.random.default_rng(5).normal(size=r_a.shape) + 4.0
    exact = npec_distance_tabular(
        r_a, r_b, transition_dist=mdp["weights"].reshape(r_a.shape), discount=GAMMA
    )
    assert 0.2 < exact < 0.95
    assert npec(mdp, r_a, r_b) == pytest.approx(exact, abs=0.005)


@pytest.fixture(scope="module")
def pendulum():
    """Random-action rollouts of the real Pendulum-v1 (continuous observations)."""
    import gymnasium as gym

    env = gym.make("Pendulum-v1", max_episode_steps=40)
    rng = np.random.default_rng(0)
    rows = []
    for ep in range(10):
        obs, _ = env.reset(seed=ep)
        for _ in range(40):
            act = rng.uniform(-2, 2, size=1).astype(np.float32)
            nxt, _, term, trunc, _ = env.step(act)
            rows.append((obs, act, nxt))
            obs = nxt
    obs, acts, nxt = map(np.array, zip(*rows, strict=True))
    return Transitions.create(obs, acts, nxt)


def pendulum_reward(obs, acts, next_obs, dones):
    """Pendulum's own cost at s', a function of (s, a, s')."""
    theta = torch.atan2(next_obs[:, 1], next_obs[:, 0])
    return -(theta**2 + 0.1 * next_obs[:, 2] ** 2 + 0.001 * acts[:, 0] ** 2)


def transformed(scale, shift, potential_scale, gamma=0.99):
    def phi(x):
        return potential_scale * (x[:, 0] + 0.5 * x[:, 2])

    def reward(obs, acts, next_obs, dones):
        shaping = gamma * phi(next_obs) - phi(obs)
        return scale * pendulum_reward(obs, acts, next_obs, dones) + shift + shaping

    return reward


@pytest.fixture(scope="module")
def pendulum_denominator(pendulum):
    """D^U(Zero, Pendulum's reward): shared by every source compared with it."""
    fit = npec_denominator(pendulum_reward, transitions=pendulum, discount=0.99, potential="linear")
    assert fit.converged
    return fit


@pytest.mark.parametrize(
    "scale, shift, potential_scale", [(1.0, 1.0, 0.0), (1.0, 10.0, 0.0), (3.0, 5.0, 1.0)]
)
def test_npec_ignores_shift_scale_and_shaping_on_a_real_environment(
    pendulum, pendulum_denominator, scale, shift, potential_scale
):
    # The measurements: NPEC(GT + 1, GT) ≈ 0.24-0.50, NPEC(GT + 10, GT) ≈ 1 and
    # NPEC(3 shaped + 5, GT) ≈ 0.35 before the shift was fitted.
    res = npec_distance_with_fit(
        transformed(scale, shift, potential_scale),
        pendulum_reward,
        transitions=pendulum,
        discount=0.99,
        potential="linear",
        denominator=pendulum_denominator,
    )
    assert res.distance <= 0.02
    assert res.converged and pendulum_denominator.steps <= res.steps < 2 * DEFAULT_MAX_STEPS


def test_npec_of_negation_is_one_on_a_real_environment(pendulum, pendulum_denominator):
    d = npec_distance(
        transformed(-1.0, 2.0, 0.0),
        pendulum_reward,
        transitions=pendulum,
        potential="linear",
        denominator=pendulum_denominator,
    )
    assert d == pytest.approx(1.0, abs=0.02)


def test_fit_stops_on_the_tolerance_or_at_max_steps(mdp):
    r_a = mdp["reward"]
    r_b = r_a + np.random.default_rng(6).normal(size=r_a.shape)
    loose = npec_distance_with_fit(
        table_reward(r_a), table_reward(r_b), transitions=mdp["transitions"],
        discount=GAMMA, potential="linear", lr=0.1, tol=1e-2, window=20,
    )  # fmt: skip
    tight = npec_distance_with_fit(
        table_reward(r_a), table_reward(r_b), transitions=mdp["transitions"],
        discount=GAMMA, potential="linear", lr=0.1, tol=1e-6, window=20,
    )  # fmt: skip
    capped = npec_distance_with_fit(
        table_reward(r_a), table_reward(r_b), transitions=mdp["transitions"],
        discount=GAMMA, potential="linear", lr=0.1, max_steps=5,
    )  # fmt: skip
    assert loose.converged and tight.converged and not capped.converged
    assert loose.steps < tight.steps
    assert capped.steps == 10  # 5 for each of the two fits
