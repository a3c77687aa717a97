"""Roots and atomic writes (benchmark/paths.py): one place for both."""

from __future__ import annotations

import pytest

from benchmark.paths import atomic_write, cache_root, submissions_root, write_text_atomic


def test_atomic_write_renames_the_whole_file_into_place(tmp_path):
    target = tmp_path / "sub" / "file.txt"
    with atomic_write(target) as tmp:
        tmp.write_text("whole")
        assert not target.exists()  # readers see nothing until the rename
        assert tmp.parent == target.parent and tmp.name.startswith(".")
    assert target.read_text() == "whole"
    assert [p.name for p in target.parent.iterdir()] == ["file.txt"]


def test_atomic_write_leaves_the_old_file_and_no_temporary_on_failure(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_write(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_a_text_that_cannot_be_written_leaves_the_old_file(tmp_path):
    """A lone surrogate cannot be encoded as UTF-8: the write fails half-way, and the
    leaderboard README / submission.toml readers still see the old whole file."""
    target = tmp_path / "README.md"
    write_text_atomic(target, "old board\n")
    with pytest.raises(UnicodeEncodeError):
        write_text_atomic(target, "new board " * 10_000 + "\ud800")
    assert target.read_text(encoding="utf-8") == "old board\n"
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]


def test_environment_variables_move_the_roots(tmp_path, monkeypatch):
    monkeypatch.setenv("EPIC_BENCH_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("EPIC_BENCH_SUBMISSIONS", str(tmp_path / "s"))
    assert (cache_root(), submissions_root()) == (tmp_path / "c", tmp_path / "s")
