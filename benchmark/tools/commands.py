"""The ``epic-bench`` commands of the tools stage (``tasks``, ``coverage``, ``experts``) and
the store's maintenance (``results prune``).

Click only, like `benchmark.cli` (which registers these groups on ``main``); why a second
module: one CLI file for every stage grew past what reads in one sitting. Each command
imports its stage inside the function, so ``epic-bench --help`` does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from benchmark.paths import DEFAULT_RESULTS_DIR
from benchmark.tools.terminal import print_rich

if TYPE_CHECKING:
    from benchmark.tasks import Task


# --- MuJoCo experts (benchmark.tools.experts) ----------------------------------------


@click.group()
def experts() -> None:
    """Train and evaluate the committed expert policies of the MuJoCo tasks."""


@experts.command("train")
@click.argument("task")
@click.option(
    "--timesteps", default=1_000_000, show_default=True, help="SAC environment steps (RL Zoo: 1e6)."
)
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--eval-every",
    default=10_000,
    show_default=True,
    help="Evaluate, keep the best checkpoint every N steps.",
)
@click.option("--threads", default=1, show_default=True, help="torch CPU threads.")
def experts_train(task, timesteps, seed, eval_every, threads) -> None:
    """Train TASK's expert with SAC; the best checkpoint lands in experts/<name>/ as it trains."""
    from benchmark.tools import experts as ex

    try:
        spec = ex.train_task_expert(
            task, timesteps=timesteps, seed=seed, eval_every=eval_every, threads=threads
        )
    except ValueError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"best checkpoint: step {spec.timesteps}, return {spec.eval_return_mean:.1f}; "
               f"record it with `epic-bench experts eval {task} --write`")  # fmt: skip


@experts.command("eval")
@click.argument("task")
@click.option("--episodes", default=10, show_default=True)
@click.option("--seed", default=0, show_default=True, help="Episode i is reset with seed+i.")
@click.option("--write", is_flag=True, help="Record the return in the task TOML's [reference].")
def experts_eval(task, episodes, seed, write) -> None:
    """Ground-truth return (mean ± std) of TASK's committed expert."""
    from benchmark.tools import experts as ex

    try:
        values = ex.evaluate_task_expert(task, episodes=episodes, seed=seed, write=write)
    except (ValueError, FileNotFoundError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(" ".join(f"{k}={v}" for k, v in values.items()))


# --- tasks and coverage (benchmark.tasks, benchmark.tools) ---------------------------


def _load_task_or_exit(name: str) -> Task:
    from benchmark.tasks import TaskError, load_task

    try:
        return load_task(name)
    except TaskError as e:
        raise click.ClickException(str(e)) from e


@click.group(invoke_without_command=True)
@click.pass_context
def tasks(ctx) -> None:
    """List the registered tasks (one line each); see `tasks show NAME`, `tasks matrix NAME`."""
    if ctx.invoked_subcommand is None:
        from benchmark.tasks import TaskError
        from benchmark.tools.task_views import task_list_table

        try:
            table, errors = task_list_table()
        except TaskError as e:  # e.g. $EPIC_BENCH_TASKS names a missing directory
            raise click.ClickException(str(e)) from e
        print_rich(table)
        for error in errors:
            click.echo(f"error: {error}", err=True)
        if errors:
            raise SystemExit(1)


@tasks.command("show")
@click.argument("name")
def tasks_show(name) -> None:
    """Rewards, coverages, discount, env variants and budgets of task NAME."""
    from benchmark.tools.task_views import task_detail

    print_rich(task_detail(_load_task_or_exit(name)))


@tasks.command("matrix")
@click.argument("name")
@click.option(
    "--coverage",
    "coverage",
    default="random",
    show_default=True,
    help="Coverage distribution of the task.",
)
@click.option("--n-transitions", default=4096, show_default=True, help="Transitions N_T from D_T.")
@click.option(
    "--n-samples",
    default=1024,
    show_default=True,
    help="Mean-term samples M from D_S, D_A (cost grows as N_T x M; MuJoCo is slow at 4096).",
)
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--exact", is_flag=True, help="Exact EPIC from the tabular arrays (finite tasks only)."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Where the heatmap PNG goes.",
)
def tasks_matrix(name, coverage, n_transitions, n_samples, seed, exact, out_dir) -> None:
    """EPIC distance between every pair of task NAME's rewards: a table and a heatmap PNG."""
    from benchmark.tasks import TaskError
    from benchmark.tools.task_matrix import epic_matrix, exact_epic_matrix, save_heatmap
    from benchmark.tools.task_views import matrix_table

    task = _load_task_or_exit(name)
    try:
        if exact:
            matrix = exact_epic_matrix(task, coverage)
        else:
            matrix = epic_matrix(
                task, coverage, n_transitions=n_transitions, n_samples=n_samples, seed=seed
            )
    except (TaskError, ValueError) as e:
        raise click.ClickException(str(e)) from e
    print_rich(matrix_table(matrix))
    click.echo(f"heatmap: {save_heatmap(matrix, out_dir)}")


@click.group()
def coverage() -> None:
    """Coverage datasets (D_T, D_S, D_A samples), cached under $EPIC_BENCH_CACHE."""


