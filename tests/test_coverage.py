"""Coverage distributions: the samples follow the exact arrays, are ordered, seeded and cached."""

import numpy as np
import pytest
import torch

from benchmark.tasks import build_cache, list_tasks, load_task
from benchmark.tasks import coverage as cov

NT = 4000  # 8 envs x 500 steps = 25 whole episodes of 20 steps each


@pytest.fixture(autouse=True)
def cache_dir(private_cache):
    """Every test here gets its own cache (conftest's `private_cache`)."""
    return private_cache


@pytest.fixture(scope="module")
def grid():
    return load_task("gridworld")


def _indices(onehot: torch.Tensor) -> np.ndarray:
    return onehot.argmax(1).numpy()


@pytest.mark.parametrize("name", ["random", "expert", "mixture", "uniform"])
def test_sampled_transitions_follow_the_exact_coverage_arrays(grid, name):
    sample = grid.coverage(name).sample(20_000, 20_000, seed=0, cache=False)
    exact = grid.tabular.coverage[name]
    t = sample.transitions
    counts = np.zeros_like(exact.transition_dist)
    np.add.at(counts, (_indices(t.obs), _indices(t.acts), _indices(t.next_obs)), 1.0)
    total_variation = 0.5 * np.abs(counts / len(t) - exact.transition_dist).sum()
    assert total_variation < 0.05
    d_s = np.bincount(_indices(sample.state_samples), minlength=25) / 20_000
    d_a = np.bincount(_indices(sample.action_samples), minlength=5) / 20_000
    assert 0.5 * np.abs(d_s - exact.state_dist).sum() < 0.03
    assert 0.5 * np.abs(d_a - exact.action_dist).sum() < 0.03


def test_exact_arrays_are_distributions_with_consistent_marginals(grid):
    for name, exact in grid.tabular.coverage.items():
        assert exact.transition_dist.sum() == pytest.approx(1.0), name
        np.testing.assert_allclose(exact.state_dist, exact.transition_dist.sum(axis=(1, 2)))
        np.testing.assert_allclose(exact.action_dist, exact.transition_dist.sum(axis=(0, 2)))
        # D_T puts mass only on transitions the train dynamics can produce
        assert (exact.transition_dist[grid.tabular.transitions["train"] == 0] == 0).all()


def test_transitions_are_ordered_episode_by_episode(grid):
    t = grid.coverage("random").sample(NT, 64, seed=1, cache=False).transitions
    cont = t.dones[:-1] == 0
    assert torch.equal(t.next_obs[:-1][cont], t.obs[1:][cont])
    ends = torch.nonzero(t.dones).reshape(-1).numpy()
    np.testing.assert_array_equal(ends, np.arange(19, NT, 20))  # horizon 20, no termination
    starts = np.concatenate([[0], ends[:-1] + 1])
    # every episode starts in a cell the task's initial-state distribution can produce
    initial = grid.tabular.initial_state_dist
    assert (initial[_indices(t.obs)[starts]] > 0).all()


def test_uniform_coverage_is_independent_steps(grid):
    t = grid.coverage("uniform").sample(500, 500, seed=0, cache=False).transitions
    assert (t.dones == 0).all()
    assert len(np.unique(_indices(t.obs))) == 25


def test_mixture_modes_switch_as_the_papers_policy_mixture():
    # The reference's PolicyMixture re-draws the acting policy uniformly from {random,
    # expert} with probability 0.05 before each step: each acts half the steps, and the
    # policy changes at a step with probability 0.05 x 1/2 (a re-draw may pick the same).
    gen = torch.Generator().manual_seed(0)
    modes = cov.mixture_modes(8, 50_000, 0.05, gen)
    assert modes.float().mean().item() == pytest.approx(0.5, abs=0.02)
    changes = (modes[:, 1:] != modes[:, :-1]).float().mean().item()
    assert changes == pytest.approx(0.025, abs=0.002)
    # The first policy is drawn at random: over many streams, about half start as each.
    first = cov.mixture_modes(4000, 1, 0.0, gen)[:, 0].float().mean().item()
    assert first == pytest.approx(0.5, abs=0.03)
    # With switch probability 0 the first policy acts forever.
    still = cov.mixture_modes(16, 500, 0.0, gen)
    assert (still == still[:, :1]).all()


