"""Exact arrays of a finite task: dynamics, rewards and coverage tables.

For a finite MDP, EPIC is computed exactly by sums over the tables (DESIGN.md), which is
the reference the sample-based estimators are tested against. D_T here is the average
visitation over the horizon; D_S and D_A are its marginals: exactly what
``Task.coverage(name).sample`` draws from when each rollout stream is a whole number of
episodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from benchmark.data import RewardFn
    from benchmark.tasks.task import Task


@dataclass(frozen=True)
class TabularCoverage:
    """Exact coverage arrays: state_dist [S], action_dist [A], transition_dist [S, A, S]."""

    state_dist: np.ndarray
    action_dist: np.ndarray
    transition_dist: np.ndarray


@dataclass(frozen=True)
class TabularPolicy:
    """A coverage's rollout policy, possibly with modes (the paper's mixture).

    Mode k acts with ``modes[k]``; the mode at t = 0 is drawn from ``initial_mode`` and
    moves by ``mode_switch[k, k']`` between steps, independently of the state. One mode
    (K = 1) is an ordinary stationary policy.

    Attributes:
        modes: [K, S, A] action probabilities of each mode.
        mode_switch: [K, K] row-stochastic.
        initial_mode: [K].
    """

    modes: np.ndarray
    mode_switch: np.ndarray
    initial_mode: np.ndarray

    @classmethod
    def stationary(cls, pi: np.ndarray) -> TabularPolicy:
        return cls(pi[None], np.ones((1, 1)), np.ones(1))

    @classmethod
    def mixture(cls, pis: list[np.ndarray], switch_probability: float) -> TabularPolicy:
        """Re-drawn uniformly from ``pis`` with probability ``switch_probability`` per step."""
        k = len(pis)
        switch = (1 - switch_probability) * np.eye(k) + switch_probability / k
        return cls(np.stack(pis), switch, np.full(k, 1.0 / k))


@dataclass(frozen=True)
class TabularMDP:
    """Exact arrays of a finite task, all float64.

    Attributes:
        transitions: variant ("train"/"test") -> P [S, A, S], P[s, a, s'] = Pr(s' | s, a).
        initial_state_dist: [S] distribution of the first state.
        rewards: reward name -> R [S, A, S], the RewardFn evaluated on every (s, a, s').
        policies: coverage name -> its rollout policy (absent for uniform).
        coverage: coverage name -> TabularCoverage.
    """

    transitions: dict[str, np.ndarray]
    initial_state_dist: np.ndarray
    rewards: dict[str, np.ndarray]
    policies: dict[str, TabularPolicy]
    coverage: dict[str, TabularCoverage]

    @property
    def n_states(self) -> int:
        return self.initial_state_dist.shape[0]

    @property
    def n_actions(self) -> int:
        return self.transitions["train"].shape[1]


def visitation(
    P: np.ndarray, initial: np.ndarray, policy: np.ndarray | TabularPolicy, horizon: int
) -> np.ndarray:
    """Average visitation D_T [S,A,S] = (1/H) sum_{t<H} Pr(s_t=s, a_t=a, s_{t+1}=s').

    ``policy``: [S, A], or a TabularPolicy whose modes are tracked jointly with the state.
    """
    if not isinstance(policy, TabularPolicy):
        policy = TabularPolicy.stationary(np.asarray(policy))
    mu = policy.initial_mode[:, None] * initial[None, :]  # [K, S] joint of mode and state
    total = np.zeros_like(P)
    for _ in range(horizon):
        joint = mu[:, :, None, None] * policy.modes[:, :, :, None] * P[None]  # [K, S, A, S]
        total += joint.sum(axis=0)
        mu = policy.mode_switch.T @ joint.sum(axis=(1, 2))  # next step's mode, state
    return total / horizon


def reward_table(reward: RewardFn, n_states: int, n_actions: int) -> np.ndarray:
    """Evaluate a RewardFn on every one-hot (s, a, s') with dones 0 -> [S, A, S] float64."""
    s, a, s2 = np.meshgrid(
        np.arange(n_states), np.arange(n_actions), np.arange(n_states), indexing="ij"
    )
    eye_s, eye_a = (
        torch.eye(n_states, dtype=torch.float64),
        torch.eye(n_actions, dtype=torch.float64),
    )
    obs, acts, next_obs = eye_s[s.ravel()], eye_a[a.ravel()], eye_s[s2.ravel()]
    with torch.no_grad():
        values = reward(obs, acts, next_obs, torch.zeros(obs.shape[0], dtype=torch.float64))
    return (
        torch.as_tensor(values)
        .detach()
        .to(torch.float64)
        .reshape(n_states, n_actions, n_states)
        .numpy()
    )


def build_tabular(task: Task) -> TabularMDP:
    """All exact arrays of a finite task (its family exports ``tabular_dynamics``)."""
    module = task.env_family
    P_train, initial = module.tabular_dynamics(task.env_params["train"])
    P_test, _ = module.tabular_dynamics(task.env_params["test"])
    S, A = P_train.shape[0], P_train.shape[1]
    rewards = {name: reward_table(task.reward(name), S, A) for name in task.reward_names}
    uniform_policy = np.full((S, A), 1.0 / A)
    policies: dict[str, TabularPolicy] = {}
    coverage: dict[str, TabularCoverage] = {}
    for name in task.coverage_names:
        spec = task.coverage_specs[name]
        if spec.policy == "uniform":
            dist = P_train / (S * A)
        else:
            if spec.policy == "random":
                pi = TabularPolicy.stationary(uniform_policy)
            else:
                expert = module.expert_policy_table(task.env_params["train"])
                if spec.policy == "mixture":  # mode 0 random, 1 expert (coverage.mixture_modes)
                    pi = TabularPolicy.mixture([uniform_policy, expert], spec.switch_probability)
                else:
                    eps = spec.epsilon if spec.policy == "expert_noisy" else 0.0
                    pi = TabularPolicy.stationary((1 - eps) * expert + eps * uniform_policy)
            policies[name] = pi
            dist = visitation(P_train, initial, pi, task.horizon)
        coverage[name] = TabularCoverage(dist.sum(axis=(1, 2)), dist.sum(axis=(0, 2)), dist)
    return TabularMDP({"train": P_train, "test": P_test}, initial, rewards, policies, coverage)
