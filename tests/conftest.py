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
# Model workers (benchmark/submissions/worker.py) are separate Python processes: modules
# a test pickles (with trust_pickle=True) must be importable there too.
_TESTS = os.path.dirname(os.path.abspath(__file__))
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (_TESTS, os.environ.get("PYTHONPATH", "")) if p
)

import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


# --- shared fixtures ---------------------------------------------------------------------

from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from benchmark.submissions import Submission, write_submission  # noqa: E402


@pytest.fixture
def private_cache(tmp_path, monkeypatch) -> Path:
    """A coverage/transfer cache of this test's own, so tests never share cached samples."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("EPIC_BENCH_CACHE", str(cache))
    return cache


@pytest.fixture
def task_reward_submission() -> Callable[..., Submission]:
    """Writes a ``task-reward`` submission: a task's own reward, scaled and/or shaped.

    ``write(root, name, reward, task="gridworld", description=None, **model)``; ``model``
    takes ``scale`` and ``potential_scale``. Such submissions have exactly known distances
    to the ground truth, which is why so many tests use them.
    """

    def write(root: Path, name: str, reward: str, *, task: str = "gridworld",
              description: str | None = None, **model) -> Submission:  # fmt: skip
        return write_submission(
            Path(root) / name,
            {
                "name": name,
                "task": task,
                "method": "task-reward",
                "authors": ["epic-bench tests"],
                "description": description or f"{task} {reward} reward",
                "model": {"format": "task-reward", "reward": reward, **model},
            },
        )

    return write


@pytest.fixture
def seed_rows() -> Callable[..., list[dict]]:
    """Builds result rows of one gridworld entry, one per seed, from its values.

    ``rows(submission, values, metric="epic", n_t=1024, m=256, budget="", coverage="random")``:
    value ``values[s]`` for seed s; the sha256 is ``submission * 2`` so entries differ.
    """
    from benchmark.results import make_row

    def rows(submission: str, values, *, metric: str = "epic", n_t: int = 1024, m: int = 256,
             budget: str = "", coverage: str = "random") -> list[dict]:  # fmt: skip
        return [
            make_row(
                submission=submission,
                submission_sha256=submission * 2,
                method="test",
                task="gridworld",
                task_version="1",
                metric=metric,
                coverage=coverage,
                seed=s,
                budget=budget,
                n_transitions=n_t,
                n_samples=m,
                value=v,
            )  # fmt: skip
            for s, v in enumerate(values)
        ]

    return rows
