"""Leaderboard: aggregate the results store over seeds, rank, render tables and the site.

board = aggregate(read_results("leaderboard/results"))
print(render(board, "markdown"))
build("leaderboard/results", "leaderboard")   # README.md + site/index.html
"""

from benchmark.leaderboard.aggregate import (
    AGGREGATE_COLUMNS,
    BUDGET_ORDER,
    HIGHER_IS_BETTER,
    METRIC_ORDER,
    RANK_DECIMALS,
    aggregate,
    current_rows,
    hidden_configurations,
    higher_is_better,
    sections,
    select_rows,
)
from benchmark.leaderboard.analysis import epic_transfer_points, spearman
from benchmark.leaderboard.build import build, render
from benchmark.leaderboard.configuration import hidden_text, select_configuration
from benchmark.leaderboard.render import (
    DISPLAY_HEADER,
    FORMATS,
    config_text,
    render_text,
    to_markdown,
    to_records,
    to_rich_tables,
)
from benchmark.leaderboard.site import render_site
from benchmark.leaderboard.standing import standing, standing_text

__all__ = [
    "AGGREGATE_COLUMNS",
    "BUDGET_ORDER",
    "DISPLAY_HEADER",
    "FORMATS",
    "HIGHER_IS_BETTER",
    "METRIC_ORDER",
    "RANK_DECIMALS",
    "aggregate",
    "build",
    "config_text",
    "current_rows",
    "hidden_configurations",
    "hidden_text",
    "epic_transfer_points",
    "higher_is_better",
    "render",
    "render_site",
    "render_text",
    "sections",
    "select_configuration",
    "select_rows",
    "spearman",
    "standing",
    "standing_text",
    "to_markdown",
    "to_records",
    "to_rich_tables",
]
