"""The ``epic-bench`` commands of a researcher's loop: ``compare``, and what ``evaluate``
needs to score a bare model file and say where it stands on the board.

Click only (registered on ``main`` by `benchmark.cli`); why a module of its own: the one
CLI file had grown past what reads in one sitting. Stages are imported inside the
functions, so ``epic-bench --help`` does not import torch.
"""

from __future__ import annotations

import click

from benchmark.tools.cli_options import json_options, model_file_options, sample_size_options
from benchmark.tools.terminal import print_rich
from benchmark.vocabulary import BUDGETS

# --- compare two rewards (benchmark.evaluation.compare) ------------------------------


@click.command()
@click.argument("reward_a")
@click.argument("reward_b")
@click.option("--task", default=None, help="Task (default: that of a submission folder given).")
@click.option("--coverage", "coverages", multiple=True, help="Only these coverages (repeatable).")
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help="epic,npec,erc,starc,dard (comma list or repeated; default epic).",
)
@click.option("--seed", default=0, show_default=True, help="Coverage sample and bootstrap seed.")
@click.option(
    "--budget",
    type=click.Choice(BUDGETS),
    default="standard",
    show_default=True,
    help="Sample sizes N_T x M as evaluate: smoke 256x64, standard 1024x256, full 4096x4096.",
)
@sample_size_options
@model_file_options
def compare(reward_a, reward_b, task, coverages, metrics, seed, budget, n_transitions, n_samples,
            device, trust_pickle, architecture, options_json) -> None:  # fmt: skip
    """Distances between two rewards: each a submission folder, a model file or a task reward name.

    \b
    epic-bench compare submissions/pointmass-airl submissions/pointmass-regression
    epic-bench compare reward_net.pt ground_truth --task pointmass --trust-pickle
    epic-bench compare ground_truth shaped --task gridworld --metric epic,erc
    """
    from benchmark.evaluation import EvaluationError, comparison_table
    from benchmark.evaluation import compare as compare_rewards
    from benchmark.submissions import SubmissionError
    from benchmark.tasks import TaskError

    try:
        result = compare_rewards(reward_a, reward_b, task=task, coverages=coverages, metrics=metrics or ("epic",),
                         seed=seed, budget=budget, n_transitions=n_transitions, n_samples=n_samples,
                         trust_pickle=trust_pickle, architecture=architecture,
                         options=json_options(options_json), device=device)  # fmt: skip
    except (EvaluationError, SubmissionError, TaskError, ValueError) as e:
        raise click.ClickException(str(e)) from e
    print_rich(comparison_table(result))


# --- evaluate: model files, scratch store, standing, W&B context ---------------------


def run_context(budget: str) -> dict:
    """W&B config of every unit of this call: the budget name and the exact command line.

    Why the budget name: distance rows store ``budget = ""`` (their sizes are N_T, M), so
    without it a W&B user cannot tell a smoke run from a standard one.
    """
    import shlex
    import sys

    return {"budget_name": budget, "command": shlex.join(["epic-bench", *sys.argv[1:]])}


def wrap_model_files(paths, tasks, architecture, options):
    """Model files among ``paths`` become scratch submissions; returns (folders, scratch?)."""
    from pathlib import Path

    from benchmark.evaluation import EvaluationError
    from benchmark.paths import scratch_root
    from benchmark.submissions import SubmissionError, model_file_submission

    files = [p for p in paths if Path(p).is_file()]
    if not files:
        return list(paths), False
    if len(tasks) != 1:
        raise EvaluationError(
            f"a model file ({files[0]}) needs exactly one --task it was trained for"
        )
    out = []
    for p in paths:
        if Path(p).is_file():
            try:
                sub = model_file_submission(p, task=tasks[0], root=scratch_root() / "submissions",
                                            architecture=architecture, options=options)  # fmt: skip
            except SubmissionError as e:
                raise EvaluationError(str(e)) from e
            p = sub.path
        out.append(p)
    return out, True


def default_results_dir(scratch: bool):
    from benchmark.paths import DEFAULT_RESULTS_DIR, scratch_root

    if scratch:
        path = scratch_root() / "results"
        click.echo(f"scoring into the scratch store {path} (not the board)")
        return path
    return DEFAULT_RESULTS_DIR


def echo_standing(grid) -> None:
    """Rank of each scored result among the board's entries at the same configuration."""
    from benchmark import leaderboard as lb
    from benchmark.paths import board_results_dir
    from benchmark.results import ResultsError, read_results

    if grid is None or grid.empty:
        return
    try:
        board = read_results(board_results_dir())
    except ResultsError as e:
        click.echo(f"  (no standing: the board's results could not be read: {e})")
        return
    click.echo(lb.standing_text(lb.standing(grid, board)))
