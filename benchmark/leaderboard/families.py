"""Checkpoint families on the board: ``<family>-ckpt<k>`` entries grouped as one.

Why: a family is K snapshots of one training run (issue 17's population of learned
rewards). Shown one by one they would bury the ordinary entries and shift their ranks by
however many snapshots were published; so ranks count ordinary entries only (a checkpoint
gets the rank it would have among them), the README shows one row per family and the
site a collapsed block. The suffix is the one `baselines train --checkpoints` writes.
"""

from __future__ import annotations

import re

import pandas as pd

from benchmark.vocabulary import CHECKPOINT_SUFFIX

_CHECKPOINT = re.compile(rf"(?P<family>.+){re.escape(CHECKPOINT_SUFFIX)}(?P<k>[1-9]\d*)")


def checkpoint_family(submission: str) -> str | None:
    """``pointmass-airl-ckpt3`` -> ``pointmass-airl``; None for an ordinary submission."""
    match = _CHECKPOINT.fullmatch(submission)
    return match["family"] if match else None


def checkpoint_index(submission: str) -> int:
    """``pointmass-airl-ckpt3`` -> 3 (0 for an ordinary submission): orders a family."""
    match = _CHECKPOINT.fullmatch(submission)
    return int(match["k"]) if match else 0


def is_checkpoint(submissions: pd.Series) -> pd.Series:
    """Boolean Series: which of ``submissions`` (names) are checkpoints of a family."""
    return submissions.map(checkpoint_family).notna()
