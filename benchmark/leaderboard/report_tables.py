"""One table layout for the board's appendix sections (findings, correlations).

Why a module: each section shows the same cells in the README (Markdown) and on the site
(HTML); the table markup is shared so the sections look and sort alike.
"""

from __future__ import annotations

import html
from collections.abc import Sequence


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Header, separator and one line per row; a ``|`` inside a cell is escaped."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines


def html_table(table_id: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A scrollable ``board`` table with ``id=table_id``; every cell HTML-escaped."""
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f'<div class="scroll"><table class="board" id="{table_id}"><thead><tr>{head}'
        f"</tr></thead><tbody>{body}</tbody></table></div>"
    )
