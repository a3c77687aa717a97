"""Coverage distributions D_T, D_S, D_A: samplers and their on-disk cache.

EPIC (Gleave et al., ICLR 2021) compares rewards on transitions drawn from a
coverage distribution D_T and canonicalizes with states from D_S and actions from D_A.
Each task names its coverages (``tasks/<name>.toml``, ``[coverage.<name>]``):

- ``random``: rollouts of a uniformly random policy;
- ``expert``: rollouts of the family's expert policy;
- ``mixture``: the paper's policy mixture (the reference's ``PolicyMixture``,
  ``evaluating_rewards/policies/mixture.py``, used with ``transition_p = 0.05`` in
  ``runners/transfer_point_maze.sh`` and ``scripts/pipeline/combined_distances.py``):
  the acting policy is one of {random, expert}, the first drawn uniformly; before every
  step, with probability ``switch_probability`` (0.05), it is re-drawn uniformly from
  the two (so it actually changes with probability 0.025, and in a long run each acts
  half the steps). It persists across episode boundaries, as the reference's policy
  object does. Differences: the reference's vector env shares one acting policy (its RNG
  seeded 0 in every run) across its environments; each of our streams has its own;
- ``expert_noisy``: the expert, taking a uniformly random action with probability
  ``epsilon`` each step (what ``mixture`` meant before issue 18; no task declares it);
- ``uniform``: states uniform over the bounded state space, actions uniform, s' from the
  dynamics (single independent steps, so ``dones`` are all 0).

Rollouts run ``n_envs`` copies of the ``train`` environment (SB3 VecEnv) for
ceil(N / n_envs) steps; the transitions are each env's stream in turn, so they are ordered
episode by episode with ``dones = 1`` on every episode's last step (termination, time
limit, or where a stream is cut), and ``next_obs[t] == obs[t+1]`` wherever ``dones[t] == 0``.

D_S and D_A are marginals of rollouts of the coverage's policy, as in the paper's code
(``scripts/distances/epic.py: sample_dist_config``; its states are the obs and next_obs
of M/2 transitions rolled out with D_T's seed). Ours: a second, independent rollout of M
transitions, its states and actions shuffled by two independent permutations, so pair j is an
independent draw. Finite tasks: exact visitation averages (``tabular.TabularMDP``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import torch

from benchmark.data import Transitions
from benchmark.metrics.cpu_threads import single_thread_on_cpu
from benchmark.tasks.coverage_cache import (
    SAMPLE_KEYS,
    cache_path,
    episodes_cache_path,
    load_episodes,
    load_sample,
    read_cache,
    save,
    transition_tensors,
)
from benchmark.tasks.tabular import TabularCoverage

if TYPE_CHECKING:
    from benchmark.tasks.task import Task

EXPERT_POLICIES = ("expert", "mixture", "expert_noisy")  # need the family's expert
MIXTURE_SWITCH_PROBABILITY = 0.05  # the reference's transition_p
_TRANSITIONS_STREAM, _SAMPLES_STREAM = 0, 1


@dataclass(frozen=True)
class CoverageSpec:
    """One ``[coverage.<name>]`` table of a task file."""

    name: str
    policy: str  # one of vocabulary.COVERAGE_POLICIES
    epsilon: float = 0.0  # random-action probability of expert_noisy
    n_envs: int = 8  # parallel rollout environments
    switch_probability: float = MIXTURE_SWITCH_PROBABILITY  # mixture: re-draw per step


@dataclass(frozen=True)
class CoverageSample:
    """N transitions from D_T and M paired independent draws from D_S and D_A.

    Attributes:
        transitions: N transitions, ordered episode by episode (module docstring).
        state_samples: [M, *obs_shape] draws from D_S.
        action_samples: [M, *act_shape] draws from D_A (one-hot for discrete actions).
        state_blocks, action_blocks: [M] int64 block of the second rollout
            (`Transitions.bootstrap_blocks`) each state / action sample came from, or
            None: dependent samples the interval resamples together.
    """

    transitions: Transitions
    state_samples: torch.Tensor
    action_samples: torch.Tensor
    state_blocks: torch.Tensor | None = None
    action_blocks: torch.Tensor | None = None


def derive_seed(seed: int, stream: int) -> int:
    """An independent 32-bit seed per (seed, stream), identical on every machine."""
    return int(np.random.SeedSequence([int(seed), int(stream)]).generate_state(1)[0])


# --- encoding of observations and actions as RewardFn inputs ----------------------------


def encode(space: gym.Space, x: Any) -> torch.Tensor:
    """VecEnv values -> float RewardFn inputs: one-hot for Discrete, float for Box. [B, ...]"""
    t = torch.as_tensor(np.asarray(x))
    if isinstance(space, gym.spaces.Discrete):
        return torch.nn.functional.one_hot(
            t.long().reshape(-1) - int(space.start), int(space.n)
        ).float()
    if isinstance(space, gym.spaces.Box):
        return t if torch.is_floating_point(t) else t.float()
    raise TypeError(f"coverage supports Discrete and Box spaces, got {space}")


def random_actions(space: gym.Space, n: int, generator: torch.Generator) -> torch.Tensor:
    """n uniform random actions in VecEnv form: int indices [n] or floats [n, *shape]."""
    if isinstance(space, gym.spaces.Discrete):
        return torch.randint(int(space.n), (n,), generator=generator) + int(space.start)
    if isinstance(space, gym.spaces.Box):
        if not space.is_bounded():
            raise ValueError(f"cannot draw uniform random actions from the unbounded space {space}")
        low = torch.as_tensor(space.low, dtype=torch.float64)
        high = torch.as_tensor(space.high, dtype=torch.float64)
        u = torch.rand((n, *space.shape), generator=generator, dtype=torch.float64)
        return (low + (high - low) * u).to(torch.float32)
    raise TypeError(f"coverage supports Discrete and Box action spaces, got {space}")


# --- rollouts ------------------------------------------------------------------------


def rollout(task: Task, spec: CoverageSpec, n: int, seed: int) -> Transitions:
    """n transitions of the coverage policy in the task's train env (module docstring)."""
    fields = _rollout_streams(task, spec, n, seed)
    n_envs, steps = fields[0].shape[:2]
    fields[3][:, -1] = 1.0  # a cut stream ends an episode fragment
    flat = [f.reshape(n_envs * steps, *f.shape[2:])[:n] for f in fields]
    flat[3][-1] = 1.0  # so does the last stream when n is not a multiple of n_envs
    return Transitions(*flat)


