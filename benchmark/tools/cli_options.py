"""Option groups shared by ``epic-bench`` commands: one definition, one help text each.

Why: ``evaluate`` and ``compare`` take the same model-file and sample-size options, and
``validate``, ``submit`` and ``submissions`` the same check options; copies of an option
drift apart (help, defaults). Click only, so ``epic-bench --help`` stays light.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable)


def option_group(*options: Callable[[F], F]) -> Callable[[F], F]:
    """One decorator that applies ``options`` so ``--help`` lists them in the given order."""

    def apply(f: F) -> F:
        for option in reversed(options):
            f = option(f)
        return f

    return apply


def json_options(value: str | None) -> dict | None:
    """``--options`` as a dict: JSON constructor options of a .safetensors architecture."""
    if value is None:
        return None
    try:
        options = json.loads(value)
    except json.JSONDecodeError as e:
        raise click.BadParameter(f"not JSON ({e}); e.g. '{{\"hid_sizes\": [32, 32]}}'") from e
    if not isinstance(options, dict):
        raise click.BadParameter("must be a JSON object of constructor options")
    return options


# How a bare model file is loaded (evaluate, compare): trust_pickle, architecture, options_json.
model_file_options = option_group(
    click.option(
        "--trust-pickle",
        is_flag=True,
        help="Allow .pt pickles and imitation-pickle submissions (runs their code).",
    ),
    click.option(
        "--architecture",
        default=None,
        help="For .safetensors weights: BasicRewardNet, BasicShapedRewardNet or mlp.",
    ),
    click.option(
        "--options",
        "options_json",
        default=None,
        help="For .safetensors weights: constructor options as JSON, e.g. '{\"hid_sizes\": [32, 32]}'.",
    ),
)

# Distance sample sizes beyond --budget, and where units run (evaluate, compare):
# n_transitions, n_samples, device.
sample_size_options = option_group(
    click.option(
        "--n-transitions",
        type=int,
        default=None,
        help="Override N_T, transitions from D_T per distance unit.",
    ),
    click.option(
        "--n-samples",
        type=int,
        default=None,
        help="Override M, mean-term samples per distance unit.",
    ),
    click.option("--device", default="cpu", show_default=True, help="cpu or cuda[:N]."),
)

# Model checks (validate, submit, submissions --check): trust_pickle, time_limit,
# batch_size, n_transitions.
check_options = option_group(
    click.option(
        "--trust-pickle", is_flag=True, help="Allow imitation-pickle models (runs their code)."
    ),
    click.option(
        "--time-limit",
        default=1.0,
        show_default=True,
        help="Seconds allowed per forward of --batch-size rows.",
    ),
    click.option(
        "--batch-size", default=4096, show_default=True, help="Rows in the timed forward."
    ),
    click.option(
        "--n-transitions",
        default=256,
        show_default=True,
        help="Transitions per coverage for the output checks.",
    ),
)
