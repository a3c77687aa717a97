"""Operator errors are one-line messages before anything runs; the store loses nothing.

Also: two evaluate runs on one grid and results dir never compute a unit twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmark.cli import main
from benchmark.results import (
    ResultsError,
    ResultsWriter,
    check_writable,
    make_row,
    read_results,
    unit_key,
    write_batch,
)
from benchmark.results.claims import claim_path, try_claim
from benchmark.submissions import write_submission


def _submit(root: Path, name: str, reward: str) -> None:
    write_submission(root / name, {
        "name": name, "task": "gridworld", "method": "task-reward", "authors": ["tests"],
        "description": reward, "model": {"format": "task-reward", "reward": reward}})  # fmt: skip


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("EPIC_BENCH_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "submissions"
    _submit(root, "gw-truth", "ground_truth")
    _submit(root, "gw-opposite", "opposite")
    return root


def _evaluate(root: Path, results: Path, *extra: str) -> list[str]:
    # --sampled: seeds matter here, and gridworld distance units are exact otherwise.
    return ["evaluate", "--all", "--task", "gridworld", "--metric", "epic", "--coverage",
            "random", "--seeds", "1", "--n-transitions", "128", "--n-samples", "32",
            "--submissions-root", str(root), "--results-dir", str(results), "--no-wandb",
            "--sampled", *extra]  # fmt: skip


def _one_line_error(result, code: int, text: str) -> None:
    assert result.exit_code == code, result.output
    assert text in result.output and "Traceback" not in result.output


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_device_cuda_without_cuda(root, tmp_path):
    result = CliRunner().invoke(main, _evaluate(root, tmp_path / "r", "--device", "cuda"))
    _one_line_error(result, 2, "--device cuda: CUDA is not available here")
    assert not (tmp_path / "r").exists()


def test_executor_ray_without_ray(root, tmp_path):
    if __import__("importlib").util.find_spec("ray") is not None:
        pytest.skip("Ray is installed here")
    result = CliRunner().invoke(main, _evaluate(root, tmp_path / "r", "--executor", "ray"))
    _one_line_error(result, 2, "--executor ray needs Ray")


def test_results_dir_under_a_file_is_refused_before_computing(root, tmp_path):
    (tmp_path / "a-file").write_text("x")
    result = CliRunner().invoke(main, _evaluate(root, tmp_path / "a-file" / "results"))
    _one_line_error(result, 1, "is a file; pass --results-dir a folder path")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through read-only permissions")
def test_read_only_results_dir_is_refused_before_computing(root, tmp_path):
    results = tmp_path / "r"
    results.mkdir()
    results.chmod(0o555)
    result = CliRunner().invoke(main, _evaluate(root, results))
    _one_line_error(result, 1, "is not writable")


def test_a_full_disk_is_refused(tmp_path):
    with pytest.raises(ResultsError, match="bytes free"):
        check_writable(tmp_path / "r", min_free_bytes=1 << 62)


def test_rows_that_cannot_be_written_are_kept_and_rescued(tmp_path, monkeypatch):
    """The store vanishes under a running writer: rows wait, then land in a rescue file."""
    # The rescue folder lives under the system temp dir, shared with every other run on the
    # machine (their rescued rows would be read below): give this test its own.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    results = tmp_path / "r"
    writer = ResultsWriter(results, "run-x", every_units=1)
    results.parent.mkdir(exist_ok=True)
    results.write_text("now a file, not a folder")
    row = make_row(submission="s", submission_sha256="0" * 64, method="m", task="gridworld",
                   task_version="2", metric="epic", coverage="random", seed=0, value=0.5)  # fmt: skip
    with pytest.warns(RuntimeWarning, match="keeping them"):
        writer.add([row])
    with (
        pytest.raises(ResultsError, match="the computed rows are safe in") as error,
        pytest.warns(RuntimeWarning, match="keeping them"),
    ):
        writer.close()
    rescued = Path(str(error.value).split(" in ")[-1].split(":")[0])
    assert rescued.parent == tmp_path / "tmp" / "epic-bench-unsaved"
    assert read_results(rescued.parent)["value"].tolist() == [0.5]
    rescued.unlink()


@pytest.mark.parametrize(("option", "value"), [("--task", "atlantis"), ("--metric", "vibes")])
def test_leaderboard_names_an_unknown_task_or_metric(tmp_path, option, value):
    result = CliRunner().invoke(
        main, ["leaderboard", option, value, "--results-dir", str(tmp_path)]
    )
    _one_line_error(result, 2, f"{option} {value!r} is unknown; choose from")


def test_validate_batch_size_zero_is_a_usage_error(root):
    result = CliRunner().invoke(main, ["validate", "--batch-size", "0", str(root / "gw-truth")])
    _one_line_error(result, 2, "--batch-size must be a positive integer, got 0")


def test_two_concurrent_evaluate_runs_store_each_unit_once(root, tmp_path):
    results = tmp_path / "r"
    args = [a for a in _evaluate(root, results) if a != "--all"]
    args[args.index("--seeds") + 1] = "3"
    cmd = [sys.executable, "-m", "benchmark.cli", *args[:1], "--all", *args[1:]]
    runs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for _ in range(2)]  # fmt: skip
    outputs = [r.communicate(timeout=600)[0].decode() for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outputs
    rows = read_results(results)
    keys = rows[["submission", "coverage", "seed"]].apply(tuple, axis=1)
    assert len(rows) == 2 * 3 and keys.is_unique  # 2 submissions x 3 seeds, each once
    assert not list((results / ".claims").glob("*.lock"))


def test_a_claim_of_a_dead_process_is_taken_over(tmp_path):
    key = ("sha", "gridworld", "epic", "random", 0)
    path = claim_path(tmp_path, key)
    path.parent.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    path.write_text(f'{{"host": "{os.uname().nodename}", "pid": {dead}, "time": 1e18}}')
    assert try_claim(tmp_path, key, stale_after_s=3600) == path
    assert try_claim(tmp_path, key, stale_after_s=3600) is None  # now ours, and we are alive


def test_a_run_does_not_claim_a_unit_another_run_stored_while_it_wrote_its_own(tmp_path):
    # Run B starts on unit y, run A stores unit x, B stores y and releases its claims:
    # B must still see x as done (it is in the store), whatever order the files came in.
    from benchmark.evaluation.grid import Unit
    from benchmark.evaluation.runner import _Claims

    def unit(seed: int) -> Unit:
        return Unit("s", "p", "0" * 64, "m", "gridworld", "2", "epic", "random", seed,
                    "standard", 128, 32)  # fmt: skip

    def row(seed: int) -> dict:
        return make_row(submission="s", submission_sha256="0" * 64, method="m",
                        task="gridworld", task_version="2", metric="epic", coverage="random",
                        seed=seed, budget="standard", n_transitions=128, n_samples=32,
                        value=0.5)  # fmt: skip

    x, y = unit(0), unit(1)
    assert row(0)["seed"] == 0 and unit_key(row(0)) == x.key()  # the rows are the units'
    b = _Claims(tmp_path, force=False, stale_after_s=3600)
    assert b.take(y)  # B starts on y ...
    write_batch([row(0)], tmp_path, name="run-a")  # ... while run A stores x
    write_batch([row(1)], tmp_path, name="run-b")  # B stores y ...
    b.release_written()  # ... and lets other runs go on
    assert not b.take(x)  # x is in the store: B must not compute it again
    assert not list((tmp_path / ".claims").glob("*.lock"))


def test_a_sigterm_while_a_claim_is_taken_leaves_no_lock_behind(tmp_path, monkeypatch):
    """Preemption between creating the lock file and recording it used to leave the file
    (and the .claims folder) behind: the SystemExit now waits until the claim is held, so
    the runner's finally block releases it. A real SIGTERM, sent to this process."""
    import signal

    import benchmark.evaluation.runner as runner
    from benchmark.evaluation.grid import Unit

    unit = Unit("s", "p", "0" * 64, "m", "gridworld", "2", "epic", "random", 0,
                "standard", 128, 32)  # fmt: skip

    def claim_then_preempted(*args, **kwargs):
        path = try_claim(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)  # arrives before `take` records the claim
        return path

    monkeypatch.setattr(runner, "try_claim", claim_then_preempted)
    claims = runner._Claims(tmp_path, force=False, stale_after_s=3600)
    previous = runner._exit_on_sigterm()
    try:
        with pytest.raises(SystemExit) as exit_info:
            claims.take(unit)
    finally:
        signal.signal(signal.SIGTERM, previous)
        claims.release_all()
    assert exit_info.value.code == 128 + signal.SIGTERM
    assert not (tmp_path / ".claims").exists()
