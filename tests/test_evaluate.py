"""The evaluation grid and runner end to end: real tasks, real submissions, real Parquet.

Submissions here are the ``task-reward`` format (a task's named reward, optionally
rescaled and potential-shaped), whose EPIC distances to the ground truth are known
exactly: a positively rescaled, shaped ground truth is at distance 0 and the negated
ground truth at distance 1 (Gleave et al., ICLR 2021, Prop. 1 and Sec. 4).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmark import evaluation as ev
from benchmark.cli import main
from benchmark.evaluation.tracking import read_offline_run
from benchmark.metrics.registry import (
    MIN_EPISODES,
    REGISTRY,
    episodes_rollout_length,
    min_episodes,
)
from benchmark.results import read_results
from benchmark.submissions import load_submission
from benchmark.tasks import load_task

# exact=False: these tests exercise the sampled path on the gridworld (its default is exact).
SMALL = dict(n_transitions=128, n_samples=32, exact=False)


@pytest.fixture
def submissions(tmp_path, private_cache, task_reward_submission) -> Path:
    root = tmp_path / "submissions"
    task_reward_submission(root, "gw-shaped", "ground_truth", scale=2.0, potential_scale=1.0)
    task_reward_submission(root, "gw-opposite", "opposite")
    task_reward_submission(root, "gw-nocost", "no_control_cost")
    return root


def test_grid_has_one_unit_per_submission_metric_coverage_seed(submissions):
    subs = ev.select_submissions(root=submissions, tasks=["gridworld"])
    units = ev.expand_grid(subs, metrics=["epic", "transfer"], seeds=2, budget="smoke", **SMALL)
    n_coverages = len(load_task("gridworld").coverage_names)
    assert len(units) == 3 * (n_coverages * 2 + 2)
    assert len({u.key() for u in units}) == len(units)
    transfer = [u for u in units if u.metric == "transfer"]
    assert all(u.coverage == "" and u.budget == "smoke" and u.n_transitions == 0 for u in transfer)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(tasks=["atlantis"]), "unknown task 'atlantis'"),
        (dict(coverages=["nowhere"]), "coverage 'nowhere'"),
        (dict(metrics=["epic", "vibes"]), "unknown metric 'vibes'"),
        (dict(seeds=0), "at least 1"),
        (dict(budget="huge"), "unknown budget"),
    ],
)
def test_bad_grid_requests_name_the_problem(submissions, kwargs, match):
    subs = ev.select_submissions(root=submissions)
    with pytest.raises(ev.EvaluationError, match=match):
        ev.expand_grid(subs, **{"metrics": ["epic"], **kwargs})


def test_parse_metrics_accepts_comma_lists():
    assert ev.parse_metrics(["epic,npec", "transfer", "epic"]) == ["epic", "npec", "transfer"]
    assert ev.parse_metrics([]) == list(ev.METRICS)


def test_epic_values_match_theory_and_runs_resume(submissions, tmp_path):
    results = tmp_path / "results"
    subs = ev.select_submissions(root=submissions)
    units = ev.expand_grid(
        subs, metrics=["epic"], coverages=["random", "uniform"], seeds=2, **SMALL
    )
    summary = ev.evaluate(units, results_dir=results, wandb=False, progress=False)
    assert summary.ok == len(units) == 3 * 2 * 2 and not summary.failed
    df = read_results(results)
    by = df.groupby("submission")["value"]
    assert by.max()["gw-shaped"] == pytest.approx(0.0, abs=1e-6)
    assert by.min()["gw-opposite"] == pytest.approx(1.0, abs=1e-6)
    assert 0.05 < by.mean()["gw-nocost"] < 0.95
    row = df.iloc[0]
    assert row["n_transitions"] == 128 and row["n_samples"] == 32 and row["wall_time_s"] > 0
    assert (df["ci_low"] <= df["value"] + 1e-12).all() and (
        df["value"] <= df["ci_high"] + 1e-12
    ).all()

    again = ev.evaluate(units, results_dir=results, wandb=False, progress=False)
    assert again.skipped == len(units) and again.ok == 0 and again.files == []

    more = ev.expand_grid(subs, metrics=["epic"], coverages=["random", "uniform"], seeds=3, **SMALL)
    third = ev.evaluate(more, results_dir=results, wandb=False, progress=False)
    assert third.skipped == len(units) and third.ok == 3 * 2

    forced = ev.evaluate(units[:2], results_dir=results, force=True, wandb=False, progress=False)
    assert forced.ok == 2 and len(read_results(results)) == len(more) + 2


def test_same_seed_same_numbers(submissions, tmp_path):
    subs = ev.select_submissions(root=submissions)
    units = ev.expand_grid(subs, metrics=["epic"], coverages=["mixture"], seeds=1, **SMALL)
    a = ev.evaluate(units, results_dir=tmp_path / "a", wandb=False, progress=False)
    b = ev.evaluate(units, results_dir=tmp_path / "b", wandb=False, progress=False)
    assert [v["value"] for v in a.values] == [v["value"] for v in b.values]


def test_failing_unit_is_recorded_and_the_rest_go_on(submissions, tmp_path, task_reward_submission):
    task_reward_submission(submissions, "gw-broken", "no_such_reward")
    subs = ev.select_submissions(root=submissions)
    units = ev.expand_grid(subs, metrics=["epic"], coverages=["random"], seeds=1, **SMALL)
    summary = ev.evaluate(units, results_dir=tmp_path / "r", wandb=False, progress=False)
    assert summary.ok == 3 and len(summary.failed) == 1
    label, error = summary.failed[0]
    assert "gw-broken" in label and "no_such_reward" in error
    df = read_results(tmp_path / "r")
    failed = df[df["status"] == "failed"]
    assert list(failed["submission"]) == ["gw-broken"] and math.isnan(failed["value"].iloc[0])
    assert "no_such_reward" in failed["error"].iloc[0]


def test_transfer_and_transfer_train_are_separate_units(submissions, tmp_path):
    subs = ev.select_submissions(root=submissions)
    score_only = ev.expand_grid(subs, metrics=["transfer"], seeds=1, budget="smoke")
    first = ev.evaluate(score_only, results_dir=tmp_path / "r", wandb=False, progress=False)
    assert set(read_results(tmp_path / "r")["metric"]) == {"transfer"}
    both = ev.expand_grid(subs, metrics=["transfer", "transfer_train"], seeds=1, budget="smoke")
    second = ev.evaluate(both, results_dir=tmp_path / "r", wandb=False, progress=False)
    # The test-variant units are resumed from the store; only the train variant runs.
    assert (second.skipped, second.ok) == (first.ok, len(both) - first.ok)
    df = read_results(tmp_path / "r").set_index(["submission", "metric"])["value"]
    assert len(df) == len(both)
    # Value iteration on a shaped, rescaled ground truth finds the optimal policy: 1 exactly.
    assert df[("gw-shaped", "transfer")] == pytest.approx(1.0, abs=1e-6)
    assert df[("gw-shaped", "transfer_train")] == pytest.approx(1.0, abs=1e-6)
    assert df[("gw-opposite", "transfer")] < 0.0


def test_cli_evaluate_logs_offline_wandb_and_leaderboard_reads_it(
    submissions, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    args = ["evaluate", "--task", "gridworld", "--metric", "epic", "--coverage", "random",
            "--seeds", "2", "--n-transitions", "128", "--n-samples", "32", "--sampled",
            "--submissions-root", str(submissions), "--wandb-mode", "offline"]  # fmt: skip
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "6 ok, 0 failed" in result.output
    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 6
    assert f"upload them with: wandb sync {tmp_path / 'wandb'}/offline-run-*" in result.output
    logged = [read_offline_run(r) for r in runs]
    assert len({r["group"] for r in logged}) == 1
    assert {r["config"]["budget_name"] for r in logged} == {"standard"}
    assert all(r["config"]["command"].startswith("epic-bench") for r in logged)
    assert all(r["config"]["authors"] and r["config"]["model_format"] for r in logged)
    shaped = [r for r in logged if r["config"]["submission"] == "gw-shaped"]
    assert all(abs(r["summary"]["epic"]) < 1e-6 for r in shaped)

    again = runner.invoke(main, args, catch_exceptions=False)
    assert "6 already in the store" in again.output
    # The summary still reports the grid's values, read back from the store.
    shaped_line = next(line for line in again.output.splitlines() if "gw-shaped" in line)
    assert "0.0000" in shaped_line and "(2 units)" in shaped_line

    board = runner.invoke(main, ["leaderboard", "--format", "csv"], catch_exceptions=False)
    lines = board.output.strip().splitlines()
    assert lines[0].startswith("task,metric,coverage,rank,submission") and len(lines) == 4
    assert lines[1].split(",")[4] == "gw-shaped"  # rank 1: distance 0

    built = runner.invoke(main, ["leaderboard", "build"], catch_exceptions=False)
    assert built.exit_code == 0
    assert (tmp_path / "leaderboard" / "site" / "index.html").is_file()
    assert "gw-opposite" in (tmp_path / "leaderboard" / "README.md").read_text()


def test_cli_rejects_unknown_task(submissions):
    result = CliRunner().invoke(
        main,
        ["evaluate", "--task", "atlantis", "--submissions-root", str(submissions), "--no-wandb"],
    )
    assert result.exit_code == 2 and "unknown task 'atlantis'" in result.output


def test_ctrl_c_keeps_finished_units_and_leaves_no_half_file(submissions, tmp_path, monkeypatch):
    subs = ev.select_submissions(root=submissions)
    units = ev.expand_grid(subs, metrics=["epic"], coverages=["random"], seeds=2, **SMALL)
    real = REGISTRY["epic"]
    calls = []

    def interrupted_on_third(inputs):  # Ctrl-C while unit 3 runs
        calls.append(inputs)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real.runner()(inputs)

    monkeypatch.setitem(REGISTRY, "epic", dataclasses.replace(real, run=interrupted_on_third))
    results = tmp_path / "r"
    with pytest.raises(KeyboardInterrupt):
        ev.evaluate(units, results_dir=results, wandb=False, progress=False, flush_every_units=100)
    assert len(read_results(results)) == 2
    assert [p.name for p in results.iterdir() if not p.name.endswith(".parquet")] == []
    monkeypatch.setitem(REGISTRY, "epic", real)
    resumed = ev.evaluate(units, results_dir=results, wandb=False, progress=False)
    assert resumed.skipped == 2 and resumed.ok == len(units) - 2


def test_sigterm_flushes_finished_units(submissions, tmp_path):
    """A preempted run (SIGTERM) keeps the units it finished and leaves no half file."""
    import os
    import re
    import signal
    import subprocess
    import sys

    results = tmp_path / "r"
    cmd = [sys.executable, "-m", "benchmark.cli", "evaluate", "--task", "gridworld",
           "--metric", "epic", "--seeds", "3", "--n-transitions", "128", "--n-samples", "32",
           "--sampled", "--submissions-root", str(submissions), "--results-dir", str(results), "--no-wandb"]  # fmt: skip
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            env={**os.environ, "TQDM_MININTERVAL": "0"})  # fmt: skip
    seen = b""
    # Any bar count >= 2, not exactly "2/36": tqdm may skip redraws under load.
    while proc.poll() is None and max(map(int, re.findall(rb"(\d+)/36", seen)), default=0) < 2:
        seen += os.read(proc.stderr.fileno(), 256)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode != 0, "the run finished before it could be interrupted"
    rows = read_results(results)
    assert 2 <= len(rows) < 36
    assert [p.name for p in results.iterdir() if not p.name.endswith(".parquet")] == []


def test_runner_epic_equals_the_metric_module(submissions):
    """The runner reuses C(ground truth) across submissions; numbers must not change."""
    from benchmark.metrics.epic import epic_distance_with_ci

    subs = ev.select_submissions(root=submissions)
    units = ev.expand_grid(subs, metrics=["epic"], coverages=["mixture"], seeds=2, **SMALL)
    task = load_task("gridworld")
    for unit in units:
        if unit.submission == "gw-shaped":
            continue  # distance 0: both sides are rounding noise
        (row,) = ev.run_unit(unit)
        sample = task.coverage(unit.coverage).sample(unit.n_transitions, unit.n_samples, unit.seed)
        reward = load_submission(unit.submission_path).load_reward()
        ref = epic_distance_with_ci(reward, task.reward("ground_truth"),
                                    transitions=sample.transitions,
                                    state_samples=sample.state_samples,
                                    action_samples=sample.action_samples,
                                    discount=task.discount, seed=unit.seed,
                                    state_blocks=sample.state_blocks,
                                    action_blocks=sample.action_blocks)  # fmt: skip
        assert row["value"] == pytest.approx(ref.distance, abs=1e-9)
        assert row["ci_low"] == pytest.approx(ref.ci_low, abs=1e-6)
        assert row["ci_high"] == pytest.approx(ref.ci_high, abs=1e-6)


def test_erc_skips_coverages_without_episodes(submissions):
    subs = ev.select_submissions(root=submissions)
    units = ev.expand_grid(subs, metrics=["erc"], seeds=1, **SMALL)
    task = load_task("gridworld")
    assert units and all(task.coverage(u.coverage).spec.policy != "uniform" for u in units)
    assert "uniform" in task.coverage_names


def test_erc_units_use_enough_complete_episodes(submissions, tmp_path):
    subs = ev.select_submissions(root=submissions)
    units = ev.expand_grid(subs, metrics=["erc"], seeds=1, **SMALL)
    task = load_task("gridworld")
    # 128 transitions over 8 streams would be 8 fragments of 16 steps, not one episode.
    expected = (min_episodes(task) + 8) * task.horizon
    assert {(u.n_transitions, u.n_samples) for u in units} == {(expected, 0)}
    ev.evaluate(units, results_dir=tmp_path / "r", wandb=False, progress=False)
    df = read_results(tmp_path / "r")
    assert set(df["status"]) == {"ok"} and set(df["n_samples"]) == {0}
    # The value is ERC on the complete episodes of that rollout, recomputed here.
    from benchmark.metrics.erc import erc_distance

    row = df[(df["submission"] == "gw-nocost") & (df["coverage"] == "mixture")].iloc[0]
    episodes = task.coverage("mixture").episodes(expected, 0)
    assert int(episodes.dones.sum()) >= MIN_EPISODES == min_episodes(task)
    sub = next(s for s in subs if s.name == "gw-nocost")
    truth = task.reward("ground_truth")
    assert row["value"] == pytest.approx(
        erc_distance(sub.load_reward(), truth, transitions=episodes, discount=task.discount),
        abs=1e-12,
    )
    assert row["n_episodes"] == int(episodes.dones.sum())


@pytest.mark.parametrize("name", ["pointmass", "pointmaze", "halfcheetah", "hopper"])
def test_erc_rollout_length_leaves_min_episodes_after_cutting_tails(name):
    task = load_task(name)
    n = episodes_rollout_length(task, 1024)
    n_envs = max(task.coverage(c).spec.n_envs for c in task.coverage_names)
    per_stream = math.ceil(n / n_envs)
    # Worst case, no episode ends early: each stream keeps per_stream // horizon episodes.
    assert n_envs * (per_stream // task.horizon) >= min_episodes(task)
    # >= 1000 episodes on short-episode tasks, >= 100 on the 1000-step MuJoCo tasks.
    assert min_episodes(task) == (1000 if task.horizon <= 100 else 100)


def test_dard_and_starc_units_through_the_registry(submissions, tmp_path):
    """The sampled path (SMALL has ``exact=False``): shaped copy 0, negation 1 (both distances'
    invariances); DARD on gridworld equals the exact DARD under the sample's own D_T and
    D_A, since the train dynamics are deterministic."""
    import numpy as np

    from benchmark.metrics.dard import dard_distance_tabular

    subs = ev.select_submissions(root=submissions)
    units = ev.expand_grid(subs, metrics=["dard", "starc"], coverages=["random"], seeds=1, **SMALL)
    ev.evaluate(units, results_dir=tmp_path / "r", wandb=False, progress=False)
    df = read_results(tmp_path / "r").set_index(["submission", "metric"])
    assert (df["status"] == "ok").all()
    for metric in ("dard", "starc"):
        assert df.loc[("gw-shaped", metric), "value"] == pytest.approx(0.0, abs=1e-5)
        assert df.loc[("gw-opposite", metric), "value"] == pytest.approx(1.0, abs=1e-6)
        row = df.loc[("gw-nocost", metric)]
        assert row["ci_low"] <= row["value"] <= row["ci_high"] and 0.01 < row["value"] < 0.99

    task = load_task("gridworld")
    tab = task.tabular
    sample = task.coverage("random").sample(SMALL["n_transitions"], SMALL["n_samples"], 0)
    t = sample.transitions
    s, a, s2 = (x.argmax(1).numpy() for x in (t.obs, t.acts, t.next_obs))
    d_t = np.zeros((tab.n_states, tab.n_actions, tab.n_states))
    np.add.at(d_t, (s, a, s2), 1.0 / len(s))
    d_a = np.bincount(sample.action_samples.argmax(1).numpy(), minlength=tab.n_actions)
    exact = dard_distance_tabular(
        tab.rewards["no_control_cost"], tab.rewards["ground_truth"],
        transition=tab.transitions["train"], action_dist=d_a / d_a.sum(), transition_dist=d_t,
        discount=task.discount,
    )  # fmt: skip
    assert df.loc[("gw-nocost", "dard"), "value"] == pytest.approx(exact, abs=1e-5)


def test_finite_task_units_are_exact_with_zero_width_intervals(submissions, tmp_path):
    import numpy as np

    from benchmark.metrics.dard import dard_distance_tabular
    from benchmark.metrics.epic import canonicalize_tabular as epic_canonicalize_tabular
    from benchmark.metrics.epic import epic_distance_tabular
    from benchmark.metrics.erc import erc_distance_tabular
    from benchmark.metrics.npec import npec_distance_tabular

    subs = ev.select_submissions(root=submissions)
    units = ev.expand_grid(subs, metrics=["epic", "npec", "erc", "dard", "starc"], seeds=3)
    task = load_task("gridworld")
    n_cov = len(task.coverage_names)
    # One unit per coverage (ERC: not on "uniform"), seed 0, no sample.
    assert len(units) == len(subs) * (4 * n_cov + n_cov - 1)
    assert {(u.seed, u.n_transitions, u.n_samples) for u in units} == {(0, 0, 0)}
    ev.evaluate(units, results_dir=tmp_path / "r", wandb=False, progress=False)
    df = read_results(tmp_path / "r")
    assert set(df["status"]) == {"ok"} and df["exact"].all()
    assert (df["ci_low"] == df["value"]).all() and (df["ci_high"] == df["value"]).all()
    tab = task.tabular
    truth = tab.rewards["ground_truth"]
    nocost = tab.rewards["no_control_cost"]  # the gw-nocost submission's table
    rows = df[df["submission"] == "gw-nocost"].set_index(["metric", "coverage"])["value"]
    for name, cov in tab.coverage.items():
        kw = dict(transition_dist=cov.transition_dist, discount=task.discount)
        assert rows[("npec", name)] == pytest.approx(npec_distance_tabular(nocost, truth, **kw))
        assert rows[("dard", name)] == pytest.approx(
            dard_distance_tabular(
                nocost,
                truth,
                transition=tab.transitions["train"],
                action_dist=cov.action_dist,
                **kw,
            )  # fmt: skip
        )
        # STARC's board estimand: EPIC-canonicalized rewards, L2 norm weighted by D_T,
        # written out from the definition: ½‖c_A/‖c_A‖ − c_B/‖c_B‖‖ with ‖x‖² = Σ D_T x².
        canon = [epic_canonicalize_tabular(r, state_dist=cov.state_dist,
                                           action_dist=cov.action_dist,
                                           discount=task.discount) for r in (nocost, truth)]  # fmt: skip
        w = cov.transition_dist
        unit = [c / np.sqrt((w * c**2).sum()) for c in canon]
        assert rows[("starc", name)] == pytest.approx(
            0.5 * np.sqrt((w * (unit[0] - unit[1]) ** 2).sum()), abs=1e-9
        )
        assert rows[("epic", name)] == pytest.approx(
            epic_distance_tabular(
                nocost, truth, state_dist=cov.state_dist, action_dist=cov.action_dist, **kw
            )  # fmt: skip
        )
    pi = tab.policies["mixture"]
    assert pi.modes.shape[0] == 2  # the paper's mixture: random and expert modes
    assert rows[("erc", "mixture")] == pytest.approx(
        erc_distance_tabular(
            nocost,
            truth,
            transition=tab.transitions["train"],
            initial_state_dist=tab.initial_state_dist,
            policy=pi.modes,
            horizon=task.horizon,
            discount=task.discount,
            mode_switch=pi.mode_switch,
            initial_mode=pi.initial_mode,
        )  # fmt: skip
    )
    opposite = df[(df["submission"] == "gw-opposite") & (df["metric"] == "epic")]["value"]
    assert ((opposite - 1.0).abs() < 1e-9).all()  # EPIC(-R, R) = 1 exactly


def test_the_commit_rows_carry_is_pinned_when_the_run_starts(tmp_path):
    """A transfer unit trains for ~16 min; the checkout can move meanwhile. The rows must
    name the commit the process started from, so it is resolved (and cached) before any
    unit runs, not when the first one finishes."""
    import benchmark.results.store as store

    store.git_commit.cache_clear()
    ev.evaluate([], results_dir=tmp_path / "r", wandb=False, progress=False)
    assert store.git_commit.cache_info().currsize == 1
