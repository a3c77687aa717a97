"""A measurement must not change what it measures (issue 14).

An imitation reward net loaded with ``torch.load`` is in training mode; its ``RunningNorm``
layers then update their statistics on every forward, so EPIC on it gave a different
answer on an identical second call and moved the caller's model. Every metric now calls
rewards in eval() mode under no_grad and restores the caller's modes.
"""

import copy

import numpy as np
import pytest
import torch
from imitation.rewards.reward_nets import BasicRewardNet, NormalizedRewardNet
from imitation.util.networks import RunningNorm

from benchmark.data import evaluating
from benchmark.envs.reward_wrapper import LearnedRewardVecEnv
from benchmark.metrics import epic, erc, npec
from benchmark.tasks import load_task


@pytest.fixture(scope="module")
def task():
    return load_task("pointmass")


@pytest.fixture(scope="module")
def sample(task):
    return task.coverage("random").sample(256, 64, seed=0)


def training_mode_net(task) -> NormalizedRewardNet:
    """As imitation's scripts build it: RunningNorm on inputs and on the output, in train mode."""
    torch.manual_seed(0)
    base = BasicRewardNet(
        task.observation_space,
        task.action_space,
        hid_sizes=(16,),
        normalize_input_layer=RunningNorm,
    )
    net = NormalizedRewardNet(base, normalize_output_layer=RunningNorm).train()
    # Statistics a trained net would carry: some inputs seen already.
    with torch.no_grad():
        base.mlp.normalize_input(torch.randn(100, base.mlp.normalize_input.running_mean.shape[0]))
    return net


def snapshot(net: torch.nn.Module) -> tuple[dict, list[bool]]:
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    return state, [m.training for m in net.modules()]


def assert_unchanged(net: torch.nn.Module, before: tuple[dict, list[bool]]) -> None:
    state, modes = before
    now = net.state_dict()
    assert now.keys() == state.keys()
    for k, v in state.items():
        assert torch.equal(now[k], v), f"{k} changed"
    assert [m.training for m in net.modules()] == modes


def test_epic_leaves_a_training_mode_net_unchanged_and_is_the_same_twice(task, sample):
    net = training_mode_net(task)
    count = float(net.base.mlp.normalize_input.count)
    before = snapshot(net)
    kw = dict(
        transitions=sample.transitions,
        state_samples=sample.state_samples,
        action_samples=sample.action_samples,
        discount=task.discount,
    )
    gt = task.reward("ground_truth")
    first = epic.epic_distance(net, gt, **kw)
    assert_unchanged(net, before)
    assert float(net.base.mlp.normalize_input.count) == count
    assert net.training and net.base.mlp.normalize_input.training
    second = epic.epic_distance(net, gt, **kw)
    assert first == second
    # The value is the net's in eval mode: what an independent eval-mode copy gives.
    frozen = copy.deepcopy(net).eval()
    assert epic.epic_distance(frozen, gt, **kw) == first


def test_mixed_modes_are_restored_submodule_by_submodule(task):
    net = training_mode_net(task)
    net.base.mlp.normalize_input.eval()  # caller froze only the input norm
    modes = [m.training for m in net.modules()]
    seen = []
    with evaluating(net.forward):  # a bound method reaches its module too
        seen = [m.training for m in net.modules()]
        assert not torch.is_grad_enabled()
    assert not any(seen)
    assert [m.training for m in net.modules()] == modes
    assert modes.count(False) == 1


def test_npec_and_erc_leave_a_training_mode_net_unchanged(task, sample):
    net = training_mode_net(task)
    before = snapshot(net)
    gt = task.reward("ground_truth")
    t = sample.transitions
    npec.npec_distance(net, gt, transitions=t, discount=task.discount, max_steps=5)
    npec.npec_distance(gt, net, transitions=t, discount=task.discount, max_steps=5)
    erc.erc_distance(net, gt, transitions=t)
    assert_unchanged(net, before)


def test_reoptimization_wrapper_leaves_a_training_mode_net_unchanged(task):
    net = training_mode_net(task)
    before = snapshot(net)
    venv = LearnedRewardVecEnv(task.make_vec_env(2, seed=0), net, device="cpu")
    venv.reset()
    for _ in range(3):
        venv.step(np.stack([task.action_space.sample() for _ in range(2)]))
    venv.close()
    assert_unchanged(net, before)
