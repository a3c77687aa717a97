"""Checks of metric inputs: discounts, weights, distributions, arrays, constant rewards.

Errors are part of the interface: each names the argument, what was wrong and what to do.
"""

from __future__ import annotations

import numpy as np
import torch

ArrayLike = torch.Tensor | np.ndarray


def check_discount(discount: float) -> None:
    if not isinstance(discount, int | float | np.floating) or not 0.0 <= float(discount) <= 1.0:
        raise ValueError(f"discount must be a number in [0, 1], got {discount!r}")


def check_weights(weights: ArrayLike, n: int) -> np.ndarray:
    w = to_numpy(weights, "weights")
    if w.shape != (n,):
        raise ValueError(f"weights must have shape [N] = [{n}] (one per transition), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(
            f"weights must be finite and non-negative; {int((~(w >= 0)).sum())} entries are not"
        )
    if w.sum() <= 0:
        raise ValueError("weights sum to zero; at least one transition needs positive weight")
    return w


def check_distribution(p: ArrayLike, name: str, shape: tuple[int, ...]) -> np.ndarray:
    arr = to_numpy(p, name)
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {list(shape)}, got {list(arr.shape)}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    total = float(arr.sum())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(
            f"{name} must sum to 1 (a probability distribution), sums to {total:.6g}; normalize it"
        )
    return arr


def to_numpy(x: ArrayLike, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be a numeric numpy array or torch tensor: {e}") from e


def to_numpy_1d(x: ArrayLike, name: str) -> np.ndarray:
    arr = to_numpy(x, name)
    if arr.ndim != 1 or arr.shape[0] < 2:
        raise ValueError(f"{name} must have shape [N] with N >= 2, got {list(arr.shape)}")
    bad = int((~np.isfinite(arr)).sum())
    if bad:
        raise ValueError(f"{name} contains {bad} non-finite values (NaN or inf)")
    return arr


def check_not_constant(
    c: np.ndarray, weights: np.ndarray | None, name: str, *, eps: float, scale: float
) -> None:
    """Raise if C(R) has no variance beyond the rounding error of R's dtype.

    ``scale`` is the magnitude of the terms C(R) was summed from (max |R| + max |m|):
    rounding errors are relative to it, not to the (possibly tiny) result.
    """
    w = np.full(c.shape[0], 1.0 / c.shape[0]) if weights is None else weights / weights.sum()
    mean = float(w @ c)
    std = float(np.sqrt(w @ (c - mean) ** 2))
    if std <= 64 * eps * max(scale, np.finfo(np.float64).tiny):
        raise ValueError(
            f"{name} is constant after canonicalization (std {std:.3g} under D_T): EPIC is "
            "undefined for a constant reward, or one that is a constant plus potential "
            "shaping, because a correlation needs variance. Such a reward ranks no "
            "behaviour above another; compare a non-constant reward instead."
        )
