"""The Parquet results store: schema, atomic batches, readers, resumability keys."""

from __future__ import annotations

import math

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
