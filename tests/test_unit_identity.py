"""Which units count as done: every field of the unit key separates units.

A unit that differs from a stored ``ok`` row in any of submission sha256, task, task
version, metric, coverage, seed, budget, N_T or M must be computed, not skipped:
otherwise ``evaluate`` silently reports a number computed under another configuration.
The expected key is written out by hand here (README, "Resumable"), never built with
the function under test.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from benchmark.evaluation import Unit, evaluate, expand_grid, select_submissions
from benchmark.results import finished_units, make_row, unit_key, write_batch
from benchmark.submissions import write_submission

SHA = "ab" * 32
# The README's unit key, in the store's order: submission sha256, task, task version,
# metric, coverage, seed, budget, N_T, M.
HAND_KEY = (SHA, "gridworld", "3", "epic", "random", 1, "", 128, 32)
KEY_FIELDS = (
    "submission_sha256",
    "task",
    "task_version",
    "metric",
    "coverage",
    "seed",
    "budget",
    "n_transitions",
    "n_samples",
)
# A different value for each key field.
OTHER = {
    "submission_sha256": "cd" * 32,
    "task": "pointmass",
    "task_version": "4",
    "metric": "npec",
    "coverage": "expert",
    "seed": 2,
    "budget": "smoke",
    "n_transitions": 256,
    "n_samples": 64,
}


def _unit(**changes) -> Unit:
    fields = dict(
        submission="gw-nocost",
        submission_path="/nowhere/gw-nocost",
        submission_sha256=SHA,
        method="task-reward",
        task="gridworld",
        task_version="3",
        metric="epic",
        coverage="random",
        seed=1,
        budget="",
        n_transitions=128,
        n_samples=32,
    )
    return Unit(**{**fields, **changes})


def _row(**changes) -> dict:
    unit = _unit(**changes)
    fields = {k: v for k, v in dataclasses.asdict(unit).items() if k != "submission_path"}
    return make_row(**fields, run_id="r", value=0.5)


def test_unit_key_is_the_readme_key_in_the_store_order():
    assert _unit().key() == HAND_KEY
    assert unit_key(_row()) == HAND_KEY


@pytest.mark.parametrize("field", KEY_FIELDS)
def test_every_key_field_separates_units(field):
    assert _unit(**{field: OTHER[field]}).key() != HAND_KEY
    assert unit_key(_row(**{field: OTHER[field]})) != HAND_KEY


@pytest.mark.parametrize("field", KEY_FIELDS)
def test_finished_units_holds_exactly_the_stored_key(tmp_path, field):
    write_batch([_row(**{field: OTHER[field]})], tmp_path, name="one")
    done = finished_units(tmp_path)
    expected = tuple(
        OTHER[f] if f == field else v for f, v in zip(KEY_FIELDS, HAND_KEY, strict=True)
    )
    assert done == {expected}
    assert HAND_KEY not in done


def test_a_failed_row_does_not_finish_its_unit(tmp_path):
    write_batch([make_row(**{**_row(), "status": "failed", "error": "boom"})], tmp_path, name="f")
    assert finished_units(tmp_path) == set()


@pytest.fixture
def gridworld_unit(tmp_path, private_cache, task_reward_submission) -> Unit:
    root = tmp_path / "submissions"
    task_reward_submission(root, "gw-nocost", "no_control_cost",
                           description="gridworld reward without the control cost")  # fmt: skip
    subs = select_submissions(root=root)
    (unit,) = expand_grid(
        subs,
        metrics=["epic"],
        coverages=["random"],
        seeds=1,
        n_transitions=128,
        n_samples=32,
        exact=False,  # a sampled unit: its sizes are part of its key
    )
    return unit


def _other_submission(unit: Unit, root: Path) -> Unit:
    sub = write_submission(
        root / "gw-nocost-x2",
        {
            "name": "gw-nocost-x2",
            "task": "gridworld",
            "method": "task-reward",
            "authors": ["epic-bench tests"],
            "description": "the same reward, rescaled: another model, another sha256",
            "model": {"format": "task-reward", "reward": "no_control_cost", "scale": 2.0},
        },
    )
    return dataclasses.replace(
        unit, submission=sub.name, submission_path=str(sub.path), submission_sha256=sub.sha256
    )


@pytest.mark.parametrize(
    "field", ["submission_sha256", "task_version", "metric", "coverage", "seed", "budget",
              "n_transitions", "n_samples"],
)  # fmt: skip
def test_evaluate_runs_a_unit_that_differs_from_a_stored_one_in_one_field(
    gridworld_unit, tmp_path, field
):
    results = tmp_path / "results"
    first = evaluate([gridworld_unit], results_dir=results, wandb=False, progress=False)
    assert first.ok == 1
    again = evaluate([gridworld_unit], results_dir=results, wandb=False, progress=False)
    assert (again.skipped, again.ok) == (1, 0)
    if field == "submission_sha256":
        other = _other_submission(gridworld_unit, tmp_path / "submissions")
    else:
        value = {"metric": "npec", "coverage": "uniform", "seed": 1, "budget": "smoke",
                 "task_version": "999", "n_transitions": 160, "n_samples": 48}[field]  # fmt: skip
        other = dataclasses.replace(gridworld_unit, **{field: value})
    assert getattr(other, field) != getattr(gridworld_unit, field)
    summary = evaluate([other], results_dir=results, wandb=False, progress=False)
    assert summary.skipped == 0 and summary.ok == 1, summary.failed
