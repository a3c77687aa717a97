"""Leaderboard analysis: does EPIC (or another distance) predict reoptimization transfer?

Gleave et al. (ICLR 2021; abstract: EPIC "predicts policy training success") claim a low
EPIC distance predicts a policy trained on the learned reward does well. Per task we pair
each submission's EPIC (mean over coverages) with its transfer score and take the
Spearman rank correlation; a good predictor gives a strongly negative one (lower
distance, higher return).
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


def noise_floor(board: pd.DataFrame, task: str, metric: str = "transfer") -> dict | None:
    """The ground-truth entry retrained against its own reference: how much is RL noise.

    The sanity entry ``<task>-ground-truth`` trains on the very reward the K reference
    runs trained on, only with the submission seeds; its normalized score would be 1
    without RL noise. Its mean and 95% CI, and the reference's spread on the normalized
    scale (std / (R_gt − R_random)), bound how far apart two entries must be before the
    difference means anything. None where the task has no such row with raw returns.
    """
    rows = board[(board["task"] == task) & (board["metric"] == metric)]
    rows = rows[rows["submission"] == f"{task}-ground-truth"]
    if rows.empty or not np.isfinite(float(rows.iloc[0].get("reference_return", np.nan))):
        return None
    r = rows.iloc[0]
    gap = float(r["reference_return"] - r["random_return"])
    return {
        "task": task,
        "metric": metric,
        "n_seeds": int(r["n_seeds"]),
        "mean": float(r["mean"]),
        "ci_low": float(r["mean_ci_low"]),
        "ci_high": float(r["mean_ci_high"]),
        "reference_return": float(r["reference_return"]),
        "reference_std": float(r["reference_std"]),
        "n_reference_runs": int(r["n_reference_runs"]),
        "random_return": float(r["random_return"]),
        "reference_spread": float(r["reference_std"]) / gap if gap > 0 else float("nan"),
        "exact": float(r["eval_episodes"]) == 0,  # value iteration: no RL noise at all
    }


def noise_floor_text(floor: dict) -> str:
    """One sentence for the README and the site."""
    if floor.get("exact"):
        return (
            f"Exact ({floor['metric']}): value iteration, no RL noise; the ground truth "
            f"scores {floor['mean']:.2f} on every seed (reference {floor['reference_return']:.1f}, "
            f"random {floor['random_return']:.1f})."
        )
    ci = (
        f"[{floor['ci_low']:.2f}, {floor['ci_high']:.2f}]"
        if np.isfinite(floor["ci_low"])
        else "n/a"
    )
    return (
        f"Noise floor ({floor['metric']}): the ground truth retrained on {floor['n_seeds']} "
        f"submission seeds scores {floor['mean']:.2f} (95% CI {ci}) against its reference of "
        f"{floor['n_reference_runs']} runs, {floor['reference_return']:.1f} ± "
        f"{floor['reference_std']:.1f} (random {floor['random_return']:.1f}); one reference "
        f"std is {floor['reference_spread']:.2f} on the normalized scale. Differences "
        "smaller than this are RL noise, not reward quality."
    )
