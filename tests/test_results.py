"""The Parquet results store: schema, atomic batches, readers, resumability keys."""

from __future__ import annotations

import errno
import math
import os
import re
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from benchmark import results
from benchmark.results import (
    SCHEMA,
    ResultsError,
    ResultsWriter,
    finished_units,
    make_row,
    read_results,
    write_batch,
)


def _row(seed: int = 0, value: float = 0.25, status: str = "ok", **kw) -> dict:
    fields = dict(
        run_id="r1",
        submission="gridworld-reg",
        submission_sha256="ab" * 32,
        method="regression",
        task="gridworld",
        task_version="1",
        metric="epic",
        coverage="uniform",
        seed=seed,
        n_transitions=64,
        n_samples=32,
        value=value,
        status=status,
    )
    fields.update(kw)
    return make_row(**fields)


def test_row_carries_provenance():
    row = _row()
    assert row["schema_version"] == results.SCHEMA_VERSION
    assert row["torch_version"] != "unknown" and row["numpy_version"] != "unknown"
    assert len(row["git_commit"]) == 40 or row["git_commit"] == "unknown"
    assert set(row) == set(SCHEMA.names)


def test_row_rejects_unknown_field_by_name():
    with pytest.raises(ResultsError, match="colour"):
        _row(colour="red")


def test_batches_read_as_one_dataset_in_pandas_pyarrow_duckdb(tmp_path):
    write_batch([_row(0, 0.1), _row(1, 0.3)], tmp_path, name="a")
    write_batch([_row(2, 0.5, metric="npec")], tmp_path, name="b")
    df = read_results(tmp_path)
    assert sorted(df["seed"]) == [0, 1, 2]
    assert pd.read_parquet(tmp_path)["value"].sum() == pytest.approx(0.9)
    assert ds.dataset(tmp_path, format="parquet").to_table().num_rows == 3
    mean = duckdb.sql(
        f"SELECT avg(value) FROM '{tmp_path}/*.parquet' WHERE metric = 'epic'"
    ).fetchall()[0][0]
    assert mean == pytest.approx(0.2)


def test_write_leaves_no_temporary_and_refuses_overwrite(tmp_path):
    write_batch([_row()], tmp_path, name="x")
    assert [p.name for p in tmp_path.iterdir()] == ["x.parquet"]
    with pytest.raises(ResultsError, match="never overwritten"):
        write_batch([_row()], tmp_path, name="x")


def test_half_written_temporary_is_ignored(tmp_path):
    write_batch([_row()], tmp_path, name="good")
    (tmp_path / ".crashed.parquet.tmp").write_bytes(b"PAR1 half a file")
    assert len(read_results(tmp_path)) == 1


def test_corrupt_file_is_named_and_kept(tmp_path):
    write_batch([_row()], tmp_path, name="good")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"this is not parquet")
    with pytest.raises(ResultsError, match="bad.parquet"):
        read_results(tmp_path)
    assert bad.exists()


def test_foreign_parquet_file_is_named(tmp_path):
    pd.DataFrame({"x": [1, 2]}).to_parquet(tmp_path / "foreign.parquet")
    with pytest.raises(ResultsError, match=r"foreign\.parquet.*missing columns"):
        read_results(tmp_path)
    assert (tmp_path / "foreign.parquet").exists()


def test_newer_schema_version_is_refused(tmp_path):
    path = write_batch([_row()], tmp_path, name="v")
    table = pq.read_table(path).to_pandas()
    table["schema_version"] = results.SCHEMA_VERSION + 1
    path.unlink()
    table.to_parquet(path)
    with pytest.raises(ResultsError, match="schema version"):
        read_results(tmp_path)


