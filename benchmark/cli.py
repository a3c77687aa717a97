"""The ``epic-bench`` command line: click commands only, no logic beyond arguments.

Each command imports its stage inside the function (lazily): ``epic-bench --help`` and
every other command must not pay for importing torch, gymnasium and SB3 up front.
"""

from __future__ import annotations

import click

from benchmark import __version__, preflight
from benchmark.metrics.registry import METRIC_NAMES
from benchmark.tools.cli_options import (
    check_options,
    json_options,
    model_file_options,
    sample_size_options,
)
from benchmark.tools.commands import coverage, experts, results, tasks
from benchmark.tools.leaderboard_commands import leaderboard
from benchmark.tools.loop_commands import (
    compare,
    default_results_dir,
    echo_standing,
    run_context,
    wrap_model_files,
)
from benchmark.vocabulary import (
    BASELINE_METHODS,
    BUDGETS,
    EXECUTORS,
    EXPORT_FORMATS,
    VARIANTS,
    WANDB_MODES,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="epic-bench")
def main() -> None:
    """epic-bench: score learned reward models by EPIC distance and reoptimization transfer."""


for group in (coverage, experts, tasks, compare, leaderboard, results):  # the tools' commands
    main.add_command(group)


# --- evaluate and leaderboard (benchmark.evaluation, benchmark.leaderboard) -----------


@main.command()
@click.argument("submission_dirs", nargs=-1, type=click.Path(exists=True))
@click.option(
    "--all", "all_", is_flag=True, help="Every shipped submission (the default without DIRs)."
)
@click.option("--task", "tasks", multiple=True, help="Only these tasks (repeatable).")
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help=f"{','.join(METRIC_NAMES)} (comma list or repeated; default all).",
)
@click.option(
    "--coverage",
    "coverages",
    multiple=True,
    help="Only these coverage distributions (default: all of each task).",
)
@click.option("--seeds", default=3, show_default=True, help="Seeds 0..N-1 per unit.")
@click.option(
    "--budget",
    type=click.Choice(BUDGETS),
    default="standard",
    show_default=True,
    help="Transfer budget; distance sample sizes N_T x M: smoke 256x64, standard 1024x256, full 4096x4096 (the reference script's default).",
)
@sample_size_options
@click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True)
@click.option(
    "--ray-address",
    default=None,
    help="Existing Ray cluster ('auto', 'ray://head:10001'); default a local instance.",
)
@click.option(
    "--results-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Results store [default: leaderboard/results; for model files or --scratch a scratch store].",
)
@click.option(
    "--submissions-root",
    type=click.Path(file_okay=False),
    default=None,
    help="Where shipped submissions live (default ./submissions).",
)
@click.option("--force", is_flag=True, help="Re-run units already in the store.")
@click.option(
    "--scratch",
    is_flag=True,
    help="Score into the scratch store ($EPIC_BENCH_SCRATCH/results), not the board.",
)
@click.option(
    "--wandb/--no-wandb",
    "use_wandb",
    default=True,
    show_default=True,
    help="Log every unit to W&B.",
)
@click.option(
    "--wandb-mode",
    type=click.Choice(WANDB_MODES),
    default=None,
    help="Default $WANDB_MODE, else offline.",
)
@model_file_options
@click.option("--unit-timeout", type=click.FloatRange(min=0, min_open=True), default=6 * 3600.0,
              show_default=True, help="Seconds a unit may run (checked at its model calls).")  # fmt: skip
@click.option("--sampled", is_flag=True,
              help="Sample finite tasks too (default: EPIC, NPEC, ERC exact from their tables).")  # fmt: skip
