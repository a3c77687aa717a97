"""EPIC's batched forward passes compute exactly the per-transition formula.

The expected values come from the definition (Gleave et al. 2021, eq. 3, DESIGN.md)
evaluated one transition at a time in float64, with every mean term recomputed from
its M samples: no deduplication, no shared tiles, no chunking. The fast path
(deduplicated states, tiled sample blocks, batches of ``max_batch`` rows, both rewards
on one input batch) must agree to 1e-10, and must never feed a reward more than
``max_batch`` rows (its memory bound).
"""

import platform
import resource

import gymnasium as gym
import numpy as np
import pytest
import torch
from imitation.rewards.reward_nets import BasicRewardNet

from benchmark.data import Transitions
from benchmark.metrics.epic import canonicalize, epic_distance, pearson_distance
from benchmark.metrics.host_memory import keep_freed_memory

OBS_DIM, ACT_DIM, DISCOUNT = 5, 2, 0.9


def float64_net(seed: int) -> BasicRewardNet:
    torch.manual_seed(seed)
    space = lambda d: gym.spaces.Box(-1.0, 1.0, shape=(d,))  # noqa: E731
    return BasicRewardNet(space(OBS_DIM), space(ACT_DIM), use_next_state=True).double().eval()


def episodes(n_episodes=3, length=9, seed=0) -> Transitions:
    """Contiguous episodes (next_obs[t] == obs[t+1]) plus one repeated transition."""
    g = np.random.default_rng(seed)
    parts = []
    for _ in range(n_episodes):
        walk = np.cumsum(g.normal(scale=0.3, size=(length + 1, OBS_DIM)), axis=0)
        dones = np.zeros(length)
        dones[-1] = 1
        acts = g.uniform(-1, 1, (length, ACT_DIM))
        parts.append(Transitions.create(walk[:-1], acts, walk[1:], dones))
    t = Transitions.concatenate(parts)
    t = Transitions.concatenate([t, t[:1]])
    return Transitions(*(x.double() for x in (t.obs, t.acts, t.next_obs, t.dones)))


def mean_samples(m=11, seed=1) -> tuple[torch.Tensor, torch.Tensor]:
    g = np.random.default_rng(seed)
    states = torch.as_tensor(g.normal(size=(m, OBS_DIM)))
    actions = torch.as_tensor(g.uniform(-1, 1, (m, ACT_DIM)))
    return states, actions


def canonical_by_definition(net, t: Transitions, states, actions, discount) -> torch.Tensor:
    """C(R)(s,a,s') = R(s,a,s') + γ m(s') − m(s) − γ E_S m(S), one transition at a time."""

    def m(x: torch.Tensor) -> torch.Tensor:  # (1/M) Σ_j R(x, a_j, s_j)
        rows = states.shape[0]
        with torch.no_grad():
            return net(x.expand(rows, -1), actions, states, torch.zeros(rows)).mean()

    const = torch.stack([m(states[k : k + 1]) for k in range(states.shape[0])]).mean()
    out = []
    for i in range(len(t)):
        with torch.no_grad():
            r = net(t.obs[i : i + 1], t.acts[i : i + 1], t.next_obs[i : i + 1], torch.zeros(1))[0]
        out.append(r + discount * m(t.next_obs[i : i + 1]) - m(t.obs[i : i + 1]) - discount * const)
    return torch.stack(out)


# max_batch 5 < M: samples split into blocks with partial sums; 23: two states per chunk
# with a shorter last chunk; None: the CPU default, everything in one batch.
@pytest.mark.parametrize("max_batch", [5, 23, None])
@pytest.mark.parametrize("deduplicate", [True, False])
def test_batched_canonicalization_equals_the_definition(max_batch, deduplicate):
    net, t = float64_net(0), episodes()
    states, actions = mean_samples()
    expected = canonical_by_definition(net, t, states, actions, DISCOUNT)
    got = canonicalize(net, t, states, actions, DISCOUNT, max_batch=max_batch,
                       deduplicate=deduplicate)  # fmt: skip
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, expected, atol=1e-10, rtol=0)