def test_mixture_rollout_acts_as_the_expert_about_half_the_time(grid):
    # Random acts half the steps and agrees with the expert's action 1/5 of the time:
    # 1/2 + 1/2 x 1/5 = 0.6 of the actions are the expert's.
    t = grid.coverage("mixture").sample(20_000, 16, seed=2, cache=False).transitions
    expert = grid.expert_policy()(torch.as_tensor(_indices(t.obs)))
    on_expert = (torch.as_tensor(_indices(t.acts)) == expert).float().mean().item()
    assert on_expert == pytest.approx(0.6, abs=0.03)


def test_expert_noisy_takes_random_actions_with_probability_epsilon(grid, tmp_path):
    text = grid.path.read_text().replace(
        "[coverage.uniform]",
        '[coverage.noisy]\npolicy = "expert_noisy"\nepsilon = 0.05\n\n[coverage.uniform]',
    )
    path = tmp_path / "gridworld.toml"
    path.write_text(text)
    task = load_task(path)
    t = task.coverage("noisy").sample(NT, 16, seed=2, cache=False).transitions
    expert = task.expert_policy()(torch.as_tensor(_indices(t.obs)))
    off_expert = (torch.as_tensor(_indices(t.acts)) != expert).float().mean().item()
    assert off_expert == pytest.approx(0.05 * 4 / 5, abs=0.015)


def test_same_seed_same_numbers_different_seed_different_numbers(grid):
    a = grid.coverage("mixture").sample(400, 300, seed=4, cache=False)
    b = grid.coverage("mixture").sample(400, 300, seed=4, cache=False)
    c = grid.coverage("mixture").sample(400, 300, seed=5, cache=False)
    for x, y in (
        (a.transitions.obs, b.transitions.obs),
        (a.transitions.acts, b.transitions.acts),
        (a.state_samples, b.state_samples),
        (a.action_samples, b.action_samples),
    ):
        assert torch.equal(x, y)
    assert not torch.equal(a.transitions.acts, c.transitions.acts)


def test_state_and_action_samples_are_independent_draws(grid):
    s = grid.coverage("random").sample(64, 20_000, seed=0, cache=False)
    states, actions = _indices(s.state_samples), _indices(s.action_samples)
    joint = np.zeros((25, 5))
    np.add.at(joint, (states, actions), 1.0 / 20_000)
    product = np.outer(joint.sum(1), joint.sum(0))
    assert 0.5 * np.abs(joint - product).sum() < 0.03


def test_bad_sizes_are_rejected(grid):
    with pytest.raises(ValueError, match="n_transitions"):
        grid.coverage("random").sample(0, 10, seed=0)


def test_build_cache_writes_every_file(grid, cache_dir):
    paths = build_cache(
        ["gridworld"], None, n_transitions=100, n_samples=50, seeds=2, progress=False
    )
    assert len(paths) == 4 * 2
    assert all(p.is_file() for p in paths)


@pytest.mark.parametrize("name", list_tasks())
def test_every_task_coverage_is_ordered_seeded_and_shaped(name):
    """The CoverageSample contract on real rollouts of every family (small sizes)."""
    task = load_task(name)
    policy = "mixture" if "mixture" in task.coverage_names else "random"
    a = task.coverage(policy).sample(96, 40, seed=3, cache=False)
    b = task.coverage(policy).sample(96, 40, seed=3, cache=False)
    t = a.transitions
    obs_shape = (task.observation_space.n,) if task.tabular else task.observation_space.shape
    act_shape = (task.action_space.n,) if task.tabular else task.action_space.shape
    assert t.obs.shape == t.next_obs.shape == (96, *obs_shape)
    assert t.acts.shape == (96, *act_shape) and t.dones.shape == (96,)
    assert a.state_samples.shape == (40, *obs_shape) and a.action_samples.shape == (40, *act_shape)
    cont = t.dones[:-1] == 0
    assert torch.equal(t.next_obs[:-1][cont], t.obs[1:][cont])
    assert torch.equal(t.obs, b.transitions.obs) and torch.equal(a.action_samples, b.action_samples)


