"""Evaluation: the grid of units, one unit's computation, executors, the runner, W&B.

units = expand_grid(select_submissions(), metrics=["epic"], seeds=3)
summary = evaluate(units, results_dir="leaderboard/results", wandb=False)
print(summary_text(summary))
"""

from benchmark.evaluation.executors import EXECUTORS, run_units
from benchmark.evaluation.grid import (
    BUDGETS,
    DEFAULT_N_SAMPLES,
    DEFAULT_N_TRANSITIONS,
    DEFAULT_SEEDS,
    DISTANCE_METRICS,
    DISTANCE_SAMPLES,
    ERC_MIN_EPISODES,
    METRICS,
    NO_EPISODES,
    TRANSFER_VARIANTS,
    EvaluationError,
    Unit,
    erc_rollout_length,
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
    "BUDGETS",
    "DEFAULT_N_SAMPLES",
    "DEFAULT_N_TRANSITIONS",
    "DEFAULT_SEEDS",
    "DISTANCE_METRICS",
    "DISTANCE_SAMPLES",
    "ERC_MIN_EPISODES",
    "EXECUTORS",
    "METRICS",
    "NO_EPISODES",
    "TRANSFER_VARIANTS",
    "EvaluationError",
    "EvaluationSummary",
    "Unit",
    "erc_rollout_length",
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
