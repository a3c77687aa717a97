"""W&B tracking with real offline runs: files on disk, read back without a server."""

from __future__ import annotations

import pytest

from benchmark.evaluation.tracking import WandbTracker, read_offline_run
from benchmark.results import TRANSFER_COLUMNS, make_row


def _row(metric: str, value: float, seed: int = 0, **kw) -> dict:
    fields = dict(
        run_id="grp-1",
        submission="pm-reg",
        submission_sha256="cd" * 32,
        method="regression",
        task="pointmass",
        task_version="1",
        metric=metric,
        coverage="",
        seed=seed,
        budget="smoke",
        value=value,
        wall_time_s=1.5,
    )
    fields.update(kw)
    return make_row(**fields)


def test_each_unit_is_an_offline_run_in_the_call_group(tmp_path):
    tracker = WandbTracker("grp-1", mode="offline", directory=tmp_path)
    tracker.log_unit([_row("transfer", 0.8), _row("transfer_train", 0.9)])
    tracker.log_unit([_row("epic", 0.12, seed=3, coverage="uniform", budget="")])
    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 2
    logged = [read_offline_run(r) for r in runs]
    assert all(r["finished"] for r in logged)
    assert {r["group"] for r in logged} == {"grp-1"}
    by_metric = {r["config"]["metric"]: r for r in logged}
    transfer = by_metric["transfer"]
    assert transfer["summary"]["transfer"] == pytest.approx(0.8)
    assert transfer["summary"]["transfer_train"] == pytest.approx(0.9)
    assert transfer["config"]["submission_sha256"] == "cd" * 32
    assert transfer["config"]["budget"] == "smoke"
    assert transfer["config"]["torch_version"]
    epic = by_metric["epic"]
    assert epic["summary"]["epic"] == pytest.approx(0.12)
    assert epic["config"]["seed"] == 3 and epic["config"]["coverage"] == "uniform"


def test_failed_unit_records_its_error(tmp_path):
    tracker = WandbTracker("grp-2", mode="offline", directory=tmp_path)
    tracker.log_unit([_row("epic", float("nan"), status="failed", error="ValueError: shapes")])
    (run,) = (tmp_path / "wandb").glob("offline-run-*")
    logged = read_offline_run(run)
    assert logged["summary"]["failed"] == 1
    assert "shapes" in logged["summary"]["error"]


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="offline, online or disabled"):
        WandbTracker("g", mode="cloud")


def test_config_has_every_row_field_and_the_context_summary_the_raw_returns(tmp_path):
    tracker = WandbTracker("grp-3", mode="offline", directory=tmp_path)
    context = {"budget_name": "smoke", "authors": ["Ada Lovelace"], "model_format": "state-dict",
               "command": "epic-bench evaluate --budget smoke"}  # fmt: skip
    epic_row = _row("epic", 0.2, coverage="random", budget="", n_transitions=256, n_samples=64)
    tracker.log_unit([epic_row], context)
    raw = {"ground_truth_return": -12.5, "random_return": -40.0, "reference_return": -10.0}
    transfer_row = {**_row("transfer", 0.92), **raw}  # the raw returns behind the normalized score
    tracker.log_unit([transfer_row], context)
    runs = [read_offline_run(r) for r in sorted((tmp_path / "wandb").glob("offline-run-*"))]
    epic = next(r for r in runs if r["config"]["metric"] == "epic")
    measured = {"value", "ci_low", "ci_high", "status", "error", "wall_time_s", "timestamp"}
    measured |= set(TRANSFER_COLUMNS)  # transfer's raw returns and reference spread: summary
    assert set(epic_row) - measured <= set(epic["config"])
    assert epic["config"]["n_transitions"] == 256 and epic["config"]["n_samples"] == 64
    assert epic["config"]["budget_name"] == "smoke" and epic["config"]["authors"] == [
        "Ada Lovelace"
    ]
    assert epic["config"]["model_format"] == "state-dict"
    assert epic["config"]["command"] == "epic-bench evaluate --budget smoke"
    assert set(epic["tags"]) == {"metric:epic", "task:pointmass", "coverage:random", "budget:smoke"}
    transfer = next(r for r in runs if r["config"]["metric"] == "transfer")
    assert transfer["summary"]["transfer_ground_truth_return"] == pytest.approx(-12.5)
    assert transfer["summary"]["transfer_random_return"] == pytest.approx(-40.0)
    assert "ground_truth_return" not in transfer["config"]
    hint = tracker.sync_hint()
    assert f"2 offline runs in {tmp_path / 'wandb'}" in hint
    assert f"wandb sync {tmp_path / 'wandb'}/offline-run-*" in hint
