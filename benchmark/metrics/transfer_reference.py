"""The normalizer of reoptimization transfer: K ground-truth-trained runs and K random runs.

Why several runs: one ground-truth-trained policy is a single draw from a wide
distribution. Measured on PointMaze version 1 (protocol 1, 4 seeds): returns −16.2, −19.1,
−50.9, −19.7, so a submission normalized by one of them moves between 0.44 and 2.29 with
the reference seed alone. Protocol 2 normalizes by the *mean* of K ground-truth-trained
runs (K = 5, or the task's ``[transfer] reference_runs``; `reference_seeds`) whose seeds
(1000 .. 1000 + K − 1) are disjoint from every submission seed, and stores their standard
deviation so it can enter the score's interval
(`benchmark.metrics.stats.normalized_return_ci`). The random policy's return is averaged
over the same K seeds (its action noise), on the same evaluation episodes.

Every policy of a (task, variant, budget) is evaluated on one fixed episode set
(`benchmark.metrics.reoptimize.EVAL_SEED_OFFSET`): common initial states, so differences
between a submission and the reference are not initial-state luck.

Each run is cached on its own (``reference_cache_path``), keyed by task version,
protocol version, variant, budget (and its hash, stored inside), seed and device type,
so the K runs can be filled in parallel (``epic-bench transfer refs --seed``: one command
per core, each with its share of the seeds) and a protocol change never reuses an old
number.

The runs behind the committed board are committed too (``committed_reference_path``,
``leaderboard/references``, written by ``epic-bench transfer refs --publish``) and read
before the cache: a fresh checkout normalizes by the board's own runs instead of
retraining them (up to 10 x 16 CPU-minutes on Hopper), and a reviewer can recompute a
row's ``reference_return`` and ``reference_std`` from the K records.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.metrics.reoptimize import evaluate_policy, evaluate_random, train_policy
from benchmark.paths import atomic_write, cache_root, references_root
from benchmark.tasks.task import DEFAULT_REFERENCE_RUNS, budget_hash
from benchmark.vocabulary import TRANSFER_PROTOCOL_VERSION

# Part of every reference cache key and transfer row (``transfer_protocol``); one source.
PROTOCOL_VERSION = TRANSFER_PROTOCOL_VERSION
# Reference run k of a task has seed 1000 + k; submission seeds must avoid a task's
# (`check_submission_seed`). REFERENCE_SEEDS are those of the default K = 5.
FIRST_REFERENCE_SEED = 1000
REFERENCE_SEEDS: tuple[int, ...] = tuple(
    range(FIRST_REFERENCE_SEED, FIRST_REFERENCE_SEED + DEFAULT_REFERENCE_RUNS)
)
# `read_reference_record`'s reason for a run that has no record at all.
ABSENT = "absent"


@dataclass(frozen=True)
class Reference:
    """The random and ground-truth-trained returns that normalize a transfer score.

    ``random_returns[k]`` and ``reference_returns[k]`` are the mean undiscounted
    ground-truth returns over the evaluation episodes of the random policy (action
    noise seeded ``seeds[k]``) and of the policy trained on the ground truth with seed
    ``seeds[k]``. Tabular tasks are exact: one run, standard deviation 0.
    """

    seeds: tuple[int, ...]
    random_returns: tuple[float, ...]
    reference_returns: tuple[float, ...]

    @property
    def n_runs(self) -> int:
        return len(self.reference_returns)

    @property
    def random_mean(self) -> float:
        return float(np.mean(self.random_returns))

    @property
    def random_std(self) -> float:
        return _sample_std(self.random_returns)

    @property
    def reference_mean(self) -> float:
        return float(np.mean(self.reference_returns))

    @property
    def reference_std(self) -> float:
        return _sample_std(self.reference_returns)


def _sample_std(x: Sequence[float]) -> float:
    """Sample standard deviation (ddof = 1); 0 for a single (exact) value."""
    return float(np.std(x, ddof=1)) if len(x) > 1 else 0.0


def reference_seeds(task: Any) -> tuple[int, ...]:
    """The seeds of ``task``'s K reference runs: 1000 .. 1000 + K - 1, K = ``task.reference_runs``.

    Why per task: K = 5 fixes the point tasks' normalizer to a few percent, but SAC on
    MuJoCo at 2-core budgets spreads so widely (HalfCheetah 1005..2827 over 5 runs) that
    the mean of 5 is known only to about +-16 % of the random-to-reference span; those
    tasks set K = 10. The first K = 5 seeds are shared, so runs made for K = 5 stay valid.
    """
    return tuple(range(FIRST_REFERENCE_SEED, FIRST_REFERENCE_SEED + task.reference_runs))


def check_submission_seed(seed: int, reserved: Sequence[int] = REFERENCE_SEEDS) -> None:
    """A submission trained with a reference seed would share its RL noise with the normalizer."""
    if seed in reserved:
        raise ValueError(
            f"transfer seed {seed} is one of the reference seeds {list(reserved)}; "
            "use submission seeds outside them (e.g. 0..4)"
        )


def reference(
    task: Any,
    budget_name: str,
    budget: Any,
    *,
    variant: str,
    device: str = "cpu",
    seeds: Sequence[int] | None = None,
    progress: bool = False,
    use_cache: bool = True,
) -> Reference:
    """The K-run reference of (task, variant, budget), each run from the cache or computed once.

    ``seeds`` default to the task's own (`reference_seeds`).
    """
    seeds = reference_seeds(task) if seeds is None else seeds
    if len(seeds) == 0:
        raise ValueError("a transfer reference needs at least one seed, e.g. REFERENCE_SEEDS")
    runs = [
        reference_run(
            task,
            budget_name,
            budget,
            seed=s,
            variant=variant,
            device=device,
            progress=progress,
            use_cache=use_cache,
        )  # fmt: skip
        for s in seeds
    ]
    return Reference(
        seeds=tuple(int(s) for s in seeds),
        random_returns=tuple(r for r, _ in runs),
        reference_returns=tuple(g for _, g in runs),
    )


def reference_run(
    task: Any,
    budget_name: str,
    budget: Any,
    *,
    seed: int,
    variant: str,
    device: str = "cpu",
    progress: bool = False,
    use_cache: bool = True,
) -> tuple[float, float]:
    """(R_random, R_gt) of one reference seed: random policy, and PPO/SAC on the env's reward."""
    path = reference_cache_path(task, variant, budget_name, seed, device)
    key = budget_hash(budget)
    if use_cache:
        committed = committed_reference_path(task, variant, budget_name, seed, device)
        for source, kind in ((committed, "committed"), (path, "cache")):
            found, problem = read_reference_record(source, key)
            if found is not None:
                return found
            _warn_unusable(source, kind, problem)
    start = time.perf_counter()
    r_random = evaluate_random(task, budget, seed=seed, device=device, variant=variant)
    model = train_policy(task, None, budget, seed=seed, device=device, variant=variant,
                         progress=progress)  # fmt: skip
    r_gt = evaluate_policy(task, model, budget, seed=seed, device=device, variant=variant)
    record = {
        "task": task.name, "version": task.version, "variant": variant, "budget": budget_name,
        "budget_hash": key, "protocol": PROTOCOL_VERSION, "seed": seed,
        "algorithm": budget.algorithm, "timesteps": int(budget.total_timesteps),
        "random_return": r_random, "reference_return": r_gt, "device": str(device),
        "wall_time_s": time.perf_counter() - start,
    }  # fmt: skip
    if use_cache:
        _write_atomic(path, json.dumps(record, indent=2))
    if not (math.isfinite(r_random) and math.isfinite(r_gt)):
        raise ValueError(f"{task.name}: reference seed {seed} gave non-finite returns {record}")
    return r_random, r_gt


