"""The static leaderboard site: one self-contained ``index.html`` (no CDN, no server).

Data are embedded as JSON and turned into sortable tables by a few lines of inline
JavaScript; plots are inline SVG from matplotlib:

- per task, each submission's EPIC (mean over coverages) against its transfer score,
  with the Spearman rank correlation: does EPIC predict transfer, as Gleave et al.
  (ICLR 2021, Sec. 6) claim? A good predictor gives a strongly negative correlation
  (lower distance, higher return);
- per task, each submission's EPIC under each coverage distribution D_T with its
  95% CI: how robust the distance is to the choice of D_T.
"""

from __future__ import annotations

import html
import io
import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from benchmark.leaderboard.aggregate import higher_is_better, sections
from benchmark.leaderboard.analysis import epic_transfer_points, spearman
from benchmark.leaderboard.render import config_text, to_records

COLUMNS = [
    ("rank", "rank", "int"),
    ("submission", "submission", "str"),
    ("method", "method", "str"),
    ("coverage", "coverage", "str"),
    ("n_seeds", "seeds", "int"),
    ("mean", "mean", "num"),
    ("mean_ci_low", "CI low", "num"),
    ("mean_ci_high", "CI high", "num"),
    ("iqm", "IQM", "num"),
    ("n_failed", "failed", "int"),
]


