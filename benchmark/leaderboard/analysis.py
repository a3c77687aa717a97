"""Leaderboard analysis: does EPIC (or another distance) predict reoptimization transfer?

Gleave et al. (ICLR 2021, Sec. 6) claim a low EPIC distance predicts a policy trained on
the learned reward does well. Per task we pair each submission's EPIC (mean over
coverages) with its transfer score and take the Spearman rank correlation; a good
predictor gives a strongly negative one (lower distance, higher return).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def distance_transfer_points(board: pd.DataFrame, task: str, metric: str) -> pd.DataFrame:
    """Per submission of ``task``: the distance ``metric``'s mean over coverages and transfer.

    Returns columns ``submission, method, <metric>, transfer`` for submissions with both.
    """
    rows = board[board["task"] == task]
    distance = rows[rows["metric"] == metric].groupby("submission")["mean"].mean()
    transfer = rows[rows["metric"] == "transfer"].groupby("submission")["mean"].mean()
    methods = rows.groupby("submission")["method"].first()
    both = pd.concat({metric: distance, "transfer": transfer}, axis=1).dropna()
    both["method"] = methods.reindex(both.index)
    return both.reset_index()[["submission", "method", metric, "transfer"]]


def epic_transfer_points(board: pd.DataFrame, task: str) -> pd.DataFrame:
    """Per submission of ``task``: EPIC mean over coverages and transfer mean.

    Returns columns ``submission, method, epic, transfer`` for submissions with both.
    """
    return distance_transfer_points(board, task, "epic")


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); NaN for fewer than 3 points."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3:
        return float("nan")
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])
