"""compare: two rewards given as submission folders, model files or task reward names."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from imitation.rewards.reward_nets import BasicRewardNet
from safetensors.torch import save_file

from benchmark.cli import main
from benchmark.evaluation import EvaluationError, compare
from benchmark.metrics.epic import epic_distance_with_ci
from benchmark.submissions import SubmissionError, export_reward
from benchmark.submissions.conversion import example_inputs
from benchmark.tasks import load_task

REPO = Path(__file__).resolve().parents[1]
SUBS = REPO / "submissions"
SMOKE = dict(budget="smoke")


@pytest.fixture(scope="module")
def task():
    return load_task("gridworld")


@pytest.fixture(scope="module")
def net(task):
    torch.manual_seed(3)
    return BasicRewardNet(task.observation_space, task.action_space, hid_sizes=(8,)).eval()


def test_shaped_submission_is_at_epic_zero_and_negated_at_one_on_every_coverage(task):
    """EPIC ignores potential shaping (0) and D_EPIC(R, -R) = 1 (Gleave et al. 2021, Prop. 3)."""
    shaped = compare(SUBS / "gridworld-ground-truth", SUBS / "gridworld-shaped", **SMOKE)
    assert shaped.task == "gridworld"
    assert {d.coverage for d in shaped.distances} == set(task.coverage_names)
    for d in shaped.distances:
        assert d.value == pytest.approx(0.0, abs=1e-5)
        assert d.ci_low <= d.value + 1e-9 <= d.ci_high + 2e-9
    negated = compare(SUBS / "gridworld-ground-truth", SUBS / "gridworld-negated", **SMOKE)
    for d in negated.distances:
        assert d.value == pytest.approx(1.0, abs=1e-6)


def test_reward_names_of_the_task_compare_like_submissions():
    by_name = compare("ground_truth", "shaped", task="gridworld", coverages=["random"], **SMOKE)
    assert by_name.value("epic", "random") == pytest.approx(0.0, abs=1e-5)


def test_two_model_files_of_one_net_are_at_distance_zero(tmp_path, task, net):
    """A .pt2 export and a .pt pickle of the same net are the same reward function."""
    export_reward(net, example_inputs(task), tmp_path / "mine.pt2")
    torch.save(net, tmp_path / "mine.pt")
    both = compare(tmp_path / "mine.pt2", tmp_path / "mine.pt", task="gridworld",
                   trust_pickle=True, coverages=["random", "expert"], **SMOKE)  # fmt: skip
    assert [d.value for d in both.distances] == pytest.approx([0.0, 0.0], abs=1e-6)
    assert (both.a, both.b) == ("mine.pt2", "mine.pt")


def test_a_model_file_against_the_ground_truth_is_the_direct_metric_call(tmp_path, task, net):
    weights = tmp_path / "weights.safetensors"
    save_file(net.state_dict(), weights)
    result = compare(weights, "ground_truth", task="gridworld", coverages=["mixture"], seed=2,
                     architecture="BasicRewardNet", options={"hid_sizes": [8]}, **SMOKE)  # fmt: skip
    sample = task.coverage("mixture").sample(256, 64, 2)
    direct = epic_distance_with_ci(net, task.reward("ground_truth"), transitions=sample.transitions,
                                   state_samples=sample.state_samples,
                                   action_samples=sample.action_samples,
                                   discount=task.discount, seed=2,
                                   state_blocks=sample.state_blocks,
                                   action_blocks=sample.action_blocks)  # fmt: skip
    d = result.distances[0]
    assert (d.n_transitions, d.n_samples, d.seed) == (256, 64, 2)
    assert d.value == pytest.approx(direct.distance, abs=1e-6)
    assert (d.ci_low, d.ci_high) == pytest.approx((direct.ci_low, direct.ci_high), abs=1e-6)


def test_compare_with_the_ground_truth_brackets_the_exact_value(task):
    """Gridworld EPIC has an exact value (the board's unit; its rows are checked against it
    in test_committed_leaderboard); compare samples it at the standard sizes and its
    two-source interval contains it. Exact from the shipped model, not the board's row, so a
    retrained submission is checked before its board rows are recomputed."""
    from benchmark.metrics.epic import epic_distance_tabular
    from benchmark.submissions import load_submission
    from benchmark.tasks.tabular import reward_table

    tab = task.tabular
    cov = tab.coverage["random"]
    reward = load_submission(SUBS / "gridworld-regression").load_reward()
    exact = epic_distance_tabular(
        reward_table(reward, tab.n_states, tab.n_actions), tab.rewards["ground_truth"],
        state_dist=cov.state_dist, action_dist=cov.action_dist,
        transition_dist=cov.transition_dist, discount=task.discount,
    )  # fmt: skip
    result = compare(SUBS / "gridworld-regression", "ground_truth", coverages=["random"])
    (d,) = result.distances
    assert d.ci_low <= exact <= d.ci_high
    assert d.value == pytest.approx(exact, abs=1e-3)


def test_erc_uses_complete_episodes_and_skips_uniform_coverage(task):
    result = compare("ground_truth", "opposite", task="gridworld", metrics=["erc"], **SMOKE)
    assert [d.coverage for d in result.distances] == [
        c for c in task.coverage_names if task.coverage(c).spec.policy != "uniform"
    ]
    for d in result.distances:
        assert d.value == pytest.approx(1.0, abs=1e-9)  # returns exactly negated
        assert d.n_samples == 0


def test_bad_sides_are_named_with_what_to_do(tmp_path, net):
    with pytest.raises(EvaluationError, match="not a submission folder, a model file, or a reward"):
        compare("nonexistent", "ground_truth", task="gridworld")
    with pytest.raises(EvaluationError, match="give --task"):
        compare("ground_truth", "shaped")
    torch.save(net, tmp_path / "net.pt")
    with pytest.raises(SubmissionError, match="trust-pickle"):
        compare(tmp_path / "net.pt", "ground_truth", task="gridworld", **SMOKE)
    save_file(net.state_dict(), tmp_path / "w.safetensors")
    with pytest.raises(SubmissionError, match="--architecture"):
        compare(tmp_path / "w.safetensors", "ground_truth", task="gridworld", **SMOKE)
    with pytest.raises(EvaluationError, match="transfer scores one reward: use evaluate"):
        compare("ground_truth", "shaped", task="gridworld", metrics=["transfer"])


def test_cli_prints_each_distance_with_its_interval(tmp_path, net, task):
    export_reward(net, example_inputs(task), tmp_path / "mine.pt2")
    result = CliRunner().invoke(
        main,
        [
            "compare",
            str(tmp_path / "mine.pt2"),
            str(SUBS / "gridworld-negated"),
            "--coverage",
            "random",
            "--budget",
            "smoke",
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    assert "mine.pt2 vs gridworld-negated on gridworld" in result.output
    line = next(ln for ln in result.output.splitlines() if " random " in ln)
    assert "epic" in line and "256 x 64" in line and "[" in line
    bad = CliRunner().invoke(main, ["compare", "a", "b", "--task", "gridworld"])
    assert bad.exit_code != 0 and "Traceback" not in bad.output
    assert "not a submission folder" in bad.output


def test_starc_and_dard_are_zero_for_a_shaped_reward_and_one_for_its_negation():
    """Both are invariant to potential shaping (Skalse et al. 2024; Wulfe et al. 2022)."""
    for metric in ("starc", "dard"):
        shaped = compare("ground_truth", "shaped", task="gridworld", metrics=[metric],
                         coverages=["random"], **SMOKE)  # fmt: skip
        assert shaped.value(metric, "random") == pytest.approx(0.0, abs=1e-5)
        opposite = compare("ground_truth", "opposite", task="gridworld", metrics=[metric],
                           coverages=["random"], **SMOKE)  # fmt: skip
        assert opposite.value(metric, "random") == pytest.approx(1.0, abs=1e-5)