def reference_cache_path(
    task: Any, variant: str, budget_name: str, seed: int, device: str = "cpu"
) -> Path:
    """Where one reference run of (task version, protocol, variant, budget, seed, device) lives.

    CPU files carry no device suffix; GPU files end in ``-cuda`` since RL training is not
    bitwise equal across devices.
    """
    device_type = torch.device(device).type
    suffix = "" if device_type == "cpu" else f"-{device_type}"
    name = (
        f"{task.name}-v{task.version}-p{PROTOCOL_VERSION}-{variant}-{budget_name}"
        f"-seed{seed}{suffix}.json"
    )
    return cache_root() / "transfer-refs" / name


def committed_reference_path(
    task: Any, variant: str, budget_name: str, seed: int, device: str = "cpu"
) -> Path:
    """Where the board's own record of one reference run is committed (same name as the cache's)."""
    return references_root() / reference_cache_path(task, variant, budget_name, seed, device).name


def publish_reference_runs(
    task: Any, variant: str, budget_name: str, seeds: Sequence[int], device: str = "cpu"
) -> list[Path]:
    """Copy the cached records of ``seeds`` into `benchmark.paths.references_root`.

    Why a separate step: the cache is per machine; publishing is the maintainer's decision
    that these runs are the board's normalizer (`epic-bench transfer refs --publish`).
    """
    written = []
    for seed in seeds:
        source = reference_cache_path(task, variant, budget_name, seed, device)
        if not source.exists():
            raise FileNotFoundError(
                f"{source} is not cached; run `epic-bench transfer refs --task {task.name}` first"
            )
        record = json.loads(source.read_text())
        target = committed_reference_path(task, variant, budget_name, seed, device)
        _write_atomic(target, json.dumps(record, indent=2) + "\n")
        written.append(target)
    return written


def read_reference_record(path: Path, key: str) -> tuple[tuple[float, float] | None, str]:
    """((R_random, R_gt), "") from a record of budget hash ``key`` and this protocol, else
    (None, why not): "absent", "corrupt: ...", or "another budget or protocol ...".

    One reader for the evaluator (which recomputes an unusable run) and for
    `benchmark.results.renormalize` (which refuses it and says which seed and why).
    """
    if not path.exists():
        return None, ABSENT
    try:
        record = json.loads(path.read_text())
        budget, protocol = record["budget_hash"], record["protocol"]
        if budget == key and protocol == PROTOCOL_VERSION:
            return (float(record["random_return"]), float(record["reference_return"])), ""
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        return None, f"corrupt: {err!r}"
    return None, (
        f"another budget or protocol (budget hash {budget}, protocol {protocol}; "
        f"the task's now: {key}, protocol {PROTOCOL_VERSION})"
    )


def _warn_unusable(path: Path, kind: str, problem: str) -> None:
    """Say why a record is skipped: a corrupt one anywhere, a stale one when committed."""
    if problem.startswith("corrupt"):
        warnings.warn(f"ignoring the transfer reference {kind} {path}: {problem}", stacklevel=4)
    elif kind == "committed" and problem != ABSENT:
        warnings.warn(
            f"ignoring the committed transfer reference {path}: it was run with {problem}; "
            "recomputing, and the board's transfer rows of this task are stale",
            stacklevel=4,
        )


def _write_atomic(path: Path, text: str) -> None:
    """Readers see the old file or the whole new one, never half of it (`paths.atomic_write`)."""
    with atomic_write(path) as tmp:
        tmp.write_text(text)
