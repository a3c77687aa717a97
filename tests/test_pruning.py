"""Pruning retires rows of old task versions and retrained submissions, and loses nothing else."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmark import results
from benchmark.cli import main
from benchmark.results.pruning import PruneRefused, prune_results, stale_reasons
from benchmark.submissions import load_submission
from benchmark.tasks import load_task
from benchmark.tasks.task import budget_hash

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path):
    """A submissions root with one real submission and a results store of real Parquet files."""
    root = tmp_path / "submissions"
    shutil.copytree(REPO / "submissions" / "gridworld-random", root / "gridworld-random")
    sub = load_submission(root / "gridworld-random")
    version = str(load_task("gridworld").version)

    def row(seed, *, task_version=version, sha=sub.sha256, status="ok"):
        return results.make_row(
            submission=sub.name,
            submission_sha256=sha,
            method=sub.method,
            task="gridworld",
            task_version=task_version,
            metric="epic",
            coverage="random",
            seed=seed,
            value=0.5 if status == "ok" else float("nan"),
            status=status,
            error="" if status == "ok" else "ValueError: boom",
            schema_version=results.SCHEMA_VERSION,
        )

    out = tmp_path / "results"
    results.write_batch([row(0), row(1, task_version="0")], out, name="a")
    results.write_batch([row(2, sha="0" * 64), row(3, status="failed")], out, name="b")
    return root, out


def _current_identity(root: Path) -> dict:
    """Unit-key fields of a current row of the shipped gridworld-random (nothing stale)."""
    sub = load_submission(root / "gridworld-random")
    return dict(submission=sub.name, submission_sha256=sub.sha256, method=sub.method,
                task="gridworld", task_version=str(load_task("gridworld").version))  # fmt: skip


def test_dry_run_counts_and_changes_nothing(store):
    root, out = store
    before = sorted(p.name for p in out.iterdir())
    report = prune_results(out, submissions_root=root, dry_run=True)
    assert (report.kept, report.dropped) == (2, 2)
    assert report.reasons == {"old task version": 1, "submission retrained": 1}
    assert sorted(p.name for p in out.iterdir()) == before


def test_prune_keeps_exactly_the_current_rows(store):
    root, out = store
    report = prune_results(
        out, submissions_root=root, drop_failed=True, dry_run=False, confirm_large_drop=True
    )
    assert report.dropped == 3 and report.reasons["failed"] == 1
    frame = results.read_results(out)
    assert frame["seed"].tolist() == [0]
    assert results.result_files(out) == [report.file_written]


def test_cli_prune_reports_reasons(store):
    root, out = store
    args = ["results", "prune", "--results-dir", str(out), "--submissions-root", str(root)]
    dry = CliRunner().invoke(main, args)
    assert dry.exit_code == 0, dry.output
    assert "kept 2 rows, would drop 2" in dry.output and "--apply" in dry.output
    assert len(results.read_results(out)) == 4
    refused = CliRunner().invoke(main, [*args, "--apply"])
    assert refused.exit_code == 1 and "would drop 2 of 4 rows (50%" in refused.output
    assert "Traceback" not in refused.output and len(results.read_results(out)) == 4
    result = CliRunner().invoke(main, [*args, "--apply", "--confirm-large-drop"])
    assert result.exit_code == 0, result.output
    assert "kept 2 rows, dropped 2" in result.output
    assert sorted(results.read_results(out)["seed"]) == [0, 3]


def _unchanged(out: Path, before: list[str]) -> bool:
    return sorted(p.name for p in out.iterdir()) == before


@pytest.mark.parametrize("root_kind", ["empty", "missing", "a file"])
def test_prune_refuses_a_root_with_no_submissions(store, tmp_path, root_kind):
    _, out = store
    before = sorted(p.name for p in out.iterdir())
    root = tmp_path / "other-root"
    if root_kind == "empty":
        root.mkdir()
    elif root_kind == "a file":
        root.write_text("not a folder")
    with pytest.raises(PruneRefused, match="submission"):
        prune_results(out, submissions_root=root, dry_run=False, confirm_large_drop=True)
    assert _unchanged(out, before)


def test_an_empty_task_directory_makes_no_row_stale(store, tmp_path, monkeypatch):
    """$EPIC_BENCH_TASKS pointing at an empty folder must not make every row an unknown task."""
    root, out = store
    before = sorted(p.name for p in out.iterdir())
    (tmp_path / "no-tasks").mkdir()
    monkeypatch.setenv("EPIC_BENCH_TASKS", str(tmp_path / "no-tasks"))
    result = CliRunner().invoke(
        main, ["results", "prune", "--results-dir", str(out), "--submissions-root", str(root)]
    )
    assert result.exit_code == 0 and "kept 2 rows, would drop 2" in result.output
    assert "unknown task" not in result.output
    assert _unchanged(out, before)


def test_rows_of_a_submission_that_fails_to_load_are_kept(store):
    root, out = store
    shutil.copytree(REPO / "submissions" / "gridworld-airl", root / "gridworld-airl")
    airl = load_submission(root / "gridworld-airl")
    row = results.make_row(
        submission=airl.name, submission_sha256=airl.sha256, method=airl.method,
        task="gridworld", task_version=str(load_task("gridworld").version), metric="epic",
        coverage="random", seed=0, value=0.1,
    )  # fmt: skip
    results.write_batch([row], out, name="airl")
    (root / "gridworld-airl" / "submission.toml").write_bytes(b'name = "\xff\xfe"\n')
    report = prune_results(out, submissions_root=root, dry_run=True)
    assert report.kept == 3  # the two current gridworld-random rows and the broken one's row
    assert "submission removed" not in report.reasons


def test_prune_within_the_fraction_needs_no_confirmation(store):
    root, out = store
    sub = load_submission(root / "gridworld-random")
    version = str(load_task("gridworld").version)
    many = [
        results.make_row(
            submission=sub.name,
            submission_sha256=sub.sha256,
            method=sub.method,
            task="gridworld",
            task_version=version,
            metric="epic",
            coverage="expert",
            seed=seed,
            value=0.5,
        )  # fmt: skip
        for seed in range(30)
    ]
    results.write_batch(many, out, name="many")
    report = prune_results(out, submissions_root=root, dry_run=False)  # 2 of 34 rows: 6%
    assert (report.kept, report.dropped) == (32, 2)
    assert len(results.read_results(out)) == 32


def test_erc_rows_on_episode_fragments_are_retired(store):
    root, out = store
    common = dict(
        **_current_identity(root),
        metric="erc",
        coverage="random",
        seed=0,
        value=0.5,
    )
    old = results.make_row(**common, n_transitions=1024, n_samples=256)
    new = results.make_row(**common, n_transitions=1024, n_samples=0)
    results.write_batch([old, new], out, name="c")
    report = prune_results(out, submissions_root=root, dry_run=True)
    assert report.reasons["erc on episode fragments"] == 1
    assert report.kept == 3  # the two current epic rows and the episode-based erc row


def test_old_transfer_protocol_rows_go_only_when_asked_and_only_for_given_tasks(store):
    """Protocol-1 transfer rows (no transfer_protocol column value) are retired by the
    opt-in flag, within the named tasks; files without a stale row are left untouched."""
    root, out = store
    common = dict(**_current_identity(root), metric="transfer", budget="standard", value=0.5)  # fmt: skip
    old = results.make_row(**common, seed=0)
    new = results.make_row(**common, seed=1, transfer_protocol=2, policy_return=1.0,
                           random_return=0.0, reference_return=2.0, reference_std=0.0,
                           random_std=0.0, n_reference_runs=1, eval_episodes=100)  # fmt: skip
    untouched = results.write_batch([new], out, name="d")
    results.write_batch([old], out, name="e")
    assert (
        prune_results(out, submissions_root=root, dry_run=True).reasons.get("old transfer protocol")
        is None
    )
    other_task = prune_results(out, submissions_root=root, old_transfer_protocol=True,
                               tasks=["pointmass"], dry_run=True)  # fmt: skip
    assert other_task.dropped == 0
    report = prune_results(out, submissions_root=root, old_transfer_protocol=True,
                           tasks=["gridworld"], dry_run=False, confirm_large_drop=True)  # fmt: skip
    assert report.reasons["old transfer protocol"] == 1
    assert untouched.exists() and untouched not in report.files_removed
    kept = results.read_results(out)
    assert not ((kept["metric"] == "transfer") & (kept["seed"] == 0)).any()
    assert ((kept["metric"] == "transfer") & (kept["seed"] == 1)).sum() == 1


def test_transfer_rows_of_a_changed_budget_are_retired(store):
    """A row whose recorded budget digest is not the task's budget of that name now is
    stale; one recorded under today's budget is kept; one that recorded no digest goes
    only with the opt-in flag, within the named tasks."""
    root, out = store
    common = dict(**_current_identity(root), metric="transfer", budget="standard", value=0.5, transfer_protocol=2)  # fmt: skip
    today = load_task("gridworld").budgets["standard"]
    before = dataclasses.replace(today, eval_episodes=today.eval_episodes + 1)
    current = results.make_row(**common, seed=0, transfer_budget_hash=budget_hash(today))
    changed = results.make_row(**common, seed=1, transfer_budget_hash=budget_hash(before))
    unrecorded = results.make_row(**common, seed=2)
    results.write_batch([current, changed, unrecorded], out, name="f")
    report = prune_results(out, submissions_root=root, dry_run=True)
    assert report.reasons.get("transfer budget changed") == 1
    assert "transfer budget not recorded" not in report.reasons
    assert prune_results(out, submissions_root=root, old_transfer_budget=True,
                         tasks=["pointmass"], dry_run=True).dropped == 0  # fmt: skip
    report = prune_results(out, submissions_root=root, old_transfer_budget=True,
                           tasks=["gridworld"], dry_run=False, confirm_large_drop=True)  # fmt: skip
    assert report.reasons["transfer budget not recorded"] == 1
    kept = results.read_results(out)
    assert sorted(kept.loc[kept["metric"] == "transfer", "seed"]) == [0]
    assert kept.loc[kept["metric"] == "transfer", "transfer_budget_hash"].item() == budget_hash(
        today
    )


def test_distance_rows_of_schema_1_are_retired_and_task_filter_limits_pruning(store):
    """Schema 1 EPIC/NPEC/ERC rows predate issue 18's definitions (exact gridworld
    values, NPEC's shift, the paper's mixture...); transfer rows of schema 1 stay."""
    root, out = store
    common = dict(
        **_current_identity(root),
        seed=0,
        value=0.5,
    )
    v1 = [
        results.make_row(**common, metric=m, coverage=c, schema_version=1)
        for m, c in (("npec", "mixture"), ("transfer", ""))
    ]
    results.write_batch(v1, out, name="c")
    report = prune_results(out, submissions_root=root, dry_run=True)
    assert report.reasons["distance before exact/faithful definitions"] == 1
    other_task = prune_results(out, submissions_root=root, dry_run=True, tasks=["pointmass"])
    assert other_task.dropped == 0


def test_npec_rows_fitted_on_deterministic_coverage_are_retired(store):
    # On expert coverage NPEC units now take the zero-denominator limit (0, no fit steps);
    # rows that fitted a potential there are stale, rows on other coverages are not.
    root, out = store
    common = dict(
        **_current_identity(root),
        metric="npec",
        seed=0,
        value=0.5,
        n_transitions=1024,
        n_samples=256,
    )
    fitted = results.make_row(**common, coverage="expert", fit_steps=2500)
    limit = results.make_row(**common, coverage="expert", fit_steps=0)
    elsewhere = results.make_row(**common, coverage="random", fit_steps=2500)
    results.write_batch([fitted, limit, elsewhere], out, name="c")
    report = prune_results(out, submissions_root=root, dry_run=True)
    assert report.reasons == {
        "npec fitted on deterministic coverage": 1,
        "old task version": 1,
        "submission retrained": 1,
    }
    assert report.kept == 4  # epic rows 0 and 3 (failed), the limit and the random-coverage row


def test_npec_rows_fitted_in_sample_are_retired(store):
    # Results schema 5 fits NPEC's potential on a pool and measures on the unit's sample;
    # fitted rows of schema 4 measured in-sample (issue 18). Rows without a fit (exact
    # values, the zero-denominator limit, fit_steps 0) keep their meaning and stay.
    root, out = store
    common = dict(
        **_current_identity(root),
        metric="npec",
        value=0.5,
        n_transitions=1024,
        n_samples=256,
    )
    in_sample = results.make_row(**common, coverage="random", seed=0, fit_steps=2500,
                                 schema_version=4)  # fmt: skip
    held_out = results.make_row(**common, coverage="random", seed=1, fit_steps=2500)
    limit = results.make_row(**common, coverage="expert", seed=0, fit_steps=0, schema_version=4)
    exact = results.make_row(**common, coverage="uniform", seed=0, exact=True, schema_version=4)
    results.write_batch([in_sample, held_out, limit, exact], out, name="e")
    frame = results.read_results(out)
    why = stale_reasons(frame, submissions_root=root)
    by_seed_coverage = {
        (r.coverage, r.seed): w
        for r, w in zip(frame.itertuples(), why, strict=True)
        if r.metric == "npec"
    }
    assert by_seed_coverage == {
        ("random", 0): "npec fitted in-sample",
        ("random", 1): "",
        ("expert", 0): "",
        ("uniform", 0): "",
    }


def test_sampled_rows_with_row_bootstrap_intervals_are_retired(store):
    """Results schema 4 resamples episodes in the EPIC/DARD/STARC intervals; their sampled
    rows of schema 3 carry the narrower intervals. Exact rows and NPEC keep theirs."""
    root, out = store
    common = dict(
        **_current_identity(root),
        coverage="random",
        value=0.5,
    )
    rows = [
        results.make_row(**common, metric="dard", seed=0, schema_version=3),
        results.make_row(**common, metric="starc", seed=0, schema_version=3),
        results.make_row(**common, metric="epic", seed=5, schema_version=3),
        results.make_row(**common, metric="epic", seed=0, schema_version=3, exact=True),
        results.make_row(**common, metric="npec", seed=0, schema_version=3),
        results.make_row(**common, metric="dard", seed=1, schema_version=4),
    ]
    results.write_batch(rows, out, name="d")
    report = prune_results(out, submissions_root=root, dry_run=True)
    assert report.reasons["interval before the episode bootstrap"] == 3
