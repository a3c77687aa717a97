"""Terminal views of tasks for ``epic-bench tasks``: rich tables, no computation."""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from benchmark.tasks import Task, TaskError, load_task, task_files
from benchmark.tools.task_matrix import EpicMatrix


def task_list_table() -> tuple[Table, list[str]]:
    """One line per registered task, and the errors of task files that do not load.

    Why errors are rows, not exceptions: one broken file (often a user's own task in
    ``$EPIC_BENCH_TASKS``) must not hide the others; it is reported by its file.
    """
    table = Table(title="epic-bench tasks")
    for column in ("task", "version", "family", "discount", "horizon", "description"):
        table.add_column(column)
    errors = []
    for name, path in task_files().items():
        try:
            task = load_task(path)
        except TaskError as e:
            table.add_row(name, "-", "-", "-", "-", Text("does not load (see below)", style="red"))
            errors.append(str(e))
            continue
        table.add_row(
            name,
            str(task.version),
            task.family,
            f"{task.discount:g}",
            str(task.horizon),
            task.description,
        )
    return table, errors


def task_detail(task: Task) -> Group:
    """Rewards, coverages, env variants, budgets and references of one task."""
    head = Text.assemble(
        (task.name, "bold"),
        f"  v{task.version}  family {task.family}  discount {task.discount:g}  horizon {task.horizon}\n",
        task.description,
    )
    rewards = Table(title="rewards")
    rewards.add_column("name")
    rewards.add_column("factory")
    rewards.add_column("parameters")
    for name in task.reward_names:
        spec = task.reward_specs[name]
        params = ", ".join(f"{k}={v}" for k, v in spec.params.items())
        rewards.add_row(name, spec.factory, params)

    coverages = Table(title="coverage distributions")
    for column in ("name", "policy", "parameter", "n_envs"):
        coverages.add_column(column)
    for name in task.coverage_names:
        spec = task.coverage_specs[name]
        coverages.add_row(name, spec.policy, _policy_parameter(spec), str(spec.n_envs))

    variants = Table(title="environment variants (reoptimization transfer is scored in test)")
    variants.add_column("variant")
    variants.add_column("parameters")
    for variant, params in task.env_params.items():
        shown = {k: v for k, v in params.items() if k not in ("horizon", "discount")}
        variants.add_row(variant, ", ".join(f"{k}={v}" for k, v in shown.items()))

    budgets = Table(title="transfer budgets")
    for column in (
        "budget",
        "algorithm",
        "total_timesteps",
        "n_envs",
        "eval_episodes",
        "hyperparams",
    ):
        budgets.add_column(column)
    for name, b in task.budgets.items():
        hyper = ", ".join(f"{k}={v}" for k, v in b.hyperparams.items()) or "-"
        budgets.add_row(
            name, b.algorithm, f"{b.total_timesteps:,}", str(b.n_envs), str(b.eval_episodes), hyper
        )

    parts = [head, rewards, coverages, variants, budgets]
    if task.reference:
        parts.append(Text("reference: " + ", ".join(f"{k}={v}" for k, v in task.reference.items())))
    return Group(*parts)


def matrix_table(matrix: EpicMatrix) -> Table:
    """The pairwise EPIC distances as a table; n/a where a reward is constant on the sample."""
    kind = "exact" if matrix.exact else "sampled"
    table = Table(title=f"EPIC distance, {matrix.task} / {matrix.coverage} coverage ({kind})")
    table.add_column("")
    for name in matrix.names:
        table.add_column(name, justify="right")
    for i, name in enumerate(matrix.names):
        cells = ["n/a" if np.isnan(d) else f"{d:.3f}" for d in matrix.distances[i]]
        table.add_row(name, *cells)
    return table


def _policy_parameter(spec) -> str:
    """The one number that defines a coverage policy beyond its name, labelled."""
    if spec.policy == "mixture":
        return f"switch p={spec.switch_probability:g}"
    if spec.policy == "expert_noisy":
        return f"epsilon={spec.epsilon:g}"
    return "-"
