"""What every baseline trainer shares: budgets, data conversion, writing the folder.

Why here: each trainer (regression.py, preferences.py, airl.py) reads top to bottom as
one procedure; the bookkeeping around it (seeding, the imitation data types, the
submission.toml with its reproduction command and budget) is the same for all.
"""

from __future__ import annotations

import copy
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import imitation
import numpy as np
import torch
from imitation.data import types as imitation_types
from torch import nn

from benchmark.data import Transitions
from benchmark.submissions import Submission, save_model, write_submission
from benchmark.vocabulary import CHECKPOINT_SUFFIX, TRAINING_DATA_SEED_START

if TYPE_CHECKING:
    from benchmark.tasks import Task

BASELINE_AUTHORS = ["epic-bench maintainers"]
# Independent data streams one baseline seed may draw (one per coverage, demonstrations, envs).
DATA_STREAMS = 100


@dataclass
class TrainResult:
    """A trained reward net plus what to record about its training."""

    net: nn.Module
    metrics: dict[str, float]
    description: str
    architecture_note: str = ""
    # What each training-data stream was drawn with (recorded: disjoint from evaluation seeds).
    data_seeds: dict[str, int] = field(default_factory=dict)
    # Snapshots along the run (`Checkpoints`), the last one the returned ``net``'s state.
    checkpoints: list[Checkpoint] = field(default_factory=list)


@dataclass(frozen=True)
class Checkpoint:
    """A copy of the reward net after ``done`` of ``total`` training ``unit``s."""

    net: nn.Module
    done: int
    total: int
    unit: str

    @property
    def progress(self) -> float:
        return self.done / self.total


class Checkpoints:
    """Copies the reward net at K evenly spaced points of a run of ``total`` units.

    Why: a family of checkpoints along one run is a population of learned rewards of
    graded quality (issue 17), the evidence for whether a distance ranks learned rewards
    as transfer does. Unit j of K is taken after round(j·total/K) units, so the last is
    the end of the run: the standard model when the run is the standard one. Copying
    draws no random numbers, so the run itself is unchanged by taking checkpoints.
    """

    def __init__(self, k: int, total: int, unit: str) -> None:
        if k and not 2 <= k <= total:
            raise ValueError(
                f"--checkpoints must be between 2 and the run's {total} {unit}, got {k}"
            )
        self.at = {round(j * total / k) for j in range(1, k + 1)} if k else set()
        self.total, self.unit = total, unit
        self.taken: list[Checkpoint] = []

    def __call__(self, done: int, net: nn.Module) -> None:
        """Record ``net`` if ``done`` units is one of the K points."""
        if done in self.at:
            snapshot = copy.deepcopy(net).eval()
            self.taken.append(Checkpoint(snapshot, done, self.total, self.unit))


def seed_everything(seed: int) -> np.random.Generator:
    """Seed python, numpy and torch; return the numpy Generator imitation wants.

    Also pins torch to one thread: baseline nets are tiny, and on a busy machine
    OpenMP's thread hand-off costs ~100x the matmul itself (measured: 5.9 ms vs 48 µs
    per 64x64 Linear on 4 rows).
    """
    torch.set_num_threads(1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def data_seed(seed: int, stream: int) -> int:
    """The seed of training-data stream ``stream`` for baseline seed ``seed``.

    Why: a baseline trained on coverage samples drawn with the evaluation's own seeds
    (0, 1, ...) would be scored on its training data. Training seeds start at
    ``TRAINING_DATA_SEED_START`` (10 000), above every evaluation seed the grid allows and
    the transfer reference seeds (1000..1004); each (seed, stream) pair gets its own seed.
    """
    if seed < 0 or not 0 <= stream < DATA_STREAMS:
        raise ValueError(
            f"baseline seed must be >= 0 and data stream in 0..{DATA_STREAMS - 1}, "
            f"got seed {seed}, stream {stream}"
        )
    return TRAINING_DATA_SEED_START + DATA_STREAMS * seed + stream


def to_env_format(x: torch.Tensor, space: gym.Space) -> np.ndarray:
    """Inverse of imitation's preprocessing: one-hot rows -> indices for Discrete spaces.

    Coverage samples hold preprocessed float tensors (our RewardFn convention); imitation's
    algorithms want observations and actions as the environment emits them.
    """
    if isinstance(space, gym.spaces.Discrete):
        return x.argmax(dim=-1).cpu().numpy().astype(np.int64)
    return x.detach().cpu().numpy().astype(space.dtype if space.dtype is not None else np.float32)


def to_imitation_transitions(t: Transitions, obs_space: gym.Space, act_space: gym.Space):
    """Our Transitions -> ``imitation.data.types.Transitions`` (env-format arrays, bool dones)."""
    return imitation_types.Transitions(
        obs=to_env_format(t.obs, obs_space),
        acts=to_env_format(t.acts, act_space),
        infos=np.array([{}] * len(t)),
        next_obs=to_env_format(t.next_obs, obs_space),
        dones=t.dones.cpu().numpy() > 0.5,
    )


def baseline_name(task: str, method: str, checkpoint: int = 0) -> str:
    """``<task>-<method>``, or ``<task>-<method>-ckpt<k>`` for checkpoint k of a family."""
    name = f"{task}-{method}".lower().replace("_", "-")
    return f"{name}{CHECKPOINT_SUFFIX}{checkpoint}" if checkpoint else name


def write_baseline(
    *,
    result: TrainResult,
    task: Task,
    method: str,
    method_label: str,
    budget_name: str,
    budget: Any,
    seed: int,
    root: str | Path,
    seconds: float,
    paper: str | None = None,
    checkpoint: int = 0,
) -> Submission:
    """Save the net in a safe format and write submission.toml with the reproduction recipe.

    ``checkpoint`` k ≥ 1: write ``result.checkpoints[k - 1]`` as ``<task>-<method>-ckpt<k>``
    with ``family = "<task>-<method>"`` and its training progress in the provenance.
    """
    name = baseline_name(task.name, method, checkpoint)
    folder = Path(root) / name
    snapshot = result.checkpoints[checkpoint - 1] if checkpoint else None
    model = save_model(snapshot.net if snapshot else result.net, folder, task)
    command = (
        f"epic-bench baselines train --method {method} --task {task.name} "
        f"--budget {budget_name} --seed {seed}"
    )
    if snapshot:
        command += f" --checkpoints {len(result.checkpoints)}"
    data: dict[str, Any] = {
        "name": name,
        "task": task.name,
        "method": method_label,
        "authors": BASELINE_AUTHORS,
        "description": result.description,
    }
    if snapshot:
        data["family"] = baseline_name(task.name, method)
    if paper:
        data["paper"] = paper
    data["model"] = model
    data["provenance"] = {
        "command": command,
        "budget_name": budget_name,
        "seed": seed,
        "train_seconds": round(seconds, 1),
        "imitation": imitation.__version__,
        "torch": torch.__version__,
        "budget": {k: _plain(v) for k, v in asdict(budget).items()},
        "metrics": {k: float(v) for k, v in result.metrics.items()},
    }
    if result.data_seeds:
        data["provenance"]["data_seeds"] = dict(result.data_seeds)
    if snapshot:
        data["provenance"]["checkpoint"] = {
            "index": checkpoint,
            "of": len(result.checkpoints),
            "progress": round(snapshot.progress, 6),
            "done": snapshot.done,
            "total": snapshot.total,
            "unit": snapshot.unit,
        }
        if checkpoint < len(result.checkpoints):  # the run's metrics describe its end only
            del data["provenance"]["metrics"]
    return write_submission(folder, data)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
