"""epic-bench: a benchmark and leaderboard for learned reward models.

Reward models are scored by EPIC distance to a task's ground truth (Gleave et al.,
ICLR 2021), by the NPEC and ERC baselines, and by reoptimization transfer.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("epic-bench")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
