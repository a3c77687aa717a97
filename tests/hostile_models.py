"""Modules a hostile or broken submission might hold, for tests/test_untrusted_models.py.

They live in an importable module (not the test file) so a worker process can unpickle
them when a test passes ``trust_pickle=True``.
"""

import os
import signal
import time

import torch
from torch import nn


class SumReward(nn.Module):
    """A well-behaved reward: the sum of the observation's features."""

    def forward(self, obs, acts, next_obs, dones):
        return obs.sum(dim=1)


class SleepsForever(nn.Module):
    """A forward that blocks (a deadlock looks the same from outside)."""

    def forward(self, obs, acts, next_obs, dones):
        time.sleep(3600)
        return obs.sum(dim=1)


class CrashesInterpreter(nn.Module):
    """A forward that kills its own process, as a segfault in an extension would."""

    def forward(self, obs, acts, next_obs, dones):
        os.kill(os.getpid(), signal.SIGSEGV)
        return obs.sum(dim=1)


class AllocatesWithoutBound(nn.Module):
    """A forward that asks for 64 GiB."""

    def forward(self, obs, acts, next_obs, dones):
        return torch.ones(1 << 34).sum() + obs.sum(dim=1)


class WritesAFile(nn.Module):
    """A forward that writes bytes into the file named by ``path``."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def forward(self, obs, acts, next_obs, dones):
        with open(self.path, "a") as f:
            f.write("written by a model\n")
        return obs.sum(dim=1)


class WritesAtUnpickling:
    """An object whose unpickling creates the file ``path`` (what a hostile pickle does)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))
