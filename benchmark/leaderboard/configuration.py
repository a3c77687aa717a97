"""Choosing the configuration a board shows, and saying what it leaves out.

A configuration is (budget, N_T, M): transfer rows carry their budget, distance rows
their sample sizes (``budget`` is empty for them, see `benchmark.results`). ``--budget
smoke`` therefore selects transfer at the smoke budget and distances at smoke's sizes
(`benchmark.metrics.registry.DISTANCE_SAMPLES`); episode metrics (ERC) at the rollout
length the registry derives from those sizes. Exact rows (finite tasks, sizes 0) hold at
every configuration.
"""

from __future__ import annotations

import pandas as pd

from benchmark.evaluation.grid import EvaluationError, cached_task
from benchmark.leaderboard.standing import config_label
from benchmark.metrics.registry import DISTANCE_SAMPLES, REGISTRY, episodes_rollout_length


def select_configuration(
    results: pd.DataFrame,
    *,
    budget: str | None = None,
    n_transitions: int | None = None,
    n_samples: int | None = None,
) -> pd.DataFrame:
    """The rows measured at the given configuration; None leaves a dimension free."""
    if budget is not None and budget not in DISTANCE_SAMPLES:
        raise EvaluationError(
            f"unknown budget {budget!r}; choose from {', '.join(DISTANCE_SAMPLES)}"
        )
    sizes = DISTANCE_SAMPLES.get(budget, (None, None))
    n_t = n_transitions if n_transitions is not None else sizes[0]
    m = n_samples if n_samples is not None else sizes[1]
    if results.empty or (budget is None and n_t is None and m is None):
        return results
    transfer = results["metric"].map(lambda m: m in REGISTRY and REGISTRY[m].kind == "transfer")
    erc = results["metric"].map(lambda m: m in REGISTRY and REGISTRY[m].needs == "episodes")
    keep = pd.Series(True, index=results.index)
    if budget is not None:
        keep &= ~transfer | (results["budget"] == budget)
    elif n_t is not None or m is not None:
        keep &= ~transfer  # sample sizes say nothing about a transfer budget
    if n_t is not None:
        erc_length = results["task"].map(
            lambda t: episodes_rollout_length(cached_task(t), n_t) if t in _known_tasks() else -1
        )
        distance_ok = results["n_transitions"] == n_t
        keep &= transfer | (erc & (results["n_transitions"] == erc_length)) | (~erc & distance_ok)
    if m is not None:
        keep &= transfer | erc | (results["n_samples"] == m)
    if "exact" in results:  # exact rows (finite tasks) hold at every configuration
        keep |= results["exact"].astype(bool)
    return results[keep]


def _known_tasks() -> set[str]:
    from benchmark.tasks import list_tasks

    return set(list_tasks())


def hidden_text(hidden: pd.DataFrame, max_items: int = 12) -> str:
    """``N rows at other configurations are hidden: ...`` or "" when nothing is hidden."""
    if hidden.empty:
        return ""
    items = [
        f"{r['task']} {r['metric']} {config_label(r['budget'], r['n_transitions'], r['n_samples'])}"
        f" ({int(r['rows'])} rows)"
        for r in hidden.to_dict("records")
    ]
    more = f", and {len(items) - max_items} more" if len(items) > max_items else ""
    return (
        f"{int(hidden['rows'].sum())} rows at other configurations are hidden: "
        + "; ".join(items[:max_items])
        + more
        + ". Show them with --budget smoke|standard|full, --n-transitions, --n-samples.\n"
    )
