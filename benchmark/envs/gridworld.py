"""A small finite MDP whose tables are known exactly, so EPIC is computed exactly there.

A ``rows x cols`` grid; actions up/down/left/right/stay; the goal is a corner. The
``train`` variant is deterministic; the ``test`` variant is slippery: with probability
``slip`` a move goes perpendicular to the intended direction (``slip / 2`` each side).
Moving into a wall leaves the agent in place. There is no termination: episodes are
truncated after ``horizon`` steps, so the undiscounted visitation over the horizon is
what rollouts sample (see ``benchmark.tasks.coverage``).

The environment pays

    R(s, a, s') = goal_reward * 1[s' = goal] - distance_weight * d(s', goal) / d_max
                  - control_cost * 1[a != stay]

with d the Manhattan distance and d_max = rows + cols - 2. ``benchmark.rewards.gridworld``
implements the same function as a batched torch RewardFn; a test checks they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

ACTIONS = ("up", "down", "left", "right", "stay")
STAY = 4
# Row/column change of each action, in ACTIONS order.
_MOVES = np.array([[-1, 0], [1, 0], [0, -1], [0, 1], [0, 0]])
# The two perpendicular slips of each action (stay never slips).
_PERPENDICULAR = {0: (2, 3), 1: (2, 3), 2: (0, 1), 3: (0, 1)}

_DEFAULTS: dict[str, Any] = {
    "rows": 5,
    "cols": 5,
    "goal": None,  # default: the bottom-right corner
    "start": [0, 0],  # a [row, col] cell or "uniform" over all cells
    "slip": 0.0,
    "goal_reward": 1.0,
    "distance_weight": 0.5,
    "control_cost": 0.1,
    "horizon": 20,
    "discount": 0.9,
}


@dataclass(frozen=True)
class GridParams:
    """Validated gridworld parameters (one ``[env.train]`` / ``[env.test]`` table)."""

    rows: int
    cols: int
    goal: tuple[int, int]
    start: tuple[int, int] | None  # None: uniform over all cells
    slip: float
    goal_reward: float
    distance_weight: float
    control_cost: float
    horizon: int
    discount: float

    @property
    def n_states(self) -> int:
        return self.rows * self.cols

    @property
    def n_actions(self) -> int:
        return len(ACTIONS)

    def cell(self, state: int) -> tuple[int, int]:
        return divmod(int(state), self.cols)

    def state(self, row: int, col: int) -> int:
        return row * self.cols + col


def _cell(value: Any, key: str, rows: int, cols: int) -> tuple[int, int]:
    ok = isinstance(value, list | tuple) and len(value) == 2
    ok = ok and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    if not ok or not (0 <= value[0] < rows and 0 <= value[1] < cols):
        raise ValueError(
            f"gridworld parameter {key!r} must be a [row, col] cell inside the {rows}x{cols} grid, "
            f"got {value!r}"
        )
    return int(value[0]), int(value[1])


def parse_params(params: dict[str, Any]) -> GridParams:
    """Check a parameter table and fill defaults; errors name the key and what to do."""
    unknown = sorted(set(params) - set(_DEFAULTS))
    if unknown:
        raise ValueError(
            f"unknown gridworld parameter(s) {unknown}; valid keys are {sorted(_DEFAULTS)}"
        )
    p = {**_DEFAULTS, **params}
    for key in ("rows", "cols", "horizon"):
        if not isinstance(p[key], int) or isinstance(p[key], bool) or p[key] < 1:
            raise ValueError(
                f"gridworld parameter {key!r} must be a positive integer, got {p[key]!r}"
            )
    for key in ("slip", "goal_reward", "distance_weight", "control_cost", "discount"):
        if not isinstance(p[key], int | float) or isinstance(p[key], bool):
            raise ValueError(f"gridworld parameter {key!r} must be a number, got {p[key]!r}")
    if not 0.0 <= p["slip"] <= 1.0:
        raise ValueError(f"gridworld parameter 'slip' must lie in [0, 1], got {p['slip']!r}")
    if not 0.0 < p["discount"] <= 1.0:
        raise ValueError(
            f"gridworld parameter 'discount' must lie in (0, 1], got {p['discount']!r}"
        )
    rows, cols = p["rows"], p["cols"]
    goal = _cell(p["goal"] if p["goal"] is not None else [rows - 1, cols - 1], "goal", rows, cols)
    start = None if p["start"] == "uniform" else _cell(p["start"], "start", rows, cols)
    return GridParams(
        rows=rows,
        cols=cols,
        goal=goal,
        start=start,
        slip=float(p["slip"]),
        goal_reward=float(p["goal_reward"]),
        distance_weight=float(p["distance_weight"]),
        control_cost=float(p["control_cost"]),
        horizon=p["horizon"],
        discount=float(p["discount"]),
    )


def _moved(p: GridParams, state: int, action: int) -> int:
    row, col = p.cell(state)
    dr, dc = _MOVES[action]
    row = min(max(row + dr, 0), p.rows - 1)
    col = min(max(col + dc, 0), p.cols - 1)
    return p.state(row, col)


def tabular_dynamics(params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Exact dynamics: P [S, A, S] with P[s, a, s'] = Pr(s' | s, a), initial dist [S]."""
    p = parse_params(params)
    S, A = p.n_states, p.n_actions
    P = np.zeros((S, A, S))
    for s in range(S):
        for a in range(A):
            if a == STAY:
                P[s, a, s] = 1.0
                continue
            P[s, a, _moved(p, s, a)] += 1.0 - p.slip
            for side in _PERPENDICULAR[a]:
                P[s, a, _moved(p, s, side)] += p.slip / 2
    initial = np.zeros(S)
    if p.start is None:
        initial[:] = 1.0 / S
    else:
        initial[p.state(*p.start)] = 1.0
    return P, initial


