"""One bad input never takes the others down; a bad submission.toml is reported by name.

Submissions are real folders (task-reward format, gridworld) beside broken ones; the
commands are the real CLI.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmark import evaluation as ev
from benchmark.cli import main
from benchmark.submissions import (
    SubmissionError,
    load_submission,
    scan_submissions,
    submissions_table,
    write_submission,
)

META = {
    "task": "gridworld",
    "method": "task-reward",
    "authors": ["epic-bench tests"],
    "description": "a test entry",
}


def _good(root: Path, name: str, reward: str = "ground_truth") -> None:
    model = {"format": "task-reward", "reward": reward}
    write_submission(root / name, {"name": name, **META, "model": model})


def _toml(root: Path, name: str, body: bytes) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "submission.toml").write_bytes(body)
    return folder


GOOD_HEAD = (
    'task = "gridworld"\nmethod = "m"\nauthors = ["a"]\ndescription = "d"\n'
    '[model]\nformat = "task-reward"\nreward = "ground_truth"\n'
)

BAD_TOMLS = {
    "not-utf8": (b'name = "not-utf8"\ndescription = "caf\xe9"\n', "not UTF-8 text"),
    "deep": (b"name = 'deep'\nx = " + b"[" * 50_000 + b"]" * 50_000 + b"\n", "too deeply"),
    "typo": (
        ('name = "typo"\npapr = "https://example.org"\n' + GOOD_HEAD).encode(),
        "unknown key papr in submission.toml; did you mean 'paper'?",
    ),
    "model-typo": (
        ('name = "model-typo"\n' + GOOD_HEAD + "scael = 2.0\n").encode(),
        "unknown key model.scael",
    ),
    "bool-scale": (
        ('name = "bool-scale"\n' + GOOD_HEAD + "scale = true\n").encode(),
        "model.scale must be a finite number, got True",
    ),
}


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("EPIC_BENCH_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "submissions"
    _good(root, "gw-a")
    for name, (body, _) in BAD_TOMLS.items():
        _toml(root, name, body)
    _good(root, "gw-z", "opposite")
    return root


@pytest.mark.parametrize("name", sorted(BAD_TOMLS))
def test_a_bad_submission_toml_is_a_schema_error_naming_the_problem(root, name):
    with pytest.raises(SubmissionError) as error:
        load_submission(root / name)
    assert error.value.submission == name and error.value.check == "schema"
    assert BAD_TOMLS[name][1] in error.value.message


def test_scan_and_table_report_every_bad_folder_and_keep_the_good_ones(root):
    entries = scan_submissions(root)
    good = [e.name for e in entries if not isinstance(e, SubmissionError)]
    bad = sorted(e.submission for e in entries if isinstance(e, SubmissionError))
    assert good == ["gw-a", "gw-z"] and bad == sorted(BAD_TOMLS)
    table, all_valid = submissions_table(root)
    assert not all_valid
    for name in [*BAD_TOMLS, "gw-a", "gw-z"]:
        assert name in table


def test_cli_validate_reports_each_folder_and_exits_nonzero(root):
    folders = [str(root / "gw-a"), str(root / "not-utf8"), str(root / "typo")]
    result = CliRunner().invoke(main, ["validate", *folders])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "not UTF-8 text" in result.output and "unknown key papr" in result.output
    assert "gw-a" in result.output and "=> valid" in result.output


def test_evaluate_all_lists_what_it_skipped_and_exits_nonzero(root, tmp_path):
    # A tampered submission: its model table no longer matches its recorded sha256.
    _good(root, "gw-tampered", "ground_truth")
    toml = root / "gw-tampered" / "submission.toml"
    toml.write_text(toml.read_text().replace('reward = "ground_truth"', 'reward = "opposite"'))
    args = ["evaluate", "--all", "--task", "gridworld", "--metric", "epic", "--coverage",
            "random", "--seeds", "1", "--n-transitions", "128", "--n-samples", "32",
            "--submissions-root", str(root), "--results-dir", str(tmp_path / "r"), "--no-wandb"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "2 ok, 0 failed" in result.output  # gw-a and gw-z were evaluated
    for name in [*BAD_TOMLS, "gw-tampered"]:
        assert f"SKIPPED {name}:" in result.output
    assert "gw-tampered: sha256 check failed: model table was tampered with" in result.output


def test_select_submissions_collects_bad_paths_instead_of_raising(root):
    skipped: list[SubmissionError] = []
    subs = ev.select_submissions([root / "gw-a", root / "deep"], skipped=skipped)
    assert [s.name for s in subs] == ["gw-a"] and [e.submission for e in skipped] == ["deep"]


@pytest.mark.parametrize("field", ["obs", "acts", "next_obs", "dones"])
def test_a_scalar_transitions_field_is_refused_by_name(field):
    # Four transitions of a 2-D state and 1-D action; one field replaced by a 0-d tensor
    # (a common slip: `torch.tensor(a)` of one action) must get the named one-line error.
    import torch

    from benchmark.data import Transitions

    parts = {"obs": torch.zeros(4, 2), "acts": torch.zeros(4, 1),
             "next_obs": torch.zeros(4, 2), "dones": torch.zeros(4)}  # fmt: skip
    Transitions(**parts)  # the well-formed batch is accepted
    parts[field] = torch.tensor(0.0)
    with pytest.raises(ValueError, match=f"Transitions.{field} is a scalar; every field needs"):
        Transitions(**parts)