def complete_episodes(task: Task, spec: CoverageSpec, n: int, seed: int) -> Transitions:
    """The complete episodes of a rollout of ``n`` transitions, episode by episode.

    Why: episode-return metrics (ERC) need whole episodes, but `rollout` cuts each of its
    ``n_envs`` streams wherever ``n`` runs out and marks the cut as an episode end. Here
    each stream's unfinished tail is dropped instead, so every ``dones = 1`` is a real
    termination or time limit. Fewer than ``n`` transitions come back.
    """
    fields = _rollout_streams(task, spec, n, seed)
    parts = []
    for stream in range(fields[0].shape[0]):
        ends = torch.nonzero(fields[3][stream]).flatten()
        if len(ends):
            parts.append(Transitions(*(f[stream, : int(ends[-1]) + 1] for f in fields)))
    if not parts:
        raise ValueError(
            f"no episode of coverage '{spec.name}' ends within {n} transitions "
            f"({spec.n_envs} streams); roll out more transitions"
        )
    return Transitions.concatenate(parts)


@single_thread_on_cpu(None)  # the expert's small matmuls; why: benchmark.metrics.cpu_threads
def _rollout_streams(task: Task, spec: CoverageSpec, n: int, seed: int) -> list[torch.Tensor]:
    """obs, acts, next_obs, dones of ``n_envs`` streams of ceil(n / n_envs) steps each,
    shaped ``[n_envs, steps, ...]``, with the dones the environments reported."""
    n_envs = max(1, min(spec.n_envs, n))
    steps = math.ceil(n / n_envs)
    generator = torch.Generator().manual_seed(derive_seed(seed, 2))
    expert = task.expert_policy() if spec.policy in EXPERT_POLICIES else None
    expert_acts = None
    if spec.policy == "mixture":
        mode_gen = torch.Generator().manual_seed(derive_seed(seed, 4))
        expert_acts = mixture_modes(n_envs, steps, spec.switch_probability, mode_gen) == 1
    elif spec.policy == "expert":
        expert_acts = torch.ones(n_envs, steps, dtype=torch.bool)
    venv = task.make_vec_env(n_envs, seed, variant="train")
    obs_space, act_space = venv.observation_space, venv.action_space
    try:
        obs = venv.reset()
        rows: list[tuple[torch.Tensor, ...]] = []
        for step in range(steps):
            acts = random_actions(act_space, n_envs, generator)
            if expert is not None:
                chosen = (
                    torch.as_tensor(expert(torch.as_tensor(obs))).reshape(acts.shape).to(acts.dtype)
                )
                if expert_acts is None:  # expert_noisy
                    use_expert = torch.rand(n_envs, generator=generator) >= spec.epsilon
                else:
                    use_expert = expert_acts[:, step]
                mask = use_expert.reshape(-1, *([1] * (acts.ndim - 1)))
                acts = torch.where(mask, chosen, acts)
            new_obs, _, dones, infos = venv.step(acts.numpy())
            next_obs = np.array(new_obs, copy=True)
            for i in np.flatnonzero(dones):
                next_obs[i] = infos[i]["terminal_observation"]
            rows.append(
                (
                    encode(obs_space, obs),
                    encode(act_space, acts),
                    encode(obs_space, next_obs),
                    torch.as_tensor(dones, dtype=torch.float32),
                )
            )
            obs = new_obs
    finally:
        venv.close()
    # [steps, n_envs, ...] -> one stream per env: [n_envs, steps, ...]
    return [torch.stack(col).transpose(0, 1).contiguous() for col in zip(*rows, strict=True)]