def reward(p: GridParams, state: int, action: int, next_state: int) -> float:
    """What the environment pays for one transition (module docstring)."""
    row, col = p.cell(next_state)
    distance = abs(row - p.goal[0]) + abs(col - p.goal[1])
    d_max = max(p.rows + p.cols - 2, 1)
    value = p.goal_reward * float((row, col) == p.goal)
    value -= p.distance_weight * distance / d_max
    value -= p.control_cost * float(action != STAY)
    return value


def reward_table(params: dict[str, Any]) -> np.ndarray:
    """The environment's own reward as a table [S, A, S] (float64)."""
    p = parse_params(params)
    S, A = p.n_states, p.n_actions
    table = np.empty((S, A, S))
    for s in range(S):
        for a in range(A):
            for s2 in range(S):
                table[s, a, s2] = reward(p, s, a, s2)
    return table


def value_iteration(
    P: np.ndarray, R: np.ndarray, discount: float, *, tol: float = 1e-10, max_iter: int = 10_000
) -> tuple[np.ndarray, np.ndarray]:
    """Optimal Q [S, A] and V [S] of P [S,A,S], R [S,A,S] (Bellman optimality, Sutton & Barto 4.4)."""
    expected_r = (P * R).sum(-1)  # [S, A]
    V = np.zeros(P.shape[0])
    for _ in range(max_iter):
        Q = expected_r + discount * P @ V
        V_new = Q.max(1)
        if np.max(np.abs(V_new - V)) < tol:
            V = V_new
            break
        V = V_new
    return expected_r + discount * P @ V, V


def expert_policy_table(params: dict[str, Any]) -> np.ndarray:
    """The optimal deterministic policy for the environment's reward, as a table [S, A].

    Ties break toward the lowest action index, so the expert is the same everywhere.
    Optimal for the dynamics of ``params`` (the task passes its ``train`` table).
    """
    p = parse_params(params)
    P, _ = tabular_dynamics(params)
    Q, _ = value_iteration(P, reward_table(params), p.discount)
    best = np.argmax(np.round(Q, 9), axis=1)
    policy = np.zeros((p.n_states, p.n_actions))
    policy[np.arange(p.n_states), best] = 1.0
    return policy


def expert_policy(params: dict[str, Any], device: str = "cpu"):
    """Policy: integer states [B] -> integer actions [B], optimal by value iteration."""
    best = torch.as_tensor(expert_policy_table(params).argmax(1), device=device)

    def policy(obs: torch.Tensor) -> torch.Tensor:
        return best[torch.as_tensor(obs, device=device).long().reshape(-1)]

    return policy


class GridWorldEnv(gym.Env):
    """Gymnasium env over ``Discrete(rows*cols)`` states and ``Discrete(5)`` actions."""

    metadata = {"render_modes": []}

    def __init__(self, params: dict[str, Any], seed: int | None = None) -> None:
        self.params = parse_params(params)
        self._P, self._initial = tabular_dynamics(params)
        self._cdf = np.cumsum(self._P, axis=-1)
        self.observation_space = gym.spaces.Discrete(self.params.n_states)
        self.action_space = gym.spaces.Discrete(self.params.n_actions)
        self._default_seed = seed
        self._state = 0
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is None and self._default_seed is not None:
            seed, self._default_seed = self._default_seed, None
        super().reset(seed=seed)
        self._state = int(self.np_random.choice(self.params.n_states, p=self._initial))
        self._t = 0
        return self._state, {}

    def step(self, action):
        action = int(action)
        if not 0 <= action < self.params.n_actions:
            raise ValueError(
                f"gridworld action must be in 0..{self.params.n_actions - 1}, got {action}"
            )
        # Inverse-CDF draw: the same law as np_random.choice(p=...), several times faster.
        cdf = self._cdf[self._state, action]
        next_state = min(
            int(np.searchsorted(cdf, self.np_random.random(), side="right")), len(cdf) - 1
        )
        r = reward(self.params, self._state, action, next_state)
        self._state = next_state
        self._t += 1
        truncated = self._t >= self.params.horizon
        return next_state, r, False, truncated, {}


def make_env(params: dict[str, Any], seed: int) -> gym.Env:
    """A gridworld whose first ``reset()`` is seeded with ``seed``."""
    return GridWorldEnv(params, seed=seed)


def make_vec_env(params: dict[str, Any], n: int, seed: int, device: str = "cpu") -> VecEnv:
    """``n`` gridworlds in a DummyVecEnv; env i is seeded with ``seed + i``."""
    venv = DummyVecEnv([lambda i=i: make_env(params, seed + i) for i in range(n)])
    venv.seed(seed)
    return venv
