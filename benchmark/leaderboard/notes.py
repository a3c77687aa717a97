"""Maintainers' explanations of surprising board numbers, printed beside the numbers.

Why: the board is generated from results, but a number a reviewer would question (a
shaped sanity entry that transfers far worse than the ground truth it is equivalent to,
a transfer score above 1.5) needs the measured reason next to it, not only in a README
section far away. The notes live in ``leaderboard/notes.toml`` (one ``[[note]]`` table
each: task, metric, submission, text, evidence), are checked when read, and the board
tests require one for every such number (tests/test_committed_leaderboard.py).
"""

from __future__ import annotations

import html
import tomllib
from dataclasses import dataclass
from pathlib import Path

NOTES_FILE = "notes.toml"
_KEYS = {"task", "metric", "submission", "text", "evidence"}


@dataclass(frozen=True)
class BoardNote:
    """Why ``submission``'s ``metric`` on ``task`` reads as it does; ``evidence``: how we know."""

    task: str
    metric: str
    submission: str
    text: str
    evidence: str

    def markdown(self) -> str:
        return (
            f"- **{self.task}** `{self.submission}` ({self.metric}): {self.text} "
            f"Evidence: {self.evidence}"
        )

    def html(self) -> str:
        """A site paragraph; every field escaped like any other text on the page."""
        e = html.escape
        return (
            f'<p class="note"><b>{e(self.submission)}</b> ({e(self.metric)}): {e(self.text)} '
            f"<i>Evidence:</i> {e(self.evidence)}</p>"
        )


def read_notes(path: str | Path) -> list[BoardNote]:
    """The notes of ``path`` (none when it does not exist); a malformed file is an error
    naming the file and the note, so a typo cannot silently drop an explanation."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path}: not valid TOML: {err}") from err
    unknown = set(data) - {"note"}
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {sorted(unknown)}; use [[note]] tables")
    tables = data.get("note", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ValueError(f"{path}: 'note' must be an array of tables: write [[note]], not [note]")
    notes = []
    for i, table in enumerate(tables):
        missing, extra = _KEYS - set(table), set(table) - _KEYS
        if missing or extra:
            raise ValueError(
                f"{path}: note {i + 1}: missing {sorted(missing)}, unknown {sorted(extra)}; "
                f"each note has exactly {sorted(_KEYS)}"
            )
        values = {k: table[k] for k in _KEYS}
        empty = sorted(k for k, v in values.items() if not isinstance(v, str) or not v.strip())
        if empty:
            raise ValueError(f"{path}: note {i + 1}: {empty} must be non-empty text")
        notes.append(BoardNote(**{k: " ".join(v.split()) for k, v in values.items()}))
    return notes


def notes_for(notes: list[BoardNote], task: str, metric: str) -> list[BoardNote]:
    return [n for n in notes if n.task == task and n.metric == metric]
