"""Where a result was computed: the checkout's commit and the installed package versions.

Why its own module: the results store stamps every row with these, and ``evaluate`` pins
them when it starts (both are cached), so a long run's rows name the code it ran.
"""

from __future__ import annotations

import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path

_PACKAGES = {
    "epic_bench_version": "epic-bench",
    "torch_version": "torch",
    "imitation_version": "imitation",
    "sb3_version": "stable-baselines3",
    "gymnasium_version": "gymnasium",
    "numpy_version": "numpy",
}


@cache
def package_versions() -> dict[str, str]:
    """Installed versions of the packages a result depends on ("unknown" if absent)."""
    out = {}
    for column, dist in _PACKAGES.items():
        try:
            out[column] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[column] = "unknown"
    return out


@cache
def git_commit(cwd: str | None = None) -> str:
    """``git rev-parse HEAD`` of the checkout we run from; "unknown" outside a repo."""
    where = cwd or str(Path(__file__).resolve().parent)
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"
