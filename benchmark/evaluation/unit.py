"""One unit's computation: the metric values of a submission against the ground truth.

`run_unit` computes one unit's result rows and never raises: a failure becomes a
``failed`` row with its error, so the rest of the grid goes on.

Per unit (Gleave et al., ICLR 2021, Sec. 5): the coverage sample is
``task.coverage(c).sample(n_transitions, n_samples, seed)`` and the submission is
compared to ``task.reward("ground_truth")``.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import asdict
from functools import lru_cache
from typing import Any

from benchmark.evaluation.grid import TRANSFER_VARIANTS, EvaluationError, Unit, cached_task
from benchmark.results import STATUS_FAILED, STATUS_OK, make_row


@lru_cache(maxsize=16)
def _ground_truth(task: str, device: str):
    return cached_task(task).reward("ground_truth", device=device)


@lru_cache(maxsize=32)
def _submission_reward(path: str, sha256: str, device: str, trust_pickle: bool):
    from benchmark.submissions import load_submission

    sub = load_submission(path)
    if sub.sha256 != sha256:
        raise RuntimeError(
            f"submission {sub.name} changed since the grid was built (sha256 {sub.sha256[:12]} "
            f"!= {sha256[:12]}); re-run evaluate"
        )
    return sub.load_reward(device=device, trust_pickle=trust_pickle)


def _compute(unit: Unit, device: str, trust_pickle: bool) -> list[dict[str, Any]]:
    """The metric values of one unit as partial rows (metric, value, ci_low, ci_high)."""
    import torch

    torch.manual_seed(unit.seed)
    task = cached_task(unit.task)
    reward = _submission_reward(unit.submission_path, unit.submission_sha256, device, trust_pickle)
    if unit.metric in TRANSFER_VARIANTS:
        from benchmark.metrics.transfer import transfer_score

        res = transfer_score(reward, task, budget=unit.budget, seed=unit.seed, device=device,
                             variant=TRANSFER_VARIANTS[unit.metric])  # fmt: skip
        return [{"metric": unit.metric, "value": float(res.normalized)}]
    truth = _ground_truth(unit.task, device)
    if unit.metric == "erc":
        from benchmark.metrics.erc import erc_distance

        episodes = task.coverage(unit.coverage).episodes(unit.n_transitions, unit.seed)
        value = erc_distance(reward, truth, transitions=episodes, device=device)
        return [{"metric": "erc", "value": float(value)}]
    sample = task.coverage(unit.coverage).sample(unit.n_transitions, unit.n_samples, unit.seed)
    if unit.metric == "epic":
        return [_epic(unit, reward, task, sample, device)]
    if unit.metric == "npec":
        from benchmark.metrics.npec import npec_distance

        value = npec_distance(reward, truth, transitions=sample.transitions, discount=task.discount,
                             seed=unit.seed, device=device)  # fmt: skip
        return [{"metric": "npec", "value": float(value)}]
    raise EvaluationError(f"unknown metric {unit.metric!r}")


@lru_cache(maxsize=256)
def _canonical_truth(task: str, coverage: str, n_transitions: int, n_samples: int, seed: int,
                     device: str):  # fmt: skip
    """C(ground truth) on one coverage sample, float64 numpy [N_T].

    Why cached: every submission of a task is compared with the same ground truth on
    the same samples, so its canonicalization (half of EPIC's cost) is computed once.
    """
    from benchmark.metrics.epic import canonicalize

    t = cached_task(task)
    sample = t.coverage(coverage).sample(n_transitions, n_samples, seed)
    truth = _ground_truth(task, device)
    c = canonicalize(truth, sample.transitions, sample.state_samples, sample.action_samples,
                     t.discount, device=device)  # fmt: skip
    return c.detach().cpu().numpy()


def _epic(unit: Unit, reward, task, sample, device: str) -> dict[str, Any]:
    """EPIC of the submission to the ground truth with a 95% bootstrap CI over transitions.

    Same estimator as `epic.epic_distance_with_ci` (C(R_A), C(R_B) paired per
    transition, percentile bootstrap with the unit's seed), with C(ground truth)
    taken from `_canonical_truth`.
    """
    import numpy as np

    from benchmark.metrics.epic import canonicalize
    from benchmark.metrics.stats import bootstrap_pearson_distance

    truth_c = _canonical_truth(unit.task, unit.coverage, unit.n_transitions, unit.n_samples,
                               unit.seed, device)  # fmt: skip
    c = canonicalize(reward, sample.transitions, sample.state_samples, sample.action_samples,
                     task.discount, device=device)  # fmt: skip
    c = c.detach().cpu().numpy()
    ci = bootstrap_pearson_distance(c, truth_c, seed=unit.seed)
    if not np.isfinite(ci.estimate):
        which = "the submission" if np.std(c) <= np.std(truth_c) else "the ground truth"
        raise ValueError(
            f"EPIC is undefined: {which} is constant after canonicalization on coverage "
            f"{unit.coverage!r} (a constant or potential-shaped constant reward ranks no "
            "behaviour above another)"
        )
    return {"metric": "epic", "value": ci.estimate, "ci_low": ci.low, "ci_high": ci.high}


def run_unit(
    unit: Unit, *, device: str = "cpu", run_id: str = "", trust_pickle: bool = False
) -> list[dict[str, Any]]:
    """Compute one unit and return its complete result rows; never raises on failure.

    A failure (any exception) becomes one ``failed`` row whose ``error`` holds the
    exception and the last lines of its traceback, so the rest of the grid goes on.
    """
    start = time.perf_counter()
    fields = {k: v for k, v in asdict(unit).items() if k != "submission_path"}
    try:
        partial = _compute(unit, device, trust_pickle)
        status, error = STATUS_OK, ""
    except Exception as e:  # noqa: BLE001 - recorded, reported, and the grid goes on
        tail = "".join(traceback.format_exception(e)[-3:])
        partial = [{"metric": unit.metric, "value": float("nan")}]
        status, error = STATUS_FAILED, f"{type(e).__name__}: {e}\n{tail}"[:4000]
    wall = time.perf_counter() - start
    return [
        make_row(
            **{
                **fields,
                **p,
                "status": status,
                "error": error,
                "wall_time_s": wall,
                "device": device,
                "run_id": run_id,
            }
        )  # fmt: skip
        for p in partial
    ]
