"""Leaderboard: aggregate result rows over seeds, rank submissions, render tables.

Aggregation (per task, metric, coverage, submission): the seeds' values as a score
vector ``[num_seeds]`` go to `benchmark.metrics.stats.aggregate_seeds`, which gives the
mean and interquartile mean (IQM) with 95% stratified-bootstrap CIs (rliable). Rank 1 is
the best mean: lowest for distances (EPIC, NPEC, ERC), highest for transfer.

Which rows count: only ``ok`` rows; of a unit run more than once (``--force``) the
newest; of a task only its newest ``task_version``; of a submission name only its
newest model (sha256); and per task and metric one
configuration (budget, N_T, M): the one with the most rows, ties to the most precise,
named in each table's title so precisions are never silently mixed.

The HTML site lives in `benchmark.leaderboard_site`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.metrics.stats import aggregate_seeds
from benchmark.results import DEFAULT_RESULTS_DIR, STATUS_OK, UNIT_KEY, read_results, unit_key

HIGHER_IS_BETTER = {"transfer": True, "transfer_train": True}
METRIC_ORDER = ["epic", "npec", "erc", "transfer", "transfer_train"]
BUDGET_ORDER = {"": 0, "smoke": 1, "standard": 2, "full": 3}
RANK_DECIMALS = 6
FORMATS = ("table", "markdown", "csv", "json", "html")

AGGREGATE_COLUMNS = [
    "task",
    "metric",
    "coverage",
    "rank",
    "submission",
    "method",
    "n_seeds",
    "mean",
    "mean_ci_low",
    "mean_ci_high",
    "iqm",
    "iqm_ci_low",
    "iqm_ci_high",
    "budget",
    "n_transitions",
    "n_samples",
    "n_failed",
]


def higher_is_better(metric: str) -> bool:
    """Transfer is a normalized return (higher is better); the rest are distances."""
    return HIGHER_IS_BETTER.get(metric, False)


def select_rows(results: pd.DataFrame) -> pd.DataFrame:
    """The ok rows the leaderboard counts (see module docstring)."""
    df = results[results["status"] == STATUS_OK].copy()
    if df.empty:
        return df
    df = df.sort_values("timestamp").drop_duplicates(list(UNIT_KEY) + ["submission"], keep="last")
    # Versions are stored as strings; compare them as numbers ("10" is newer than "9").
    version = pd.to_numeric(df["task_version"], errors="coerce")
    df = df[version == version.groupby(df["task"]).transform("max")]
    # A re-submitted model (new sha256 under the same name) replaces the old one.
    current = (
        df.sort_values("timestamp")
        .groupby(["task", "submission"])["submission_sha256"]
        .transform("last")
    )
    df = df[df["submission_sha256"] == current]
    # One configuration per task and metric, so a table compares like with like: the
    # one with the most rows, ties broken by precision (budget, then sample sizes).
    config = ["budget", "n_transitions", "n_samples"]
    counts = df.groupby(["task", "metric", *config]).size().rename("_rows").reset_index()
    counts["_precision"] = counts["budget"].map(BUDGET_ORDER).fillna(0)
    counts = counts.sort_values(["_rows", "_precision", "n_transitions", "n_samples"])
    chosen = counts.drop_duplicates(["task", "metric"], keep="last")[["task", "metric", *config]]
    return df.merge(chosen, on=["task", "metric", *config], how="inner")


def aggregate(
    results: pd.DataFrame,
    *,
    tasks: Sequence[str] = (),
    metrics: Sequence[str] = (),
    seed: int = 0,
) -> pd.DataFrame:
    """One row per (task, metric, coverage, submission): mean, IQM, 95% CIs and rank.

    Args:
        results: rows as read by `benchmark.results.read_results`.
        tasks, metrics: keep only these (empty: all).
        seed: seed of the bootstrap resampling (same seed, same intervals).

    Returns:
        DataFrame with AGGREGATE_COLUMNS, sorted by task, metric, coverage, rank.
    """
    if tasks:
        results = results[results["task"].isin(tasks)]
    if metrics:
        results = results[results["metric"].isin(metrics)]
    # A failure counts only while the unit has no ok row (a re-run may have fixed it).
    ok_keys = {unit_key(r) for r in results[results["status"] == STATUS_OK].to_dict("records")}
    failed_rows = results[results["status"] != STATUS_OK]
    # ... and only for the submission's current model (its newest sha256).
    current = (
        results.sort_values("timestamp").groupby(["task", "submission"])["submission_sha256"].last()
    )
    still_failed = [
        unit_key(r) not in ok_keys
        and current.get((r["task"], r["submission"])) == r["submission_sha256"]
        for r in failed_rows.to_dict("records")
    ]
    failed = (
        failed_rows[np.array(still_failed, dtype=bool)]
        .groupby(["task", "metric", "coverage", "submission"])
        .size()
    )
    df = select_rows(results)
    records = []
    for (task, metric, coverage, submission), group in df.groupby(
        ["task", "metric", "coverage", "submission"], sort=False
    ):
        values = group["value"].to_numpy(dtype=np.float64)
        values = values[np.isfinite(values)]
        if len(values) == 0:
            continue
        stats = aggregate_seeds(values, seed=seed)
        first = group.iloc[0]
        records.append(
            {
                "task": task,
                "metric": metric,
                "coverage": coverage,
                "submission": submission,
                "method": first["method"],
                "n_seeds": len(values),
                "mean": stats["mean"].estimate,
                "mean_ci_low": stats["mean"].low,
                "mean_ci_high": stats["mean"].high,
                "iqm": stats["iqm"].estimate,
                "iqm_ci_low": stats["iqm"].low,
                "iqm_ci_high": stats["iqm"].high,
                "budget": first["budget"],
                "n_transitions": int(first["n_transitions"]),
                "n_samples": int(first["n_samples"]),
                "n_failed": int(failed.get((task, metric, coverage, submission), 0)),
            }
        )
    out = pd.DataFrame.from_records(records, columns=[c for c in AGGREGATE_COLUMNS if c != "rank"])
    if out.empty:
        return pd.DataFrame(columns=AGGREGATE_COLUMNS)
    # Means that agree to RANK_DECIMALS tie: below that is estimator rounding (e.g. a
    # shaped ground truth at EPIC 3e-8 vs the ground truth itself at 1e-8).
    signed = out["mean"].where(~out["metric"].map(higher_is_better), -out["mean"])
    signed = signed.round(RANK_DECIMALS)
    out["rank"] = (
        signed.groupby([out["task"], out["metric"], out["coverage"]]).rank(method="min").astype(int)
    )
    out["_metric_order"] = out["metric"].map(
        lambda m: METRIC_ORDER.index(m) if m in METRIC_ORDER else len(METRIC_ORDER)
    )
    out = out.sort_values(["task", "_metric_order", "coverage", "rank", "submission"])
    return out.drop(columns="_metric_order")[AGGREGATE_COLUMNS].reset_index(drop=True)


def sections(board: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """Split an aggregate into (task, metric, rows) sections, in display order."""
    out = []
    for (task, metric), rows in board.groupby(["task", "metric"], sort=False):
        out.append((task, metric, rows.reset_index(drop=True)))
    return out


def _fmt(x: float) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:.3f}"


def _interval(low: float, high: float) -> str:
    return f"[{_fmt(low)}, {_fmt(high)}]"


def _display_rows(rows: pd.DataFrame) -> list[list[str]]:
    return [
        [
            r.coverage or "-",
            str(r.rank),
            r.submission,
            r.method,
            str(r.n_seeds),
            _fmt(r.mean),
            _interval(r.mean_ci_low, r.mean_ci_high),
            _fmt(r.iqm),
            str(r.n_failed),
        ]
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


def to_markdown(board: pd.DataFrame) -> str:
    """GitHub Markdown: one table per task and metric."""
    if board.empty:
        return "_No results yet. Run `epic-bench evaluate` first._\n"
    parts = []
    for task, metric, rows in sections(board):
        parts.append(f"### {_title(task, metric, rows)}\n")
        parts.append("| " + " | ".join(DISPLAY_HEADER) + " |")
        parts.append("|" + "|".join("---" for _ in DISPLAY_HEADER) + "|")
        for cells in _display_rows(rows):
            parts.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        parts.append("")
    return "\n".join(parts)


def to_rich_tables(board: pd.DataFrame) -> list:
    """rich Tables for the terminal, one per task and metric."""
    from rich.table import Table

    tables = []
    for task, metric, rows in sections(board):
        table = Table(title=_title(task, metric, rows), title_justify="left")
        for name in DISPLAY_HEADER:
            table.add_column(
                name,
                justify="right" if name in ("rank", "seeds", "mean", "IQM", "failed") else "left",
            )
        for cells in _display_rows(rows):
            table.add_row(*cells)
        tables.append(table)
    return tables


def render(board: pd.DataFrame, fmt: str) -> str:
    """The aggregate as text in one of FORMATS ("html": the self-contained site page)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "markdown":
        return to_markdown(board)
    if fmt == "csv":
        return board.to_csv(index=False)
    if fmt == "json":
        return json.dumps(_records(board), indent=1, allow_nan=False)
    if fmt == "html":
        from benchmark.leaderboard_site import render_site

        return render_site(board)
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, width=140, force_terminal=False)
    if board.empty:
        console.print("No results yet. Run `epic-bench evaluate` first.")
    for table in to_rich_tables(board):
        console.print(table)
    return buffer.getvalue()


