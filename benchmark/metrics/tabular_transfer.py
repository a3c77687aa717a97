"""Exact reoptimization transfer on finite MDPs: value iteration, then exact policy value.

For a tabular task there is no need to train anything: the learned RewardFn is
evaluated once on every one-hot (s, a, s'), value iteration finds the optimal
policy for that reward table under the *test* transition table, and the policy's
ground-truth value is solved exactly.

Definition used (the tabular ``ground_truth_return``): the infinite-horizon
discounted value under the initial-state distribution,

    J(π) = Σ_s μ0(s) V^π(s),   V^π = (I − γ P_π)^{-1} r_π,

with r_π(s) = Σ_{a,s'} π(a|s) T(s,a,s') R_gt(s,a,s'). The infinite horizon is the
setting in which potential shaping provably leaves the optimal policy unchanged
(Ng et al., 1999), which is what EPIC assumes too, so a shaped ground truth
scores exactly 1. Arrays are float64 numpy: S states, A actions.
"""

from __future__ import annotations

import numpy as np
import torch

from benchmark.data import RewardFn

# Q-values within this (relative) tolerance of the best are treated as tied, and
# the tie goes to the lowest action index; float rounding in a shaped reward must
# not change which of two equally good actions is picked. About float32's epsilon
# (1.2e-7), since submissions are float32 nets: a state-only net's equal actions came
# out 6.5e-9 apart on an AVX-512 CPU and in the other order on the CPU that built the
# board, so 1e-9 (float64 rounding only) let the CPU pick the gridworld policy.
TIE_TOLERANCE = 1e-7


def reward_table(
    reward: RewardFn, n_states: int, n_actions: int, device: str = "cpu"
) -> np.ndarray:
    """R[s, a, s'] for every one-hot transition, in ONE batched call.

    Returns float64 ``[S, A, S]``. ``dones`` are 0: the tabular MDPs have no
    terminal states (episodes end only at the time limit).
    """
    s, a, s_next = np.meshgrid(
        np.arange(n_states), np.arange(n_actions), np.arange(n_states), indexing="ij"
    )
    eye_s = torch.eye(n_states, device=device)
    eye_a = torch.eye(n_actions, device=device)
    flat = [torch.as_tensor(x.reshape(-1), device=device) for x in (s, a, s_next)]
    with torch.no_grad():
        r = reward(
            eye_s[flat[0]],
            eye_a[flat[1]],
            eye_s[flat[2]],
            torch.zeros(flat[0].shape[0], device=device),
        )
    r = torch.as_tensor(r).detach().to("cpu", torch.float64).reshape(-1)
    if r.shape[0] != n_states * n_actions * n_states:
        raise ValueError(
            f"reward returned {r.shape[0]} values for {n_states * n_actions * n_states} transitions; "
            "a RewardFn must return one reward per transition, shape [B]"
        )
    table = r.numpy().reshape(n_states, n_actions, n_states)
    if not np.all(np.isfinite(table)):
        raise ValueError("the learned reward is non-finite on some one-hot transitions")
    return table


def _check(transition: np.ndarray, discount: float) -> None:
    if transition.ndim != 3 or transition.shape[0] != transition.shape[2]:
        raise ValueError(f"transition table must be [S, A, S], got {transition.shape}")
    if not np.allclose(transition.sum(axis=2), 1.0, atol=1e-6):
        raise ValueError("transition table rows T[s, a, :] must each sum to 1")
    if not 0.0 <= discount < 1.0:
        raise ValueError(
            f"exact tabular transfer needs a discount in [0, 1), got {discount}: "
            "the infinite-horizon value is undefined at 1"
        )


def value_iteration(
    reward: np.ndarray, transition: np.ndarray, discount: float, *, tol: float = 1e-10
) -> np.ndarray:
    """Optimal Q[s, a] for reward ``[S, A, S]`` under transitions ``[S, A, S]``.

    Iterates Q ← Σ_s' T(s,a,s') (R(s,a,s') + γ max_a' Q(s',a')) until the
    sup-norm change is below ``tol`` (a γ-contraction, so it converges).
    """
    _check(transition, discount)
    expected_r = (transition * reward).sum(axis=2)  # [S, A]
    q = np.zeros_like(expected_r)
    max_iter = 100_000
    for _ in range(max_iter):
        q_new = expected_r + discount * transition @ q.max(axis=1)
        if np.max(np.abs(q_new - q)) < tol * max(1.0, np.max(np.abs(q_new))):
            return q_new
        q = q_new
    raise RuntimeError(f"value iteration did not converge in {max_iter} iterations")


def greedy_policy(q: np.ndarray) -> np.ndarray:
    """Deterministic policy ``[S, A]`` (one-hot rows) maximizing Q, ties to the lowest action."""
    best = q.max(axis=1, keepdims=True)
    scale = np.maximum(1.0, np.abs(q).max())
    tied = q >= best - TIE_TOLERANCE * scale
    policy = np.zeros_like(q)
    policy[np.arange(q.shape[0]), tied.argmax(axis=1)] = 1.0
    return policy


def uniform_policy(n_states: int, n_actions: int) -> np.ndarray:
    """The uniformly random policy ``[S, A]``."""
    return np.full((n_states, n_actions), 1.0 / n_actions)


def policy_value(
    policy: np.ndarray,
    reward: np.ndarray,
    transition: np.ndarray,
    initial: np.ndarray,
    discount: float,
) -> float:
    """Exact J(π) = μ0 · (I − γ P_π)^{-1} r_π for a (stochastic) policy ``[S, A]``."""
    _check(transition, discount)
    p_pi = np.einsum("sa,sat->st", policy, transition)  # [S, S]
    r_pi = np.einsum("sa,sat,sat->s", policy, transition, reward)  # [S]
    v = np.linalg.solve(np.eye(p_pi.shape[0]) - discount * p_pi, r_pi)
    return float(initial @ v)


def optimal_policy(reward: np.ndarray, transition: np.ndarray, discount: float) -> np.ndarray:
    """The greedy policy of value iteration on ``reward`` under ``transition``."""
    return greedy_policy(value_iteration(reward, transition, discount))
