"""The static leaderboard site: one self-contained ``index.html`` (no CDN, no server).

Reading order: an **overview** (one row per submission family, one column per task with
EPIC and transfer and their intervals), a table of contents, then per task **one table**
(submissions as rows, each metric's coverages as columns) and two plots:

- each submission's EPIC (mean over coverages) against its transfer score, with the
  Spearman rank correlation: does EPIC predict transfer, as Gleave et al. (ICLR 2021)
  claim (their abstract: it "predicts policy training success")? A good predictor gives
  a strongly negative correlation;
- each submission's EPIC under each coverage distribution D_T with its 95% CI.

Sanity entries (method ``sanity``: ground truth, shaped, negated, random net) have known
answers; they sit below a separator so methods are compared with methods. ``?highlight=NAME``
marks a submission (or a family across tasks). The page is a pure function of the board:
fixed SVG ids, no build time in the body, so a rebuild from the same results is
byte-identical and submission pull requests do not conflict on it.
"""

from __future__ import annotations

import html
import io
import json
import re

import numpy as np
import pandas as pd

from benchmark.leaderboard.aggregate import METRIC_ORDER, higher_is_better
from benchmark.leaderboard.analysis import (
    epic_transfer_points,
    noise_floor,
    noise_floor_text,
    spearman,
)
from benchmark.leaderboard.families import checkpoint_family, checkpoint_index, is_checkpoint
from benchmark.leaderboard.notes import BoardNote, notes_for
from benchmark.leaderboard.render import config_text, legend, raw_returns_text, to_records

SANITY = "sanity"
OVERVIEW_METRICS = ("epic", "transfer")
# matplotlib derives SVG element ids from this salt (default: random per process).
SVG_HASH_SALT = "epic-bench"


def family(submission: str, task: str) -> str:
    """``pointmass-airl`` on pointmass -> ``airl``: the same method across tasks."""
    prefix = f"{task}-"
    return submission[len(prefix) :] if submission.startswith(prefix) else submission


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _num(x: float) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:.3f}"


def _cell(mean: float, low: float, high: float, sort_value: float | None = None) -> str:
    """A table cell: the mean, its interval below; ``data-v`` is what the column sorts by."""
    v = mean if sort_value is None else sort_value
    data = "" if v is None or not np.isfinite(v) else f' data-v="{v:.9g}"'
    # No interval (e.g. from a single seed) is shown as "n/a", never as [x, x].
    ci = (
        f'<span class="ci">[{_num(low)}, {_num(high)}]</span>'
        if np.isfinite(low) and np.isfinite(high)
        else '<span class="ci">n/a</span>'
    )
    return f'<td class="num"{data}>{_num(mean)}{ci}</td>'


# --------------------------------------------------------------------------- plots


def svg_of(fig) -> str:
    """The figure as inline SVG with fixed element ids and no date: same figure, same bytes."""
    import matplotlib  # Lazy: matplotlib is slow to import; only plots need it
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": SVG_HASH_SALT}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _family_colors(families: list[str]) -> dict[str, object]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return {f: cmap(i % 10) for i, f in enumerate(sorted(families))}


def plot_epic_vs_transfer(board: pd.DataFrame, task: str) -> tuple[str, float, int]:
    """SVG scatter of EPIC vs transfer for ``task``; returns (svg, spearman, n_points).

    Points are coloured by family with a legend beside the axes, not annotated in place:
    near-equal scores (the sanity entries at EPIC 0) made in-place labels overlap.
    """
    # Lazy: matplotlib is slow to import and needs its backend chosen first (Agg, no display).
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = epic_transfer_points(board, task)
    rho = spearman(points["epic"], points["transfer"])
    families = [family(s, task) for s in points["submission"]]
    colors = _family_colors(families)
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    for f, p in sorted(zip(families, points.itertuples(), strict=True), key=lambda x: x[0]):
        marker = "s" if p.method == SANITY else "o"
        ax.scatter(p.epic, p.transfer, color=colors[f], marker=marker, s=36, label=f,
                   edgecolors="black", linewidths=0.4, zorder=3)  # fmt: skip
    ax.set_xlabel("EPIC to ground truth (mean over coverages)", fontsize=8)
    ax.set_ylabel("transfer (normalized return)", fontsize=8)
    ax.tick_params(labelsize=7)
    rho_text = "n/a" if np.isnan(rho) else f"{rho:+.2f}"
    ax.set_title(f"{task}: Spearman ρ = {rho_text} (n = {len(points)})", fontsize=9)
    ax.grid(alpha=0.3)
    if len(points):
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False,
                  title="■ sanity  ● method", title_fontsize=7)  # fmt: skip
    return svg_of(fig), rho, len(points)


