"""Publish the leaderboard: render an aggregate in any format, write README.md and the site.

Why `render` lives here and not in `.render`: the HTML page uses the text renderers'
records, so the one dispatcher over every format sits above both.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

import benchmark.leaderboard.correlation_report as correlation_report
import benchmark.leaderboard.findings_report as findings_report
import benchmark.leaderboard.metabench_report as metabench_report
from benchmark.leaderboard.aggregate import aggregate, select_rows
from benchmark.leaderboard.analysis import noise_floor, noise_floor_text
from benchmark.leaderboard.correlation import correlation_table
from benchmark.leaderboard.findings import paper_findings
from benchmark.leaderboard.metabench import read_metabench
from benchmark.leaderboard.notes import NOTES_FILE, read_notes
from benchmark.leaderboard.render import FORMATS, render_text, to_markdown
from benchmark.leaderboard.site import render_site
from benchmark.metrics.registry import DISTANCE_METRICS
from benchmark.paths import DEFAULT_RESULTS_DIR, write_text_atomic
from benchmark.results import read_results
from benchmark.results.pruning import CurrentVersions
from benchmark.results.renormalize import mixed_normalizers
from benchmark.vocabulary import TRANSFER_LEGEND


def render(board: pd.DataFrame, fmt: str, *, width: int = 200) -> str:
    """The aggregate as text in one of FORMATS ("html": the self-contained site page)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "html":
        return render_site(board)
    return render_text(board, fmt, width=width)


def build_note(results: pd.DataFrame, results_dir: str | Path = DEFAULT_RESULTS_DIR) -> str:
    """Where the page comes from, derived from the results only (never the clock).

    Why: a build time in the page made every rebuild a ~2 000-line diff, so submission
    pull requests conflicted; the newest result's time says how fresh the board is.
    """
    if results.empty:
        return "Built from no result rows."
    newest = pd.to_datetime(results["timestamp"]).max()
    return (
        f"Built by `epic-bench leaderboard build` from {len(results)} result rows in "
        f"{results_dir} (newest {newest:%Y-%m-%d %H:%M} UTC)."
    )


def build(
    results_dir: str | Path = DEFAULT_RESULTS_DIR,
    out_dir: str | Path = "leaderboard",
    *,
    seed: int = 0,
    shipped: CurrentVersions | None = None,
) -> tuple[Path, Path]:
    """Write ``out_dir/README.md`` (Markdown tables) and ``out_dir/site/index.html``.

    Returns the two paths. The site opens from the file system (no server). The
    meta-benchmark's results, when ``out_dir/metabench/`` holds them, get a section in
    both and one plot per task (``site/metabench-<task>.svg``). ``shipped``: count only
    rows of these task versions and submission hashes (see `aggregate`). The maintainers'
    explanations of surprising numbers (``out_dir/notes.toml``, `notes`) are printed
    beside them. The rank
    correlation of each distance with transfer over learned entries (`correlation`) is
    computed from the same per-seed rows the board aggregates; the paper's findings
    (`findings`) from the board itself.
    """
    results = read_results(results_dir)
    board = aggregate(results, seed=seed, shipped=shipped)
    distances = [m for m in DISTANCE_METRICS if not board.empty and m in set(board["metric"])]
    selected = select_rows(results, shipped) if not results.empty else results
    mixed = mixed_normalizers(selected)
    if mixed:
        warnings.warn(
            f"transfer rows normalized by different references: {'; '.join(mixed)}; their "
            "means mix scales. Publish the task's runs (`epic-bench transfer refs --publish`) "
            "and run `epic-bench results renormalize --task T --apply`",
            stacklevel=2,
        )
    correlations = correlation_table(selected, distances, seed=seed)
    findings = paper_findings(board)
    out_dir = Path(out_dir)
    notes = read_notes(out_dir / NOTES_FILE)
    site = out_dir / "site" / "index.html"
    site.parent.mkdir(parents=True, exist_ok=True)
    mb_scores, mb_summary = read_metabench(out_dir / "metabench")
    appendix = findings_report.site_section(findings)
    appendix += correlation_report.site_section(correlations)
    appendix += metabench_report.site_section(mb_scores, mb_summary)
    write_text_atomic(
        site,
        render_site(
            board, appendix=appendix, build_note=build_note(results, results_dir), notes=notes
        ),
    )
    plot_links = {}
    for task in dict.fromkeys(mb_summary["task"]) if not mb_summary.empty else []:
        svg = site.parent / f"metabench-{task}.svg"
        write_text_atomic(svg, metabench_report.plot(mb_scores, task))
        plot_links[task] = f"site/{svg.name}"
    lines = [
        "# epic-bench leaderboard",
        "",
        "Generated by `epic-bench leaderboard build` from `leaderboard/results/*.parquet`; "
        "the sortable site with plots is `site/index.html` (open it from the file system).",
        "Mean and IQM over seeds, 95% stratified-bootstrap CI of the mean (none from a single "
        "seed: n/a; transfer CIs also carry the spread of the reference runs). "
        "EPIC, NPEC, ERC, DARD, STARC: lower is better; transfer: higher is better.",
        "",
    ]
    tasks = list(dict.fromkeys(board["task"])) if not board.empty else []
    floors = [noise_floor(board, task, metric) for task in tasks
              for metric in ("transfer", "transfer_train")]  # fmt: skip
    floors = [f for f in floors if f is not None]
    if floors:
        lines += ["## Transfer: what the numbers mean", "", TRANSFER_LEGEND + ".", ""]
        lines += [f"- **{f['task']}**: {noise_floor_text(f)}" for f in floors] + [""]
    if notes:
        lines += ["## Notes on surprising numbers", "", f"From `{NOTES_FILE}`.", ""]
        lines += [n.markdown() for n in notes] + [""]
    if findings:
        lines += [findings_report.to_markdown(findings)]
    if not correlations.empty:
        lines += [correlation_report.to_markdown(correlations)]
    if not mb_summary.empty:
        lines += [metabench_report.to_markdown(mb_summary, plot_links=plot_links), ""]
    lines += ["## Tables", "", to_markdown(board)]
    readme = out_dir / "README.md"
    write_text_atomic(readme, "\n".join(lines))
    return readme, site