@coverage.command("build")
@click.option(
    "--task", "task_names", multiple=True, help="Only these tasks (repeatable; default all)."
)
@click.option(
    "--coverage",
    "coverages",
    multiple=True,
    help="Only these coverages (repeatable; default all of each task).",
)
@click.option("--n-transitions", default=4096, show_default=True)
@click.option("--n-samples", default=4096, show_default=True)
@click.option("--seeds", default=3, show_default=True, help="Seeds 0..N-1.")
def coverage_build(task_names, coverages, n_transitions, n_samples, seeds) -> None:
    """Precompute and cache coverage samples, with a progress bar."""
    from benchmark.paths import cache_root
    from benchmark.tasks import TaskError, build_cache

    try:
        paths = build_cache(
            list(task_names) or None,
            list(coverages) or None,
            n_transitions=n_transitions,
            n_samples=n_samples,
            seeds=seeds,
        )
    except (TaskError, ValueError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"{len(paths)} coverage samples cached under {cache_root() / 'coverage'}")


# --- the results store (benchmark.results.pruning) ------------------------------------


@click.group()
def results() -> None:
    """Maintain the Parquet results store."""


@results.command("prune")
@click.option(
    "--results-dir", type=click.Path(file_okay=False), default=str(DEFAULT_RESULTS_DIR),
    show_default=True,
)  # fmt: skip
@click.option(
    "--submissions-root",
    type=click.Path(file_okay=False),
    default="submissions",
    show_default=True,
)
@click.option("--drop-failed", is_flag=True, help="Also retire failed rows.")
@click.option(
    "--old-transfer-protocol", is_flag=True, help="Also retire older-protocol transfer rows."
)
@click.option(
    "--old-transfer-budget", is_flag=True,
    help="Also retire transfer rows that did not record their budget (use with --task).",
)  # fmt: skip
@click.option("--task", "tasks", multiple=True, help="Only prune rows of these tasks (repeatable).")
@click.option(
    "--dry-run/--apply",
    default=True,
    show_default=True,
    help="Only count what would be dropped (default), or rewrite the store.",
)
@click.option(
    "--confirm-large-drop",
    is_flag=True,
    help="Allow --apply to drop more than 10% of the rows.",
)
def results_prune(results_dir, submissions_root, drop_failed, old_transfer_protocol,
                  old_transfer_budget, tasks, dry_run, confirm_large_drop) -> None:  # fmt: skip
    """Drop rows of old task versions and retrained or removed submissions.

    Counts by default; --apply rewrites the kept rows into one new file before the old
    files are removed. Refuses on a missing or empty submissions root or task directory.
    """
    from benchmark.results import ResultsError
    from benchmark.results.pruning import prune_results

    try:
        report = prune_results(
            results_dir,
            submissions_root=submissions_root,
            drop_failed=drop_failed,
            dry_run=dry_run,
            old_transfer_protocol=old_transfer_protocol,
            old_transfer_budget=old_transfer_budget,
            tasks=tasks,
            confirm_large_drop=confirm_large_drop,
        )
    except ResultsError as e:
        raise click.ClickException(str(e)) from e
    reasons = ", ".join(f"{n} {why}" for why, n in sorted(report.reasons.items())) or "none"
    verb = "would drop" if dry_run else "dropped"
    click.echo(f"kept {report.kept} rows, {verb} {report.dropped} ({reasons})")
    if dry_run and report.dropped:
        click.echo("dry run: nothing changed; re-run with --apply to rewrite the store")
    if report.file_written is not None:
        click.echo(f"wrote {report.file_written}; removed {len(report.files_removed)} old files")


@results.command("renormalize")
@click.option(
    "--results-dir", type=click.Path(file_okay=False), default=str(DEFAULT_RESULTS_DIR),
    show_default=True,
)  # fmt: skip
@click.option("--task", required=True, help="The task whose transfer rows to renormalize.")
@click.option("--budget", default="standard", show_default=True)
@click.option(
    "--dry-run/--apply", default=True, show_default=True,
    help="Only count the rows whose normalizer would change (default), or rewrite the store.",
)  # fmt: skip
def results_renormalize(results_dir, task, budget, dry_run) -> None:
    """Normalize TASK's transfer rows by the published reference runs (leaderboard/references).

    Only the arithmetic (policy - random) / (reference - random) is redone; each row's
    policy return, seed and provenance stay. Use after `transfer refs --publish` when the
    published runs (another machine's RL) differ from those the rows were scored with.
    """
    from benchmark.results import ResultsError
    from benchmark.results.renormalize import renormalize_transfer

    try:
        report = renormalize_transfer(results_dir, task=task, budget=budget, dry_run=dry_run)
    except ResultsError as e:
        raise click.ClickException(str(e)) from e
    verb = "would renormalize" if dry_run else "renormalized"
    click.echo(f"{task}: {verb} {report.changed} transfer rows (largest change of a normalized "
               f"value {report.max_value_change:.3g}); {report.unchanged} already use the "
               "published reference")  # fmt: skip
    if dry_run and report.changed:
        click.echo("dry run: nothing changed; re-run with --apply to rewrite the store")
    if report.file_written is not None:
        click.echo(f"wrote {report.file_written}; removed {len(report.files_removed)} old files")
