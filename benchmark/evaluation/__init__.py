"""Evaluation: the grid of units, one unit's computation, executors, the runner, W&B.

units = expand_grid(select_submissions(), metrics=["epic"], seeds=3)
summary = evaluate(units, results_dir="leaderboard/results", wandb=False)
print(summary_text(summary))
"""

from benchmark.evaluation.compare import Comparison, Distance, compare, comparison_table
from benchmark.evaluation.executors import EXECUTORS, run_units
from benchmark.evaluation.grid import (
    BUDGETS,
    DEFAULT_SEEDS,
    METRICS,
    EvaluationError,
    Unit,
    expand_grid,
    parse_metrics,
    sample_sizes,
    select_submissions,
)
from benchmark.evaluation.runner import (
    EvaluationSummary,
    evaluate,
    grid_results,
    summary_text,
)
from benchmark.evaluation.unit import run_unit

__all__ = [
    "Comparison",
    "Distance",
    "BUDGETS",
    "DEFAULT_SEEDS",
    "EXECUTORS",
    "METRICS",
    "EvaluationError",
    "EvaluationSummary",
    "compare",
    "comparison_table",
    "Unit",
    "evaluate",
    "expand_grid",
    "grid_results",
    "parse_metrics",
    "run_unit",
    "run_units",
    "sample_sizes",
    "select_submissions",
    "summary_text",
]
