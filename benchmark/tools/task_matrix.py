"""The EPIC distance between every pair of a task's rewards: the benchmark's sanity picture.

On a well-built task ``shaped`` is ~0 from ``ground_truth`` (EPIC ignores potential
shaping) and the reward that wants the opposite is ~1 from it. ``epic-bench tasks matrix``
prints this matrix as a table and saves it as a heatmap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.metrics.epic import canonicalize, epic_distance_tabular, pearson_distance
from benchmark.paths import atomic_write
from benchmark.tasks import Task


@dataclass(frozen=True)
class EpicMatrix:
    """Pairwise EPIC distances ``distances [K, K]`` between the rewards ``names`` (NaN: undefined)."""

    task: str
    coverage: str
    names: list[str]
    distances: np.ndarray
    exact: bool  # computed from the tabular arrays rather than samples

    def __getitem__(self, pair: tuple[str, str]) -> float:
        a, b = pair
        return float(self.distances[self.names.index(a), self.names.index(b)])


def epic_matrix(
    task: Task,
    coverage: str,
    *,
    n_transitions: int = 4096,
    n_samples: int = 4096,
    seed: int = 0,
    cache: bool = True,
) -> EpicMatrix:
    """Sample-based EPIC between every pair of rewards on one CoverageSample of ``coverage``.

    Each reward is canonicalized once, then every pair is a Pearson distance. A reward
    that is constant after canonicalization on this sample (e.g. a sparse reward never
    triggered) gives NaN in its row and column.
    """
    sample = task.coverage(coverage).sample(n_transitions, n_samples, seed, cache=cache)
    canon = {
        name: canonicalize(
            task.reward(name),
            sample.transitions,
            sample.state_samples,
            sample.action_samples,
            task.discount,
        )
        for name in task.reward_names
    }
    return _pairwise(task, coverage, canon, exact=False)


def exact_epic_matrix(task: Task, coverage: str) -> EpicMatrix:
    """Exact EPIC between every pair of rewards of a finite task (``Task.tabular``)."""
    if task.tabular is None:
        raise ValueError(f"task {task.name!r} is not finite; use epic_matrix (sample-based)")
    task.coverage(coverage)  # a clear error for an unknown coverage name
    dist = task.tabular.coverage[coverage]
    names = task.reward_names
    distances = np.zeros((len(names), len(names)))
    for i, a in enumerate(names):
        for j, b in enumerate(names[i + 1 :], start=i + 1):
            try:
                d = epic_distance_tabular(
                    task.tabular.rewards[a],
                    task.tabular.rewards[b],
                    state_dist=dist.state_dist,
                    action_dist=dist.action_dist,
                    transition_dist=dist.transition_dist,
                    discount=task.discount,
                )
            except ValueError:
                d = float("nan")
            distances[i, j] = distances[j, i] = d
    return EpicMatrix(task.name, coverage, names, distances, exact=True)


def _pairwise(task: Task, coverage: str, canon: dict, *, exact: bool) -> EpicMatrix:
    names = list(canon)
    distances = np.zeros((len(names), len(names)))
    for i, a in enumerate(names):
        for j, b in enumerate(names[i + 1 :], start=i + 1):
            try:
                d = pearson_distance(canon[a], canon[b])
            except ValueError:  # a constant reward: the correlation is undefined
                d = float("nan")
            distances[i, j] = distances[j, i] = d
    for i in range(len(names)):  # the diagonal is 0 unless the reward is constant
        if np.isnan(distances[i]).sum() == len(names) - 1 and len(names) > 1:
            distances[i, i] = float("nan")
    return EpicMatrix(task.name, coverage, names, distances, exact=exact)


def save_heatmap(matrix: EpicMatrix, out_dir: str | Path) -> Path:
    """Write ``<out>/<task>-<coverage>-epic-matrix.png`` (matplotlib, Agg) and return its path."""
    # Lazy: matplotlib is slow to import and needs its backend chosen first (Agg, no display).
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{matrix.task}-{matrix.coverage}-epic-matrix.png"
    k = len(matrix.names)
    fig, ax = plt.subplots(figsize=(1.2 * k + 2.5, 1.0 * k + 1.5))
    image = ax.imshow(np.ma.masked_invalid(matrix.distances), vmin=0.0, vmax=1.0, cmap="viridis")
    ax.set_xticks(range(k), matrix.names, rotation=35, ha="right")
    ax.set_yticks(range(k), matrix.names)
    for i in range(k):
        for j in range(k):
            d = matrix.distances[i, j]
            text = "n/a" if np.isnan(d) else f"{d:.2f}"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                color="white" if d < 0.6 else "black",
                fontsize=9,
            )
    kind = "exact" if matrix.exact else "sampled"
    ax.set_title(f"EPIC distance, {matrix.task} / {matrix.coverage} coverage ({kind})")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    with atomic_write(path, suffix=".tmp.png") as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
    return path
