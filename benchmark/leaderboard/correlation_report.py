"""The learned-rewards correlation table (`correlation.correlation_table`) as Markdown and HTML.

Why a module of its own: the README and the site show the same table with the same
legend; one place builds its cells so the two never disagree.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from benchmark.leaderboard.report_tables import html_table, markdown_table

HEADING = "Does a distance predict transfer? (learned rewards only)"
ANCHOR = "correlation"
LEGEND = (
    "Rank correlation over learned entries only between a submission's distance to the "
    "ground truth (mean over coverages) and its transfer score (test variant); −1 means the "
    "distance orders the learned rewards exactly as transfer does. 95% percentile bootstrap "
    "resampling submissions and, within each, its transfer and distance seeds (exact values "
    "have none); with few entries the interval is wide or degenerate. Pairs ordered: the "
    "share of pairs of learned entries with different transfer whose lower distance has "
    "the higher transfer (distance ties count one half). Sanity anchors "
    "(ground truth, shaped, negated, random) are shown apart: any distance orders them."
)
COLUMNS = ["task", "distance", "learned", "Spearman ρ [95%]", "Kendall τ_b [95%]",
           "pairs ordered", "anchors ρ / τ_b (n)", "note"]  # fmt: skip


def _value(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.3f}"


def _with_interval(x: float, low: float, high: float) -> str:
    if not np.isfinite(x):
        return "n/a"
    span = f"[{low:.3f}, {high:.3f}]" if np.isfinite(low) and np.isfinite(high) else "[n/a]"
    return f"{x:.3f} {span}"


def cells(table: pd.DataFrame) -> list[list[str]]:
    """One list of display cells per row of the correlation table, in COLUMNS order."""
    return [
        [
            r.task,
            r.metric.upper(),
            str(r.n_learned),
            _with_interval(r.spearman, r.spearman_low, r.spearman_high),
            _with_interval(r.kendall, r.kendall_low, r.kendall_high),
            _value(r.pairs),
            f"{_value(r.sanity_spearman)} / {_value(r.sanity_kendall)} ({r.n_sanity})",
            r.reason,
        ]
        for r in table.itertuples()
    ]


def to_markdown(table: pd.DataFrame) -> str:
    """``## HEADING``, the legend, and the table ("" when there is nothing to show)."""
    if table.empty:
        return ""
    lines = [f"## {HEADING}", "", LEGEND, "", *markdown_table(COLUMNS, cells(table))]
    return "\n".join(lines) + "\n"


def site_section(table: pd.DataFrame) -> str:
    """The same table as an HTML section with ``id=ANCHOR`` ("" when there is nothing)."""
    if table.empty:
        return ""
    e = html.escape
    return f'<h2 id="{ANCHOR}">{e(HEADING)}</h2><p class="note">{e(LEGEND)}</p>' + html_table(
        "correlation-table", COLUMNS, cells(table)
    )