def _svg(fig) -> str:
    import matplotlib.pyplot as plt  # Lazy: matplotlib is slow to import; only plots need it

    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def plot_epic_vs_transfer(board: pd.DataFrame, task: str) -> tuple[str, float, int]:
    """SVG scatter of EPIC vs transfer for ``task``; returns (svg, spearman, n_points)."""
    # Lazy: matplotlib is slow to import and needs its backend chosen first (Agg, no display).
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = epic_transfer_points(board, task)
    rho = spearman(points["epic"], points["transfer"])
    fig, ax = plt.subplots(figsize=(4.6, 3.4))
    ax.scatter(points["epic"], points["transfer"], color="tab:blue")
    for p in points.itertuples():
        ax.annotate(
            p.submission,
            (p.epic, p.transfer),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    ax.set_xlabel("EPIC distance to ground truth (mean over coverages)")
    ax.set_ylabel("transfer (normalized return)")
    rho_text = "n/a" if np.isnan(rho) else f"{rho:+.2f}"
    ax.set_title(f"{task}: Spearman ρ = {rho_text} (n = {len(points)})", fontsize=9)
    ax.grid(alpha=0.3)
    return _svg(fig), rho, len(points)


def plot_epic_by_coverage(board: pd.DataFrame, task: str) -> str:
    """SVG of each submission's EPIC (mean, 95% CI) under each coverage of ``task``."""
    # Lazy: matplotlib is slow to import and needs its backend chosen first (Agg, no display).
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = board[(board["task"] == task) & (board["metric"] == "epic")]
    submissions = sorted(rows["submission"].unique())
    coverages = sorted(rows["coverage"].unique())
    fig, ax = plt.subplots(figsize=(max(4.6, 0.9 * len(submissions) + 2), 3.4))
    width = 0.8 / max(1, len(coverages))
    for j, coverage in enumerate(coverages):
        sub = rows[rows["coverage"] == coverage].set_index("submission").reindex(submissions)
        x = np.arange(len(submissions)) + (j - (len(coverages) - 1) / 2) * width
        mean = sub["mean"].to_numpy(dtype=float)
        err = np.vstack(
            [
                mean - sub["mean_ci_low"].to_numpy(dtype=float),
                sub["mean_ci_high"].to_numpy(dtype=float) - mean,
            ]
        )
        ax.errorbar(x, mean, yerr=np.nan_to_num(np.abs(err)), fmt="o", capsize=2, label=coverage)
    ax.set_xticks(np.arange(len(submissions)), submissions, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("EPIC distance")
    ax.set_title(f"{task}: EPIC under each coverage D_T", fontsize=9)
    if coverages:
        ax.legend(fontsize=7, title="coverage", title_fontsize=7)
    ax.grid(alpha=0.3)
    return _svg(fig)


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table.board{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}
table.board th,table.board td{border:1px solid #ddd;padding:3px 8px}
table.board th{background:#f3f3f3;cursor:pointer;user-select:none}
table.board th.asc::after{content:" ▲"} table.board th.desc::after{content:" ▼"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.plots{display:flex;flex-wrap:wrap;gap:1em} .plots figure{margin:0}
.note{color:#666;font-size:12px}
"""

_JS = """
(function(){
  const data = JSON.parse(document.getElementById('board-data').textContent);
  const cols = JSON.parse(document.getElementById('board-columns').textContent);
  function fmt(v, kind){ if(v===null||v===undefined) return '—';
    if(kind==='num') return v.toFixed(3); if(kind==='int') return String(v);
    return String(v===''?'-':v); }
  function render(table, rows){
    const body = table.tBodies[0]; body.innerHTML='';
    for(const r of rows){ const tr=document.createElement('tr');
      for(const [key,,kind] of cols){ const td=document.createElement('td');
        td.textContent=fmt(r[key],kind); if(kind!=='str') td.className='num'; tr.appendChild(td);}
      body.appendChild(tr);} }
  document.querySelectorAll('table.board').forEach(function(table){
    const rows = data.filter(r => r.task===table.dataset.task && r.metric===table.dataset.metric);
    render(table, rows);
    table.querySelectorAll('th').forEach(function(th, i){
      th.addEventListener('click', function(){
        const [key,,kind] = cols[i]; const asc = !th.classList.contains('asc');
        table.querySelectorAll('th').forEach(h => h.classList.remove('asc','desc'));
        th.classList.add(asc?'asc':'desc');
        rows.sort(function(a,b){ let x=a[key], y=b[key];
          if(x===null) return 1; if(y===null) return -1;
          const c = kind==='str' ? String(x).localeCompare(String(y)) : x-y;
          return asc ? c : -c; });
        render(table, rows); }); }); });
})();
"""


def render_site(
    board: pd.DataFrame, *, title: str = "epic-bench leaderboard", appendix: str = ""
) -> str:
    """The whole site as one HTML string (tables per task and metric, plots per task).

    ``appendix``: HTML placed after the tasks (the meta-benchmark section).
    """
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="note">Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Mean and IQM over '
        "seeds with 95% stratified-bootstrap CIs; EPIC, NPEC, ERC: lower is better; transfer: "
        "higher is better. Click a column header to sort.</p>",
    ]
    if board.empty:
        parts.append("<p>No results yet. Run <code>epic-bench evaluate</code> first.</p>")
    tasks = list(dict.fromkeys(board["task"])) if not board.empty else []
    by_task: dict[str, list[str]] = {t: [] for t in tasks}
    for task, metric, _rows in sections(board):
        direction = "higher is better" if higher_is_better(metric) else "lower is better"
        direction += config_text(_rows)
        head = "".join(f"<th>{html.escape(label)}</th>" for _, label, _ in COLUMNS)
        by_task[task].append(
            f"<h3>{html.escape(metric)} <small>({direction})</small></h3>"
            f'<table class="board" data-task="{html.escape(task)}" data-metric="{html.escape(metric)}">'
            f"<thead><tr>{head}</tr></thead><tbody></tbody></table>"
        )
    for task in tasks:
        parts.append(f'<h2 id="{html.escape(task)}">{html.escape(task)}</h2>')
        parts.extend(by_task[task])
        metrics = set(board[board["task"] == task]["metric"])
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
    payload = json.dumps(to_records(board), allow_nan=False).replace("</", "<\\/")
    columns = json.dumps(COLUMNS)
    parts.append(f'<script type="application/json" id="board-data">{payload}</script>')
    parts.append(f'<script type="application/json" id="board-columns">{columns}</script>')
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts)