def evaluate(submission_dirs, all_, tasks, metrics, coverages, seeds, budget, n_transitions, n_samples,
             executor, ray_address, device, results_dir, submissions_root, force, scratch, use_wandb,
             wandb_mode, architecture, options_json, trust_pickle, unit_timeout, sampled) -> None:  # fmt: skip
    """Evaluate submissions (DIRs, model FILEs, or --all shipped ones) on a grid of units; resumable.

    A model file (.pt2; .safetensors with --architecture; .pt with --trust-pickle) needs
    --task and is scored into a scratch store, never the board; the summary shows where
    each result ranks among the board's entries at the same configuration.
    """
    from benchmark import evaluation as ev

    if submission_dirs and all_:
        raise click.UsageError("give submission folders or --all, not both")
    preflight.check_device(device)
    preflight.check_executor(executor)
    skipped = []
    try:
        submission_dirs, has_files = wrap_model_files(submission_dirs, tasks, architecture,
                                                       json_options(options_json))  # fmt: skip
        if results_dir is None:
            results_dir = default_results_dir(scratch or has_files)
        subs = ev.select_submissions(submission_dirs, tasks=tasks, root=submissions_root,
                                     skipped=skipped)  # fmt: skip
        n_t, m = ev.sample_sizes(budget, n_transitions, n_samples)
        units = ev.expand_grid(subs, tasks=tasks, metrics=ev.parse_metrics(metrics), coverages=coverages,
                               seeds=seeds, budget=budget, n_transitions=n_t, n_samples=m,
                               exact=not sampled)  # fmt: skip
    except ev.EvaluationError as e:
        raise click.UsageError(str(e)) from e
    preflight.echo_skipped(skipped, err=True)
    if not units:
        if skipped:
            raise click.ClickException(f"no units to run: {len(skipped)} submission(s) skipped")
        raise click.UsageError("no units to run: no submission matches the given tasks")
    from benchmark.results import ResultsError

    try:  # a results dir that cannot take files is refused before any unit runs
        summary = ev.evaluate(units, results_dir=results_dir, force=force, executor=executor,
                              device=device, wandb=use_wandb, wandb_mode=wandb_mode,
                              ray_address=ray_address, trust_pickle=trust_pickle,
                              context=run_context(budget), unit_timeout_s=unit_timeout)  # fmt: skip
    except ResultsError as e:
        raise click.ClickException(str(e)) from e
    click.echo(ev.summary_text(summary))
    echo_standing(summary.grid)
    preflight.echo_skipped(skipped)
    if summary.failed or skipped:
        raise SystemExit(1)


# --- submissions and baselines (benchmark.submissions, benchmark.baselines) -----------


