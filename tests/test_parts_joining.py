"""Joining two rewards' canonicalization pieces (the runner reuses the ground truth's).

Expected values: the pieces of both rewards computed in one call — the definition of
what the joined pieces stand for — and an error when the pieces come from other data.
"""

import dataclasses

import pytest
import torch

from benchmark.metrics.canonical import canonical_parts, validate_inputs
from benchmark.metrics.canonical_interval import sample_groups
from benchmark.metrics.dard_sampling import draw_successors, parts_on_draws
from benchmark.metrics.dynamics import transition_model
from benchmark.tasks import load_task


@pytest.fixture(scope="module")
def pointmass():
    task = load_task("pointmass")
    gt = task.reward("ground_truth")

    def other(obs, acts, next_obs, dones):
        return gt(obs, acts, next_obs, dones) - (acts**2).sum(1) + torch.sin(obs[:, 0])

    return task, gt, other


def _assert_same_parts(a, b) -> None:
    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, list):
            assert len(x) == len(y)
            for u, v in zip(x, y, strict=True):
                assert torch.equal(torch.as_tensor(u), torch.as_tensor(v)), field.name
        elif x is None:
            assert y is None, field.name
        else:
            assert torch.equal(x, y), field.name


def _canonical_inputs(task, rewards, seed):
    sample = task.coverage("random").sample(128, 16, seed=seed)
    inputs = validate_inputs(rewards, sample.transitions, sample.state_samples,
                             sample.action_samples, task.discount, None, None, "cpu")  # fmt: skip
    return inputs, torch.as_tensor(sample_groups(16))


@pytest.mark.parametrize("include_constant", [False, True])
def test_joined_canonical_parts_equal_both_rewards_computed_together(pointmass, include_constant):
    task, gt, other = pointmass
    inputs, groups = _canonical_inputs(task, [other, gt], seed=0)
    kw = dict(include_constant=include_constant)
    together = canonical_parts([other, gt], ["a", "b"], inputs, groups, **kw)
    mine = canonical_parts([other], ["a"], inputs, groups, **kw)
    truth = canonical_parts([gt], ["b"], inputs, groups, **kw)
    _assert_same_parts(mine.joined(truth), together)


def test_canonical_parts_from_other_transitions_do_not_join(pointmass):
    task, gt, other = pointmass
    inputs, groups = _canonical_inputs(task, [gt], seed=0)
    elsewhere, _ = _canonical_inputs(task, [gt], seed=1)
    mine = canonical_parts([other], ["a"], inputs, groups)
    truth = canonical_parts([gt], ["b"], elsewhere, groups)
    with pytest.raises(ValueError, match="other transitions"):
        mine.joined(truth)


def _draws(task, seed):
    sample = task.coverage("random").sample(128, 16, seed=seed)
    return draw_successors(sample.transitions, sample.action_samples, transition_model(task),
                           seed=seed, device="cpu")  # fmt: skip


def test_joined_dard_parts_equal_both_rewards_computed_together(pointmass):
    task, gt, other = pointmass
    draws = _draws(task, seed=0)
    groups = torch.as_tensor(sample_groups(draws.actions.shape[0]))
    together = parts_on_draws([other, gt], ["a", "b"], draws, task.discount, groups)
    mine = parts_on_draws([other], ["a"], draws, task.discount, groups)
    truth = parts_on_draws([gt], ["b"], draws, task.discount, groups)
    _assert_same_parts(mine.joined(truth), together)


def test_dard_parts_from_other_draws_do_not_join(pointmass):
    task, gt, other = pointmass
    here, elsewhere = _draws(task, seed=0), _draws(task, seed=1)
    groups = torch.as_tensor(sample_groups(here.actions.shape[0]))
    mine = parts_on_draws([other], ["a"], here, task.discount, groups)
    truth = parts_on_draws([gt], ["b"], elsewhere, task.discount, groups)
    with pytest.raises(ValueError, match="other successor draws"):
        mine.joined(truth)
