"""Every root the package reads or writes, and the environment variables that move them.

Why one module: the roots used to be computed next to their users (``Path(__file__)``
arithmetic in four places), which breaks silently whenever a module moves.

- ``$EPIC_BENCH_TASKS``: more task directories (``os.pathsep``-separated), added to the built-in ``tasks/``
- ``$EPIC_BENCH_CACHE``: coverage samples and transfer references (default ``~/.cache/epic-bench``)
- ``$EPIC_BENCH_REFERENCES``: the board's committed transfer reference runs (default the
  repository's ``leaderboard/references``), read before the cache
- ``$EPIC_BENCH_SUBMISSIONS``: shipped submissions (default ``./submissions``, else the repository's)
- results: ``leaderboard/results`` relative to the working directory (``--results-dir``)
- experts: the repository's ``experts/``
- ``$EPIC_BENCH_SCRATCH``: quick scores of model files (default ``<cache>/scratch``), never the board

`atomic_write` is the one way files are written in place (temporary file, then rename);
`write_text_atomic` is it for a text file.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
EXPERTS_DIR = REPO_ROOT / "experts"
DEFAULT_RESULTS_DIR = Path("leaderboard/results")


def tasks_root() -> Path:
    """The built-in task files: the repository's ``tasks/``.

    Resolved relative to the package, so the editable install works from any cwd.
    """
    return REPO_ROOT / "tasks"


def task_dirs() -> list[Path]:
    """Where task files live: the built-in ``tasks/``, then each directory in ``$EPIC_BENCH_TASKS``.

    Why added, not replacing: a user's own task should sit beside the standard ones, so
    one command compares a submission on both.
    """
    env = os.environ.get("EPIC_BENCH_TASKS", "")
    return [tasks_root(), *(Path(p) for p in env.split(os.pathsep) if p)]


def cache_root() -> Path:
    """``$EPIC_BENCH_CACHE`` or ``~/.cache/epic-bench``."""
    env = os.environ.get("EPIC_BENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "epic-bench"


def references_root() -> Path:
    """``$EPIC_BENCH_REFERENCES`` or the repository's ``leaderboard/references``.

    Why committed: the K ground-truth-trained runs behind the board's transfer normalizer
    cost up to 5 x 16 CPU-minutes (SAC) and lived only in a machine's cache, so a fresh
    checkout retrained them and a reviewer could not see the runs behind a row's mean.
    """
    env = os.environ.get("EPIC_BENCH_REFERENCES")
    return Path(env) if env else REPO_ROOT / "leaderboard" / "references"


def submissions_root() -> Path:
    """``$EPIC_BENCH_SUBMISSIONS``, else ``./submissions``, else the repository's."""
    env = os.environ.get("EPIC_BENCH_SUBMISSIONS")
    if env:
        return Path(env)
    here = Path("submissions")
    if here.is_dir():
        return here
    return REPO_ROOT / "submissions"


def scratch_root() -> Path:
    """``$EPIC_BENCH_SCRATCH`` or ``<cache_root>/scratch``: model files scored outside the board.

    Why apart from ``leaderboard/results``: a quick score of a file one is iterating on
    must not land in the committed board.
    """
    env = os.environ.get("EPIC_BENCH_SCRATCH")
    return Path(env) if env else cache_root() / "scratch"


def board_results_dir() -> Path:
    """The committed board's results: ``./leaderboard/results``, else the repository's."""
    return DEFAULT_RESULTS_DIR if DEFAULT_RESULTS_DIR.is_dir() else REPO_ROOT / DEFAULT_RESULTS_DIR


@contextmanager
def atomic_write(path: str | Path, *, suffix: str = ".tmp") -> Iterator[Path]:
    """Write ``path`` all or nothing: yield a hidden temporary path beside it, then rename.

    Why: readers (the results store, the coverage and reference caches) must see either
    no file or the whole file, even if the writer is killed; a rename within one
    directory is atomic. On an exception the temporary file is removed. ``suffix`` keeps
    the extension a writer may need (matplotlib picks the format from it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write a whole UTF-8 text file with `atomic_write` (readers never see half of it)."""
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
