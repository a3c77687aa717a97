"""Reoptimization transfer on the real tasks: good rewards score ~1, a negated one ≤ ~0.

Gridworld is reoptimized exactly (value iteration), so its scores are exact. PointMass
trains PPO at the ``smoke`` budget on its batched torch environment with fixed seeds.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile

import pytest
import torch

from benchmark.metrics import reoptimize, transfer
from benchmark.metrics.transfer import (
    REFERENCE_SEEDS,
    TransferResult,
    committed_reference_path,
    normalized_score,
    publish_reference_runs,
    reference_cache_path,
    reference_returns,
    transfer_score,
    transfer_scores,
)
from benchmark.metrics.transfer_reference import reference_seeds
from benchmark.tasks import load_task
from benchmark.tasks.task import budget_hash


def negated(reward):
    return lambda obs, acts, next_obs, dones: -reward(obs, acts, next_obs, dones)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EPIC_BENCH_CACHE", str(tmp_path / "cache"))
    # The board's committed reference runs are read first; tests publish into their own.
    monkeypatch.setenv("EPIC_BENCH_REFERENCES", str(tmp_path / "references"))


# --------------------------------------------------------------------------- gridworld (exact)


@pytest.fixture(scope="module")
def gridworld():
    return load_task("gridworld")


@pytest.mark.parametrize("variant", ["test", "train"])
@pytest.mark.parametrize("name", ["ground_truth", "shaped"])
def test_gridworld_ground_truth_and_shaped_rewards_transfer_exactly(gridworld, name, variant):
    result = transfer_score(
        gridworld.reward(name), gridworld, budget="smoke", seed=0, variant=variant
    )
    assert result.normalized == pytest.approx(1.0, abs=1e-9)
    assert result.ground_truth_return == pytest.approx(result.reference_return, abs=1e-9)
    assert result.reference_return > result.random_return
    assert result.algorithm == "value_iteration" and result.variant == variant


def test_gridworld_rescaled_reward_transfers_exactly(gridworld):
    gt = gridworld.reward("ground_truth")
    result = transfer_score(lambda *x: 7.5 * gt(*x) - 3.0, gridworld, budget="smoke", seed=0)
    assert result.normalized == pytest.approx(1.0, abs=1e-9)


def test_gridworld_negated_reward_transfers_worse_than_random(gridworld):
    result = transfer_score(
        negated(gridworld.reward("ground_truth")), gridworld, budget="smoke", seed=0
    )
    assert result.normalized < 0.0
    assert result.ground_truth_return < result.random_return


def test_gridworld_test_variant_changes_the_dynamics_of_the_score(gridworld):
    """The slippery test variant is harder: its ground-truth optimum is worth less."""
    test = transfer_score(gridworld.reward("ground_truth"), gridworld, budget="smoke", seed=0)
    train = transfer_score(
        gridworld.reward("ground_truth"), gridworld, budget="smoke", seed=0, variant="train"
    )
    assert test.reference_return < train.reference_return


# --------------------------------------------------------------------------- pointmass (PPO, smoke)


@pytest.fixture(scope="module")
def pointmass():
    return load_task("pointmass")


@pytest.fixture(scope="module")
def pointmass_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("pointmass-cache")


@pytest.fixture
def shared_cache(pointmass_cache, monkeypatch):
    """One reference computation (random + ground-truth-trained PPO) for the module's tests."""
    monkeypatch.setenv("EPIC_BENCH_CACHE", str(pointmass_cache))


def test_ground_truth_through_the_wrapper_reproduces_a_reference_run(pointmass, shared_cache):
    """Same algorithm, budget and seed: training on the gt RewardFn through the wrapper is
    a reference run (trained on the env's own reward), so the returns agree exactly."""
    ref = transfer.reference(pointmass, "smoke")
    assert ref.seeds == transfer.REFERENCE_SEEDS and ref.n_runs == 5
    assert ref.reference_mean > ref.random_mean + 50, "smoke budget must learn"
    budget = pointmass.budgets["smoke"]
    seed = ref.seeds[0]
    model = reoptimize.train_policy(pointmass, pointmass.reward("ground_truth"), budget, seed=seed)
    assert (
        reoptimize.evaluate_policy(pointmass, model, budget, seed=seed)
        == (ref.reference_returns[0])
    )