@pytest.mark.parametrize("name", ["pointmass", "pointmaze"])
def test_uniform_coverage_of_a_bounded_box_fills_it(name):
    task = load_task(name)
    s = task.coverage("uniform").sample(2000, 500, seed=0, cache=False)
    low = torch.as_tensor(task.observation_space.low)
    high = torch.as_tensor(task.observation_space.high)
    obs = s.transitions.obs
    assert ((obs >= low) & (obs <= high)).all() and (s.transitions.dones == 0).all()
    # uniform: each coordinate's mean is the box centre, its spread (high-low)/sqrt(12)
    np.testing.assert_allclose(obs.mean(0), (low + high) / 2, atol=0.06 * (high - low).max())
    np.testing.assert_allclose(obs.std(0), (high - low) / 12**0.5, rtol=0.1)
    acts = s.transitions.acts
    assert acts.min() >= -1 and acts.max() <= 1 and acts.std(0).min() > 0.5


def test_sampled_epic_on_a_coverage_sample_estimates_the_exact_epic(grid):
    """What the arrays are for: epic_distance on samples -> epic_distance_tabular."""
    from benchmark.metrics.epic import epic_distance, epic_distance_tabular

    s = grid.coverage("expert").sample(4000, 2000, seed=0, cache=False)
    exact_cov = grid.tabular.coverage["expert"]
    for other in ("sparse", "no_control_cost", "opposite"):
        exact = epic_distance_tabular(
            grid.tabular.rewards["ground_truth"],
            grid.tabular.rewards[other],
            state_dist=exact_cov.state_dist,
            action_dist=exact_cov.action_dist,
            transition_dist=exact_cov.transition_dist,
            discount=grid.discount,
        )
        sampled = epic_distance(
            grid.reward("ground_truth"),
            grid.reward(other),
            transitions=s.transitions,
            state_samples=s.state_samples,
            action_samples=s.action_samples,
            discount=grid.discount,
        )
        assert sampled == pytest.approx(exact, abs=0.01), other


@pytest.mark.slow  # a second interpreter importing torch + SB3 takes seconds
def test_a_fresh_process_draws_the_same_numbers(grid, tmp_path):
    """No hidden global RNG: another interpreter, with global seeds disturbed, agrees."""
    import subprocess
    import sys

    script = (
        "import random, sys, numpy, torch\n"
        "random.seed(99); numpy.random.seed(99); torch.manual_seed(99)\n"
        "from benchmark.tasks import load_task\n"
        "s = load_task('pointmass').coverage('mixture').sample(300, 50, seed=8, cache=False)\n"
        "torch.save({'obs': s.transitions.obs, 'acts': s.action_samples}, sys.argv[1])\n"
    )
    out = tmp_path / "sample.pt"
    subprocess.run([sys.executable, "-c", script, str(out)], check=True, timeout=120)
    theirs = torch.load(out, weights_only=True)
    ours = load_task("pointmass").coverage("mixture").sample(300, 50, seed=8, cache=False)
    assert torch.equal(theirs["obs"], ours.transitions.obs)
    assert torch.equal(theirs["acts"], ours.action_samples)


def test_episodes_keep_only_complete_episodes_of_the_same_rollout(grid):
    """8 streams of ceil(210 / 8) = 27 steps: one whole 20-step episode each, 7-step tails cut."""
    spec = grid.coverage("random").spec
    stream_seed = cov.derive_seed(0, 0)
    episodes = grid.coverage("random").episodes(210, seed=0)
    fragments = cov.rollout(grid, spec, 210, stream_seed)
    ends = torch.nonzero(episodes.dones).flatten()
    assert len(episodes) == 8 * grid.horizon
    assert ends.tolist() == [grid.horizon * (i + 1) - 1 for i in range(8)]
    inside = episodes.dones[:-1] == 0
    assert torch.equal(episodes.next_obs[:-1][inside], episodes.obs[1:][inside])
    # The same streams as the EPIC rollout of that seed, without the cut-off tails that
    # the rollout marks as episode ends.
    assert int(fragments.dones.sum()) == 16
    for i in range(8):
        whole = slice(20 * i, 20 * i + 20)
        stream = slice(27 * i, 27 * i + 20)
        assert torch.equal(episodes.obs[whole], fragments.obs[stream])
        assert torch.equal(episodes.acts[whole], fragments.acts[stream])


