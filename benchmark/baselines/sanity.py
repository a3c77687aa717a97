"""Sanity entries that pin the ends of the EPIC scale for every task.

    <task>-ground-truth   the task's ground truth itself              (EPIC = 0)
    <task>-shaped         ground truth + γΦ(s') − Φ(s), fixed Φ        (EPIC = 0)
    <task>-negated        −1 × ground truth                            (EPIC = 1)
    <task>-random         a randomly initialised BasicRewardNet        (in between)

The first three are ``task-reward`` submissions (no file: the task computes them;
Φ is ``benchmark.submissions.shaping_potential``); the random net is a ``state-dict``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from imitation.rewards.reward_nets import BasicRewardNet

from benchmark.baselines.common import BASELINE_AUTHORS
from benchmark.submissions import Submission, save_model, write_submission

if TYPE_CHECKING:
    from benchmark.tasks import Task

SANITY = {
    "ground-truth": (
        {"reward": "ground_truth", "scale": 1.0, "potential_scale": 0.0},
        "The task's ground-truth reward itself; EPIC to the ground truth is 0.",
    ),
    "shaped": (
        {"reward": "ground_truth", "scale": 1.0, "potential_scale": 1.0},
        "Ground truth plus potential shaping γΦ(s') − Φ(s) with Φ(s) = Σ_i cos((i+1)·s_i + i); "
        "EPIC is invariant to shaping, so the distance is 0.",
    ),
    "negated": (
        {"reward": "ground_truth", "scale": -1.0, "potential_scale": 0.0},
        "The negated ground truth; EPIC to the ground truth is 1.",
    ),
}
RANDOM_SEED = 0


def write_sanity(task: Task, root: str | Path = "submissions") -> list[Submission]:
    """Write the four sanity submissions of ``task`` under ``root``."""
    root = Path(root)
    written = []
    for suffix, (params, description) in SANITY.items():
        name = f"{task.name}-{suffix}"
        data: dict[str, Any] = {
            "name": name,
            "task": task.name,
            "method": "sanity",
            "authors": BASELINE_AUTHORS,
            "description": description,
            "model": {"format": "task-reward", **params},
            "provenance": {
                "command": f"epic-bench baselines train --method sanity --task {task.name}"
            },
        }
        written.append(write_submission(root / name, data))

    torch.manual_seed(RANDOM_SEED)
    net = BasicRewardNet(task.observation_space, task.action_space, use_next_state=True)
    name = f"{task.name}-random"
    model = save_model(net, root / name, task)
    data = {
        "name": name,
        "task": task.name,
        "method": "sanity",
        "authors": BASELINE_AUTHORS,
        "description": (
            "A randomly initialised BasicRewardNet (state, action, next state; torch seed "
            f"{RANDOM_SEED}); an untrained reward lands between the ends of the scale."
        ),
        "model": model,
        "provenance": {
            "command": f"epic-bench baselines train --method sanity --task {task.name}",
            "seed": RANDOM_SEED,
        },
    }
    written.append(write_submission(root / name, data))
    return written
