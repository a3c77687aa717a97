"""Tasks: the TOML registry, the env-family contract, coverage distributions, exact arrays.

list_tasks() -> list[str]
load_task(name) -> Task           # unknown name: TaskError listing valid names
task.coverage("expert").sample(n_transitions, n_samples, seed) -> CoverageSample
task.tabular -> TabularMDP | None # exact arrays of finite tasks
"""

from benchmark.tasks.cache import build_cache
from benchmark.tasks.coverage import Coverage, CoverageSample, CoverageSpec, encode
from benchmark.tasks.coverage_cache import cache_path, episodes_cache_path
from benchmark.tasks.family import EnvFamily
from benchmark.tasks.tabular import TabularCoverage, TabularMDP, TabularPolicy
from benchmark.tasks.task import (
    Budget,
    RewardSpec,
    Task,
    TaskError,
    list_tasks,
    load_task,
    task_files,
)

__all__ = [
    "Budget",
    "Coverage",
    "CoverageSample",
    "CoverageSpec",
    "EnvFamily",
    "RewardSpec",
    "TabularCoverage",
    "TabularMDP",
    "TabularPolicy",
    "Task",
    "TaskError",
    "build_cache",
    "cache_path",
    "encode",
    "episodes_cache_path",
    "list_tasks",
    "load_task",
    "task_files",
]
