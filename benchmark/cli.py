"""The ``epic-bench`` command line: click commands only, no logic beyond arguments."""

from __future__ import annotations

import click

from benchmark import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="epic-bench")
def main() -> None:
    """epic-bench: score learned reward models by EPIC distance and reoptimization transfer."""


if __name__ == "__main__":
    main()