def mixture_modes(
    n_streams: int, n_steps: int, switch_probability: float, generator: torch.Generator
) -> torch.Tensor:
    """Acting policy of the paper's mixture at each step: ``[n_streams, n_steps]``,
    0 = random, 1 = expert (module docstring; the reference's ``PolicyMixture``).

    The first policy is drawn uniformly; before every step (the first included, as the
    reference's ``step`` calls ``_maybe_change_pol`` before acting) it is re-drawn
    uniformly with probability ``switch_probability``.
    """
    mode = torch.randint(2, (n_streams,), generator=generator)
    redraw = torch.rand(n_streams, n_steps, generator=generator) < switch_probability
    fresh = torch.randint(2, (n_streams, n_steps), generator=generator)
    modes = torch.empty(n_streams, n_steps, dtype=torch.long)
    for t in range(n_steps):
        mode = torch.where(redraw[:, t], fresh[:, t], mode)
        modes[:, t] = mode
    return modes


def _uniform(task: Task, n: int, generator: torch.Generator) -> Transitions:
    """n independent steps from uniform states and actions (dones all 0)."""
    params = task.env_params["train"]
    module = task.env_family
    if hasattr(module, "tabular_dynamics"):
        P, _ = module.tabular_dynamics(params)
        S, A = P.shape[0], P.shape[1]
        s = torch.randint(S, (n,), generator=generator)
        a = torch.randint(A, (n,), generator=generator)
        probs = torch.as_tensor(P, dtype=torch.float64)[s, a]
        s2 = torch.multinomial(probs, 1, generator=generator).reshape(-1)
        obs_space, act_space = gym.spaces.Discrete(S), gym.spaces.Discrete(A)
        return Transitions(
            encode(obs_space, s), encode(act_space, a), encode(obs_space, s2), torch.zeros(n)
        )
    obs = module.sample_uniform_states(params, n, generator)
    acts = random_actions(task.action_space, n, generator)
    next_obs = module.step_from(params, obs, acts, generator)
    return Transitions.create(obs, encode(task.action_space, acts), next_obs, torch.zeros(n))


