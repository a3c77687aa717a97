"""NPEC's residual estimated on held-out transitions: fit on one sample of D_T, score on another.

Why: D^U_NPEC (Gleave et al. 2021, §4) is a population quantity, an expectation under
D_T. On continuous coverage almost every s and s' in a sample is distinct, so a flexible
potential has about 2N free values for N equations and can fit the *sample* instead of
the population: on PointMass `uniform` (1024 transitions) the in-sample residual of the
zero reward's fit fell from 1.0 to 0.06 while the same fit's residual on an independent
sample rose from 1.0 to 1.7, and the shipped shaped entry's in-sample NPEC (0.14-0.23)
was a ratio of two over-fitted residuals (issue 18). An in-sample residual is biased
low; a residual on transitions the potential never saw is unbiased for the fitted class
member, hence an upper bound on the infimum in expectation, like every fitted NPEC.

The procedure mirrors the reference's (``evaluating_rewards/scripts/distances/npec.py``):
it fits on fresh draws from the coverage, minibatches of 4096 from 5e5 transitions, and
reports the loss of a batch the parameters were not trained on. Here:

1. Φ is fitted by Adam on minibatches of a *fit pool* (draws from D_T independent of the
   unit's sample), with λ >= 0 and c solved in closed form on each minibatch (p = 2,
   variable projection as in `benchmark.metrics.npec`).
2. Every ``eval_every`` steps the residual on a validation part of the pool (not trained
   on) decides: keep the best Φ; when it has not improved by a relative ``tol`` for
   ``patience`` evaluations (and by ``MSE_FLOOR``), divide the learning rate by 10
   (minibatch noise keeps Adam above the minimum at a fixed rate), and stop after
   ``lr_drops`` such drops or at ``max_steps``.
3. The best Φ is scored on the evaluation sample (the unit's transitions), λ and c
   re-solved there (two parameters on N rows: an O(2/N) optimism, negligible).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch

from benchmark.data import as_transitions
from benchmark.metrics.npec_affine import least_squares_affine
from benchmark.metrics.reward_evaluation import evaluate_reward

DEFAULT_BATCH = 1024
# Why wider than the in-sample fit's (64, 64): measured on PointMass `uniform` (seed 0,
# pool 16 x 1024), the shipped shaping's NPEC came out 0.066 with (64, 64) and 0.048 with
# (128, 128): a held-out fit must learn the potential itself, not interpolate a sample.
DEFAULT_HIDDEN = (128, 128)
DEFAULT_EVAL_EVERY = 100
DEFAULT_PATIENCE = 5
DEFAULT_LR_DROPS = 2
VALIDATION_FRACTION = 8  # the pool's last eighth is validation, never trained on
# Improvements of the validation mean squared residual below this count as none: the
# target has unit variance, so 1e-6 is an L² residual of 1e-3 of its spread, below NPEC's
# third decimal (without it, a fit at ~0, e.g. NPEC(R + c, R), keeps "improving").
MSE_FLOOR = 1e-6


@dataclass(frozen=True)
class Sample:
    """One sample of D_T for the fit: rewards and flattened states.

    source: ``[N]`` standardised R_A, or None for the zero reward (no λ).
    target: ``[N]`` standardised R_B.
    obs, next_obs: ``[N, obs_dim]``.
    weights: ``[N]`` D_T probabilities (sum 1).
    """

    source: torch.Tensor | None
    target: torch.Tensor
    obs: torch.Tensor
    next_obs: torch.Tensor
    weights: torch.Tensor

    def rows(self, index: torch.Tensor) -> Sample:
        """The rows ``index``, weights renormalised to sum 1."""
        w = self.weights[index]
        return Sample(
            None if self.source is None else self.source[index],
            self.target[index], self.obs[index], self.next_obs[index], w / w.sum(),
        )  # fmt: skip


def profiled_residual(phi: torch.nn.Module, data: Sample, discount: float) -> torch.Tensor:
    """min over λ >= 0, c of the weighted mean squared residual for this Φ (p = 2).

    λ and c are solved in closed form without gradient: by the envelope theorem the
    gradient in Φ is then that of the profiled residual.
    """
    shaping = discount * phi(data.next_obs) - phi(data.obs)
    with torch.no_grad():
        scale, c = least_squares_affine(data.source, data.target - shaping, data.weights)
    r = shaping + c - data.target
    if data.source is not None:
        r = r + scale * data.source
    return (data.weights * r * r).sum()


def fit_held_out(
    phi: torch.nn.Module,
    pool: Sample,
    evaluation: Sample,
    *,
    discount: float,
    lr: float,
    max_steps: int,
    tol: float,
    seed: int,
    batch: int = DEFAULT_BATCH,
    eval_every: int = DEFAULT_EVAL_EVERY,
    patience: int = DEFAULT_PATIENCE,
    lr_drops: int = DEFAULT_LR_DROPS,
) -> tuple[float, int, bool]:
    """Fit Φ on ``pool`` (module docstring) and return its residual on ``evaluation``.

    Returns:
        (L² residual on ``evaluation``, Adam steps used, whether it stopped on the
        tolerance rather than at ``max_steps``).
    """
    # Start at Φ = 0 (last layer zeroed): the first candidate is the shift-and-scale fit
    # alone, as the reference starts from its least-squares affine fit (``fit_affine``),
    # so the kept Φ never scores worse on validation than no potential at all.
    last = [m for m in phi.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
    gen = torch.Generator().manual_seed(seed)
    # Validation is the pool's last rows, not a random subset: rollout pools are ordered
    # episode by episode, so a random subset would share episodes with the training rows
    # and would not see a potential that fits those episodes rather than D_T.
    k = len(pool.target)
    n_val = max(1, k // VALIDATION_FRACTION)
    validation = pool.rows(torch.arange(k - n_val, k))
    train = pool.rows(torch.arange(k - n_val))
    n_train = len(train.target)
    opt = torch.optim.Adam(phi.parameters(), lr=lr)
    with torch.no_grad():
        best = float(profiled_residual(phi, validation, discount))
    best_state = copy.deepcopy(phi.state_dict())
    stalled, drops, step, converged = 0, 0, 0, False
    while step < max_steps:
        index = torch.randint(n_train, (min(batch, n_train),), generator=gen)
        loss = profiled_residual(phi, train.rows(index), discount)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % eval_every:
            continue
        with torch.no_grad():
            now = float(profiled_residual(phi, validation, discount))
        if now < best * (1.0 - tol) - MSE_FLOOR:
            stalled = 0
        else:
            stalled += 1
        if now < best:
            best, best_state = now, copy.deepcopy(phi.state_dict())
        if stalled >= patience:
            if drops == lr_drops:
                converged = True
                break
            drops, stalled = drops + 1, 0
            for group in opt.param_groups:
                group["lr"] /= 10.0
    phi.load_state_dict(best_state)
    with torch.no_grad():
        residual = float(profiled_residual(phi, evaluation, discount)) ** 0.5
    return residual, step, converged


@dataclass(frozen=True)
class Pool:
    """Draws from D_T independent of the evaluated sample, to fit Φ on (held-out estimate)."""

    transitions: Any
    target: torch.Tensor  # [K], standardised with the evaluated sample's mean and std
    obs: torch.Tensor
    next_obs: torch.Tensor

    @classmethod
    def build(
        cls, target, fit_transitions, evaluated, dev, max_batch, dtype, p, mean_b, std_b
    ) -> Pool:
        """The pool, its target standardised like the evaluated sample's (``mean_b``, ``std_b``)."""
        if p != 2.0:
            raise ValueError(
                f"fit_transitions (the held-out estimate) needs p = 2 (λ and c in closed form), "
                f"got p = {p}; pass fit_transitions=None for p != 2"
            )
        pool_t = as_transitions(fit_transitions)
        if len(pool_t) < 2:
            raise ValueError(f"fit_transitions must hold at least 2 rows, got {len(pool_t)}")
        if pool_t.obs.shape[1:] != evaluated.obs.shape[1:]:
            raise ValueError(
                f"fit_transitions observations have shape {tuple(pool_t.obs.shape[1:])}, the "
                f"transitions' {tuple(evaluated.obs.shape[1:])}; draw both from one task's coverage"
            )
        r_b = evaluate_reward(target, pool_t, name="target", use_dones=False, device=dev,
                              max_batch=max_batch)  # fmt: skip
        k = len(pool_t)
        return cls(
            pool_t, (r_b - mean_b) / std_b,
            pool_t.obs.reshape(k, -1).to(dev, dtype), pool_t.next_obs.reshape(k, -1).to(dev, dtype),
        )  # fmt: skip


