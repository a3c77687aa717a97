"""Each distance through the runner equals a direct call of its metric function.

The committed NPEC, ERC and EPIC rows come from `run_unit`, so the runner must pass the
metric the task's discount (gridworld: 0.9, not the metrics' default 0.99), the unit's
seed and the unit's coverage sample. The expected values here are direct calls of
`npec_distance`, `erc_distance` and `epic_distance_with_ci` on that sample; each test
first checks that a wrong discount or seed would give another number, so it has the
power to notice.
"""

from __future__ import annotations

import pytest

from benchmark.evaluation import expand_grid, run_unit, select_submissions
from benchmark.metrics.epic import epic_distance_with_ci
from benchmark.metrics.erc import erc_distance
from benchmark.metrics.npec import npec_distance
from benchmark.submissions import load_submission
from benchmark.tasks import load_task

SEED = 1  # not a metric's default seed (0), so a dropped seed shows


@pytest.fixture(scope="module")
def gridworld():
    task = load_task("gridworld")
    assert task.discount == 0.9  # the premise: not the metrics' default discount
    return task


@pytest.fixture
def unit_of(tmp_path, private_cache, task_reward_submission):
    root = tmp_path / "submissions"
    task_reward_submission(
        root, "gw-shaped-nocost", "no_control_cost", potential_scale=1.0,
        description="gridworld reward without control cost, potential-shaped",
    )  # fmt: skip
    subs = select_submissions(root=root)

    def make(metric: str, coverage: str = "random"):
        units = expand_grid(subs, metrics=[metric], coverages=[coverage], seeds=SEED + 1,
                            n_transitions=128, n_samples=32, exact=False)  # fmt: skip
        (unit,) = [u for u in units if u.seed == SEED]
        reward = load_submission(unit.submission_path).load_reward()
        return unit, reward

    return make


def _value(unit) -> dict:
    (row,) = run_unit(unit)
    assert row["status"] == "ok", row["error"]
    return row


def test_npec_through_the_runner_uses_the_tasks_discount_and_the_units_seed(gridworld, unit_of):
    unit, reward = unit_of("npec")
    sample = gridworld.coverage(unit.coverage).sample(unit.n_transitions, unit.n_samples, SEED)
    truth = gridworld.reward("ground_truth")

    def npec(discount, seed):
        return npec_distance(
            reward, truth, transitions=sample.transitions, discount=discount, seed=seed
        )

    expected = npec(gridworld.discount, SEED)
    assert abs(npec(0.99, SEED) - expected) > 1e-4  # the discount matters here
    assert _value(unit)["value"] == pytest.approx(expected, abs=1e-9)


def test_epic_through_the_runner_uses_the_tasks_discount_and_the_units_seed(gridworld, unit_of):
    unit, reward = unit_of("epic")
    sample = gridworld.coverage(unit.coverage).sample(unit.n_transitions, unit.n_samples, SEED)
    inputs = dict(transitions=sample.transitions, state_samples=sample.state_samples,
                  action_samples=sample.action_samples, state_blocks=sample.state_blocks,
                  action_blocks=sample.action_blocks)  # fmt: skip
    truth = gridworld.reward("ground_truth")
    expected = epic_distance_with_ci(reward, truth, **inputs, discount=0.9, seed=SEED)
    other_discount = epic_distance_with_ci(reward, truth, **inputs, discount=0.99, seed=SEED)
    other_seed = epic_distance_with_ci(reward, truth, **inputs, discount=0.9, seed=0)
    assert abs(other_discount.distance - expected.distance) > 1e-4
    assert (other_seed.ci_low, other_seed.ci_high) != (expected.ci_low, expected.ci_high)
    row = _value(unit)
    assert row["value"] == pytest.approx(expected.distance, abs=1e-9)
    assert row["ci_low"] == pytest.approx(expected.ci_low, abs=1e-9)
    assert row["ci_high"] == pytest.approx(expected.ci_high, abs=1e-9)


def test_erc_through_the_runner_uses_the_tasks_discount_on_the_units_episodes(gridworld, unit_of):
    """ERC discounts returns with the task's γ, as the reference discounts with the one
    γ it gives the reward models (its erc.py default_config: 0.99)."""
    unit, reward = unit_of("erc", coverage="mixture")
    episodes = gridworld.coverage("mixture").episodes(unit.n_transitions, SEED)
    truth = gridworld.reward("ground_truth")
    expected = erc_distance(reward, truth, transitions=episodes, discount=gridworld.discount)
    undiscounted = erc_distance(reward, truth, transitions=episodes, discount=1.0)
    assert undiscounted != pytest.approx(expected)
    other_seed = gridworld.coverage("mixture").episodes(unit.n_transitions, 0)
    assert erc_distance(reward, truth, transitions=other_seed, discount=0.9) != pytest.approx(
        expected
    )
    assert _value(unit)["value"] == pytest.approx(expected, abs=1e-12)
