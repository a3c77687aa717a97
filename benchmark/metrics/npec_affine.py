"""The closed-form shift and scale of NPEC's fits (p = 2): one module, imported by the
in-sample fit (`benchmark.metrics.npec`) and the held-out one (`npec_held_out`)."""

from __future__ import annotations

import torch


def least_squares_affine(
    source: torch.Tensor | None, y: torch.Tensor, weights: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """argmin over λ >= 0 and c of Σ w (λ·source + c − y)², in closed form.

    The profile in λ is a convex quadratic, so the constrained optimum is the
    unconstrained one clipped at 0. ``source`` None is the zero reward (λ = 0).
    """
    mean_y = (weights * y).sum()
    if source is None:
        return torch.zeros_like(mean_y), mean_y
    mean_x = (weights * source).sum()
    xc = source - mean_x
    var_x = (weights * xc * xc).sum()
    cov = (weights * xc * (y - mean_y)).sum()
    scale = torch.clamp(cov / var_x, min=0.0) if var_x > 0 else torch.zeros_like(cov)
    return scale, mean_y - scale * mean_x