def plot_epic_by_coverage(board: pd.DataFrame, task: str) -> str:
    """SVG of each submission's EPIC (mean, 95% CI) under each coverage of ``task``."""
    # Lazy: matplotlib is slow to import and needs its backend chosen first (Agg, no display).
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = board[(board["task"] == task) & (board["metric"] == "epic")]
    submissions = sorted(rows["submission"].unique(), key=lambda s: (_is_sanity(rows, s), s))
    coverages = sorted(rows["coverage"].unique())
    fig, ax = plt.subplots(figsize=(max(4.6, 0.7 * len(submissions) + 2), 3.4))
    width = 0.8 / max(1, len(coverages))
    for j, coverage in enumerate(coverages):
        sub = rows[rows["coverage"] == coverage].set_index("submission").reindex(submissions)
        x = np.arange(len(submissions)) + (j - (len(coverages) - 1) / 2) * width
        mean = sub["mean"].to_numpy(dtype=float)
        err = np.vstack([mean - sub["mean_ci_low"].to_numpy(dtype=float),
                         sub["mean_ci_high"].to_numpy(dtype=float) - mean])  # fmt: skip
        ax.errorbar(x, mean, yerr=np.nan_to_num(np.abs(err)), fmt="o", ms=4, capsize=2,
                    label=coverage)  # fmt: skip
    labels = [family(s, task) for s in submissions]
    ax.set_xticks(np.arange(len(submissions)), labels, rotation=30, ha="right", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_ylabel("EPIC distance", fontsize=8)
    ax.set_title(f"{task}: EPIC under each coverage D_T", fontsize=9)
    if coverages:
        ax.legend(fontsize=7, title="coverage", title_fontsize=7, loc="upper left",
                  bbox_to_anchor=(1.02, 1.0), frameon=False)  # fmt: skip
    ax.grid(alpha=0.3)
    return svg_of(fig)


def _is_sanity(rows: pd.DataFrame, submission: str) -> bool:
    methods = rows.loc[rows["submission"] == submission, "method"]
    return bool(len(methods)) and methods.iloc[0] == SANITY


# --------------------------------------------------------------------------- tables


def overview_rows(board: pd.DataFrame) -> pd.DataFrame:
    """Per (task, submission): EPIC over coverages and transfer, each with an interval.

    Checkpoints of a family are left out (they are one run's snapshots; see
    `family_blocks`).

    EPIC is the mean of the per-coverage seed means; its interval averages the
    per-coverage 95% bounds, which is what the interval of the average would be if the
    coverages' errors were perfectly correlated, so it is never narrower than the truth.
    """
    records = []
    board = board[~is_checkpoint(board["submission"])]  # families: in their own blocks
    for (task, submission), rows in board.groupby(["task", "submission"], sort=True):
        rec = {"task": task, "submission": submission, "family": family(submission, task),
               "method": rows["method"].iloc[0]}  # fmt: skip
        for metric in OVERVIEW_METRICS:
            m = rows[rows["metric"] == metric]
            rec[metric] = float(m["mean"].mean()) if len(m) else np.nan
            rec[f"{metric}_low"] = float(m["mean_ci_low"].mean()) if len(m) else np.nan
            rec[f"{metric}_high"] = float(m["mean_ci_high"].mean()) if len(m) else np.nan
        records.append(rec)
    return pd.DataFrame.from_records(records)


def _sortable_head(labels: list[tuple[str, str]]) -> str:
    """``<thead>`` whose headers sort the table's body (``labels``: (text, tooltip))."""
    cells = "".join(f'<th title="{_e(tip)}">{_e(text)}</th>' for text, tip in labels)
    return f"<thead><tr>{cells}</tr></thead>"


def _bodies(rows: list[tuple[bool, str]], width: int) -> str:
    """Method rows, then sanity rows in their own labelled ``<tbody>``."""
    methods = "".join(r for sanity, r in rows if not sanity)
    sanity = "".join(r for is_sanity, r in rows if is_sanity)
    out = f"<tbody>{methods}</tbody>"
    if sanity:
        out += (
            f'<tbody class="sanity"><tr class="separator"><td colspan="{width}">sanity checks — '
            "known answers (ground truth and shaped: EPIC 0; negated: EPIC 1; a random "
            f"network: in between)</td></tr>{sanity}</tbody>"
        )
    return out


def overview_table(board: pd.DataFrame, tasks: list[str]) -> str:
    """One row per submission family, per task a column of EPIC and transfer."""
    over = overview_rows(board)
    families = sorted(over["family"].unique(), key=lambda f: (_family_is_sanity(over, f), f))
    labels = [("submission family", "the method, the same across tasks")]
    labels += [(t, f"{t}: EPIC (mean over coverages) and transfer, 95% intervals") for t in tasks]
    rows = []
    for f in families:
        cells = [f'<td class="name">{_e(f)}</td>']
        for task in tasks:
            hit = over[(over["family"] == f) & (over["task"] == task)]
            if hit.empty:
                cells.append('<td class="num">—</td>')
                continue
            r = hit.iloc[0]
            parts = []
            for metric, label in (("epic", "EPIC"), ("transfer", "transfer")):
                if np.isfinite(r[metric]):
                    parts.append(f'<span class="metric">{label}</span> {_num(r[metric])}'
                                 f'<span class="ci">[{_num(r[metric + "_low"])}, '
                                 f'{_num(r[metric + "_high"])}]</span>')  # fmt: skip
            sort = r["epic"] if np.isfinite(r["epic"]) else None
            data = "" if sort is None else f' data-v="{sort:.9g}"'
            cells.append(f'<td class="num"{data}>{"".join(parts) or "—"}</td>')
        rows.append((_family_is_sanity(over, f),
                     f'<tr data-family="{_e(f)}">{"".join(cells)}</tr>'))  # fmt: skip
    return (
        '<table class="board" id="overview-table">'
        + _sortable_head(labels)
        + _bodies(rows, len(labels))
        + "</table>"
    )


def _family_is_sanity(over: pd.DataFrame, f: str) -> bool:
    return bool((over.loc[over["family"] == f, "method"] == SANITY).all())


def family_blocks(board: pd.DataFrame, task: str) -> str:
    """Each checkpoint family of ``task``: a collapsed ``<details>`` whose summary gives its
    count and best and worst EPIC (mean over coverages), its table in checkpoint order."""
    rows_t = board[(board["task"] == task) & is_checkpoint(board["submission"])]
    blocks = []
    for family_name, rows in rows_t.groupby(rows_t["submission"].map(checkpoint_family)):
        names = sorted(rows["submission"].unique(), key=checkpoint_index)
        epic = rows[rows["metric"] == "epic"].groupby("submission")["mean"].mean()
        span = f"; EPIC best {_num(epic.min())}, worst {_num(epic.max())}" if len(epic) else ""
        blocks.append(
            f'<details class="family" data-family="{_e(family_name)}"><summary>'
            f"{_e(family_name)}: {len(names)} checkpoints along one training run{_e(span)}"
            f"</summary>{task_table(rows, task, order=names)}</details>"
        )
    return "".join(blocks)


def task_table(board: pd.DataFrame, task: str, order: list[str] | None = None) -> str:
    """Submissions as rows; per metric, one column per coverage (transfer: one column).

    Checkpoints are left out unless ``order`` names the rows to show (`family_blocks`).
    """
    rows_t = board[board["task"] == task]
    if order is None:
        rows_t = rows_t[~is_checkpoint(rows_t["submission"])]
    metrics = sorted(rows_t["metric"].unique(), key=lambda m: (_order(m), m))
    columns: list[tuple[str, str]] = []  # (metric, coverage)
    for metric in metrics:
        coverages = sorted(rows_t.loc[rows_t["metric"] == metric, "coverage"].unique())
        columns += [(metric, c) for c in coverages]
    labels = [("submission", ""), ("method", "")]
    for metric, coverage in columns:
        m_rows = rows_t[(rows_t["metric"] == metric) & (rows_t["coverage"] == coverage)]
        direction = "higher is better" if higher_is_better(metric) else "lower is better"
        tip = f"{metric}{' on ' + coverage if coverage else ''}: {direction}{config_text(m_rows)}"
        labels.append((f"{metric} {coverage}".strip(), tip))
    submissions = order if order is not None else sorted(rows_t["submission"].unique())
    indexed = rows_t.set_index(["submission", "metric", "coverage"])
    rows = []
    for s in submissions:
        method = rows_t.loc[rows_t["submission"] == s, "method"].iloc[0]
        cells = [f'<td class="name">{_e(s)}</td>', f"<td>{_e(method)}</td>"]
        for metric, coverage in columns:
            key = (s, metric, coverage)
            if key not in indexed.index:
                cells.append('<td class="num">—</td>')
                continue
            r = indexed.loc[key]
            cell = _cell(r["mean"], r["mean_ci_low"], r["mean_ci_high"])
            returns = raw_returns_text(r)  # transfer: the raw returns behind the score
            if returns:
                cell = cell.replace("</td>", f'<span class="metric">{_e(returns)}</span></td>')
            cells.append(cell)
        rows.append((method == SANITY, f'<tr data-submission="{_e(s)}" '
                                       f'data-family="{_e(family(s, task))}">{"".join(cells)}</tr>'))  # fmt: skip
    epic_first = next((i for i, (m, _) in enumerate(columns) if m == "epic"), None)
    default = "" if epic_first is None or order else f' data-sort="{epic_first + 2}"'
    return (
        f'<table class="board task-table" data-task="{_e(task)}"{default}>'
        + _sortable_head(labels)
        + _bodies(rows, len(labels))
        + "</table>"
    )


def _order(metric: str) -> int:
    return METRIC_ORDER.index(metric) if metric in METRIC_ORDER else len(METRIC_ORDER)


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1280px;padding:0 1em;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
nav.toc{background:#f7f7f7;border:1px solid #e3e3e3;padding:.5em 1em;display:inline-block}
nav.toc ol{margin:.3em 0;padding-left:1.4em}
.scroll{overflow-x:auto}
table.board{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}
table.board th,table.board td{border:1px solid #ddd;padding:3px 8px;vertical-align:top}
table.board th{background:#f3f3f3;cursor:pointer;user-select:none;white-space:nowrap}
table.board th.asc::after{content:" ▲"} table.board th.desc::after{content:" ▼"}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.name{font-weight:600;white-space:nowrap}
span.ci{display:block;color:#777;font-size:11px}
span.metric{color:#555;font-size:11px} span.ci+span.metric{margin-top:.3em;display:inline-block}
tbody.sanity td{background:#fafafa;color:#666}
tbody.sanity tr.separator td{background:#eee;color:#444;font-style:italic;text-align:left;
  border-top:3px double #999}
tr.highlight td{background:#fff3b0 !important;color:#000}
.plots{display:flex;flex-wrap:wrap;gap:1em} .plots figure{margin:0}
.note{color:#666;font-size:12px}
footer{margin-top:3em;border-top:1px solid #ccc;padding-top:.5em}
details.family{margin:.2em 0 .8em} details.family summary{cursor:pointer;color:#444;font-size:13px}
"""

_JS = """
(function(){
  function key(td){ const v = td.dataset.v; return v === undefined ? null : parseFloat(v); }
  function text(td){ return td.textContent.trim(); }
  function sortTable(table, i, asc){
    table.querySelectorAll('th').forEach(h => h.classList.remove('asc','desc'));
    table.tHead.rows[0].cells[i].classList.add(asc ? 'asc' : 'desc');
    for (const body of table.tBodies){
      const rows = [...body.rows].filter(r => !r.classList.contains('separator'));
      const numeric = rows.some(r => key(r.cells[i]) !== null);
      rows.sort(function(a, b){
        let x = numeric ? key(a.cells[i]) : text(a.cells[i]);
        let y = numeric ? key(b.cells[i]) : text(b.cells[i]);
        if (x === null) return 1; if (y === null) return -1;
        const c = numeric ? x - y : x.localeCompare(y);
        return asc ? c : -c; });
      rows.forEach(r => body.appendChild(r)); } }
  document.querySelectorAll('table.board').forEach(function(table){
    [...table.tHead.rows[0].cells].forEach(function(th, i){
      th.addEventListener('click', function(){ sortTable(table, i, !th.classList.contains('asc')); }); });
    if (table.dataset.sort) sortTable(table, parseInt(table.dataset.sort), true); });
  const name = new URLSearchParams(window.location.search).get('highlight');
  if (name){
    const hits = [...document.querySelectorAll('tr[data-submission], tr[data-family]')].filter(
      r => r.dataset.submission === name || r.dataset.family === name);
    hits.forEach(r => r.classList.add('highlight'));
    if (hits.length) hits[0].scrollIntoView({block: 'center'}); }
})();
"""


def render_site(
    board: pd.DataFrame,
    *,
    title: str = "epic-bench leaderboard",
    build_note: str = "",
    appendix: str = "",
    notes: list[BoardNote] | None = None,
) -> str:
    """The whole site as one HTML string: a pure function of its arguments.

    ``build_note`` (e.g. how many result rows, the newest one's time) is the one place
    for build information; it must itself be derived from the results, not the clock.
    ``appendix``: HTML placed after the tasks (the correlation and meta-benchmark
    sections; each ``<h2 id=...>`` gets a link in the table of contents). ``notes``: board notes.
    """
    tasks = sorted(board["task"].unique()) if not board.empty else []
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        '<p class="note">Learned reward models scored by EPIC distance to each task\'s ground '
        "truth (lower is better), by NPEC, ERC, DARD and STARC, and by reoptimization transfer (normalized "
        "return; higher is better). Mean over seeds with 95% stratified-bootstrap intervals. "
        "Click a column header to sort; add <code>?highlight=NAME</code> to the address to mark "
        "a submission or a family.</p>",
    ]
    if board.empty:
        parts.append("<p>No results yet. Run <code>epic-bench evaluate</code> first.</p>")
    else:
        toc = ['<li><a href="#overview">Overview</a></li>']
        toc += [f'<li><a href="#task-{_e(t)}">{_e(t)}</a></li>' for t in tasks]
        for head in re.finditer(r'<h2 id="([^"]+)">(.*?)</h2>', appendix):
            toc.append(f'<li><a href="#{head[1]}">{head[2]}</a></li>')
        parts.append(f'<nav class="toc"><b>Contents</b><ol>{"".join(toc)}</ol></nav>')
        parts.append('<h2 id="overview">Overview</h2>')
        parts.append(
            '<p class="note">One row per submission family; per task its EPIC (mean over the '
            "task's coverages; interval: mean of the coverages' 95% bounds, a conservative "
            "width) and its transfer score.</p>"
        )
        parts.append(f'<div class="scroll">{overview_table(board, tasks)}</div>')
    for task in tasks:
        parts.append(f'<h2 id="task-{_e(task)}">{_e(task)}</h2>')
        parts.append(f'<div class="scroll">{task_table(board, task)}</div>')
        parts.append(family_blocks(board, task))
        metrics = set(board[board["task"] == task]["metric"])
        for metric in sorted(metrics, key=_order):
            floor = noise_floor(board, task, metric) if legend(metric) else None
            if floor is not None:
                parts.append(f'<p class="note">{_e(noise_floor_text(floor))}</p>')
            parts += [n.html() for n in notes_for(notes or [], task, metric)]
        if any(legend(m) for m in metrics):
            parts.append(f'<p class="note">{_e(legend("transfer"))}</p>')
        figures = []
        if {"epic", "transfer"} <= metrics:
            svg, _rho, _n = plot_epic_vs_transfer(board, task)
            figures.append(svg)
        if "epic" in metrics:
            figures.append(plot_epic_by_coverage(board, task))
        if figures:
            parts.append('<div class="plots">')
            parts.extend(f"<figure>{svg}</figure>" for svg in figures)
            parts.append("</div>")
    parts.append(appendix)
    if build_note:
        parts.append(f'<footer class="note" id="build-info">{_e(build_note)}</footer>')
    payload = json.dumps(to_records(board), allow_nan=False).replace("</", "<\\/")
    parts.append(f'<script type="application/json" id="board-data">{payload}</script>')
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts) + "\n"