def fit_on_pool(
    phi: torch.nn.Module,
    pool: Pool,
    source: torch.Tensor | None,
    pool_source: torch.Tensor | None,
    target: torch.Tensor,
    obs: torch.Tensor,
    next_obs: torch.Tensor,
    weights: torch.Tensor,
    **kw: Any,
) -> tuple[float, int, bool]:
    """`fit_held_out` for one NPEC problem: a fresh potential ``phi``, the pool with its
    standardised rewards, and the evaluated sample (``source`` None: the zero reward)."""
    dtype = obs.dtype
    evaluation = Sample(
        None if source is None else source.to(dtype), target.to(dtype), obs, next_obs,
        weights.to(dtype),
    )  # fmt: skip
    k = len(pool.target)
    fit_data = Sample(
        None if pool_source is None else pool_source.to(dtype), pool.target.to(dtype),
        pool.obs, pool.next_obs, torch.full((k,), 1.0 / k, dtype=dtype, device=obs.device),
    )  # fmt: skip
    phi = phi.to(obs.device, dtype)
    with torch.enable_grad():
        return fit_held_out(
            phi, fit_data, evaluation, discount=kw["discount"], lr=kw["lr"],
            max_steps=kw["max_steps"], tol=kw["tol"], seed=kw["seed"],
        )  # fmt: skip
