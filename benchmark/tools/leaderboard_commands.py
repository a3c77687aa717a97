"""The ``epic-bench leaderboard`` commands: show (by configuration), build, metabench.

Click only (registered on ``main`` by `benchmark.cli`, which grew past one sitting);
stages are imported inside the functions, so ``epic-bench --help`` does not import torch.
"""

from __future__ import annotations

import click

from benchmark import preflight
from benchmark.paths import DEFAULT_RESULTS_DIR
from benchmark.tools.terminal import table_width
from benchmark.vocabulary import BUDGETS, LEADERBOARD_FORMATS

# Shared options: one definition, so the commands that take them cannot drift apart.
results_dir_option = click.option(
    "--results-dir", type=click.Path(file_okay=False), default=str(DEFAULT_RESULTS_DIR),
    show_default=True,
)  # fmt: skip


@click.group(invoke_without_command=True)
@click.option("--task", "tasks", multiple=True, help="Only these tasks (repeatable).")
@click.option("--metric", "metrics", multiple=True, help="Only these metrics (repeatable).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(LEADERBOARD_FORMATS),
    default="table",
    show_default=True,
)
@results_dir_option
@click.option(
    "--budget",
    type=click.Choice(BUDGETS),
    default=None,
    help="Only rows at this configuration: transfer budget and its distance sizes N_T x M.",
)
@click.option("--n-transitions", type=int, default=None, help="Only distance rows with this N_T.")
@click.option("--n-samples", type=int, default=None, help="Only distance rows with this M.")
@click.pass_context
def leaderboard(ctx, tasks, metrics, fmt, results_dir, budget, n_transitions, n_samples) -> None:
    """Show the leaderboard: seeds aggregated (mean, IQM, 95% CI), submissions ranked per task.

    One configuration (budget, N_T, M) per task and metric: by default the one with most
    rows; rows at other configurations are counted on stderr, never dropped silently.
    """
    if ctx.invoked_subcommand is not None:
        return
    from benchmark import leaderboard as lb
    from benchmark.evaluation import METRICS, EvaluationError
    from benchmark.results import ResultsError, read_results
    from benchmark.tasks import list_tasks

    preflight.check_names("--task", tasks, list_tasks())
    preflight.check_names("--metric", metrics, METRICS)
    try:
        results = read_results(results_dir)
        if tasks:
            results = results[results["task"].isin(tasks)]
        if metrics:
            results = results[results["metric"].isin(metrics)]
        chosen = lb.select_configuration(results, budget=budget, n_transitions=n_transitions,
                                         n_samples=n_samples)  # fmt: skip
        board = lb.aggregate(chosen, shipped=preflight.shipped_versions())
    except (ResultsError, EvaluationError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(lb.render(board, fmt, width=table_width()), nl=False)
    hidden = lb.hidden_text(lb.hidden_configurations(results, board))
    if hidden:
        click.echo(hidden, nl=False, err=fmt != "table")


@leaderboard.command("build")
@results_dir_option
@click.option(
    "--out-dir", type=click.Path(file_okay=False), default="leaderboard", show_default=True
)
def leaderboard_build(results_dir, out_dir) -> None:
    """Write leaderboard/README.md and the static site leaderboard/site/index.html."""
    from benchmark import leaderboard as lb
    from benchmark.results import ResultsError

    try:
        readme, site = lb.build(results_dir, out_dir, shipped=preflight.shipped_versions())
    except ResultsError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"wrote {readme}\nwrote {site}")


@leaderboard.command("metabench")
@click.option(
    "--task",
    "task_name",
    default="gridworld",
    show_default=True,
    help="A finite task (exact tables).",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the population.")
@click.option(
    "--coverage",
    default="random",
    show_default=True,
    help="Coverage whose D_S, D_A, D_T the distances use.",
)
@click.option("--out-dir", type=click.Path(file_okay=False), default="leaderboard/metabench",
              show_default=True)  # fmt: skip
def leaderboard_metabench(task_name, seed, coverage, out_dir) -> None:
    """Which distance predicts regret? Exact meta-benchmark on a finite task (about 30 s)."""
    from benchmark.leaderboard.metabench import run_metabench, write_metabench

    try:
        scores, summary = run_metabench(task_name, seed=seed, coverage=coverage)
    except (ValueError, KeyError) as e:
        raise click.ClickException(str(e)) from e
    for path in write_metabench(scores, summary, out_dir):
        click.echo(f"wrote {path}")
    cols = ["variant", "distance", "spearman", "ci_low", "ci_high", "gap", "pair_accuracy"]
    click.echo(summary[cols].round(3).to_string(index=False))