def test_ground_truth_scores_one_within_the_reference_noise(pointmass, shared_cache):
    """The sanity entry retrained on a submission seed is one more draw of the reference:
    within a few reference standard deviations of 1 (here 4, on the normalized scale)."""
    result = transfer_score(pointmass.reward("ground_truth"), pointmass, budget="smoke", seed=0)
    assert result.n_reference_runs == 5
    spread = result.reference_std / (result.reference_return - result.random_return)
    assert abs(result.normalized - 1.0) <= 4 * spread + 0.05, result
    by_hand = (result.ground_truth_return - result.random_return) / (
        result.reference_return - result.random_return
    )
    assert result.normalized == pytest.approx(by_hand, rel=1e-12)


def test_a_reference_seed_is_refused_as_a_submission_seed(pointmass):
    with pytest.raises(ValueError, match="reference seeds"):
        transfer_score(pointmass.reward("shaped"), pointmass, budget="smoke", seed=1002)


def test_pointmass_shaped_reward_transfers_well(pointmass, shared_cache):
    result = transfer_score(pointmass.reward("shaped"), pointmass, budget="smoke", seed=0)
    assert 0.8 < result.normalized < 1.3, result


def test_pointmass_negated_reward_transfers_badly(pointmass, shared_cache):
    result = transfer_score(
        negated(pointmass.reward("ground_truth")), pointmass, budget="smoke", seed=0
    )
    assert result.normalized < 0.1, result


# --------------------------------------------------------------------------- references cache


def tiny_budget(pointmass, **changes):
    """A budget of one small PPO update: enough to exercise caching and seeding."""
    base = pointmass.budgets["smoke"]
    hyperparams = {**base.hyperparams, "n_steps": 32, "batch_size": 128, "n_epochs": 1}
    fields = {"total_timesteps": 256, "n_envs": 8, "eval_episodes": 4, "hyperparams": hyperparams}
    return dataclasses.replace(base, **{**fields, **changes})


def test_references_are_cached_and_reused(pointmass, monkeypatch):
    budget = tiny_budget(pointmass)
    monkeypatch.setattr(pointmass, "budgets", {**pointmass.budgets, "smoke": budget})
    first = transfer.reference(pointmass, "smoke", seeds=[3, 4])
    path = reference_cache_path(pointmass, "test", "smoke", 3)
    assert path.name == f"pointmass-v{pointmass.version}-p2-test-smoke-seed3.json"
    record = json.loads(path.read_text())
    assert (record["random_return"], record["reference_return"]) == (
        first.random_returns[0],
        first.reference_returns[0],
    )
    # The cached values are what a second call returns (no recomputation).
    record["reference_return"] = 123.0
    path.write_text(json.dumps(record))
    again = transfer.reference(pointmass, "smoke", seeds=[3, 4])
    assert again.reference_returns == (123.0, first.reference_returns[1])
    # The normalizer is the mean of the runs, its spread their sample std (ddof 1).
    a, b = 123.0, first.reference_returns[1]
    assert reference_returns(pointmass, "smoke", seeds=[3, 4])[1] == pytest.approx((a + b) / 2)
    assert again.reference_std == pytest.approx(abs(a - b) / math.sqrt(2))


def test_reference_cache_is_per_device_type(pointmass):
    cpu = reference_cache_path(pointmass, "test", "smoke", 0)
    assert reference_cache_path(pointmass, "test", "smoke", 0, "cpu") == cpu
    gpu = reference_cache_path(pointmass, "test", "smoke", 0, "cuda:0")
    assert gpu != cpu and gpu.name.endswith("-seed0-cuda.json")
    assert reference_cache_path(pointmass, "test", "smoke", 0, "cuda") == gpu


def test_changed_budget_recomputes_references(pointmass, monkeypatch):
    budgets = dict(pointmass.budgets)
    monkeypatch.setattr(pointmass, "budgets", budgets)
    budgets["smoke"] = tiny_budget(pointmass)
    reference_returns(pointmass, "smoke", seeds=[3])
    path = reference_cache_path(pointmass, "test", "smoke", 3)
    record = json.loads(path.read_text())
    record["reference_return"] = 123.0
    path.write_text(json.dumps(record))
    budgets["smoke"] = tiny_budget(pointmass, eval_episodes=5)
    assert reference_returns(pointmass, "smoke", seeds=[3])[1] != 123.0
    assert json.loads(path.read_text())["budget_hash"] != record["budget_hash"]