@pytest.mark.parametrize("max_batch", [5, 23, None])
def test_epic_on_shared_batches_equals_the_definition(max_batch):
    net_a, net_b, t = float64_net(0), float64_net(1), episodes()
    states, actions = mean_samples()
    expected = pearson_distance(
        canonical_by_definition(net_a, t, states, actions, DISCOUNT),
        canonical_by_definition(net_b, t, states, actions, DISCOUNT),
    )
    got = epic_distance(net_a, net_b, transitions=t, state_samples=states,
                        action_samples=actions, discount=DISCOUNT, max_batch=max_batch)  # fmt: skip
    assert got == pytest.approx(expected, abs=1e-10)


def test_every_forward_pass_holds_at_most_max_batch_rows():
    net = float64_net(0)
    batch_rows: list[int] = []

    def recorded(obs, acts, next_obs, dones):
        batch_rows.append(obs.shape[0])
        assert obs.dtype == acts.dtype == next_obs.dtype == torch.float64
        return net(obs, acts, next_obs, dones)

    t = episodes()
    states, actions = mean_samples()
    for max_batch in (5, 23):
        batch_rows.clear()
        canonicalize(recorded, t, states, actions, DISCOUNT, max_batch=max_batch)
        assert max(batch_rows) <= max_batch
        # Mean terms: every (distinct state, sample) pair once (+ the N transitions).
        distinct = torch.unique(torch.cat([t.obs, t.next_obs, states]), dim=0).shape[0]
        assert sum(batch_rows) == len(t) + distinct * states.shape[0]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_forward_passes_reuse_their_pages_once_freed_memory_is_kept():
    assert keep_freed_memory() is True
    net = torch.nn.Sequential(
        torch.nn.Linear(42, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU()
    )
    batch = torch.randn(8192, 42)  # activations: 8 MiB = 2048 pages per layer
    faults = []
    with torch.no_grad():
        for _ in range(20):
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            net(batch)
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    # Once the heap has grown to one batch's working set, later batches reuse its pages;
    # returned to the kernel, they would fault in again (>= 2048 per batch).
    assert sum(faults[10:]) < 2048, faults


class Float32Potential(torch.nn.Module):
    """A float32 module whose rows do not depend on the batch around them (no matmul), so
    the comparison below sees only what the companion changes, not float32 kernel noise."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.linspace(-1.0, 1.0, OBS_DIM, dtype=torch.float32))

    def forward(self, obs, acts, next_obs, dones):
        return (next_obs * self.w).sum(dim=1) * 0.01 + acts[:, 0]


def test_a_closed_form_reward_beside_a_float32_module_sees_the_float64_data():
    """Each reward's canonicalization must not depend on its companion: a task's ground truth
    (closed form) beside a float32 submission still reads MuJoCo's float64 states, so EPIC
    of the pair is the Pearson distance of the two canonicalized alone (the in-process path
    once converted everyone's inputs to the module's float32: 2.8e-6 off here)."""
    module = Float32Potential()
    seen = []

    def closed_form(obs, acts, next_obs, dones):
        seen.append(obs.dtype)
        # Differences of large coordinates: float32 copies would lose the low digits.
        return ((next_obs - obs) * (obs - 1000.0)).sum(dim=1) + acts.sum(dim=1)

    t = episodes()
    t = Transitions(t.obs + 1000.0, t.acts, t.next_obs + 1000.0, t.dones)
    states, actions = mean_samples()
    states = states + 1000.0
    joint = epic_distance(module, closed_form, transitions=t, state_samples=states,
                          action_samples=actions, discount=DISCOUNT)  # fmt: skip
    assert set(seen) == {torch.float64}
    alone = pearson_distance(canonicalize(module, t, states, actions, DISCOUNT),
                             canonicalize(closed_form, t, states, actions, DISCOUNT))  # fmt: skip
    assert joint == pytest.approx(alone, abs=1e-12)
