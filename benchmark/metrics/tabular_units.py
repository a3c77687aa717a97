"""Exact evaluation units on finite tasks: the reward tables a metric's ``unit_value`` needs.

Why: on a finite task (``task.tabular``) EPIC, NPEC and ERC have exact values from the
tables (`epic_distance_tabular`, `npec_distance_tabular`, `erc_distance_tabular`), so the
board reports them instead of sample estimates: rows flagged ``exact``, with a
zero-width interval. The grid makes such units with sizes 0 and seed 0
(`benchmark.evaluation.grid.expand_grid`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from benchmark.metrics.registry import UnitInputs
    from benchmark.tasks import TabularMDP


def unit_tables(inputs: UnitInputs) -> tuple[np.ndarray, np.ndarray, TabularMDP]:
    """(submission's [S, A, S] table, ground truth's table, the task's TabularMDP)."""
    from benchmark.tasks.tabular import reward_table

    tab = inputs.task.tabular
    if tab is None:
        raise ValueError(f"task {inputs.task.name!r} is not finite: it has no exact tables")
    table = reward_table(inputs.reward, tab.n_states, tab.n_actions)
    return table, tab.rewards["ground_truth"], tab


def exact_row(value: float) -> dict[str, float | bool]:
    """A unit's result fields for an exact value: the value is its own interval."""
    value = float(value)
    return {"value": value, "ci_low": value, "ci_high": value, "exact": True}
