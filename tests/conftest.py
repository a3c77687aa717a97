"""Shared pytest set-up: offline W&B, deterministic torch, small thread pools."""

import os

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
# Hypothesis keeps its example database and caches beside our coverage cache, not in the
# repository (its default is ./.hypothesis); read lazily, so setting it here is in time.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY",
    os.path.join(
        os.environ.get("EPIC_BENCH_CACHE") or os.path.expanduser("~/.cache/epic-bench"),
        "hypothesis",
    ),
)

import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))
