"""Calling reward models on batches: the plumbing every distance shares.

A RewardFn (imitation's ``RewardNet.forward`` convention) is called in eval() mode under
``no_grad``, the caller's train/eval modes restored after (`benchmark.data.evaluating`),
on its own device and dtype, in chunks of at most ``max_batch`` rows, and its output is
checked to be ``[B]``. EPIC, NPEC and ERC all evaluate rewards through here.
"""

from __future__ import annotations

import numpy as np
import torch

from benchmark.data import RewardFn, Transitions, evaluating
from benchmark.metrics.host_memory import keep_freed_memory

# Rows per reward forward pass: bounds memory whatever N_T and M are. None picks by
# device: on CPU, batches that stay in cache run about twice as fast as 65k-row ones
# (bench/epic_throughput.py, MLP 256x256, one thread: 602k vs 296k rows/s); a GPU
# needs the larger batches to stay busy.
DEFAULT_MAX_BATCH: int | None = None
MAX_BATCH_CPU = 2**13
MAX_BATCH_ACCELERATOR = 2**16


def resolve_max_batch(max_batch: int | None, device: torch.device) -> int:
    """Rows per forward pass: ``max_batch`` if given, else the device's default.

    Every batched evaluation resolves its batch size here, so this is also where a CPU
    evaluation keeps freed memory mapped between batches (`host_memory`).
    """
    if device.type == "cpu":
        keep_freed_memory()
    if max_batch is None:
        return MAX_BATCH_CPU if device.type == "cpu" else MAX_BATCH_ACCELERATOR
    if not isinstance(max_batch, int) or max_batch < 1:
        raise ValueError(
            f"max_batch must be a positive int (rows per forward pass), got {max_batch!r}"
        )
    return max_batch


def evaluate_reward(
    reward: RewardFn,
    transitions: Transitions,
    *,
    name: str = "reward",
    use_dones: bool = True,
    device: torch.device | str | None = None,
    max_batch: int | None = DEFAULT_MAX_BATCH,
) -> torch.Tensor:
    """R at each transition, in chunks of ``max_batch`` rows, under ``no_grad``.

    Shared by ERC and NPEC. Returns ``[N]`` float64 on the evaluation device; raises
    ValueError on wrong output shape or non-finite values.
    """
    dev = pick_device([reward], transitions, device)
    max_batch = resolve_max_batch(max_batch, dev)
    t = transitions.to(dev)
    dones = t.dones if use_dones else torch.zeros_like(t.dones)
    out = torch.empty(len(t), dtype=torch.float64, device=dev)
    for start in range(0, len(t), max_batch):
        sl = slice(start, start + max_batch)
        out[sl] = call_reward(reward, name, t.obs[sl], t.acts[sl], t.next_obs[sl], dones[sl])
    bad = int((~torch.isfinite(out)).sum())
    if bad:
        raise ValueError(
            f"{name} returned {bad} non-finite values (NaN or inf) out of {len(t)} transitions"
        )
    return out


def module_placement(reward: RewardFn) -> tuple[torch.device, torch.dtype] | None:
    """Device and float dtype of an nn.Module reward's parameters, if it has any."""
    if isinstance(reward, torch.nn.Module):
        for p in reward.parameters():
            if torch.is_floating_point(p):
                return p.device, p.dtype
    return None


def pick_device(rewards, transitions: Transitions, device) -> torch.device:
    if device is not None:
        return torch.device(device)
    for r in rewards:
        placement = module_placement(r)
        if placement is not None:
            return placement[0]
    return transitions.device


def call_reward(
    reward: RewardFn,
    name: str,
    obs: torch.Tensor,
    acts: torch.Tensor,
    next_obs: torch.Tensor,
    dones: torch.Tensor,
    *,
    keep_dtype: bool = False,
) -> torch.Tensor:
    """Evaluate one batch in eval mode under no_grad on the reward's own device/dtype.

    Checks the output is shape [B]. The reward's modules are back in the caller's
    train/eval modes on return, and no statistics (e.g. ``RunningNorm``) have moved.
    """
    home = obs.device
    placement = module_placement(reward)
    if placement is not None:
        dev, dtype = placement
        obs, acts, next_obs, dones = (x.to(dev, dtype) for x in (obs, acts, next_obs, dones))
    with evaluating(reward):
        out = reward(obs, acts, next_obs, dones)
    if isinstance(out, np.ndarray):
        out = torch.as_tensor(out)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{name} must return a torch tensor of shape [B], got {type(out).__name__}")
    b = obs.shape[0]
    if tuple(out.shape) != (b,):
        raise ValueError(
            f"{name} returned shape {tuple(out.shape)} for a batch of {b} transitions; "
            f"a RewardFn must return shape [B] = [{b}] (squeeze a trailing axis if needed)"
        )
    if not torch.is_floating_point(out):
        out = out.to(torch.float32)
    out = out.to(home)
    return out if keep_dtype else out.to(torch.float64)
