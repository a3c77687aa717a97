"""Small models on one intra-op thread: RL policies (transfer, coverage rollouts), NPEC's fits.

Why: their matrices are too small to gain from threading, and on a shared CPU the
OpenMP workers spin-wait for each other at every operator. Measured on a loaded 2-core
machine: the PointMass smoke transfer budget took 9 s with 1 thread vs 174 s with 2,
and one gridworld NPEC unit 2.8 vs 87 CPU-s (bench/standard_eval.py), with the same
numbers either way. Coverage rollouts with an expert policy too: 8000 HalfCheetah expert
transitions took 85.6 s wall / 39.7 CPU-s with 2 threads vs 11.4 s / 2.3 CPU-s with 1 at
load 15, bitwise-equal (a 102-episode ERC rollout had taken 46 min).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def single_thread_on_cpu(device: torch.device | str | None) -> Iterator[None]:
    """Run the block with one intra-op thread when ``device`` is the CPU (None: the CPU)."""
    if device is not None and torch.device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
