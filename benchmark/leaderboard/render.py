"""Leaderboard renderers: terminal tables, Markdown, CSV and JSON of an aggregate.

An aggregate (`benchmark.leaderboard.aggregate.aggregate`) is split into one table per
task and metric; each title names the direction and the configuration (budget, N_T, M)
so precisions are never silently mixed. The HTML page is `benchmark.leaderboard.site`.
"""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from benchmark.leaderboard.aggregate import higher_is_better, sections
from benchmark.leaderboard.families import checkpoint_family, is_checkpoint
from benchmark.vocabulary import LEADERBOARD_FORMATS, TRANSFER_LEGEND, TRANSFER_METRICS

FORMATS = LEADERBOARD_FORMATS
TEXT_FORMATS = tuple(f for f in FORMATS if f != "html")


def fmt_number(x: float) -> str:
    """Three decimals, or an em dash for a missing/non-finite value."""
    return "—" if x is None or not np.isfinite(x) else f"{x:.3f}"


def _interval(low: float, high: float) -> str:
    """``[low, high]``; "n/a" where there is no interval (a single seed)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "n/a"
    return f"[{fmt_number(low)}, {fmt_number(high)}]"


def _return(x: float) -> str:
    """A raw return: one decimal (returns are tens to thousands), em dash if missing."""
    return "—" if x is None or not np.isfinite(x) else f"{x:.1f}"


def _reference(r) -> str:
    """``mean ± std (K)``: the ground-truth-trained reference behind a transfer score."""
    if r.reference_return is None or not np.isfinite(r.reference_return):
        return "—"
    if r.eval_episodes == 0:  # value iteration: exact, no runs to spread
        return f"{r.reference_return:.1f} (exact)"
    return f"{r.reference_return:.1f} ± {r.reference_std:.1f} ({int(r.n_reference_runs)})"


def raw_returns_text(r: pd.Series) -> str:
    """``R -25.0 · random -80.0 · reference -20.0 ± 6.0 (5)`` for an aggregate transfer row.

    "" for a row without raw returns (distances, rows written before results schema v2).
    """
    value = r.get("policy_return", np.nan)
    if value is None or not np.isfinite(value):
        return ""
    ref = _reference(SimpleNamespace(**r.to_dict()))
    return f"R {_return(value)} · random {_return(r['random_return'])} · reference {ref}"


def _episodes(n: float) -> str:
    """Evaluation episodes behind the returns; 0 means exact (value iteration)."""
    if n is None or not np.isfinite(n):
        return "—"
    return "exact" if n == 0 else str(int(n))


def has_returns(rows: pd.DataFrame) -> bool:
    """Whether a section's rows carry raw returns (transfer rows of results schema v2)."""
    return "policy_return" in rows and bool(np.isfinite(rows["policy_return"].astype(float)).any())


def _display_rows(rows: pd.DataFrame) -> list[list[str]]:
    with_returns = has_returns(rows)
    return [
        [
            r.coverage or "-",
            str(r.rank),
            r.submission,
            r.method,
            str(r.n_seeds),
            fmt_number(r.mean),
            _interval(r.mean_ci_low, r.mean_ci_high),
            fmt_number(r.iqm),
            str(r.n_failed),
        ]
        + (
            [
                _return(r.policy_return),
                _return(r.random_return),
                _reference(r),
                _episodes(r.eval_episodes),
            ]  # fmt: skip
            if with_returns
            else []
        )
        for r in rows.itertuples()
    ]


DISPLAY_HEADER = [
    "coverage",
    "rank",
    "submission",
    "method",
    "seeds",
    "mean",
    "95% CI",
    "IQM",
    "failed",
]
# Extra columns of a transfer table whose rows carry raw returns (means over seeds).
RETURN_HEADER = ["policy return", "random return", "reference ± std (K)", "episodes"]


def header(rows: pd.DataFrame) -> list[str]:
    """The columns of one section: raw returns appended where the rows carry them."""
    return DISPLAY_HEADER + (RETURN_HEADER if has_returns(rows) else [])


def legend(metric: str) -> str:
    """The one-line meaning of a metric's numbers, shown under its table ("" if none)."""
    return TRANSFER_LEGEND if metric in TRANSFER_METRICS else ""


def _title(task: str, metric: str, rows: pd.DataFrame | None = None) -> str:
    direction = "higher is better" if higher_is_better(metric) else "lower is better"
    return f"{task} — {metric} ({direction}{config_text(rows)})"


