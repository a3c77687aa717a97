"""Episode Return Correlation (ERC), a baseline from Gleave et al. (ICLR 2021).

ERC is the Pearson distance between the episode returns of two rewards over the same
set of trajectories:

    D_ERC(R_A, R_B) = D_ρ(G_A(τ), G_B(τ)),  G(τ) = Σ_t γ^t R(s_t, a_t, s_{t+1}),  τ ~ D.

Discount: the reference's ERC script (``evaluating_rewards/scripts/distances/erc.py``,
``default_config``) discounts returns with ``discount = 0.99``, the same value it passes
to the reward models as their shaping discount, and the paper's pipeline
(``scripts/pipeline/combined_distances.py``) does not override it. So the default here is
0.99, and the benchmark's runner uses each task's own discount (0.99 on every task but
the gridworld, whose γ is 0.9): one γ for the rewards' shaping, EPIC, NPEC and ERC, as
in the reference. The reference averages over ``n_episodes = 1024`` episodes (131 072
in its ``high_precision`` config).

How it differs from EPIC: ERC is *not* invariant to potential shaping — shaping adds
γ^T Φ(s_T) − Φ(s_0) to a return, which changes returns unless Φ is constant on the
initial and final states, so two rewards with the same optimal policies can be far
apart. And it depends on the trajectory distribution, in particular on its initial
states; EPIC depends only on the coverage distributions D_S, D_A, D_T and is
invariant to shaping by construction. ERC is cheap: one reward evaluation per
transition, no mean over samples. On a finite MDP `erc_distance_tabular` gives its
exact value (the limit of infinitely many episodes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from benchmark.data import RewardFn, as_transitions
from benchmark.metrics.epic import pearson_distance
from benchmark.metrics.reward_evaluation import DEFAULT_MAX_BATCH, evaluate_reward

if TYPE_CHECKING:
    from benchmark.metrics.registry import UnitInputs
    from benchmark.tasks import Task

DEFAULT_ERC_DISCOUNT = 0.99  # the reference script's default (module docstring)


def episode_returns(
    rewards: torch.Tensor, dones: torch.Tensor, discount: float = 1.0
) -> torch.Tensor:
    """Returns of the complete episodes in a flat, episode-ordered reward sequence.

    Args:
        rewards: ``[N]`` per-transition rewards, ordered episode by episode.
        dones: ``[N]`` float or bool, 1 on the last transition of each episode.
        discount: γ in [0, 1] applied within each episode (t restarts at 0).

    Returns:
        ``[E]`` float64 returns of the E complete episodes; transitions after the
        last done (an incomplete episode) are dropped.
    """
    if not 0.0 <= discount <= 1.0:
        raise ValueError(f"discount must be in [0, 1], got {discount}")
    done = dones.to(torch.bool).cpu()
    rewards = rewards.to(torch.float64).cpu()
    ends = torch.nonzero(done).flatten()
    if len(ends) == 0:
        return torch.empty(0, dtype=torch.float64)
    n = int(ends[-1]) + 1
    episode = torch.cumsum(done[:n].to(torch.long), 0) - done[:n].to(torch.long)  # [n] episode id
    starts = torch.cat([torch.zeros(1, dtype=torch.long), ends[:-1] + 1])
    step = torch.arange(n) - starts[episode]  # time index within the episode
    weighted = rewards[:n] * torch.pow(torch.tensor(discount, dtype=torch.float64), step)
    return torch.zeros(len(ends), dtype=torch.float64).index_add_(0, episode, weighted)


def erc_distance(
    reward_a: RewardFn,
    reward_b: RewardFn,
    *,
    transitions: Any,
    discount: float = DEFAULT_ERC_DISCOUNT,
    device: torch.device | str | None = None,
    max_batch: int | None = DEFAULT_MAX_BATCH,
) -> float:
    """ERC distance between two rewards over the episodes in ``transitions``.

    Args:
        reward_a, reward_b: RewardFns, evaluated with the transitions' own dones.
        transitions: our or imitation's Transitions, ordered episode by episode with
            ``dones = 1`` on each episode's last step (as `CoverageSample` provides);
            a trailing incomplete episode is dropped.
        discount: γ of the returns; 0.99 by default, as the reference's script.
        device, max_batch: where and in what chunks the rewards are evaluated.

    Returns:
        D_ρ of the two rewards' episode returns, in [0, 1].

    Raises:
        ValueError: fewer than 2 complete episodes, or returns of one reward that do
            not vary across episodes.
    """
    if not isinstance(discount, int | float) or not 0.0 <= discount <= 1.0:
        raise ValueError(f"discount must be a number in [0, 1], got {discount!r}")
    t = as_transitions(transitions)
    n_episodes = int((t.dones != 0).sum())
    if n_episodes < 2:
        raise ValueError(
            f"ERC needs at least 2 complete episodes (dones = 1 at each episode's last step), "
            f"but transitions ({len(t)} rows) contain {n_episodes}; pass more trajectories"
        )
    returns = []
    for reward, name in ((reward_a, "reward_a"), (reward_b, "reward_b")):
        r = evaluate_reward(reward, t, name=name, device=device, max_batch=max_batch)
        returns.append(episode_returns(r, t.dones, discount))
    try:
        return pearson_distance(returns[0], returns[1])
    except ValueError as e:
        raise ValueError(
            f"ERC is undefined: the episode returns of one reward are constant across the "
            f"{n_episodes} episodes ({e})"
        ) from e


def erc_distance_tabular(
    reward_a: Any,
    reward_b: Any,
    *,
    transition: Any,
    initial_state_dist: Any,
    policy: Any,
    horizon: int,
    discount: float = DEFAULT_ERC_DISCOUNT,
    mode_switch: Any = None,
    initial_mode: Any = None,
) -> float:
    """Exact ERC on a finite MDP: the population limit of `erc_distance` (infinitely many
    episodes of ``horizon`` steps), by backward recursion on the returns' moments.

    With G_X = Σ_{t<H} γ^t R_X(s_t, a_t, s_{t+1}), the moments E[G_A], E[G_B], E[G_A²],
    E[G_B²], E[G_A G_B] follow from G_X = r_X + γ G'_X (G' the return of the remaining
    steps): e.g. E[G_A G_B | x] = E[r_A r_B + γ r_A E[G'_B] + γ r_B E[G'_A] + γ² E[G'_A G'_B]].
    The policy may have modes (the paper's mixture coverage): mode k acts with
    ``policy[k]``, the mode at t = 0 is drawn from ``initial_mode`` and it moves by
    ``mode_switch[k, k']`` between steps, independently of the state; the recursion then
    runs over (mode, state) pairs. Episodes have exactly ``horizon`` steps (no
    termination, as the gridworld family).

    Args:
        reward_a, reward_b: ``[S, A, S]`` reward tables.
        transition: ``[S, A, S]`` P(s' | s, a). initial_state_dist: ``[S]``.
        policy: ``[S, A]`` or, with modes, ``[K, S, A]`` action probabilities.
        horizon: steps per episode, >= 1.
        discount: γ of the returns.
        mode_switch: ``[K, K]`` row-stochastic mode transitions (default: identity).
        initial_mode: ``[K]`` (default: uniform).

    Returns:
        D_ρ of the two rewards' episode returns, in [0, 1].
    """
    ra = np.asarray(reward_a, dtype=np.float64)
    rb = np.asarray(reward_b, dtype=np.float64)
    p = np.asarray(transition, dtype=np.float64)
    pi = np.asarray(policy, dtype=np.float64)
    pi = pi[None] if pi.ndim == 2 else pi
    n_modes = pi.shape[0]
    switch = np.eye(n_modes) if mode_switch is None else np.asarray(mode_switch, np.float64)
    mode0 = np.full(n_modes, 1.0 / n_modes) if initial_mode is None else np.asarray(initial_mode)
    if not (ra.shape == rb.shape == p.shape and ra.ndim == 3 and pi.shape[1:] == p.shape[:2]):
        raise ValueError(
            f"reward_a {ra.shape}, reward_b {rb.shape} and transition {p.shape} must be [S, A, S] "
            f"and policy {np.shape(policy)} [S, A] or [K, S, A] of the same S and A"
        )
    if switch.shape != (n_modes, n_modes) or mode0.shape != (n_modes,):
        raise ValueError(
            f"mode_switch must be [K, K] and initial_mode [K] for K = {n_modes} policy modes, "
            f"got {switch.shape} and {mode0.shape}"
        )
    if not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"horizon must be a positive int (steps per episode), got {horizon!r}")
    if not 0.0 <= discount <= 1.0:
        raise ValueError(f"discount must be in [0, 1], got {discount}")
    q = pi[:, :, :, None] * p[None]  # [K, S, A, S]: Pr(a, s' | mode, s)
    n_s = p.shape[0]
    v_a, v_b, w_ab, w_aa, w_bb = (np.zeros((n_modes, n_s)) for _ in range(5))
    for _ in range(horizon):
        # Moments of the remaining return from s' with the mode that acts next.
        nv_a, nv_b, nw_ab, nw_aa, nw_bb = (
            np.einsum("kj,js->ks", switch, x)[:, None, None, :]
            for x in (v_a, v_b, w_ab, w_aa, w_bb)
        )  # [K, 1, 1, S]
        g = discount
        v_a, v_b, w_ab, w_aa, w_bb = (
            (q * x).sum(axis=(2, 3))
            for x in (
                ra + g * nv_a,
                rb + g * nv_b,
                ra * rb + g * ra * nv_b + g * rb * nv_a + g * g * nw_ab,
                ra * ra + 2 * g * ra * nv_a + g * g * nw_aa,
                rb * rb + 2 * g * rb * nv_b + g * g * nw_bb,
            )
        )
    start = mode0[:, None] * np.asarray(initial_state_dist, dtype=np.float64)[None, :]
    mean_a, mean_b = float((start * v_a).sum()), float((start * v_b).sum())
    var_a = float((start * w_aa).sum()) - mean_a**2
    var_b = float((start * w_bb).sum()) - mean_b**2
    cov = float((start * w_ab).sum()) - mean_a * mean_b
    scale = max(float((start * w_aa).sum()), float((start * w_bb).sum()), 1e-300)
    if min(var_a, var_b) <= 1e-12 * scale:
        raise ValueError(
            "ERC is undefined: the episode return of one reward does not vary across episodes"
        )
    rho = min(1.0, max(-1.0, cov / np.sqrt(var_a * var_b)))
    return float(np.sqrt((1.0 - rho) / 2.0))


def unit_value(inputs: UnitInputs) -> dict[str, float]:
    """One evaluation unit (registry entry): exact on a finite task (`tabular_units`; the
    coverage policy's modes included), else ERC on the coverage's complete episodes with
    the task's discount, recording how many episodes."""
    if inputs.exact:
        from benchmark.metrics.tabular_units import exact_row, unit_tables

        table, _, _ = unit_tables(inputs)
        return exact_row(exact_to_truth(table, inputs.task, inputs.coverage))
    episodes = inputs.episodes()
    value = erc_distance(inputs.reward, inputs.ground_truth, transitions=episodes,
                         discount=inputs.task.discount, device=inputs.device)  # fmt: skip
    return {"value": float(value), "n_episodes": int((episodes.dones != 0).sum())}


def exact_to_truth(table: np.ndarray, task: Task, coverage: str) -> float:
    """The board's exact ERC of an ``[S, A, S]`` table to ``task``'s ground truth: the
    coverage policy's episodes (its modes and mode switching, as the mixture has) in the
    train dynamics, the task's horizon and γ. Shared by the exact unit and the
    meta-benchmark, so both report the same quantity."""
    tab = task.tabular
    pi = tab.policies[coverage]
    return erc_distance_tabular(
        table, tab.rewards["ground_truth"], transition=tab.transitions["train"],
        initial_state_dist=tab.initial_state_dist, policy=pi.modes, horizon=task.horizon,
        discount=task.discount, mode_switch=pi.mode_switch, initial_mode=pi.initial_mode,
    )  # fmt: skip
