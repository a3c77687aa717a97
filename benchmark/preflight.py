"""Operator errors the CLI reports before anything runs: one line each, never a traceback.

Why a module of its own: these are about the operator's machine and arguments (a CUDA
device that is absent, an executor that is not installed, a task name that does not
exist, a batch size of 0), never about a submission, so they are checked up front and
phrased with the option's name.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

import click


def check_device(device: str) -> None:
    """--device must name a torch device that exists here."""
    import torch  # Lazy: the CLI imports no torch until a command needs it

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise click.UsageError(
            f"--device {device}: CUDA is not available here (torch {torch.__version__}); "
            "use --device cpu or install a CUDA build of torch"
        )
    try:
        torch.device(device)
    except RuntimeError as e:
        raise click.UsageError(f"--device {device!r} is not a torch device: {e}") from None


def check_executor(executor: str) -> None:
    """--executor ray needs Ray installed (an optional extra)."""
    if executor == "ray" and importlib.util.find_spec("ray") is None:
        raise click.UsageError(
            "--executor ray needs Ray, which is not installed: pip install -c constraints.txt "
            '-e ".[ray]", or use --executor local'
        )


def check_names(option: str, given: Sequence[str], valid: Sequence[str]) -> None:
    """Every name given to ``option`` must be one of ``valid``."""
    unknown = [g for g in given if g not in valid]
    if unknown:
        raise click.UsageError(
            f"{option} {unknown[0]!r} is unknown; choose from {', '.join(valid)}"
        )


def echo_skipped(skipped: Sequence, err: bool = False) -> None:
    """One line per submission ``evaluate`` left out (a SubmissionError), by name and check."""
    for error in skipped:
        click.echo(f"  SKIPPED {error.submission}: {error.check} check failed: {error.message}",
                   err=err)  # fmt: skip


def shipped_versions():
    """The shipped task versions and submission hashes the board accepts rows of."""
    from benchmark.paths import submissions_root
    from benchmark.results.pruning import read_current_versions

    return read_current_versions(submissions_root())


def validation_config(trust_pickle: bool, time_limit: float, batch_size: int, n_transitions: int):
    """ValidationConfig from the CLI's options; a bad value names the option, not the field."""
    from benchmark.submissions import ValidationConfig

    try:
        return ValidationConfig(n_transitions=n_transitions, batch_size=batch_size,
                                time_limit_s=time_limit, trust_pickle=trust_pickle)  # fmt: skip
    except ValueError as e:  # e.g. --batch-size 0
        message = str(e)
        for field, option in (("n_transitions", "--n-transitions"), ("batch_size", "--batch-size"),
                              ("time_limit_s", "--time-limit")):  # fmt: skip
            message = message.replace(field, option)
        raise click.UsageError(message) from e