def _records(board: pd.DataFrame) -> list[dict]:
    """JSON-safe records: NaN becomes null."""
    clean = board.astype(object).where(board.notna(), None)
    out = []
    for rec in clean.to_dict("records"):
        out.append({k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()})
    return out


def build(
    results_dir: str | Path = DEFAULT_RESULTS_DIR,
    out_dir: str | Path = "leaderboard",
    *,
    seed: int = 0,
) -> tuple[Path, Path]:
    """Write ``out_dir/README.md`` (Markdown tables) and ``out_dir/site/index.html``.

    Returns the two paths. The site opens from the file system (no server).
    """
    from benchmark.leaderboard_site import epic_transfer_points, render_site, spearman

    board = aggregate(read_results(results_dir), seed=seed)
    out_dir = Path(out_dir)
    site = out_dir / "site" / "index.html"
    site.parent.mkdir(parents=True, exist_ok=True)
    site.write_text(render_site(board), encoding="utf-8")
    lines = [
        "# epic-bench leaderboard",
        "",
        "Generated by `epic-bench leaderboard build` from `leaderboard/results/*.parquet`; "
        "the sortable site with plots is `site/index.html` (open it from the file system).",
        "Mean and IQM over seeds, 95% stratified-bootstrap CI of the mean. "
        "EPIC, NPEC, ERC: lower is better; transfer: higher is better.",
        "",
    ]
    tasks = list(dict.fromkeys(board["task"])) if not board.empty else []
    correlations = []
    for task in tasks:
        points = epic_transfer_points(board, task)
        if len(points):
            rho = spearman(points["epic"], points["transfer"])
            correlations.append(f"| {task} | {len(points)} | {_fmt(rho)} |")
    if correlations:
        lines += [
            "## Does EPIC predict transfer?",
            "",
            "Spearman rank correlation between a submission's EPIC (mean over coverages) and "
            "its transfer score; strongly negative means EPIC ranks submissions as transfer does.",
            "",
            "| task | submissions | Spearman ρ |",
            "|---|---|---|",
            *correlations,
            "",
        ]
    lines += ["## Tables", "", to_markdown(board)]
    readme = out_dir / "README.md"
    readme.write_text("\n".join(lines), encoding="utf-8")
    return readme, site
