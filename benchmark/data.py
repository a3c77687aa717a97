"""The one Transitions type and the RewardFn convention shared by every module.

A RewardFn follows imitation's ``RewardNet.forward`` contract, so an imitation
reward net *is* a RewardFn: ``reward(obs, acts, next_obs, dones) -> Tensor[B]``.
Inputs are floating-point tensors as such a net receives them after imitation's
preprocessing: ``dones`` is float 0/1 of shape [B]; discrete spaces are one-hot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

RewardFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _modules_of(reward: Any) -> list[torch.nn.Module]:
    """The nn.Modules behind a RewardFn: the module itself, or the owner of a bound method."""
    owner = getattr(reward, "__self__", reward)  # net.forward / net.predict_th -> net
    return list(owner.modules()) if isinstance(owner, torch.nn.Module) else []


@contextmanager
def evaluating(reward: RewardFn) -> Iterator[None]:
    """Call ``reward`` in eval() mode under no_grad, then restore every submodule's mode.

    Why: a measurement must not change what it measures. An imitation net loaded with
    ``torch.load`` is in training mode, where its ``RunningNorm`` layers update their
    statistics on every forward (and dropout is live), so two identical EPIC calls gave
    different answers and moved the caller's model. Each submodule's own ``training`` flag
    is saved and restored (not one ``train(mode)`` for the tree), so a net the caller left
    in a mixed mode comes back exactly as it was; the flags are set directly because some
    modules (``torch.export`` programs) refuse ``train()``/``eval()``.
    """
    modules = _modules_of(reward)
    modes = [m.training for m in modules]
    try:
        for m in modules:
            m.training = False
        with torch.no_grad():
            yield
    finally:
        for m, mode in zip(modules, modes, strict=True):
            m.training = mode


def as_float_tensor(x: Any, *, name: str, device: torch.device | str | None = None) -> torch.Tensor:
    """Convert an array-like to a floating-point torch tensor.

    Why: users hand us numpy arrays, lists and tensors of any dtype; every
    metric wants float tensors on one device. Integers and booleans become
    float32; floating tensors keep their precision.
    """
    if isinstance(x, torch.Tensor):
        t = x
    elif isinstance(x, np.ndarray | np.generic | list | tuple | float | int):
        array = np.asarray(x)
        # torch cannot share memory with a read-only array (e.g. a memory-mapped or
        # broadcast one); copy those rather than risk writes through a shared view.
        t = torch.as_tensor(array if array.flags.writeable else array.copy())
    else:
        raise TypeError(f"{name} must be a torch tensor or numpy array, got {type(x).__name__}")
    if not torch.is_floating_point(t):
        t = t.to(torch.float32)
    if device is not None:
        t = t.to(device)
    return t


# Fewest blocks a bootstrap over rollout transitions resamples (`Transitions.bootstrap_blocks`).
MIN_BOOTSTRAP_BLOCKS = 16


@dataclass(frozen=True)
class Transitions:
    """A batch of N transitions (s, a, s', done) as float tensors.

    Attributes:
        obs: [N, *obs_shape] states s.
        acts: [N, *act_shape] actions a (one-hot for discrete action spaces).
        next_obs: [N, *obs_shape] successor states s'.
        dones: [N] float 0/1, whether s' ended the episode.
    """

    obs: torch.Tensor
    acts: torch.Tensor
    next_obs: torch.Tensor
    dones: torch.Tensor

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, torch.Tensor):
                raise TypeError(
                    f"Transitions.{f.name} must be a torch tensor; use Transitions.create"
                )
            if value.ndim == 0:  # a scalar has no rows to count (was a bare IndexError)
                raise ValueError(
                    f"Transitions.{f.name} is a scalar; every field needs one row per transition"
                )
        n = self.obs.shape[0]
        for f in fields(self):
            value = getattr(self, f.name)
            if value.shape[0] != n:
                raise ValueError(
                    f"Transitions fields disagree on length: obs has {n} rows, "
                    f"{f.name} has {value.shape[0]}"
                )
        if self.obs.shape != self.next_obs.shape:
            raise ValueError(
                f"obs {tuple(self.obs.shape)} and next_obs {tuple(self.next_obs.shape)} differ in shape"
            )
        if self.dones.ndim != 1:
            raise ValueError(f"dones must have shape [N], got {tuple(self.dones.shape)}")

    @classmethod
    def create(
        cls,
        obs: Any,
        acts: Any,
        next_obs: Any,
        dones: Any | None = None,
        *,
        device: torch.device | str | None = None,
    ) -> Transitions:
        """Build from arrays or tensors; ``dones`` defaults to all zeros."""
        obs_t = as_float_tensor(obs, name="obs", device=device)
        if dones is None:
            dones = torch.zeros(obs_t.shape[0])
        return cls(
            obs=obs_t,
            acts=as_float_tensor(acts, name="acts", device=device),
            next_obs=as_float_tensor(next_obs, name="next_obs", device=device),
            dones=as_float_tensor(dones, name="dones", device=device).reshape(-1),
        )

    def __len__(self) -> int:
        return int(self.obs.shape[0])

    @property
    def device(self) -> torch.device:
        return self.obs.device

    def to(self, device: torch.device | str) -> Transitions:
        return Transitions(*(getattr(self, f.name).to(device) for f in fields(self)))

    def __getitem__(self, index: Any) -> Transitions:
        """Rows selected by a slice, index tensor or boolean mask."""
        return Transitions(*(getattr(self, f.name)[index] for f in fields(self)))

    def episode_ids(self) -> np.ndarray:
        """``[N]`` int64 episode index of each transition: rows of one episode are dependent.

        A new episode starts after each ``dones = 1`` and wherever a transition does not
        start in its predecessor's s' (independent draws, such as ``uniform`` coverage
        with dones all 0, are episodes of one transition each). Why: bootstrap intervals
        resample whole episodes (`benchmark.metrics.canonical_interval`).
        """
        n = len(self)
        new = np.zeros(n, dtype=bool)
        if n > 1:
            obs = self.obs.reshape(n, -1)
            nxt = self.next_obs.reshape(n, -1)
            cut = (self.dones[:-1] != 0) | torch.any(obs[1:] != nxt[:-1], dim=1)
            new[1:] = cut.cpu().numpy()
        return np.cumsum(new).astype(np.int64)

    def bootstrap_blocks(self, min_blocks: int = MIN_BOOTSTRAP_BLOCKS) -> np.ndarray:
        """``[N]`` int64 block of each transition: its episode (`episode_ids`), cut into
        contiguous pieces of at most ceil(N / min_blocks) transitions.

        Why: a bootstrap resamples whole episodes because rows within one are dependent,
        but a few long episodes (MuJoCo: 2 streams of 512 steps) give too few units to
        resample; cutting them gives at least ``min_blocks`` blocks, the non-overlapping
        block bootstrap (Carlstein 1986; Künsch 1989). Dependence longer than a block is
        then missed; short episodes (gridworld: 20 steps at N = 1024) stay whole.
        """
        ids = self.episode_ids()
        n = ids.shape[0]
        if n == 0:
            return ids
        length = max(1, -(-n // min_blocks))
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        position = np.arange(n) - starts[ids]
        new = np.r_[False, (ids[1:] != ids[:-1]) | (position[1:] % length == 0)]
        return np.cumsum(new).astype(np.int64)

    @staticmethod
    def concatenate(parts: list[Transitions]) -> Transitions:
        if not parts:
            raise ValueError("cannot concatenate an empty list of Transitions")
        return Transitions(
            *(torch.cat([getattr(p, f.name) for p in parts]) for f in fields(Transitions))
        )


def as_transitions(x: Any, *, device: torch.device | str | None = None) -> Transitions:
    """Accept our Transitions or imitation's ``imitation.data.types.Transitions``.

    imitation stores numpy arrays and boolean dones; we convert once here so
    the metrics see one type.
    """
    if isinstance(x, Transitions):
        return x if device is None else x.to(device)
    if all(hasattr(x, name) for name in ("obs", "acts", "next_obs", "dones")):
        return Transitions.create(x.obs, x.acts, x.next_obs, x.dones, device=device)
    raise TypeError(
        "transitions must be a benchmark.data.Transitions or an imitation.data.types.Transitions "
        f"(with obs, acts, next_obs, dones), got {type(x).__name__}"
    )
