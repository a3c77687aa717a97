"""NPEC evaluation units (the registry entry of `benchmark.metrics.npec`): exact on a
finite task, the zero-denominator limit on deterministic coverage, else fitted on a pool
of the coverage independent of the unit's sample and measured on that sample."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from benchmark.data import RewardFn
from benchmark.metrics.cpu_threads import single_thread_on_cpu
from benchmark.metrics.npec import Fit, npec_denominator, npec_distance_with_fit
from benchmark.metrics.npec_tabular import npec_distance_tabular
from benchmark.vocabulary import DETERMINISTIC_COVERAGE_POLICIES, NPEC_FIT_SEED_START

if TYPE_CHECKING:
    from benchmark.metrics.registry import UnitInputs
    from benchmark.tasks import Task

# Coverages drawn by a deterministic policy in the (deterministic) train dynamics: every
# state has one successor, so Φ = −V^π, the policy's discounted return from s, gives
# γΦ(s') − Φ(s) = R(s, π(s), s') for *any* bounded R (the Bellman equation; the time limit
# does not matter, V^π continues past it). D^U(Zero, R_B) = 0 for every target and NPEC
# is 0 by our zero-denominator convention (`benchmark.metrics.npec`). A fitted potential
# only approaches this (PointMass expert: 0.013 of R_B's spread left at convergence,
# PointMaze 0.033), and the ratio of two fit errors came out anywhere (shaped 0.13,
# negated 0.985), so units use the limit.
# (The policy names are vocabulary.DETERMINISTIC_COVERAGE_POLICIES.)

# The fit pool: FIT_POOL_FACTOR x N_T transitions of the unit's coverage, drawn with seed
# NPEC_FIT_SEED_START + the unit's seed. Why a pool and why this size: fitted on the unit's
# own 1024 transitions the potential over-fits the sample (almost every state distinct),
# and the ratio of two over-fitted residuals is arbitrary (`benchmark.metrics.
# npec_held_out`); fitted on 16 x 1024 fresh draws it generalises (PointMass `uniform`:
# residual on the unit's sample 0.78 for the zero reward where the in-sample fit claimed
# 0.06). The pool is cached on disk and shared by every submission, like the sample.
FIT_POOL_FACTOR = 16


def unit_value(inputs: UnitInputs) -> dict[str, float]:
    """One evaluation unit (registry entry): exact on a finite task (`tabular_units`),
    0 on a deterministic policy's coverage (`DETERMINISTIC_COVERAGE_POLICIES`: the zero reward's
    class reaches every reward there), else NPEC with Φ fitted on the unit's `fit_pool`
    and both residuals measured on the unit's sample, with the steps used. The ground
    truth's denominator fit is shared by every submission on the same sample."""
    if inputs.exact:
        from benchmark.metrics.tabular_units import exact_row, unit_tables

        table, _, _ = unit_tables(inputs)
        return exact_row(exact_to_truth(table, inputs.task, inputs.coverage))
    if inputs.task.coverage(inputs.coverage).spec.policy in DETERMINISTIC_COVERAGE_POLICIES:
        return {"value": 0.0, "fit_steps": 0}
    sample = inputs.sample()
    pool = fit_pool(inputs.task, inputs.coverage, inputs.n_transitions, inputs.n_samples,
                    inputs.seed)  # fmt: skip
    with single_thread_on_cpu(inputs.device):  # why: see benchmark.metrics.cpu_threads
        denominator = _denominator(inputs.task, inputs.ground_truth, inputs.coverage,
                                   inputs.n_transitions, inputs.n_samples, inputs.seed,
                                   inputs.device)  # fmt: skip
        res = npec_distance_with_fit(
            inputs.reward, inputs.ground_truth, transitions=sample.transitions,
            discount=inputs.task.discount, seed=inputs.seed, device=inputs.device,
            denominator=denominator, fit_transitions=pool,
        )  # fmt: skip
    return {"value": res.distance, "fit_steps": res.steps}


def exact_to_truth(table: np.ndarray, task: Task, coverage: str) -> float:
    """The board's exact NPEC (p = 2) of an ``[S, A, S]`` table to ``task``'s ground
    truth under the coverage's exact D_T and the task's γ. Shared by the exact unit and
    the meta-benchmark, so both report the same quantity."""
    tab = task.tabular
    return npec_distance_tabular(
        table, tab.rewards["ground_truth"],
        transition_dist=tab.coverage[coverage].transition_dist, discount=task.discount,
    )  # fmt: skip


@lru_cache(maxsize=64)
def _denominator(task: Task, truth: RewardFn, coverage: str, n_transitions: int,
                 n_samples: int, seed: int, device: str) -> Fit:  # fmt: skip
    """D^U_NPEC(Zero, ground truth) on one coverage sample, fitted once per key."""
    sample = task.coverage(coverage).sample(n_transitions, n_samples, seed)
    pool = fit_pool(task, coverage, n_transitions, n_samples, seed)
    return npec_denominator(truth, transitions=sample.transitions, discount=task.discount,
                            seed=seed, device=device, fit_transitions=pool)  # fmt: skip


def fit_pool(task: Task, coverage: str, n_transitions: int, n_samples: int, seed: int):
    """The transitions an NPEC unit fits Φ on: `FIT_POOL_FACTOR` x N_T draws of the
    coverage, independent of the unit's sample (seed `NPEC_FIT_SEED_START` + seed); None
    on a finite task (sampled units there): its states repeat, so the in-sample fit is
    identified and the held-out one is not needed."""
    if task.tabular is not None:
        return None
    return (
        task.coverage(coverage)
        .sample(FIT_POOL_FACTOR * n_transitions, n_samples, NPEC_FIT_SEED_START + seed)
        .transitions
    )
