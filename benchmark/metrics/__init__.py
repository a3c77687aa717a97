"""Metrics: distances between reward functions and reoptimization transfer.

    from benchmark.metrics import epic_distance, npec_distance, erc_distance, transfer_score
    from benchmark.metrics import REGISTRY      # what the engine knows about each metric

Modules: ``epic`` (Gleave et al. 2021), ``npec`` and ``erc`` (its baselines), ``dard``
(Wulfe et al. 2022), ``starc`` (Skalse et al. 2024), ``transfer`` (+ ``reoptimize``,
``tabular_transfer``), ``stats`` (bootstrap intervals, rliable-style aggregates) and the
``registry``. Names are resolved on first access (PEP 562): why lazy — the CLI reads the
registry's metric names through this package and must not import torch and SB3 for it.
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {
    "pearson_distance": "epic",
    "canonicalize": "epic",
    "epic_distance": "epic",
    "epic_distance_with_ci": "epic",
    "epic_distance_tabular": "epic",
    "npec_distance": "npec",
    "erc_distance": "erc",
    "dard_distance": "dard",
    "dard_distance_tabular": "dard",
    "starc_distance": "starc",
    "starc_distance_tabular": "starc",
    "transfer_score": "transfer",
    "transfer_scores": "transfer",
    "REGISTRY": "registry",
    "MetricSpec": "registry",
    "UnitInputs": "registry",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'benchmark.metrics' has no attribute {name!r}")
    return getattr(importlib.import_module(f"benchmark.metrics.{_API[name]}"), name)
