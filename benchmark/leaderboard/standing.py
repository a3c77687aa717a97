"""Where freshly scored models stand on the board, at their own configuration.

Why a configuration match: a distance at N_T x M = 256 x 64 (smoke) and one at
1024 x 256 (standard) are different estimates, and transfer at two budgets different
scores, so a rank is only meaningful among board entries measured the same way (same
task version, metric, coverage, budget, N_T and M). When no other entry is there, the
answer says at which configurations the others are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.leaderboard.aggregate import RANK_DECIMALS, aggregate, higher_is_better
from benchmark.leaderboard.families import is_checkpoint
from benchmark.results import STATUS_OK

CONFIG = ["budget", "n_transitions", "n_samples"]
STANDING_COLUMNS = [
    "task", "metric", "coverage", "submission", "mean", "n_seeds", "rank", "of",
    "best", "budget", "n_transitions", "n_samples", "board_configs",
]  # fmt: skip


def config_label(budget: str, n_transitions: int, n_samples: int) -> str:
    """``N_T x M = 1024 x 256`` for distances, ``budget standard`` for transfer, ``exact``
    for exact distances (finite tasks: no sample, no budget)."""
    if int(n_transitions) == 0 and int(n_samples) == 0:
        return f"budget {budget}" if budget else "exact"
    return f"N_T x M = {int(n_transitions)} x {int(n_samples)}"


def standing(scored: pd.DataFrame, board: pd.DataFrame) -> pd.DataFrame:
    """The rank of each scored (submission, task, metric, coverage) among the board's entries.

    Args:
        scored: ok result rows of the models just evaluated (e.g. `EvaluationSummary.grid`).
        board: the board's result rows (`read_results` of the committed store).

    Returns:
        One row per scored (task, metric, coverage, submission, configuration) with its
        seed mean, ``rank`` (1 = best; ties share the better rank) among ``of`` = board
        entries + 1 at the same configuration (checkpoints of a family not counted), the board's ``best`` mean there, and
        ``board_configs`` (other configurations of the board for that task and metric,
        text) when it has none at this one (then rank and best are NaN).
    """
    if scored.empty:
        return pd.DataFrame(columns=STANDING_COLUMNS)
    scored = scored[scored["status"] == STATUS_OK]
    rows = []
    keys = ["task", "task_version", "metric", "coverage", "submission", *CONFIG]
    for key, group in scored.groupby(keys, sort=True):
        task, version, metric, coverage, submission, budget, n_t, m = key
        values = group["value"].to_numpy(dtype=np.float64)
        mean = float(np.nanmean(values))
        # The other entries of this task and metric (a family's snapshots count as none;
        # the submission's own rows, when it is already on the board, are no company).
        others = board[
            (board["task"] == task)
            & (board["metric"] == metric)
            & (board["submission"] != submission)
            & ~is_checkpoint(board["submission"])
        ]
        same = others[
            (others["task_version"] == version)
            & (others["budget"] == budget)
            & (others["n_transitions"] == n_t)
            & (others["n_samples"] == m)
        ]
        entries = aggregate(same)
        entries = entries[entries["coverage"] == coverage]
        rank, best, configs = np.nan, np.nan, ""
        if len(entries):
            sign = -1.0 if higher_is_better(metric) else 1.0
            means = np.round(sign * entries["mean"].to_numpy(dtype=np.float64), RANK_DECIMALS)
            rank = 1 + int((means < round(sign * mean, RANK_DECIMALS)).sum())
            best = float(sign * means.min())
        else:
            ok = others[others["status"] == STATUS_OK]
            configs = ", ".join(
                sorted({config_label(*c) for c in ok[CONFIG].itertuples(index=False)})
            )
        rows.append(
            {
                "task": task, "metric": metric, "coverage": coverage, "submission": submission,
                "mean": mean, "n_seeds": len(values), "rank": rank, "of": len(entries) + 1,
                "best": best, "budget": budget, "n_transitions": int(n_t), "n_samples": int(m),
                "board_configs": configs,
            }
        )  # fmt: skip
    return pd.DataFrame(rows, columns=STANDING_COLUMNS)


def standing_text(table: pd.DataFrame, max_lines: int = 40) -> str:
    """One line per scored entry: value, rank of N at its configuration, the board's best."""
    if table.empty:
        return ""
    lines = ["  standing on the board (entries at the same task version, budget, N_T and M):"]
    for r in table.head(max_lines).to_dict("records"):
        where = f"{r['task']:<12} {r['metric']:<14} {r['coverage'] or '-':<9}"
        config = config_label(r["budget"], r["n_transitions"], r["n_samples"])
        head = f"    {r['submission']:<28} {where} {r['mean']:.4f}"
        if np.isnan(r["rank"]):
            has = r["board_configs"] or "none"
            lines.append(f"{head}  no other board entries at {config} (they are at: {has})")
        else:
            lines.append(
                f"{head}  rank {int(r['rank'])} of {r['of']} at {config} (board best {r['best']:.4f})"
            )
    if len(table) > max_lines:
        lines.append(
            f"    ... {len(table) - max_lines} more (`epic-bench leaderboard` shows every entry)"
        )
    return "\n".join(lines)