def test_writer_flushes_per_batch_and_on_interrupt(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with ResultsWriter(tmp_path, "run", every_units=2, every_seconds=1e9) as w:
            w.add([_row(0)])
            assert results.result_files(tmp_path) == []
            w.add([_row(1)])
            assert len(results.result_files(tmp_path)) == 1
            w.add([_row(2)])
            raise KeyboardInterrupt
    assert len(results.result_files(tmp_path)) == 2
    assert sorted(read_results(tmp_path)["seed"]) == [0, 1, 2]


def test_finished_units_excludes_failures_and_distinguishes_sample_sizes(tmp_path):
    write_batch(
        [
            _row(0),
            _row(1, value=math.nan, status="failed", error="boom"),
            _row(2, n_transitions=128),
        ],
        tmp_path,
        name="f",
    )
    done = finished_units(tmp_path)
    assert results.unit_key(_row(0)) in done
    assert results.unit_key(_row(1)) not in done
    assert results.unit_key(_row(2)) not in done  # other sample size
    assert results.unit_key(_row(2, n_transitions=128)) in done


def test_empty_directory_gives_schema_columns(tmp_path):
    df = read_results(tmp_path / "nothing-here")
    assert list(df.columns) == SCHEMA.names and len(df) == 0


def test_a_schema_v1_file_reads_with_null_transfer_returns(tmp_path):
    """Files written before the raw-return columns (schema v1) stay readable: the v2
    columns read as null, every v1 value unchanged."""
    row = _row(value=0.5)
    v1_names = [n for n in SCHEMA.names if n not in results.TRANSFER_COLUMNS]
    v1_row = {**{n: row[n] for n in v1_names}, "schema_version": 1}
    pd.DataFrame([v1_row]).to_parquet(tmp_path / "old.parquet")
    write_batch([_row(seed=1, metric="transfer", coverage="", budget="standard",
                      n_transitions=0, n_samples=0, value=0.75, policy_return=-25.0,
                      random_return=-80.0, random_std=2.0, reference_return=-6.666,
                      reference_std=3.0, n_reference_runs=5, eval_episodes=64,
                      transfer_protocol=2)], tmp_path, name="new")  # fmt: skip
    df = read_results(tmp_path).sort_values("seed")
    assert list(df["schema_version"]) == [1, results.SCHEMA_VERSION]
    assert list(df["value"]) == [0.5, 0.75]
    assert df.iloc[0][list(results.TRANSFER_COLUMNS)].isna().all()
    assert df.iloc[1]["policy_return"] == -25.0 and df.iloc[1]["n_reference_runs"] == 5


def test_the_committed_store_still_reads():
    df = read_results("leaderboard/results")
    assert len(df) > 0 and set(results.TRANSFER_COLUMNS) <= set(df.columns)


# --- mutation-run gaps (docs/testing.md): each expectation from the schema, the README or
# --- the library's own definition, not from the store's output.


@pytest.fixture
def eastern_clock(monkeypatch):
    """The process's local time zone five hours behind UTC, so local time != UTC."""
    monkeypatch.setenv("TZ", "Etc/GMT+5")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_run_id_is_utc_time_then_six_hex_digits(eastern_clock):
    run_id = results.new_run_id()
    assert re.fullmatch(r"\d{8}T\d{6}-[0-9a-f]{6}", run_id), run_id
    stamped = datetime.strptime(run_id[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - stamped).total_seconds()) < 120


def test_row_timestamp_is_aware_utc_now(eastern_clock):
    stamp = _row()["timestamp"]
    assert stamp.utcoffset() == timedelta(0)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 120


def test_row_defaults_are_the_schemas_not_applicable_values():
    """README schema: "" budget for distances and "" coverage / 0 sizes for transfer; NaN
    interval and wall time when not measured; ok with an empty error; cpu; no run id."""
    row = make_row(submission="s", submission_sha256="0" * 64, method="m", task="gridworld",
                   task_version="1", metric="transfer", seed=0, value=0.5)  # fmt: skip
    assert (row["budget"], row["coverage"], row["error"], row["run_id"]) == ("", "", "", "")
    assert (row["n_transitions"], row["n_samples"]) == (0, 0)
    assert (row["status"], row["device"]) == ("ok", "cpu")
    assert all(math.isnan(row[k]) for k in ("ci_low", "ci_high", "wall_time_s"))


def test_row_without_a_value_field_names_it():
    with pytest.raises(ResultsError, match=r"missing required fields \['value'\]"):
        make_row(submission="s", submission_sha256="0" * 64, method="m", task="gridworld",
                 task_version="1", metric="epic", seed=0)  # fmt: skip


def test_row_status_other_than_ok_or_failed_is_named():
    with pytest.raises(ResultsError, match="status must be 'ok' or 'failed', got 'done'"):
        _row(status="done")


def test_a_none_value_is_stored_as_nan():
    row = _row(value=None)
    assert set(row) == set(SCHEMA.names)
    assert isinstance(row["value"], float) and math.isnan(row["value"])


def test_written_file_has_exactly_the_schema_types_and_zstd_compression(tmp_path):
    path = write_batch([_row(value=0.5)], tmp_path, name="typed")
    written = pq.read_schema(path)
    assert [(f.name, f.type) for f in written] == [(f.name, f.type) for f in SCHEMA]
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"


def test_a_row_that_does_not_fit_the_schema_names_the_schema_version():
    with pytest.raises(ResultsError, match=f"do not fit schema v{results.SCHEMA_VERSION}"):
        results.rows_to_table([_row(seed="zero")])


def test_integer_transfer_columns_read_back_as_floats_stay_integers():
    """Pruning rewrites rows read through pandas, where a null integer column is float:
    5.0 must come back as 5 and NaN as null (not every float as null)."""
    transfer = dict(metric="transfer", coverage="", budget="standard", n_transitions=0,
                    n_samples=0)  # fmt: skip
    rows = [
        _row(0, n_reference_runs=5.0, eval_episodes=64.0, transfer_protocol=2.0, **transfer),
        _row(1, n_reference_runs=math.nan, **transfer),
    ]
    table = results.rows_to_table(rows)
    assert table.column("n_reference_runs").to_pylist() == [5, None]
    assert table.column("eval_episodes").to_pylist() == [64, None]


def test_hidden_and_underscore_parquet_files_are_not_results(tmp_path):
    """Hidden temporaries (".name") and metadata files ("_name") share the directory."""
    write_batch([_row(0)], tmp_path, name="a")
    write_batch([_row(1)], tmp_path, name=".hidden")
    write_batch([_row(2)], tmp_path, name="_common_metadata")
    assert [p.name for p in results.result_files(tmp_path)] == ["a.parquet"]
    assert list(read_results(tmp_path)["seed"]) == [0]


def test_unreadable_and_foreign_files_say_what_to_do(tmp_path):
    (tmp_path / "bad.parquet").write_bytes(b"this is not parquet")
    with pytest.raises(ResultsError, match=r"or delete it yourself; epic-bench deletes nothing\.$"):
        read_results(tmp_path)
    (tmp_path / "bad.parquet").unlink()
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "foreign.parquet")
    with pytest.raises(ResultsError, match=r"\. Move it out of the results directory\.$"):
        read_results(tmp_path)