def test_episodes_errors_name_the_problem(grid):
    with pytest.raises(ValueError, match="no episodes") as error:
        grid.coverage("uniform").episodes(400, seed=0)
    assert str(error.value) == (
        "coverage 'uniform' draws independent transitions (policy 'uniform'); it has no episodes"
    )
    with pytest.raises(ValueError, match="no episode of coverage 'random' ends within 16"):
        grid.coverage("random").episodes(16, seed=0, cache=False)
    with pytest.raises(ValueError, match="positive integer"):
        grid.coverage("random").episodes(0, seed=0)


SEEDED_TASKS = ("gridworld", "pointmass", "pointmaze")


@pytest.mark.parametrize("name", SEEDED_TASKS)
def test_a_new_seed_changes_transitions_state_and_action_samples_of_every_policy(name):
    task = load_task(name)
    for coverage in task.coverage_names:
        a = task.coverage(coverage).sample(96, 64, seed=0, cache=False)
        b = task.coverage(coverage).sample(96, 64, seed=1, cache=False)
        for field, x, y in (
            ("transitions.obs", a.transitions.obs, b.transitions.obs),
            ("transitions.acts", a.transitions.acts, b.transitions.acts),
            ("transitions.next_obs", a.transitions.next_obs, b.transitions.next_obs),
            ("state_samples", a.state_samples, b.state_samples),
            ("action_samples", a.action_samples, b.action_samples),
        ):
            assert not torch.equal(x, y), f"{name}/{coverage}: seed 1 repeats seed 0's {field}"


def _rows_as_multiset(x: torch.Tensor) -> list[tuple[float, ...]]:
    return sorted(map(tuple, x.reshape(len(x), -1).tolist()))


@pytest.mark.parametrize("name", ["pointmass", "pointmaze"])
def test_state_and_action_samples_come_from_a_stream_independent_of_the_transitions(name):
    """D_S and D_A are drawn by a second, independent rollout (module docstring).

    Were they drawn from the transitions' own seed stream, the M state samples would be
    a permutation of the first M transitions' states (continuous states never repeat by
    chance), and EPIC's mean terms would reuse the very transitions they correct.
    """
    task = load_task(name)
    m = 64
    for coverage in task.coverage_names:
        s = task.coverage(coverage).sample(m, m, seed=0, cache=False)
        states, actions = _rows_as_multiset(s.state_samples), _rows_as_multiset(s.action_samples)
        assert states != _rows_as_multiset(s.transitions.obs), coverage
        assert actions != _rows_as_multiset(s.transitions.acts), coverage
        overlap = set(states) & set(_rows_as_multiset(s.transitions.obs))
        if task.coverage(coverage).spec.policy == "uniform":
            assert not overlap, coverage  # uniform states never coincide by chance


def test_episodes_of_a_single_transition(grid, tmp_path):
    """n = 1 is a positive size: with horizon 1 it is one whole episode."""
    path = tmp_path / "gridworld.toml"
    path.write_text(grid.path.read_text().replace("horizon = 20", "horizon = 1"))
    episodes = load_task(path).coverage("random").episodes(1, seed=0)
    assert len(episodes) == 1 and episodes.dones.tolist() == [1.0]


def test_exact_coverage_arrays_are_the_tasks_own_and_only_finite_tasks_have_them(grid):
    for name in grid.coverage_names:
        assert grid.coverage(name).exact() is grid.tabular.coverage[name]
    with pytest.raises(ValueError) as error:
        load_task("pointmass").coverage("random").exact()
    assert str(error.value) == "task 'pointmass' is not finite; it has no exact coverage arrays"
