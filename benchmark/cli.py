"""The ``epic-bench`` command line: click commands only, no logic beyond arguments."""

from __future__ import annotations

import click

from benchmark import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="epic-bench")
def main() -> None:
    """epic-bench: score learned reward models by EPIC distance and reoptimization transfer."""


# --- evaluate and leaderboard (benchmark.evaluation, benchmark.leaderboard) -----------


@main.command()
@click.argument("submission_dirs", nargs=-1, type=click.Path(exists=True, file_okay=False))
@click.option("--all", "all_", is_flag=True, help="Every shipped submission (the default without DIRs).")
@click.option("--task", "tasks", multiple=True, help="Only these tasks (repeatable).")
@click.option("--metric", "metrics", multiple=True, help="epic,npec,erc,transfer (comma list or repeated; default all).")
@click.option("--coverage", "coverages", multiple=True, help="Only these coverage distributions (default: all of each task).")
@click.option("--seeds", default=3, show_default=True, help="Seeds 0..N-1 per unit.")
@click.option("--budget", type=click.Choice(["smoke", "standard", "full"]), default="standard", show_default=True, help="Transfer budget.")
@click.option("--n-transitions", default=4096, show_default=True, help="Coverage transitions N_T per distance unit.")
@click.option("--n-samples", default=4096, show_default=True, help="Mean-term samples M per distance unit.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--ray-address", default=None, help="Existing Ray cluster ('auto', 'ray://head:10001'); default a local instance.")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda[:N].")
@click.option("--results-dir", type=click.Path(file_okay=False), default="leaderboard/results", show_default=True)
@click.option("--submissions-root", type=click.Path(file_okay=False), default=None, help="Where shipped submissions live (default ./submissions).")
@click.option("--force", is_flag=True, help="Re-run units already in the store.")
@click.option("--wandb/--no-wandb", "use_wandb", default=True, show_default=True, help="Log every unit to W&B.")
@click.option("--wandb-mode", type=click.Choice(["offline", "online"]), default=None, help="Default $WANDB_MODE, else offline.")
@click.option("--trust-pickle", is_flag=True, help="Allow pickled submissions (runs their code).")
def evaluate(submission_dirs, all_, tasks, metrics, coverages, seeds, budget, n_transitions, n_samples,
             executor, ray_address, device, results_dir, submissions_root, force, use_wandb, wandb_mode,
             trust_pickle) -> None:  # fmt: skip
    """Evaluate submissions (DIRs, or --all shipped ones) on a grid of units; resumable."""
    from benchmark import evaluation as ev

    if submission_dirs and all_:
        raise click.UsageError("give submission folders or --all, not both")
    try:
        subs = ev.select_submissions(submission_dirs, tasks=tasks, root=submissions_root)
        units = ev.expand_grid(subs, tasks=tasks, metrics=ev.parse_metrics(metrics), coverages=coverages,
                               seeds=seeds, budget=budget, n_transitions=n_transitions,
                               n_samples=n_samples)  # fmt: skip
    except ev.EvaluationError as e:
        raise click.UsageError(str(e)) from e
    if not units:
        raise click.UsageError("no units to run: no submission matches the given tasks")
    summary = ev.evaluate(units, results_dir=results_dir, force=force, executor=executor, device=device,
                          wandb=use_wandb, wandb_mode=wandb_mode, ray_address=ray_address,
                          trust_pickle=trust_pickle)  # fmt: skip
    click.echo(ev.summary_text(summary))
    if summary.failed:
        raise SystemExit(1)


@main.group(invoke_without_command=True)
@click.option("--task", "tasks", multiple=True, help="Only these tasks (repeatable).")
@click.option("--metric", "metrics", multiple=True, help="Only these metrics (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "csv", "json", "html"]), default="table", show_default=True)
@click.option("--results-dir", type=click.Path(file_okay=False), default="leaderboard/results", show_default=True)
@click.pass_context
def leaderboard(ctx, tasks, metrics, fmt, results_dir) -> None:
    """Show the leaderboard: seeds aggregated (mean, IQM, 95% CI), submissions ranked per task."""
    if ctx.invoked_subcommand is not None:
        return
    from benchmark import leaderboard as lb
    from benchmark.results import ResultsError, read_results

    try:
        board = lb.aggregate(read_results(results_dir), tasks=tasks, metrics=metrics)
    except ResultsError as e:
        raise click.ClickException(str(e)) from e
    click.echo(lb.render(board, fmt), nl=False)


@leaderboard.command("build")
@click.option("--results-dir", type=click.Path(file_okay=False), default="leaderboard/results", show_default=True)
@click.option("--out-dir", type=click.Path(file_okay=False), default="leaderboard", show_default=True)
def leaderboard_build(results_dir, out_dir) -> None:
    """Write leaderboard/README.md and the static site leaderboard/site/index.html."""
    from benchmark import leaderboard as lb
    from benchmark.results import ResultsError

    try:
        readme, site = lb.build(results_dir, out_dir)
    except ResultsError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"wrote {readme}\nwrote {site}")


# --- MuJoCo experts (benchmark.experts) ----------------------------------------------


@main.group()
def experts() -> None:
    """Train and evaluate the committed expert policies of the MuJoCo tasks."""


@experts.command("train")
@click.argument("task")
@click.option("--timesteps", default=1_000_000, show_default=True, help="SAC environment steps (RL Zoo: 1e6).")
@click.option("--seed", default=0, show_default=True)
@click.option("--eval-every", default=10_000, show_default=True, help="Evaluate, keep the best checkpoint every N steps.")
@click.option("--threads", default=1, show_default=True, help="torch CPU threads.")
def experts_train(task, timesteps, seed, eval_every, threads) -> None:
    """Train TASK's expert with SAC; the best checkpoint lands in experts/<name>/ as it trains."""
    from benchmark import experts as ex

    try:
        spec = ex.train_task_expert(task, timesteps=timesteps, seed=seed, eval_every=eval_every, threads=threads)
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
    from benchmark import experts as ex

    try:
        values = ex.evaluate_task_expert(task, episodes=episodes, seed=seed, write=write)
    except (ValueError, FileNotFoundError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(" ".join(f"{k}={v}" for k, v in values.items()))


if __name__ == "__main__":
    main()
