"""Printing rich tables on the command line at the right width.

Why: rich falls back to 80 columns when stdout is not a terminal, so piped leaderboard
tables wrapped mid-row; a terminal gets its own width, a pipe or file effectively none.
"""

from __future__ import annotations

import shutil
import sys


def table_width() -> int:
    """The terminal's width, or effectively unlimited when piped (no wrapped rows in files)."""
    return shutil.get_terminal_size().columns if sys.stdout.isatty() else 10_000


def print_rich(renderable) -> None:
    """Print a rich renderable on stdout at `table_width`."""
    from rich.console import Console

    Console(width=table_width()).print(renderable)
