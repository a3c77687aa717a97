"""Fill the coverage cache ahead of evaluation (``epic-bench coverage build``).

Why its own module: it needs the registry (`load_task`) and the sampler's cache paths,
and sits above both so neither imports the other.
"""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from benchmark.tasks.coverage_cache import cache_path
from benchmark.tasks.task import list_tasks, load_task


def build_cache(
    tasks: list[str] | None,
    coverages: list[str] | None,
    *,
    n_transitions: int,
    n_samples: int,
    seeds: int,
    progress: bool = True,
) -> list[Path]:
    """Precompute cached samples for seeds 0..seeds-1 of every (task, coverage); paths written.

    ``None`` means every task / every coverage of each task (``epic-bench coverage build``).
    """
    loaded = [load_task(name) for name in (tasks or list_tasks())]
    units = [
        (task, name, seed)
        for task in loaded
        for name in (coverages or task.coverage_names)
        for seed in range(seeds)
    ]
    for task, name, _ in units:
        task.coverage(name)  # fail fast on an unknown coverage name, before any work
    paths = []
    for task, name, seed in tqdm(units, desc="coverage", unit="sample", disable=not progress):
        task.coverage(name).sample(n_transitions, n_samples, seed)
        paths.append(cache_path(task, name, n_transitions, n_samples, seed))
    return paths