def test_corrupt_cache_is_recomputed_with_a_warning(pointmass, monkeypatch):
    monkeypatch.setattr(
        pointmass, "budgets", {**pointmass.budgets, "smoke": tiny_budget(pointmass)}
    )
    path = reference_cache_path(pointmass, "test", "smoke", 4)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    with pytest.warns(UserWarning, match="corrupt"):
        r_random, _ = reference_returns(pointmass, "smoke", seeds=[4])
    assert json.loads(path.read_text())["random_return"] == r_random


def test_same_seed_same_numbers_and_seeds_differ(pointmass, monkeypatch):
    monkeypatch.setattr(
        pointmass, "budgets", {**pointmass.budgets, "smoke": tiny_budget(pointmass)}
    )
    reward = pointmass.reward("shaped")
    a = transfer_score(reward, pointmass, budget="smoke", seed=5, reference_seeds=[7])
    b = transfer_score(reward, pointmass, budget="smoke", seed=5, reference_seeds=[7])
    assert a.ground_truth_return == b.ground_truth_return
    assert a.random_return == b.random_return
    c = transfer_score(reward, pointmass, budget="smoke", seed=6, reference_seeds=[7])
    assert c.ground_truth_return != a.ground_truth_return  # another seed trains another policy
    # The random policy's seed draws other actions on the same (fixed) episode set.
    budget = pointmass.budgets["smoke"]
    assert transfer.evaluate_random(pointmass, budget, seed=6) != transfer.evaluate_random(
        pointmass, budget, seed=7
    )


# --------------------------------------------------------------------------- results and errors


def test_result_to_dict_has_the_leaderboard_fields(gridworld):
    d = transfer_score(gridworld.reward("sparse"), gridworld, budget="smoke", seed=0).to_dict()
    for key in ("ground_truth_return", "normalized", "random_return", "reference_return",
                "variant", "budget", "seed", "algorithm", "timesteps", "wall_time_s"):  # fmt: skip
        assert key in d
    assert TransferResult(**d).to_dict() == d


def test_transfer_scores_aggregates_seeds_with_a_ci(gridworld):
    summary = transfer_scores(
        gridworld.reward("sparse"), gridworld, budget="smoke", seeds=[0, 1, 2]
    )
    assert len(summary.results) == 3 and [r.seed for r in summary.results] == [0, 1, 2]
    assert summary.ci_low <= summary.normalized_mean <= summary.ci_high


def test_degenerate_references_give_nan_with_a_warning():
    with pytest.warns(RuntimeWarning, match="does not beat the random"):
        assert math.isnan(normalized_score(-10.0, -100.0, -100.0 + 1e-9))
    with pytest.warns(RuntimeWarning):
        assert math.isnan(normalized_score(-10.0, -100.0, -120.0))
    assert normalized_score(-55.0, -100.0, -10.0) == pytest.approx(0.5)


def test_unknown_budget_and_variant_are_rejected_clearly(gridworld):
    gt = gridworld.reward("ground_truth")
    with pytest.raises(KeyError, match="choose one of"):
        transfer_score(gt, gridworld, budget="huge", seed=0)
    with pytest.raises(ValueError, match="variant must be one of"):
        transfer_score(gt, gridworld, budget="smoke", seed=0, variant="eval")


def test_sb3_hyperparams_from_toml_are_converted():
    kwargs, wrappers = reoptimize._sb3_kwargs(
        {
            "policy_kwargs": {"activation_fn": "relu", "net_arch": [8]},
            "train_freq": [1, "step"],
            "normalize_reward": True,
            "gamma": 0.9,
        }  # fmt: skip
    )
    assert kwargs["policy_kwargs"]["activation_fn"] is torch.nn.ReLU
    assert kwargs["train_freq"] == (1, "step") and kwargs["gamma"] == 0.9
    assert wrappers == {"normalize_reward": True} and "normalize_reward" not in kwargs


def test_normalize_reward_wraps_training_in_vec_normalize(pointmass):
    from stable_baselines3.common.vec_env import VecNormalize

    budget = tiny_budget(pointmass)
    budget = dataclasses.replace(
        budget, hyperparams={**budget.hyperparams, "normalize_reward": True}
    )
    model = transfer.train_policy(pointmass, pointmass.reward("shaped"), budget, seed=0)
    env = model.get_env()
    assert isinstance(env, VecNormalize) and env.norm_reward and not env.norm_obs
    assert math.isfinite(transfer.evaluate_policy(pointmass, model, budget, seed=0))


def test_a_custom_budget_object_is_scored_and_its_references_cached(pointmass):
    budget = tiny_budget(pointmass)
    result = transfer_score(pointmass.reward("shaped"), pointmass, budget=budget, seed=0,
                            reference_seeds=[1000])  # fmt: skip
    assert result.budget == "custom" and result.timesteps == budget.total_timesteps
    assert reference_cache_path(pointmass, "test", "custom", 1000).exists()


