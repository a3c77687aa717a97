"""The environment-family contract: what a module under ``benchmark/envs/`` exports.

A task file names its family (``[env] family``); `Task` imports ``benchmark.envs.<family>``
and calls it through this contract, so adding an environment is adding one module.
``params`` is the task's ``[env.train]`` or ``[env.test]`` table with the task's
``horizon`` and ``discount`` filled in (docs/architecture.md, "Tasks").

Optional exports, used where present (test with ``hasattr``):

- ``expert_policy(params, device) -> Policy``: the expert of the ``expert``/``mixture`` coverages;
- ``sample_uniform_states(params, n, generator) -> Tensor [n, *obs]`` and
  ``step_from(params, obs, acts, generator) -> next_obs``: the ``uniform`` coverage;
  ``step_from`` alone is also DARD's transition model (`benchmark.metrics.dynamics`;
  MuJoCo exports it, restoring the state from the observation);
- ``tabular_dynamics(params) -> (P [S,A,S], initial [S])`` and
  ``expert_policy_table(params) -> [S,A]``: exact arrays of finite tasks.
"""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym


class EnvFamily(Protocol):
    """The two functions every family module must export (checked when a task loads)."""

    def make_env(self, params: dict[str, Any], seed: int) -> gym.Env: ...

    def make_vec_env(self, params: dict[str, Any], n: int, seed: int, device: str = "cpu") -> Any:
        """An SB3 ``VecEnv`` of ``n`` copies (typed Any: SB3 stays out of this contract)."""
        ...
