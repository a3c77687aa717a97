"""NPEC on the continuous point tasks, through each task's own coverage and shipped
sanity submissions: the invariances that hold by definition (Gleave et al. 2021, §4).

Expected values come from the definition, not from the code: the shaped submission is
1·R + γΦ(s') − Φ(s) and R + c is R plus a shift, so both lie in R's equivalence class
(D^U = 0, NPEC = 0 up to the fit's precision); −R's best member is the λ → 0 limit, the
zero reward's class itself, so NPEC(−R, R) = 1 wherever that class does not already
reach R (denominator > 0). On a deterministic policy's coverage (expert) the zero class
reaches every R (Φ = −V^π), which the first test checks by rollouts of the env itself.
The potential is fitted on the units' own fit pool and both residuals are measured on the
unit's sample (the held-out estimator, `benchmark.metrics.npec_held_out`).
"""

from __future__ import annotations

import pytest
import torch

from benchmark.envs import pointmass
from benchmark.metrics.npec import npec_denominator, npec_distance_with_fit
from benchmark.metrics.npec_units import fit_pool, unit_value
from benchmark.metrics.registry import UnitInputs
from benchmark.submissions import load_submission
from benchmark.tasks import load_task

STANDARD = (1024, 256)  # registry.DISTANCE_SAMPLES["standard"]


def _units(task_name: str, coverage: str, seed: int, sizes: tuple[int, int]):
    task = load_task(task_name)
    truth = task.reward("ground_truth")
    sample = task.coverage(coverage).sample(*sizes, seed)
    pool = fit_pool(task, coverage, *sizes, seed)
    kw = dict(transitions=sample.transitions, discount=task.discount, seed=seed,
              fit_transitions=pool)  # fmt: skip
    den = npec_denominator(truth, **kw)

    def npec(source):
        return npec_distance_with_fit(source, truth, denominator=den, **kw)

    def plus_constant(obs, acts, next_obs, dones):
        return truth(obs, acts, next_obs, dones) + 10.0

    def negated(obs, acts, next_obs, dones):
        return -truth(obs, acts, next_obs, dones)

    shaped = load_submission(f"submissions/{task_name}-shaped").load_reward()
    return npec, den, dict(shaped=shaped, plus_constant=plus_constant, negated=negated)


def test_on_expert_coverage_every_reward_is_a_shaping_so_npec_units_are_zero():
    # Bellman: with one successor per state, Φ = −V^π gives γΦ(s') − Φ(s) = R(s, π(s), s').
    # V^π by rolling the expert out in PointMass's own dynamics for 2000 steps
    # (γ^2000 ≈ 2e-9), for the ground truth and for its negation alike.
    task = load_task("pointmass")
    t = task.coverage("expert").sample(256, 64, 0).transitions
    obs, acts, nxt = (x.double()[:64] for x in (t.obs, t.acts, t.next_obs))
    expert, params = task.expert_policy(), task._variant("train")
    gamma = task.discount
    for reward in (task.reward("ground_truth"), lambda *x: -task.reward("ground_truth")(*x)):

        def value(s, reward=reward):
            total, factor = torch.zeros(len(s), dtype=torch.float64), 1.0
            for _ in range(2000):
                a = expert(s)
                s2 = pointmass.step_from(params, s, a)
                total += factor * reward(s, a, s2, torch.zeros(len(s)))
                factor *= gamma
                s = s2
            return total

        phi_s, phi_next = -value(obs), -value(nxt)
        r = reward(obs, acts, nxt, torch.zeros(len(obs)))
        assert torch.allclose(gamma * phi_next - phi_s, r, atol=1e-6 * float(r.abs().max()))
    units = [
        unit_value(
            UnitInputs(
                task, src, task.reward("ground_truth"), "expert", 0, "standard", 1024, 256, "cpu"
            )
        )  # fmt: skip
        for src in (task.reward("shaped"), task.reward("away"))
    ]
    assert units == [{"value": 0.0, "fit_steps": 0}] * 2