def test_cli_transfer_refs_prints_the_references():
    from click.testing import CliRunner

    from benchmark.cli import main

    out = CliRunner().invoke(main, ["transfer", "refs", "--task", "gridworld", "--budget", "smoke"])
    assert out.exit_code == 0, out.output
    # gridworld is exact: per variant one run ("exact") and the mean of the runs
    assert out.output.count("R_gt") == 4
    r_random, r_ref = reference_returns(load_task("gridworld"), "smoke", variant="test")
    assert f"R_random {r_random:10.3f}  R_gt {r_ref:10.3f}" in out.output
    assert "0 = random policy, 1 = ground-truth-trained" in out.output


def _cache_reference_run(task, seed: int, r_random: float, r_gt: float) -> None:
    """A reference run as `reference_run` stores it, without training (known returns)."""
    path = reference_cache_path(task, "test", "smoke", seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"budget_hash": budget_hash(task.budgets["smoke"]),
                                "protocol": transfer.PROTOCOL_VERSION,
                                "random_return": r_random, "reference_return": r_gt}))  # fmt: skip


def test_cli_transfer_refs_fills_only_the_given_seeds_and_prints_no_partial_mean(pointmass):
    """`--seed` lets one command per core fill its share of the K runs; the mean of a share
    is not the normalizer, so it is not printed until all K are there."""
    from click.testing import CliRunner

    from benchmark.cli import main

    known = {s: (-100.0 - s % 10, -40.0 - s % 10) for s in REFERENCE_SEEDS}
    for s in REFERENCE_SEEDS[:2]:
        _cache_reference_run(pointmass, s, *known[s])
    args = ["transfer", "refs", "--task", "pointmass", "--budget", "smoke", "--variant", "test"]
    share = [a for s in REFERENCE_SEEDS[:2] for a in ("--seed", str(s))]
    out = CliRunner().invoke(main, [*args, *share])
    assert out.exit_code == 0, out.output
    for s in REFERENCE_SEEDS[:2]:
        assert f"seed {s} : R_random {known[s][0]:10.3f}  R_gt {known[s][1]:10.3f}" in out.output
    assert "seed mean" not in out.output and "run without --seed" in out.output

    for s in REFERENCE_SEEDS[2:]:
        _cache_reference_run(pointmass, s, *known[s])
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    mean_gt = sum(g for _, g in known.values()) / len(known)
    assert "seed mean : R_random" in out.output and f"R_gt {mean_gt:10.3f}" in out.output
    assert f"over {len(REFERENCE_SEEDS)} runs" in out.output


def test_a_committed_reference_run_is_read_before_the_cache(pointmass, monkeypatch):
    """The board's published runs normalize a fresh checkout's scores: nothing is retrained."""
    monkeypatch.setattr(
        pointmass, "budgets", {**pointmass.budgets, "smoke": tiny_budget(pointmass)}
    )
    _cache_reference_run(pointmass, 3, -1.0, -2.0)  # a machine's own run of the same seed
    committed = committed_reference_path(pointmass, "test", "smoke", 3)
    committed.parent.mkdir(parents=True)
    committed.write_text(json.dumps({"budget_hash": budget_hash(pointmass.budgets["smoke"]),
                                     "protocol": transfer.PROTOCOL_VERSION,
                                     "random_return": -100.0, "reference_return": -40.0}))  # fmt: skip
    assert reference_returns(pointmass, "smoke", seeds=[3]) == (-100.0, -40.0)
    # Seed 4 has no record anywhere: it is trained and cached, never published on its own.
    reference_returns(pointmass, "smoke", seeds=[4])
    assert reference_cache_path(pointmass, "test", "smoke", 4).exists()
    assert not committed_reference_path(pointmass, "test", "smoke", 4).exists()


def test_a_committed_reference_of_another_budget_is_recomputed(pointmass, monkeypatch):
    monkeypatch.setattr(
        pointmass, "budgets", {**pointmass.budgets, "smoke": tiny_budget(pointmass)}
    )
    committed = committed_reference_path(pointmass, "test", "smoke", 3)
    committed.parent.mkdir(parents=True)
    committed.write_text(json.dumps({"budget_hash": "0" * 16, "protocol": transfer.PROTOCOL_VERSION,
                                     "random_return": -100.0, "reference_return": -40.0}))  # fmt: skip
    with pytest.warns(UserWarning, match="another budget or protocol.*stale"):
        r_random, r_gt = reference_returns(pointmass, "smoke", seeds=[3])
    assert (r_random, r_gt) != (-100.0, -40.0)
    record = json.loads(reference_cache_path(pointmass, "test", "smoke", 3).read_text())
    assert (record["random_return"], record["reference_return"]) == (r_random, r_gt)


