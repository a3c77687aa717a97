"""Board notes: the maintainers' explanation of a surprising number is printed beside it,
and a malformed notes file is an error that names what is wrong (never a dropped note)."""

from __future__ import annotations

import html

import pytest

from benchmark.leaderboard import build
from benchmark.leaderboard.notes import NOTES_FILE, read_notes
from benchmark.results import make_row, write_batch

NOTE = '''
[[note]]
task = "gridworld"
metric = "transfer"
submission = "b"
text = """
b transfers <badly> because
  of its potential.
"""
evidence = "bench/x.py: R^2 -0.6."
'''


def _rows() -> list[dict]:
    rows = []
    for name, value in (("a", 1.0), ("b", 0.1), ("c", 0.5)):
        for seed in range(2):
            for metric, v in (("epic", 1.0 - value), ("transfer", value)):
                rows.append(make_row(
                    run_id="r", submission=name, submission_sha256=name * 4, method=f"m-{name}",
                    task="gridworld", task_version="1", metric=metric,
                    coverage="" if metric == "transfer" else "uniform", seed=seed,
                    n_transitions=0 if metric == "transfer" else 64,
                    n_samples=0 if metric == "transfer" else 32,
                    budget="standard" if metric == "transfer" else "", value=v,
                ))  # fmt: skip
    return rows


def test_a_note_is_printed_beside_its_task_in_readme_and_site(tmp_path):
    write_batch(_rows(), tmp_path / "results", name="x")
    (tmp_path / NOTES_FILE).write_text(NOTE)
    readme, site = build(tmp_path / "results", tmp_path)
    text = readme.read_text()
    # Whitespace of the TOML's multi-line string folds to single spaces.
    line = "- **gridworld** `b` (transfer): b transfers <badly> because of its potential."
    assert line in text and "Evidence: bench/x.py: R^2 -0.6." in text
    page = site.read_text()
    task_section = page.split('id="task-gridworld"')[1]
    assert html.escape("b transfers <badly> because of its potential.") in task_section
    assert "<badly>" not in page  # escaped, like every submitted text


def test_no_notes_file_means_no_notes_section(tmp_path):
    write_batch(_rows(), tmp_path / "results", name="x")
    readme, _ = build(tmp_path / "results", tmp_path)
    assert "Notes on surprising numbers" not in readme.read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[[note]]\ntask = 'gridworld'\n", "missing"),
        (NOTE.replace('evidence = "bench/x.py: R^2 -0.6."', 'evidence = "x"\nseverity = 2'),
         r"unknown \['severity'\]"),
        (NOTE.replace('evidence = "bench/x.py: R^2 -0.6."', 'evidence = "  "'),
         r"\['evidence'\] must be non-empty"),
        ("[note]\ntask = 1\n", r"write \[\[note\]\], not \[note\]"),
        ("[notes]\n", "unknown top-level keys"),
        ("[[note]\n", "not valid TOML"),
    ],
)  # fmt: skip
def test_a_malformed_notes_file_names_what_is_wrong(tmp_path, content, message):
    path = tmp_path / NOTES_FILE
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as err:
        read_notes(path)
    assert str(path) in str(err.value)