@main.command()
@click.argument("submission_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@check_options
def validate(submission_dirs, trust_pickle, time_limit, batch_size, n_transitions) -> None:
    """Check submission folders: schema, files, sha256, safe loading, outputs, speed."""
    from benchmark.submissions import validate_many

    config = preflight.validation_config(trust_pickle, time_limit, batch_size, n_transitions)
    reports = validate_many(list(submission_dirs), config)
    for report in reports:
        click.echo(report.format())
    failed = [r.name for r in reports if not r.passed]
    click.echo(
        f"{len(reports) - len(failed)}/{len(reports)} valid"
        + (f"; invalid: {', '.join(failed)}" if failed else "")
    )
    if failed:
        raise SystemExit(1)


@main.command()
@click.option(
    "--from-imitation",
    "source",
    required=True,
    type=click.Path(dir_okay=False),
    help="A reward net saved by imitation (torch.save).",
)
@click.option("--task", required=True, help="The task it was trained on (epic-bench tasks).")
@click.option("--name", required=True, help="Submission name: lowercase letters, digits, dashes.")
@click.option(
    "--method",
    default="unspecified",
    show_default=True,
    help="How it was learned, e.g. 'preference comparisons'.",
)
@click.option("--author", "authors", multiple=True, help="Author name (repeatable).")
@click.option("--description", default=None, help="One or two sentences about the model.")
@click.option("--paper", default=None, help="Link to a paper, if any.")
@click.option(
    "--format",
    "prefer",
    type=click.Choice(EXPORT_FORMATS),
    default="state-dict",
    show_default=True,
    help="state-dict when the net is a known architecture (falls back to torch-export).",
)
@click.option("--root", type=click.Path(file_okay=False), default="submissions", show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace an existing folder of that name.")
@check_options
def submit(source, task, name, method, authors, description, paper, prefer, root, overwrite, trust_pickle,
           time_limit, batch_size, n_transitions) -> None:  # fmt: skip
    """Turn an imitation reward net into a safe, validated submission folder."""
    from benchmark.submissions import SubmissionError, submit_from_imitation

    try:
        result = submit_from_imitation(
            source, task=task, name=name, root=root, trust_pickle=trust_pickle, method=method,
            authors=list(authors) or None, description=description, paper=paper, prefer=prefer,
            overwrite=overwrite, config=preflight.validation_config(False, time_limit, batch_size, n_transitions),
        )  # fmt: skip
    except SubmissionError as e:
        raise click.ClickException(str(e)) from e
    click.echo(result.report.format())
    click.echo(result.instructions())
    if not result.report.passed:
        raise SystemExit(1)


@main.command("submissions")
@click.option("--root", type=click.Path(file_okay=False), default="submissions", show_default=True)
@click.option(
    "--check",
    is_flag=True,
    help="Run every validation check (loads each model), not only schema + sha256.",
)
@check_options
def submissions_cmd(root, check, trust_pickle, time_limit, batch_size, n_transitions) -> None:
    """List submissions with task, method, format and validity."""
    from benchmark.submissions import submissions_table

    try:
        table, all_valid = submissions_table(
            root,
            preflight.validation_config(trust_pickle, time_limit, batch_size, n_transitions),
            full=check,
        )
    except FileNotFoundError as e:
        raise click.ClickException(str(e)) from e
    click.echo(table)
    if not all_valid:
        raise SystemExit(1)


@main.group()
def baselines() -> None:
    """Baseline reward models trained with imitation (written to submissions/)."""


@baselines.command("train")
@click.option("--method", required=True, type=click.Choice(BASELINE_METHODS))
@click.option("--task", "task_names", required=True, multiple=True, help="Task (repeatable).")
@click.option(
    "--budget",
    default="standard",
    show_default=True,
    help="smoke or standard (see benchmark/baselines/*.py).",
)
@click.option("--seed", default=0, show_default=True)
@click.option("--root", type=click.Path(file_okay=False), default="submissions", show_default=True)
@click.option(
    "--checkpoints",
    default=0,
    show_default=True,
    help="K >= 2: write K submissions <task>-<method>-ckpt1..K along the run (a family) "
    "instead of one.",
)
def baselines_train(method, task_names, budget, seed, root, checkpoints) -> None:
    """Train a baseline reward model per task and write its submission folder."""
    from benchmark.baselines import train_baseline
    from benchmark.submissions import SubmissionError
    from benchmark.tasks import TaskError

    for task in task_names:
        try:
            written = train_baseline(
                method, task, budget=budget, seed=seed, root=root, checkpoints=checkpoints
            )
        except (TaskError, ValueError, SubmissionError) as e:
            raise click.ClickException(str(e)) from e
        for sub in written:
            click.echo(f"wrote {sub.path} ({sub.format}, sha256 {sub.sha256[:12]})")


@main.group()
def transfer() -> None:
    """Reoptimization transfer: reference returns (random and ground-truth-trained policies)."""


@transfer.command("refs")
@click.option("--task", "task_names", multiple=True, required=True, help="Task name (repeatable).")
@click.option("--budget", type=click.Choice(BUDGETS), default="standard", show_default=True)
@click.option(
    "--variant", "variants", multiple=True, type=click.Choice(VARIANTS), help="Default both."
)
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda[:N].")
@click.option(
    "--seed", "seeds", multiple=True, type=int,
    help="Fill only this reference seed (repeatable; default all K). One command per core, "
    "each with its own seeds, fills the K runs in parallel.",
)  # fmt: skip
@click.option(
    "--publish", is_flag=True,
    help="Also copy the runs' records into leaderboard/references (committed with the board: "
    "a fresh checkout then normalizes by the board's runs instead of retraining them).",
)  # fmt: skip
def transfer_refs(task_names, budget, variants, device, seeds, publish) -> None:
    """Compute and cache the K reference runs (random and ground-truth-trained policies)
    so later transfer scores only train the submission."""
    from benchmark.metrics.transfer import (
        LEGEND,
        VARIANTS,
        precompute_references,
        publish_reference_runs,
    )
    from benchmark.metrics.transfer_reference import reference_seeds
    from benchmark.tasks import load_task

    tasks = [load_task(name) for name in task_names]
    own_seeds = {task.name: reference_seeds(task) for task in tasks}
    for task in tasks:
        unknown = sorted(set(seeds) - set(own_seeds[task.name]))
        if unknown:
            raise click.BadParameter(
                f"{unknown} are not reference seeds of {task.name}; its K = "
                f"{task.reference_runs} reference seeds are {list(own_seeds[task.name])}",
                param_hint="--seed",
            )
    rows = precompute_references(task_names, budget=budget, variants=variants or VARIANTS,
                                 device=device, seeds=seeds or None)  # fmt: skip
    for r in rows:
        line = (f"{r['task']:12s} {r['variant']:5s} {r['budget']:8s} seed {r['seed']!s:5s}: "
                f"R_random {r['random_return']:10.3f}  R_gt {r['reference_return']:10.3f}")  # fmt: skip
        if r["seed"] == "mean":
            line += f"  (std {r['reference_std']:.3f} over {r['n_runs']} runs)"
        click.echo(line)
    for task in tasks:
        if task.budgets[budget].algorithm == "value_iteration":
            continue  # exact: nothing was trained, nothing to publish or fill
        if publish:
            for variant in variants or VARIANTS:
                for path in publish_reference_runs(task, variant, budget,
                                                   seeds or own_seeds[task.name], device):  # fmt: skip
                    click.echo(f"published {path}")
        if seeds and set(seeds) != set(own_seeds[task.name]):
            click.echo(f"{task.name}: filled reference seeds {sorted(set(seeds))} of "
                       f"{list(own_seeds[task.name])}; once all are cached, run without --seed "
                       "to print the reference (their mean)")  # fmt: skip
    click.echo(LEGEND)


if __name__ == "__main__":
    main()