def test_published_runs_are_the_cached_records_and_a_missing_run_is_named(pointmass):
    _cache_reference_run(pointmass, 1000, -100.0, -40.0)
    [path] = publish_reference_runs(pointmass, "test", "smoke", [1000])
    cached = reference_cache_path(pointmass, "test", "smoke", 1000)
    assert path.name == cached.name
    assert json.loads(path.read_text()) == json.loads(cached.read_text())
    with pytest.raises(FileNotFoundError, match="seed1001.*transfer refs --task pointmass"):
        publish_reference_runs(pointmass, "test", "smoke", [1001])


def test_cli_transfer_refs_publish_writes_every_run_of_the_reference(pointmass):
    from click.testing import CliRunner

    from benchmark.cli import main

    for s in REFERENCE_SEEDS:
        _cache_reference_run(pointmass, s, -100.0 - s % 10, -40.0 - s % 10)
    out = CliRunner().invoke(main, ["transfer", "refs", "--task", "pointmass", "--budget", "smoke",
                                    "--variant", "test", "--publish"])  # fmt: skip
    assert out.exit_code == 0, out.output
    for s in REFERENCE_SEEDS:
        path = committed_reference_path(pointmass, "test", "smoke", s)
        assert f"published {path}" in out.output
        assert json.loads(path.read_text())["reference_return"] == -40.0 - s % 10


def test_cli_transfer_refs_rejects_a_seed_that_is_not_a_reference_seed():
    from click.testing import CliRunner

    from benchmark.cli import main

    out = CliRunner().invoke(main, ["transfer", "refs", "--task", "pointmass", "--seed", "7"])
    assert out.exit_code == 2 and "[7] are not reference seeds" in out.output
    assert str(list(REFERENCE_SEEDS)) in out.output


def _pointmass_with_k_runs(tmp_path, k: int):
    """PointMass's task file with ``[transfer] reference_runs = k`` (same name, version, budgets)."""
    path = tmp_path / "k" / "pointmass.toml"
    path.parent.mkdir()
    path.write_text(
        load_task("pointmass").path.read_text() + f"\n[transfer]\nreference_runs = {k}\n"
    )
    return path


def test_a_task_s_reference_runs_set_k_its_seeds_and_the_rows_n_reference_runs(tmp_path):
    """K is per task: its seeds are 1000 .. 1000 + K - 1, `reference` averages all K of them
    by default, and a submission may not train with any of them."""
    path = _pointmass_with_k_runs(tmp_path, 7)
    task = load_task(path)
    known = {s: (-100.0 - (s - 1000), -40.0 + 2 * (s - 1000)) for s in range(1000, 1007)}
    for s, (r_random, r_gt) in known.items():
        _cache_reference_run(task, s, r_random, r_gt)
    assert reference_seeds(task) == tuple(range(1000, 1007))
    ref = transfer.reference(task, "smoke")
    assert ref.seeds == tuple(range(1000, 1007)) and ref.n_runs == 7
    # by hand: reference returns -40, -38, ..., -28 (mean -34); random -100 .. -106 (mean -103)
    assert (ref.reference_mean, ref.random_mean) == (pytest.approx(-34.0), pytest.approx(-103.0))
    assert ref.reference_std == pytest.approx(
        math.sqrt(sum((2 * i - 6) ** 2 for i in range(7)) / 6)
    )
    with pytest.raises(ValueError, match="transfer seed 1006 is one of the reference seeds"):
        transfer_score(task.reward("ground_truth"), task, budget="smoke", seed=1006)
    # the default task keeps K = 5: its seed 1006 is an ordinary submission seed
    assert reference_seeds(load_task("pointmass")) == REFERENCE_SEEDS


