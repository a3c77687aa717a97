"""Normalized Potential Equivalence Class distance (NPEC), a baseline from
Gleave et al., "Quantifying Differences in Reward Functions" (ICLR 2021).

Two rewards are equivalent, R ≡ R_A, when R = λ R_A + c + γ Φ(s') − Φ(s) for some scale
λ > 0, shift c and potential Φ: they induce the same optimal policies. (For γ < 1 a
shift is itself a shaping, Φ ≡ −c/(1 − γ); it is fitted explicitly, as the reference's
``AffineTransform`` does, because a network potential reaches a large constant only
after many steps: without it NPEC(R + 10, R) came out near 1.) With the L^p distance
under the transition distribution D_T,

    D_{L^p,D}(R, R') = (E_{(s,a,s') ~ D_T} |R(s,a,s') − R'(s,a,s')|^p)^{1/p},

the paper defines the unnormalized premetric as the distance from R_B to the
closest member of R_A's equivalence class (as the reference's tabular ``npec_distance``,
``distances/tabular.py``, computes it: an L^p distance),

    D^U_NPEC(R_A, R_B) = inf_{λ > 0, c, Φ} D_{L^p,D}(λ R_A + c + γ Φ(s') − Φ(s), R_B),

and normalizes it by the same quantity for the zero reward, whose class is all shifts
and shapings:

    D_NPEC(R_A, R_B) = D^U_NPEC(R_A, R_B) / D^U_NPEC(Zero, R_B),   or 0 if that is 0.

The zero-denominator case is *our* convention, not a sentence we could check in the
paper; the reference script divides by the zero reward's mean loss with no guard
(``scripts/distances/npec.py``, ``compute_vals``). Why 0: D^U(Zero, R_B) = 0 means R_B is
a shift plus shaping, so every R_A's class reaches it as λ -> 0 (the ratio is 0/0 for
every R_A), and 0 is the one value that keeps D_NPEC(R_B, R_B) = 0.

Letting λ → 0 shows D^U(R_A, R_B) ≤ D^U(Zero, R_B), so D_NPEC ∈ [0, 1]. We use p = 2,
as the paper's experiments (least-squares regression).

Relation to the reference's script (``evaluating_rewards/scripts/distances/npec.py``,
``normalize = True``): it reports the ratio of the two fits' final *mean squared
errors* (each seed's last training-batch loss over the seed-mean of the zero reward's),
i.e. D_NPEC² for p = 2; our number is the ratio of L² distances, the definition, so
reference ≈ ours².

For p = 2 both infima are least-squares projections and D_NPEC is the sine of the angle
between the two rewards' components orthogonal to the shifts and shapings (1 when that
angle is obtuse): `npec_distance_tabular` computes it exactly on a finite MDP. Here,
for rewards given as functions, Φ is a network (an MLP over observations, or a linear
map — a table for one-hot observations) fitted by full-batch Adam, seeded. For p = 2 λ
and c are solved in closed form at every step for the current Φ (variable projection:
by the envelope theorem the gradient in Φ is then that of the profiled residual); for
p ≠ 2 they are Adam parameters too. A fit stops when its residual improved by less
than a relative ``tol`` over the last ``window`` steps, or at ``max_steps``; the steps
used are returned. Every evaluated residual belongs to a member of the class, so the
best one is an upper bound on the infimum. As in EPIC, dones are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from benchmark.data import RewardFn, as_transitions
from benchmark.metrics.epic import DEFAULT_DISCOUNT
from benchmark.metrics.inputs import check_discount, check_weights
from benchmark.metrics.npec_affine import least_squares_affine  # noqa: F401  (part of this API)
from benchmark.metrics.npec_held_out import DEFAULT_HIDDEN as HELD_OUT_HIDDEN
from benchmark.metrics.npec_held_out import Pool, fit_on_pool
from benchmark.metrics.npec_tabular import npec_distance_tabular  # noqa: F401  (part of this API)
from benchmark.metrics.reward_evaluation import DEFAULT_MAX_BATCH, evaluate_reward

DEFAULT_MAX_STEPS = 20_000
DEFAULT_TOL = 1e-3
DEFAULT_WINDOW = 100
DEFAULT_LR = 1e-2
DEFAULT_HIDDEN = (64, 64)
POTENTIALS = ("mlp", "linear")
# D^U_NPEC(Zero, R_B) below this fraction of R_B's standard deviation counts as zero: R_B
# is a shift plus potential shaping up to optimisation error, and D_NPEC is 0 there by
# our convention (module docstring).
ZERO_TOLERANCE = 1e-4
# A fit stops once its residual is below this (rewards are standardised to unit
# variance, so it is 1e-6 of the target's scale): nothing left to improve.
ABSOLUTE_FLOOR = 1e-6


@dataclass(frozen=True)
class Fit:
    """One fitted infimum: the residual distance, Adam steps used, whether it converged."""

    residual: float
    steps: int
    converged: bool


@dataclass(frozen=True)
class NpecResult:
    """D_NPEC with its two fits (numerator: R_A's class; denominator: the zero reward's)."""

    distance: float
    steps: int  # Adam steps of both fits together
    converged: bool  # both fits stopped on the tolerance, not at max_steps


def make_potential(
    obs_dim: int, kind: str = "mlp", hidden: Sequence[int] = DEFAULT_HIDDEN
) -> nn.Module:
    """Φ: ``[B, obs_dim]`` -> ``[B]``; "linear" is a table when observations are one-hot."""
    if kind == "linear":
        layers: list[nn.Module] = [nn.Linear(obs_dim, 1)]
    elif kind == "mlp":
        layers, width = [], obs_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, 1))
    else:
        raise ValueError(f"potential must be one of {POTENTIALS}, got {kind!r}")
    return nn.Sequential(*layers, nn.Flatten(0))


def fit_equivalent_residual(
    source: torch.Tensor | None,
    target: torch.Tensor,
    obs: torch.Tensor,
    next_obs: torch.Tensor,
    *,
    discount: float,
    weights: torch.Tensor,
    p: float = 2.0,
    potential: str = "mlp",
    hidden: Sequence[int] | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    tol: float = DEFAULT_TOL,
    window: int = DEFAULT_WINDOW,
    lr: float = DEFAULT_LR,
    seed: int = 0,
    progress: bool = False,
) -> Fit:
    """inf over λ > 0, c and Φ of D_{L^p}(λ·source + c + γΦ(s') − Φ(s), target).

    Args:
        source: ``[N]`` R_A at the transitions, or None for the zero reward (no λ).
        target: ``[N]`` R_B at the transitions.
        obs, next_obs: ``[N, obs_dim]`` flattened s and s'; their dtype is the fit's.
        weights: ``[N]`` D_T probabilities (sum to 1).
        max_steps, tol, window: stop when the best residual improved by less than
            ``tol`` (relative) over the last ``window`` steps, or after ``max_steps``.

    Returns:
        The best residual over the steps, the steps used and whether it converged.
    """
    n = obs.shape[0]
    # Φ is evaluated once per distinct state: contiguous trajectories share s' and the
    # next s, which halves the work of every step.
    states, inverse = torch.unique(torch.cat([obs, next_obs]), dim=0, return_inverse=True)
    at_s, at_next = inverse[:n], inverse[n:]
    target, weights = target.to(obs.dtype), weights.to(obs.dtype)
    source = None if source is None else source.to(obs.dtype)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        widths = DEFAULT_HIDDEN if hidden is None else hidden
        phi = make_potential(obs.shape[1], potential, widths).to(obs.device, obs.dtype)
    params = list(phi.parameters())
    closed_form = p == 2.0
    if not closed_form:  # λ = exp(log λ) and c by Adam, started at the L² solution
        scale0, shift0 = least_squares_affine(source, target, weights)
        log_scale = torch.log(torch.clamp(scale0, min=1e-6)).detach().requires_grad_(True)
        shift = shift0.detach().clone().requires_grad_(True)
        params += [shift] + ([log_scale] if source is not None else [])
    opt = torch.optim.Adam(params, lr=lr)

    def residual() -> torch.Tensor:
        values = phi(states)
        shaping = discount * values[at_next] - values[at_s]
        if closed_form:
            with torch.no_grad():
                scale, c = least_squares_affine(source, target - shaping, weights)
        else:
            scale = log_scale.exp() if source is not None else None
            c = shift
        r = shaping + c - target
        if source is not None:
            r = r + scale * source
        return (weights * r.abs().pow(p)).sum()

    return _fit_to_convergence(
        residual, opt, p=p, max_steps=max_steps, tol=tol, window=window, progress=progress
    )


def _fit_to_convergence(
    residual: Callable[[], torch.Tensor],
    opt: torch.optim.Optimizer,
    *,
    p: float,
    max_steps: int,
    tol: float,
    window: int,
    progress: bool,
) -> Fit:
    """Minimise ``residual()`` (the weighted mean p-th power) by ``opt`` to convergence.

    Stops when the best residual improved by less than ``tol`` (relative) over the last
    ``window`` steps, or below ``ABSOLUTE_FLOOR``, or at ``max_steps``. Returns the best
    residual seen: an upper bound on the infimum, since every evaluated point is a
    member of the class.
    """
    best = float("inf")
    history: list[float] = []
    converged = False
    step = 0
    bar = tqdm(total=max_steps, desc="NPEC fit", disable=not progress, leave=False)
    while step < max_steps:
        opt.zero_grad()
        loss = residual()
        best = min(best, float(loss.detach()) ** (1.0 / p))
        history.append(best)
        if best <= ABSOLUTE_FLOOR or (
            len(history) > window and history[-window - 1] - best <= tol * best
        ):
            converged = True
            break
        loss.backward()
        opt.step()
        step += 1
        bar.update(1)
    bar.close()
    if not converged:
        with torch.no_grad():
            best = min(best, float(residual()) ** (1.0 / p))
    return Fit(residual=best, steps=step, converged=converged)


def npec_distance(source: RewardFn, target: RewardFn, **kwargs: Any) -> float:
    """D_NPEC(source, target) as a float; see `npec_distance_with_fit` for the arguments."""
    return npec_distance_with_fit(source, target, **kwargs).distance


def npec_distance_with_fit(
    source: RewardFn,
    target: RewardFn,
    *,
    transitions: Any,
    discount: float = DEFAULT_DISCOUNT,
    weights: Any = None,
    p: float = 2.0,
    potential: str = "mlp",
    hidden: Sequence[int] | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    tol: float = DEFAULT_TOL,
    window: int = DEFAULT_WINDOW,
    lr: float = DEFAULT_LR,
    seed: int = 0,
    device: torch.device | str | None = None,
    max_batch: int | None = DEFAULT_MAX_BATCH,
    dtype: torch.dtype = torch.float32,
    progress: bool = False,
    denominator: Fit | None = None,
    fit_transitions: Any = None,
) -> NpecResult:
    """D_NPEC(source, target) under the transitions' distribution (see module docstring).

    Args:
        source: R_A, the reward transformed by λ > 0, a shift and potential shaping.
        target: R_B, the reward approximated.
        transitions: N draws from D_T (our or imitation's Transitions); dones are
            ignored, as in EPIC.
        discount: γ in [0, 1] of the shaping γΦ(s') − Φ(s).
        weights: optional ``[N]`` importance weights of the transitions.
        p: the L^p norm, p >= 1 (2 by default, as the paper's experiments).
        potential: "mlp" (hidden layer widths ``hidden``; default (64, 64) in-sample,
            (128, 128) held out, `npec_held_out.DEFAULT_HIDDEN`) or "linear" (a table for
            one-hot observations).
        max_steps, tol, window, lr: Adam (full batch) until the best residual improves
            by less than ``tol`` (relative) over ``window`` steps, at most ``max_steps``.
        seed: initialisation seed of Φ (same seed, same number).
        device: where to fit; default the transitions' device.
        dtype: precision of the fit (float32 is twice as fast; rewards are
            standardised, so its precision is ample).
        denominator: the fit of D^U_NPEC(Zero, target) on the same transitions and
            settings, from `npec_denominator`, to reuse: it does not depend on the
            source, so every submission compared with one target shares it.
        fit_transitions: draws from D_T independent of ``transitions`` (unweighted).
            Given, Φ is fitted on them and both residuals are measured on
            ``transitions`` (`benchmark.metrics.npec_held_out`, p = 2 only): the
            estimator for continuous states, where an in-sample fit over-fits the
            sample. None: fitted and measured on ``transitions`` (in-sample; right
            where states repeat, e.g. one-hot observations).

    Returns:
        NpecResult: D_NPEC in [0, 1] (0 when the target is itself a shift plus
        potential shaping: our convention for a zero denominator, module docstring), the Adam
        steps used by both fits, and whether both converged.
    """
    problem = _Problem.build(target, transitions, weights, device, max_batch, dtype,
                             fit_transitions, p)  # fmt: skip
    fit = _fit_options(discount, p, potential, hidden, max_steps, tol, window, lr, seed)
    fit["progress"] = progress
    if problem.target is None:  # a constant target is a shift: in the zero reward's class
        return NpecResult(0.0, 0, True)
    den = denominator if denominator is not None else problem.fit(None, None, **fit)
    if den.residual <= ZERO_TOLERANCE:  # R_B is (numerically) a shift plus shaping
        return NpecResult(0.0, den.steps, den.converged)
    r_a = problem.rewards(source, problem.transitions, "source", max_batch)
    mean_a = (problem.weights * r_a).sum()
    std_a = _weighted_std(r_a, problem.weights)
    if std_a == 0.0:  # R_A constant: its class is the zero reward's
        return NpecResult(1.0, den.steps, den.converged)
    # Standardise (D_NPEC is invariant to shifts and scales of both: λ and c absorb
    # R_A's, the ratio R_B's) so that one learning rate suits every reward. The fit
    # pool gets the same transform as the evaluated sample, so Φ means the same on both.
    pool_a = None
    if problem.pool is not None:
        pool_a = (problem.rewards(source, problem.pool.transitions, "source", max_batch)
                  - mean_a) / std_a  # fmt: skip
    num = problem.fit((r_a - mean_a) / std_a, pool_a, **fit)
    distance = min(num.residual, den.residual) / den.residual
    return NpecResult(
        float(min(1.0, max(0.0, distance))), num.steps + den.steps, num.converged and den.converged
    )


def npec_denominator(
    target: RewardFn,
    *,
    transitions: Any,
    discount: float = DEFAULT_DISCOUNT,
    weights: Any = None,
    p: float = 2.0,
    potential: str = "mlp",
    hidden: Sequence[int] | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    tol: float = DEFAULT_TOL,
    window: int = DEFAULT_WINDOW,
    lr: float = DEFAULT_LR,
    seed: int = 0,
    device: torch.device | str | None = None,
    max_batch: int | None = DEFAULT_MAX_BATCH,
    dtype: torch.dtype = torch.float32,
    fit_transitions: Any = None,
) -> Fit:
    """The fit of D^U_NPEC(Zero, target) (standardised target) for `npec_distance_with_fit`;
    ``fit_transitions`` as there (the same ones, for the two residuals to be comparable)."""
    problem = _Problem.build(target, transitions, weights, device, max_batch, dtype,
                             fit_transitions, p)  # fmt: skip
    if problem.target is None:
        return Fit(0.0, 0, True)
    return problem.fit(
        None, None,
        **_fit_options(discount, p, potential, hidden, max_steps, tol, window, lr, seed),
    )  # fmt: skip


@dataclass(frozen=True)
class _Problem:
    """The standardised target R_B and the states of one NPEC fit."""

    transitions: Any
    target: torch.Tensor | None  # [N], zero mean and unit variance; None if constant
    weights: torch.Tensor  # [N], sum 1
    obs: torch.Tensor
    next_obs: torch.Tensor
    device: torch.device
    pool: Pool | None

    @classmethod
    def build(
        cls, target, transitions, weights, device, max_batch, dtype, fit_transitions=None, p=2.0
    ) -> _Problem:
        t = as_transitions(transitions)
        if len(t) < 2:
            raise ValueError(f"transitions must hold at least 2 rows, got {len(t)}")
        dev = torch.device(device) if device is not None else t.device
        r_b = evaluate_reward(target, t, name="target", use_dones=False, device=dev,
                              max_batch=max_batch)  # fmt: skip
        n = len(t)
        w = (
            torch.full((n,), 1.0 / n, dtype=torch.float64, device=dev)
            if weights is None
            else torch.as_tensor(check_weights(weights, n), device=dev)
        )
        w = w / w.sum()
        mean_b, std_b = (w * r_b).sum(), _weighted_std(r_b, w)
        target_n = (r_b - mean_b) / std_b if std_b > 0 else None
        obs = t.obs.reshape(n, -1).to(dev, dtype)
        next_obs = t.next_obs.reshape(n, -1).to(dev, dtype)
        pool = None
        if fit_transitions is not None and target_n is not None:
            pool = Pool.build(target, fit_transitions, t, dev, max_batch, dtype, p,
                               mean_b, std_b)  # fmt: skip
        return cls(t, target_n, w, obs, next_obs, dev, pool)

    def rewards(self, reward: RewardFn, transitions: Any, name: str, max_batch) -> torch.Tensor:
        return evaluate_reward(reward, transitions, name=name, use_dones=False,
                               device=self.device, max_batch=max_batch)  # fmt: skip

    def fit(self, source: torch.Tensor | None, pool_source: torch.Tensor | None, **kw: Any) -> Fit:
        """The residual of R_A's class (``source`` None: the zero reward's): in-sample
        without a pool, else fitted on the pool and measured on this sample."""
        if self.pool is None:
            with torch.enable_grad():
                return fit_equivalent_residual(
                    source, self.target, self.obs, self.next_obs, weights=self.weights, **kw
                )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(kw["seed"])
            widths = HELD_OUT_HIDDEN if kw["hidden"] is None else kw["hidden"]
            phi = make_potential(self.obs.shape[1], kw["potential"], widths)
        residual, steps, converged = fit_on_pool(
            phi, self.pool, source, pool_source, self.target, self.obs, self.next_obs,
            self.weights, **kw,
        )  # fmt: skip
        return Fit(residual=residual, steps=steps, converged=converged)


def _fit_options(discount, p, potential, hidden, max_steps, tol, window, lr, seed) -> dict:
    """The checked keyword arguments of `fit_equivalent_residual` shared by both fits."""
    _check_arguments(discount, p, max_steps, window, tol, potential)
    return dict(
        discount=float(discount), p=p, potential=potential, hidden=hidden, max_steps=max_steps,
        tol=tol, window=window, lr=lr, seed=seed,
    )  # fmt: skip


def _check_arguments(discount, p, max_steps, window, tol, potential) -> None:
    check_discount(discount)
    if not p >= 1:
        raise ValueError(f"p must be >= 1 (an L^p norm), got {p}")
    for name, value in (("max_steps", max_steps), ("window", window)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not tol > 0:
        raise ValueError(f"tol must be a positive relative change, got {tol!r}")
    if potential not in POTENTIALS:
        raise ValueError(f"potential must be one of {POTENTIALS}, got {potential!r}")


def _weighted_std(x: torch.Tensor, w: torch.Tensor) -> float:
    mean = (w * x).sum()
    std = float((w * (x - mean) ** 2).sum().sqrt())
    # Spread at rounding level of the values' magnitude is no spread.
    return 0.0 if std <= 1e-12 * max(float(x.abs().max()), 1e-300) else std