def draw(
    task: Task, spec: CoverageSpec, n_transitions: int, n_samples: int, seed: int
) -> CoverageSample:
    """Generate a CoverageSample (no cache); the same seed gives the same numbers."""
    for name, value in (("n_transitions", n_transitions), ("n_samples", n_samples)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if spec.policy == "uniform":
        gen = torch.Generator().manual_seed(derive_seed(seed, _TRANSITIONS_STREAM))
        transitions = _uniform(task, n_transitions, gen)
        pool = _uniform(task, n_samples, gen)
    else:
        transitions = rollout(task, spec, n_transitions, derive_seed(seed, _TRANSITIONS_STREAM))
        pool = rollout(task, spec, n_samples, derive_seed(seed, _SAMPLES_STREAM))
    gen = torch.Generator().manual_seed(derive_seed(seed, 3))
    state_order = torch.randperm(n_samples, generator=gen)
    action_order = torch.randperm(n_samples, generator=gen)
    blocks = torch.as_tensor(pool.bootstrap_blocks())
    return CoverageSample(
        transitions,
        pool.obs[state_order],
        pool.acts[action_order],
        blocks[state_order],
        blocks[action_order],
    )


def _cached_sample(path: Path, n_transitions: int, n_samples: int) -> CoverageSample:
    transitions, fields = load_sample(path, n_transitions, n_samples)
    return CoverageSample(transitions, **fields)


class Coverage:
    """A task's named coverage distribution. ``Task.coverage(name)`` builds one."""

    def __init__(self, task: Task, spec: CoverageSpec) -> None:
        self.task = task
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    def __repr__(self) -> str:
        return f"Coverage({self.task.name!r}, {self.spec.name!r}, policy={self.spec.policy!r})"

    def sample(
        self, n_transitions: int, n_samples: int, seed: int, *, cache: bool = True
    ) -> CoverageSample:
        """N transitions from D_T and M draws from D_S and D_A for ``seed``; cached on disk."""
        if not cache:
            return draw(self.task, self.spec, n_transitions, n_samples, seed)
        path = cache_path(self.task, self.name, n_transitions, n_samples, seed)
        cached = read_cache(path, lambda: _cached_sample(path, n_transitions, n_samples))
        if cached is not None:
            return cached
        sample = draw(self.task, self.spec, n_transitions, n_samples, seed)
        tensors = transition_tensors(sample.transitions)
        tensors.update({k: getattr(sample, k) for k in SAMPLE_KEYS})
        save(path, tensors, self._metadata())
        return sample

    def episodes(self, n_transitions: int, seed: int, *, cache: bool = True) -> Transitions:
        """The complete episodes of a rollout of ``n_transitions`` (see `complete_episodes`).

        For episode-return metrics. The rollout is the D_T stream of ``seed`` (the same
        seed derivation as `sample`), cached on disk next to the samples.
        """
        if not isinstance(n_transitions, int) or n_transitions < 1:
            raise ValueError(f"n_transitions must be a positive integer, got {n_transitions!r}")
        if self.spec.policy == "uniform":
            raise ValueError(
                f"coverage '{self.name}' draws independent transitions (policy 'uniform'); "
                "it has no episodes"
            )
        path = episodes_cache_path(self.task, self.name, n_transitions, seed)
        cached = read_cache(path, lambda: load_episodes(path, n_transitions)) if cache else None
        if cached is not None:
            return cached
        stream_seed = derive_seed(seed, _TRANSITIONS_STREAM)
        episodes = complete_episodes(self.task, self.spec, n_transitions, stream_seed)
        if cache:
            save(path, transition_tensors(episodes), self._metadata())
        return episodes

    def _metadata(self) -> dict[str, str]:
        return {
            "task": self.task.name,
            "version": str(self.task.version),
            "toml_sha256": self.task.toml_sha256,
            "coverage": self.name,
        }

    def exact(self) -> TabularCoverage:
        """The exact D_S, D_A, D_T arrays (finite tasks only)."""
        if self.task.tabular is None:
            raise ValueError(
                f"task {self.task.name!r} is not finite; it has no exact coverage arrays"
            )
        return self.task.tabular.coverage[self.name]
