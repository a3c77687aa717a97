"""The RewardFn contract, checked on a model's actual outputs (validate and evaluate).

A metric can trust a reward only if, on the rows and batch sizes it will use, the
reward returns a float tensor of shape [B], finite, the same on a second call (no state
across calls, no randomness) and the same for a row whatever batch holds it. A model
whose output depends on the batch size above some threshold (a batch mean, a different
code path) passes a check at 128 rows and scores differently inside EPIC's 8192-row
batches, so the check runs at the sizes the metrics use: ``epic_batch_sizes(device)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from benchmark.data import Transitions

CONTRACT_CHECKS = ("run", "shape", "dtype", "finite", "determinism")
# Small batches (transfer's vectorised envs, a single row) beside the metrics' own.
SMALL_BATCHES = (1, 7, 256)


class ContractViolation(Exception):
    """The reward broke one check of the contract; ``check`` names it (CONTRACT_CHECKS)."""

    def __init__(self, check: str, detail: str) -> None:
        super().__init__(f"{check} check failed: {detail}")
        self.check = check
        self.detail = detail


def epic_batch_sizes(device: str | torch.device) -> tuple[int, ...]:
    """Batch sizes a reward sees on ``device``: SMALL_BATCHES and EPIC's rows per forward."""
    from benchmark.metrics.epic import resolve_max_batch

    return (*SMALL_BATCHES, resolve_max_batch(None, torch.device(device)))


def check_reward(
    reward: Any, rows: Transitions, batch_sizes: Sequence[int], *, what: str = "the rows", seed=0
) -> torch.Tensor:
    """Check the contract on ``rows`` at every size in ``batch_sizes``; ContractViolation if not.

    Rows are drawn with replacement from ``rows`` up to the largest size (a random
    draw, so a batch statistic of a prefix differs from that of the whole batch); the
    largest batch is the reference and every smaller size is its prefix. Returns the
    reference rewards, float, shape [max(batch_sizes)].
    """
    largest = max(batch_sizes)
    generator = torch.Generator().manual_seed(seed)
    index = torch.randint(len(rows), (largest,), generator=generator).to(rows.device)
    batch = rows[index]
    first = _call(reward, batch, f"{largest} rows of {what}")
    _check_output(first, largest, what)
    again = _call(reward, batch, f"{largest} rows of {what} (second call)")
    if not torch.equal(first, again.to(first.dtype)):
        diff = (first - again.to(first.dtype)).abs().max().item()
        raise ContractViolation(
            "determinism",
            f"two calls on the same inputs ({largest} rows of {what}) differ by up to "
            f"{diff:.3g}; the model must hold no state across calls and draw no random numbers",
        )
    scale = max(1.0, first.abs().max().item())
    for size in sorted(set(batch_sizes) - {largest}):
        part = _call(reward, batch[:size], f"{size} rows of {what}")
        _check_output(part, size, what)
        if not torch.allclose(part.to(first.dtype), first[:size], rtol=1e-4, atol=1e-5 * scale):
            diff = (part.to(first.dtype) - first[:size]).abs().max().item()
            raise ContractViolation(
                "determinism",
                f"rewards of {what} change with the batch they are computed in (a batch of "
                f"{size} rows vs {largest}: max diff {diff:.3g}); each row's reward must "
                "depend on that row only",
            )
    return first


def _call(reward: Any, t: Transitions, what: str) -> torch.Tensor:
    from benchmark.submissions.spec import SubmissionError

    try:
        out = reward(t.obs, t.acts, t.next_obs, t.dones)
    except SubmissionError as exc:  # a contained worker names the check itself
        check = exc.check if exc.check in CONTRACT_CHECKS else "run"
        raise ContractViolation(check, exc.message) from exc
    except Exception as exc:
        raise ContractViolation(
            "run", f"the model raised {type(exc).__name__} on {what}: {exc}"
        ) from exc
    if not isinstance(out, torch.Tensor):
        raise ContractViolation("shape", f"the model returned a {type(out).__name__} on {what}")
    return out


def _check_output(out: torch.Tensor, rows: int, what: str) -> None:
    if tuple(out.shape) != (rows,):
        raise ContractViolation(
            "shape", f"expected rewards of shape [{rows}] on {what}, got {tuple(out.shape)}"
        )
    if not torch.is_floating_point(out):
        raise ContractViolation("dtype", f"expected floating-point rewards, got {out.dtype}")
    bad = ~torch.isfinite(out)
    if bad.any():
        raise ContractViolation(
            "finite",
            f"{int(torch.isnan(out).sum())} NaN and {int(torch.isinf(out).sum())} inf rewards "
            f"among {rows} on {what}",
        )