def test_cli_transfer_refs_takes_the_task_s_own_k(tmp_path):
    """A seed beyond the default five is a reference seed of a task with K = 7, not of one
    with K = 5; the printed mean is over all seven."""
    from click.testing import CliRunner

    from benchmark.cli import main

    path = _pointmass_with_k_runs(tmp_path, 7)
    task = load_task(path)
    for s in range(1000, 1007):
        _cache_reference_run(task, s, -100.0, -40.0 - s % 10)
    args = ["transfer", "refs", "--budget", "smoke", "--variant", "test"]
    out = CliRunner().invoke(main, [*args, "--task", str(path)])
    assert out.exit_code == 0, out.output
    assert "over 7 runs" in out.output and f"R_gt {-43.0:10.3f}" in out.output
    out = CliRunner().invoke(main, [*args, "--task", str(path), "--seed", "1006"])
    assert out.exit_code == 0 and "filled reference seeds [1006] of [1000, " in out.output
    out = CliRunner().invoke(main, [*args, "--task", "pointmass", "--seed", "1006"])
    assert out.exit_code == 2 and "[1006] are not reference seeds of pointmass" in out.output


# --------------------------------------------------------------------------- slow: more seeds, MuJoCo


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_pointmass_smoke_transfer_is_reliable_across_seeds(pointmass, shared_cache, seed):
    shaped = transfer_score(pointmass.reward("shaped"), pointmass, budget="smoke", seed=seed)
    bad = transfer_score(
        negated(pointmass.reward("ground_truth")), pointmass, budget="smoke", seed=seed
    )
    assert 0.8 < shaped.normalized < 1.3 and bad.normalized < 0.1


@pytest.mark.slow
def test_halfcheetah_smoke_pipeline_runs_sac_on_a_learned_mlp_reward():
    """End to end on MuJoCo: SAC through the wrapper on an imitation reward net."""
    from imitation.rewards.reward_nets import BasicRewardNet

    task = load_task("halfcheetah")
    net = BasicRewardNet(task.observation_space, task.action_space, use_next_state=True)
    result = transfer_score(net, task, budget="smoke", seed=0)
    assert result.algorithm == "sac" and result.timesteps == task.budgets["smoke"].total_timesteps
    assert math.isfinite(result.ground_truth_return) and math.isfinite(result.random_return)
    assert math.isfinite(result.reference_return)


def test_transfer_scores_mean_is_the_mean_of_unequal_seed_scores(pointmass, monkeypatch):
    """Four seeds of a tiny PPO budget score differently; the summary's mean is their
    arithmetic mean (the IQM of four would drop the two extremes)."""
    monkeypatch.setattr(
        pointmass, "budgets", {**pointmass.budgets, "smoke": tiny_budget(pointmass)}
    )
    summary = transfer_scores(pointmass.reward("shaped"), pointmass, budget="smoke",
                              seeds=[0, 1, 2, 3], reference_seeds=[1000, 1001])  # fmt: skip
    scores = [r.normalized for r in summary.results]
    assert len(set(scores)) == 4, scores
    trimmed = sorted(scores)[1:3]
    assert abs(sum(trimmed) / 2 - sum(scores) / 4) > 1e-6  # mean and IQM differ here
    assert summary.normalized_mean == pytest.approx(sum(scores) / 4, abs=1e-12)
    assert summary.ci_low <= summary.normalized_mean <= summary.ci_high


def test_training_leaves_no_temporary_folder(pointmass, tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    reoptimize.train_policy(pointmass, pointmass.reward("shaped"), tiny_budget(pointmass), seed=0)
    assert [p.name for p in scratch.iterdir() if not p.name.startswith("torchinductor_")] == []


def test_gridworld_rows_say_exact_not_episodes(gridworld):
    """Value iteration samples no episodes: eval_episodes 0 and one exact reference run."""
    fields = transfer_score(gridworld.reward("sparse"), gridworld, budget="standard").row_fields()
    assert fields["eval_episodes"] == 0 and fields["n_reference_runs"] == 1
    assert fields["reference_std"] == 0.0 and fields["transfer_protocol"] == 2


def test_rows_record_the_digest_of_the_budget_they_trained_with(gridworld):
    """Equal budgets share a digest; changing any field, nested hyperparams included, changes it."""
    standard = gridworld.budgets["standard"]
    fields = transfer_score(gridworld.reward("sparse"), gridworld, budget="standard").row_fields()
    assert fields["transfer_budget_hash"] == budget_hash(dataclasses.replace(standard))
    longer = dataclasses.replace(standard, total_timesteps=standard.total_timesteps + 1)
    other_lr = dataclasses.replace(standard, hyperparams={**standard.hyperparams, "lr": 1.0})
    digests = {budget_hash(standard), budget_hash(longer), budget_hash(other_lr)}
    assert len(digests) == 3 and all(len(d) == 16 for d in digests)