def config_text(rows: pd.DataFrame | None) -> str:
    """ ", budget standard" / ", N_T=1024, M=256": the configuration a table shows.

    M = 0 marks a metric without mean-term samples (ERC), whose N_T transitions were
    rolled out and cut to complete episodes.
    """
    if rows is None or not len(rows):
        return ""
    first, text = rows.iloc[0], ""
    if first["budget"]:
        text += f", budget {first['budget']}"
    n_t, m = int(first["n_transitions"]), int(first["n_samples"])
    if n_t and m:
        text += f", N_T={n_t}, M={m}"
    elif n_t:
        text += f", complete episodes of {n_t} rolled-out transitions"
    return text


def family_rows(rows: pd.DataFrame, metric: str) -> list[tuple[str, list[str]]]:
    """One display row per (coverage, checkpoint family): count, rank range, best and worst.

    Returns (coverage, cells) in DISPLAY_HEADER order (plus empty return cells where the
    section has them); the family's best and worst are by the metric's direction.
    """
    out = []
    families = rows[is_checkpoint(rows["submission"])]
    families = families.assign(_family=families["submission"].map(checkpoint_family))
    for (coverage, family), g in families.groupby(["coverage", "_family"], sort=True):
        order = g["mean"].sort_values(ascending=not higher_is_better(metric))
        low, high = int(g["n_seeds"].min()), int(g["n_seeds"].max())
        cells = [
            coverage or "-",
            f"{g['rank'].min()}–{g['rank'].max()}",
            f"{family} ({len(g)} checkpoints)",
            str(g["method"].iloc[0]),
            f"{low}–{high}" if high > low else str(low),
            f"best {fmt_number(order.iloc[0])} · worst {fmt_number(order.iloc[-1])}",
            "—",
            "—",
            str(int(g["n_failed"].sum())),
        ]
        out.append((coverage, cells + ["—"] * (len(header(rows)) - len(cells))))
    return out


def _markdown_rows(rows: pd.DataFrame, metric: str) -> list[list[str]]:
    """Ordinary entries one per row, each checkpoint family as one row after its coverage's."""
    plain = rows[~is_checkpoint(rows["submission"])]
    cells = [(c, 0, r) for c, r in zip(plain["coverage"], _display_rows(plain), strict=True)]
    cells += [(c, 1, r) for c, r in family_rows(rows, metric)]
    return [r for _, _, r in sorted(cells, key=lambda x: (x[0], x[1]))]


def to_markdown(board: pd.DataFrame) -> str:
    """GitHub Markdown: one table per task and metric; checkpoint families one row each."""
    if board.empty:
        return "_No results yet. Run `epic-bench evaluate` first._\n"
    parts = []
    for task, metric, rows in sections(board):
        parts.append(f"### {_title(task, metric, rows)}\n")
        cols = header(rows)
        parts.append("| " + " | ".join(cols) + " |")
        parts.append("|" + "|".join("---" for _ in cols) + "|")
        for cells in _markdown_rows(rows, metric):
            parts.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        if legend(metric):
            parts.append(f"\n_{legend(metric)}_")
        parts.append("")
    return "\n".join(parts)


def to_rich_tables(board: pd.DataFrame) -> list:
    """rich Tables for the terminal, one per task and metric."""

    tables = []
    for task, metric, rows in sections(board):
        table = Table(
            title=_title(task, metric, rows),
            title_justify="left",
            caption=legend(metric) or None,
            caption_justify="left",
        )
        for name in header(rows):
            table.add_column(
                name,
                justify="left" if name in ("coverage", "submission", "method") else "right",
            )
        for cells in _display_rows(rows):
            table.add_row(*cells)
        tables.append(table)
    return tables


def render_text(board: pd.DataFrame, fmt: str, *, width: int = 200) -> str:
    """The aggregate as text in one of TEXT_FORMATS (``width``: columns of the table format)."""
    if fmt not in TEXT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(TEXT_FORMATS)}")
    if fmt == "markdown":
        return to_markdown(board)
    if fmt == "csv":
        return board.to_csv(index=False)
    if fmt == "json":
        return json.dumps(to_records(board), indent=1, allow_nan=False)

    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False)
    if board.empty:
        console.print("No results yet. Run `epic-bench evaluate` first.")
    for table in to_rich_tables(board):
        console.print(table)
    return buffer.getvalue()


def to_records(board: pd.DataFrame) -> list[dict]:
    """JSON-safe records: NaN becomes null."""
    clean = board.astype(object).where(board.notna(), None)
    out = []
    for rec in clean.to_dict("records"):
        out.append({k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()})
    return out
