"""epic-bench: a benchmark and leaderboard for learned reward models.

Reward models are scored by EPIC distance to a task's ground truth (Gleave et al.,
ICLR 2021), by the NPEC and ERC baselines, and by reoptimization transfer.

    from benchmark import load_task, load_submission, epic_distance, transfer_score

The curated names below are resolved on first access (PEP 562): why lazy — every
``import benchmark.<module>`` runs this file, and most (the CLI, the results store) must
not pay for importing torch, gymnasium and SB3.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("epic-bench")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

_API = {
    "load_task": "benchmark.tasks",
    "list_tasks": "benchmark.tasks",
    "Transitions": "benchmark.data",
    "RewardFn": "benchmark.data",
    "pearson_distance": "benchmark.metrics",
    "canonicalize": "benchmark.metrics",
    "epic_distance": "benchmark.metrics",
    "epic_distance_with_ci": "benchmark.metrics",
    "epic_distance_tabular": "benchmark.metrics",
    "npec_distance": "benchmark.metrics",
    "erc_distance": "benchmark.metrics",
    "transfer_score": "benchmark.metrics",
    "load_submission": "benchmark.submissions",
}
__all__ = ["__version__", *sorted(_API)]


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'benchmark' has no attribute {name!r}")
    return getattr(importlib.import_module(_API[name]), name)
