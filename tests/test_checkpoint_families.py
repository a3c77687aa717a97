"""Checkpoint families: K submissions along one baseline training run (issue 17's population).

The last checkpoint must be the model the same run writes without checkpoints (taking a
copy draws no random numbers), each checkpoint an ordinary valid submission that records
its family and training progress.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from click.testing import CliRunner

from benchmark.baselines import airl, preferences, regression, train_baseline
from benchmark.baselines.common import Checkpoints, write_baseline
from benchmark.cli import main
from benchmark.submissions import SubmissionError, load_submission
from benchmark.tasks import load_task


def _state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoints_are_evenly_spaced_and_end_at_the_run_end():
    assert Checkpoints(5, 10_000, "steps").at == {2000, 4000, 6000, 8000, 10_000}
    assert Checkpoints(5, 58, "rounds").at == {12, 23, 35, 46, 58}  # round(j * 58 / 5)
    assert Checkpoints(0, 10, "steps").at == set()


@pytest.mark.parametrize("k", [1, 6, -2])
def test_a_checkpoint_count_the_run_cannot_give_is_refused(k):
    with pytest.raises(ValueError, match=r"--checkpoints must be between 2 and the run's 5 "):
        Checkpoints(k, 5, "iterations")


def test_regression_family_last_checkpoint_is_the_standard_model(tmp_path):
    gridworld = load_task("gridworld")
    budget = dataclasses.replace(regression.BUDGETS["smoke"], steps=50)
    plain = regression.train_regression(gridworld, budget, seed=2)
    family = regression.train_regression(gridworld, budget, seed=2, checkpoints=5)
    assert [c.done for c in family.checkpoints] == [10, 20, 30, 40, 50]
    assert _equal(_state(family.checkpoints[-1].net), _state(plain.net))
    assert _equal(_state(family.net), _state(plain.net))
    assert not _equal(_state(family.checkpoints[0].net), _state(plain.net))


def test_train_baseline_writes_a_family_of_valid_submissions(tmp_path):
    written = train_baseline(
        "regression", "gridworld", budget="smoke", seed=1, root=tmp_path, checkpoints=4
    )
    assert [s.name for s in written] == [f"gridworld-regression-ckpt{k}" for k in (1, 2, 3, 4)]
    assert all(s.family == "gridworld-regression" and s.method == "regression" for s in written)
    progress = [s.provenance["checkpoint"]["progress"] for s in written]
    assert progress == [0.25, 0.5, 0.75, 1.0]
    assert written[-1].provenance["checkpoint"] == {
        "index": 4, "of": 4, "progress": 1.0, "done": 100, "total": 100, "unit": "steps"
    }  # fmt: skip
    assert written[0].provenance["command"].endswith("--seed 1 --checkpoints 4")
    # the run's final metrics describe the last checkpoint only
    assert "metrics" in written[-1].provenance and "metrics" not in written[0].provenance
    (standard,) = train_baseline("regression", "gridworld", budget="smoke", seed=1,
                                 root=tmp_path / "standard")  # fmt: skip
    assert written[-1].sha256 == standard.sha256 and written[0].sha256 != standard.sha256
    assert load_submission(written[1].path).family == "gridworld-regression"


def test_airl_family_last_checkpoint_is_the_standard_base(tmp_path):
    gridworld = load_task("gridworld")
    budget = dataclasses.replace(airl.BUDGETS["smoke"], total_timesteps=1280, ppo_n_steps=64)
    plain = airl.train_airl(gridworld, budget, seed=0, state_only=True)
    family = airl.train_airl(gridworld, budget, seed=0, state_only=True, checkpoints=5)
    assert [(c.done, c.total, c.unit) for c in family.checkpoints] == [
        (r, 5, "rounds") for r in range(1, 6)
    ]
    assert _equal(_state(family.checkpoints[-1].net), _state(plain.net))
    sub = write_baseline(
        result=family, task=gridworld, method="airl-state-only", method_label="AIRL (state-only)",
        budget_name="smoke", budget=budget, seed=0, root=tmp_path, seconds=0.0, checkpoint=2,
    )  # fmt: skip
    assert (
        sub.name == "gridworld-airl-state-only-ckpt2" and sub.family == "gridworld-airl-state-only"
    )


@pytest.mark.slow
def test_preferences_family_checkpoints_each_iteration():
    gridworld = load_task("gridworld")
    budget = dataclasses.replace(preferences.BUDGETS["smoke"], num_iterations=3)
    # imitation trains the reward once on the initial comparisons, then once per iteration
    family = preferences.train_preferences(gridworld, budget, seed=0, checkpoints=4)
    assert [c.done for c in family.checkpoints] == [1, 2, 3, 4]
    assert _equal(_state(family.checkpoints[-1].net), _state(family.net))


def test_family_field_must_name_the_checkpoint(tmp_path):
    (sub,) = train_baseline("regression", "gridworld", budget="smoke", root=tmp_path)
    toml = sub.path / "submission.toml"
    text = toml.read_text()
    toml.write_text(text.replace('method = "regression"', 'method = "regression"\nfamily = "x"'))
    with pytest.raises(SubmissionError, match=r"family must be a string with the name"):
        load_submission(sub.path)


def test_checkpoints_cli_errors_are_one_clear_line(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["baselines", "train", "--method", "sanity", "--task",
                                  "gridworld", "--checkpoints", "5", "--root", str(tmp_path)])  # fmt: skip
    assert result.exit_code != 0 and "--checkpoints applies to trained baselines" in result.output
    result = runner.invoke(main, ["baselines", "train", "--method", "regression", "--task",
                                  "gridworld", "--budget", "smoke", "--checkpoints", "1",
                                  "--root", str(tmp_path)])  # fmt: skip
    assert result.exit_code != 0 and "--checkpoints must be between 2" in result.output