def test_a_file_with_a_wrongly_typed_column_names_the_schema(tmp_path):
    frame = pd.DataFrame([_row()])
    frame["seed"] = "zero"
    frame.to_parquet(tmp_path / "typed.parquet")
    with pytest.raises(ResultsError, match=r"typed\.parquet: column types differ from schema"):
        read_results(tmp_path)


def test_an_empty_schema_v2_file_reads_as_no_rows(tmp_path):
    table = results.rows_to_table([])
    old = table.drop_columns(["exact", "fit_steps", "n_episodes"])
    pq.write_table(old, tmp_path / "empty.parquet")
    frame = results.read_file(tmp_path / "empty.parquet")
    assert len(frame) == 0 and list(frame.columns) == SCHEMA.names


def test_rows_of_several_files_are_numbered_from_zero(tmp_path):
    write_batch([_row(0), _row(1)], tmp_path, name="a")
    write_batch([_row(2)], tmp_path, name="b")
    assert read_results(tmp_path).index.tolist() == [0, 1, 2]


def test_writer_batches_every_50_units_or_60_seconds_by_default(tmp_path):
    """README (Resumable): results are flushed "every 50 units or 60 s"."""
    writer = ResultsWriter(tmp_path, "run")
    writer.add([_row(s) for s in range(49)])
    assert results.result_files(tmp_path) == []
    writer.add([_row(49)])
    assert [p.name for p in results.result_files(tmp_path)] == ["run-0000.parquet"]
    writer.add([_row(50)])
    assert len(results.result_files(tmp_path)) == 1
    writer._last_flush -= 60.0  # a minute has passed since the last flush
    writer.add([_row(51)])
    assert [p.name for p in writer.files] == ["run-0000.parquet", "run-0001.parquet"]
    assert writer.files == results.result_files(tmp_path)