def test_held_out_npec_keeps_the_invariances_that_need_no_potential():
    # −R's best member is λ = 0, the zero reward's own fit (same seed, same minibatches),
    # so NPEC(−R, R) is exactly 1; R + c is R after the closed-form shift, so 0 — whatever
    # Φ is learnt: a short fit with a small net suffices (fast; the full fit is slow).
    task = load_task("pointmass")
    truth = task.reward("ground_truth")
    sample = task.coverage("random").sample(256, 64, 0).transitions
    kw = dict(transitions=sample, discount=task.discount, seed=0, hidden=(16, 16),
              max_steps=200, fit_transitions=fit_pool(task, "random", 256, 64, 0))  # fmt: skip
    den = npec_denominator(truth, **kw)
    assert 0.1 < den.residual and den.steps == 200

    def negated(obs, acts, next_obs, dones):
        return -truth(obs, acts, next_obs, dones)

    def plus_constant(obs, acts, next_obs, dones):
        return truth(obs, acts, next_obs, dones) + 10.0

    assert npec_distance_with_fit(negated, truth, denominator=den, **kw).distance == 1.0
    assert npec_distance_with_fit(plus_constant, truth, denominator=den, **kw).distance <= 0.02
    with pytest.raises(ValueError, match="needs p = 2"):
        npec_distance_with_fit(truth, truth, p=3.0, **kw)


# The shaped/constant/negated invariances are checked at the standard sizes below (the
# board's). At smoke sizes (256 x 64) the held-out estimate has a floor near the bound
# (PointMass `random`, seed 0: shaped 0.052), so no test holds it to 0.05 there.


# Held-out estimate, shaped entry at 1024 x 256, seed 0, measured at landing (issue 18):
# PointMass `uniform` 0.047, PointMaze `uniform` 0.044 and `random` 0.026; the in-sample
# fit gave 0.18-0.25 on `uniform` and 0.05-0.10 on PointMaze `random`.
KNOWN_POTENTIAL_FIT_GAPS = {
    ("pointmass", "uniform"): "held-out shaped 0.043-0.047 (seeds 0, 1), at the edge of 0.05",
}


# One seed per (task, coverage), alternating so both seeds are exercised across the matrix:
# each case fits three held-out potentials on a 16 x N_T pool (about a CPU-minute), and all
# twelve made the slow suite our CI's largest cost. Both seeds of every coverage were
# measured at landing and are on the board (test_committed_leaderboard checks the rows).
INVARIANCE_CASES = [
    ("pointmass", "random", 0),
    ("pointmass", "mixture", 1),
    ("pointmass", "uniform", 0),
    ("pointmaze", "random", 1),
    ("pointmaze", "mixture", 0),
    ("pointmaze", "uniform", 1),
]


@pytest.mark.slow
@pytest.mark.parametrize(("task_name", "coverage", "seed"), INVARIANCE_CASES)
def test_npec_invariances_on_point_tasks_at_standard_sizes(task_name, coverage, seed, request):
    # Fitted in-sample these failed on `uniform` (both tasks) and PointMaze `random`:
    # shaped 0.18-0.25 and 0.05-0.10, a ratio of two over-fitted residuals (issue 18).
    if (task_name, coverage) in KNOWN_POTENTIAL_FIT_GAPS:
        # The held-out fit must learn the shipped potential Σ cos((i+1)·s_i + i) itself;
        # on `uniform` it lands at the edge of the 0.05 bound (non-strict: may pass).
        gap = KNOWN_POTENTIAL_FIT_GAPS[task_name, coverage]
        request.applymarker(pytest.mark.xfail(reason=f"potential fit: {gap}"))
    npec, den, sources = _units(task_name, coverage, seed, STANDARD)
    shaped, plus_constant = npec(sources["shaped"]), npec(sources["plus_constant"])
    assert shaped.distance <= 0.05, (den, shaped)
    assert plus_constant.distance <= 0.02, (den, plus_constant)
    assert npec(sources["negated"]).distance >= 0.95, den