def test_writer_flushes_on_time_only_once_the_interval_has_passed(tmp_path):
    writer = ResultsWriter(tmp_path, "run", every_units=100, every_seconds=3600.0)
    writer.add([_row(0)])
    assert results.result_files(tmp_path) == []
    writer._last_flush -= 3601.0
    writer.add([_row(1)])
    assert len(results.result_files(tmp_path)) == 1


def test_writer_needs_at_least_one_unit_per_batch(tmp_path):
    assert ResultsWriter(tmp_path, "run", every_units=1).every_units == 1
    with pytest.raises(ValueError, match="every_units must be >= 1, got 0"):
        ResultsWriter(tmp_path, "run", every_units=0)


def test_a_write_after_a_failed_one_takes_a_new_name(tmp_path):
    """Batch names never repeat: a flush after a failed flush must not collide with a file
    written before the failure (write_batch refuses to overwrite)."""
    store = tmp_path / "r"
    writer = ResultsWriter(store, "run", every_units=2, every_seconds=3600.0)
    writer.add([_row(0), _row(1)])
    writer.add([_row(2)])
    store.rename(tmp_path / "away")
    store.write_text("a file where the store was")
    with pytest.warns(RuntimeWarning) as warned:
        assert writer.flush() is None
    reason = os.strerror(errno.EEXIST)  # creating the store's folder meets the file
    assert f"could not write 1 result rows to {store} ({reason})" in str(warned[0].message)
    store.unlink()
    (tmp_path / "away").rename(store)
    writer.flush()
    assert sorted(read_results(store)["seed"]) == [0, 1, 2]
    assert len(set(writer.files)) == 2


def test_a_writable_results_dir_is_created_with_its_parents_or_accepted_as_is(tmp_path):
    nested = tmp_path / "a" / "b" / "results"
    results.check_writable(nested)
    assert nested.is_dir() and list(nested.iterdir()) == []  # the probe is removed
    results.check_writable(nested)  # an existing folder is fine


def test_a_results_dir_the_filesystem_refuses_says_what_to_do(tmp_path):
    too_long = tmp_path / ("x" * 300)  # over NAME_MAX (255) on Linux file systems
    reason = os.strerror(errno.ENAMETOOLONG)
    with pytest.raises(ResultsError, match=rf"^results dir {re.escape(str(too_long))} is not "
                       rf"writable \({reason}\); fix its permissions or pass another "
                       "--results-dir$"):  # fmt: skip
        results.check_writable(too_long)


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux's /proc")
def test_a_results_dir_that_cannot_be_created_says_what_to_do():
    """/proc refuses new folders, also to root (who writes through permissions)."""
    where = Path("/proc/epic-bench-results")
    reason = os.strerror(errno.ENOENT)
    with pytest.raises(ResultsError, match=rf"^results dir {where} is not writable \({reason}\); "
                       "fix its permissions or pass another --results-dir$"):  # fmt: skip
        results.check_writable(where)


def test_a_full_disk_says_what_to_do(tmp_path):
    with pytest.raises(ResultsError, match="free some space or pass another --results-dir$"):
        results.check_writable(tmp_path, min_free_bytes=1 << 62)


def test_rescue_files_of_two_runs_do_not_collide(tmp_path, monkeypatch):
    """Rows that cannot reach the store go to a file named after the run and process, so
    a second run's rescue never meets the first one's file."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # not the machine's shared one
    blocked = tmp_path / "store"
    blocked.write_text("a file where the store should be")
    rescued = []
    for run_id, seed in (("run-a", 0), ("run-b", 1)):
        writer = ResultsWriter(blocked, run_id, every_units=10)
        writer.add([_row(seed)])
        with pytest.raises(ResultsError, match="safe in") as error, pytest.warns(RuntimeWarning):
            writer.close()
        rescued.append(Path(str(error.value).split(" in ")[-1].split(":")[0]))
    try:
        assert rescued[0] != rescued[1]
        assert [results.read_file(p)["seed"].tolist() for p in rescued] == [[0], [1]]
    finally:
        for path in rescued:
            path.unlink()
