"""HalfCheetah and Hopper (gymnasium MuJoCo v4) with the x-position in the observation.

Why the x-position: the ground-truth reward pays forward velocity (x' - x)/dt, so with
``exclude_current_positions_from_observation=False`` it is a function of (s, a, s') alone
(see ``benchmark.rewards.locomotion``). Observations stay float64 as gymnasium returns
them: casting x to float32 would make (x' - x)/dt inexact by ~1e-4 once x ~ 100.

Observation layout (``obs[..., 0]`` is always x):

- HalfCheetah-v4: [18] = qpos (9: x, z, pitch, 6 joints) + qvel (9).
- Hopper-v4: [12] = qpos (6: x, z, pitch, 3 joints) + clip(qvel, -10, 10) (6).

TOML parameters, the ``[env.train]`` / ``[env.test]`` tables of a task file::

    id = "HalfCheetah-v4"        # or "Hopper-v4" (required)
    mass_scale = 1.0             # multiplies every MjModel.body_mass (default 1.0)
    friction_scale = 1.0         # multiplies every MjModel.geom_friction (default 1.0)
    expert = "halfcheetah"       # folder under experts/ holding the expert actor
    horizon = 1000               # TimeLimit; Task passes the TOML's top-level horizon
                                 # (gymnasium's 1000 when absent). `discount` is ignored.

The test variant uses the same spaces and reward but changed dynamics, e.g.
``mass_scale = 1.3, friction_scale = 0.7``; the scales are applied by editing the
``MjModel`` after construction, so the XML and the spaces are untouched.
"""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
import torch
from gymnasium.wrappers import TimeLimit
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from benchmark.envs.experts import load_expert

SUPPORTED_IDS = ("HalfCheetah-v4", "Hopper-v4")
KNOWN_PARAMS = frozenset({"id", "mass_scale", "friction_scale", "horizon", "discount", "expert"})
# Above this many copies, one process per env beats stepping them in one process.
SUBPROC_THRESHOLD = 8
# MuJoCo >= 3.3 deprecates this attribute of gymnasium 0.29's half_cheetah.xml, which our
# imitation pins keep. The model compiles exactly as before, so the warning is noise.
KNOWN_HARMLESS_WARNINGS = ("compiler attribute 'settotalmass' is deprecated",)


def _forward_mujoco_warning(message: str) -> None:
    """MuJoCo warning callback: drop the known-harmless ones, raise the rest as Python warnings.

    Why: by default MuJoCo prints every warning to stderr and appends it to MUJOCO_LOG.TXT
    in the working directory, once per env built, which floods evaluation logs.
    """
    if any(known in message for known in KNOWN_HARMLESS_WARNINGS):
        return
    warnings.warn(f"MuJoCo: {message}", RuntimeWarning, stacklevel=2)


def install_mujoco_warning_filter() -> None:
    """Route MuJoCo warnings through ``_forward_mujoco_warning`` unless a user already set a handler."""
    current = mujoco.get_mju_user_warning()
    if current is None:
        mujoco.set_mju_user_warning(_forward_mujoco_warning)


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    """Validate an ``[env.*]`` table and fill defaults; errors name the bad key."""
    unknown = set(params) - KNOWN_PARAMS
    if unknown:
        raise ValueError(
            f"unknown MuJoCo env parameter(s) {sorted(unknown)}; "
            f"allowed keys are {sorted(KNOWN_PARAMS)}"
        )
    if params.get("id") not in SUPPORTED_IDS:
        raise ValueError(
            f"env id must be one of {list(SUPPORTED_IDS)}, got {params.get('id')!r}; "
            "set `id` in the task's [env.train]/[env.test] table"
        )
    out = {"mass_scale": 1.0, "friction_scale": 1.0, "horizon": 1000, **params}
    for key in ("mass_scale", "friction_scale"):
        if not float(out[key]) > 0:
            raise ValueError(f"{key} must be a positive number, got {out[key]!r}")
    if int(out["horizon"]) < 1:
        raise ValueError(f"horizon must be >= 1 steps, got {out['horizon']!r}")
    return out


def scale_dynamics(env: gym.Env, mass_scale: float, friction_scale: float) -> None:
    """Scale body masses and geom friction of the env's MjModel in place.

    Inertias scale with the masses so each body keeps its density (a heavier body of
    the same shape); friction scales all three coefficients (slide, spin, roll).
    """
    model = env.unwrapped.model
    model.body_mass[:] = model.body_mass * mass_scale
    model.body_inertia[:] = model.body_inertia * mass_scale
    model.geom_friction[:] = model.geom_friction * friction_scale


def make_env(params: dict[str, Any], seed: int) -> gym.Env:
    """One environment with x in the observation and a TimeLimit, seeded with ``seed``.

    Returns a gymnasium Env whose observations are float64 [obs_dim]; the first reset
    is already seeded, later ``reset()`` calls continue that random stream.
    """
    p = check_params(params)
    install_mujoco_warning_filter()
    env = gym.make(
        p["id"],
        exclude_current_positions_from_observation=False,
        max_episode_steps=int(p["horizon"]),
    )
    if not _has_time_limit(env):
        env = TimeLimit(env, int(p["horizon"]))
    scale_dynamics(env, float(p["mass_scale"]), float(p["friction_scale"]))
    env.reset(seed=seed)
    env.action_space.seed(seed)
    env.observation_space.seed(seed)
    return env


def _has_time_limit(env: gym.Env) -> bool:
    while isinstance(env, gym.Wrapper):
        if isinstance(env, TimeLimit):
            return True
        env = env.env
    return False


def make_vec_env(params: dict[str, Any], n: int, seed: int, device: str = "cpu") -> VecEnv:
    """``n`` Monitor-wrapped copies, env i seeded ``seed + i`` (SB3 convention).

    ``device`` is accepted for the family contract; MuJoCo steps on the CPU. Monitor
    puts ``info["episode"]`` (ground-truth return and length) at episode ends.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1 environments, got {n}")
    check_params(params)

    def factory(i: int):
        return lambda: Monitor(make_env(params, seed + i))

    fns = [factory(i) for i in range(n)]
    vec = SubprocVecEnv(fns) if n > SUBPROC_THRESHOLD else DummyVecEnv(fns)
    vec.seed(seed)
    return vec


def expert_policy(params: dict[str, Any], device: str = "cpu"):
    """The committed expert for this env: deterministic ``obs [B, obs_dim] -> acts [B, act_dim]``.

    Loaded from ``experts/<params["expert"]>/`` without unpickling (safetensors + JSON).
    """
    p = check_params(params)
    name = p.get("expert")
    if not name:
        raise ValueError(
            f'no expert configured for {p["id"]}: set `expert = "<folder under experts/>"` '
            "in the task's env table, or train one with `epic-bench experts train TASK`"
        )
    return load_expert(name, device=device)


def x_position(obs: np.ndarray) -> np.ndarray:
    """x of the torso: the first observation entry (float64)."""
    return np.asarray(obs)[..., 0]


# One simulator per (id, mass_scale, friction_scale), reused by `step_from`.
_STEPPERS: dict[tuple, gym.Env] = {}


def step_from(params: dict[str, Any], obs, acts, generator=None):
    """Successors ``[B, obs_dim]`` of arbitrary observed states under ``acts`` [B, act_dim].

    Why possible: the observation is the whole simulator state, qpos (x kept) followed by
    qvel, so ``set_state`` restores it exactly (Hopper's observation clips qvel to
    [-10, 10], so there a faster joint is restored at the clip). MuJoCo is deterministic,
    so ``generator`` is unused. Accepts and returns torch tensors or numpy arrays
    (float64). Cost: one ``set_state`` + ``frame_skip`` physics steps per row, in Python.
    """
    p = check_params(params)
    key = (p["id"], float(p["mass_scale"]), float(p["friction_scale"]))
    if key not in _STEPPERS:
        _STEPPERS[key] = make_env({**p, "horizon": 1}, seed=0)
    env = _STEPPERS[key].unwrapped
    nq, nv = env.model.nq, env.model.nv
    is_torch = isinstance(obs, torch.Tensor)
    o = obs.detach().cpu().numpy() if is_torch else np.asarray(obs)
    a = acts.detach().cpu().numpy() if is_torch else np.asarray(acts)
    if o.ndim != 2 or o.shape[1] != nq + nv or a.shape != (o.shape[0], env.model.nu):
        raise ValueError(
            f"{p['id']} step_from: need obs [B, {nq + nv}] and acts [B, {env.model.nu}], got "
            f"{o.shape} and {a.shape}"
        )
    low, high = env.action_space.low, env.action_space.high
    out = np.empty((o.shape[0], nq + nv), dtype=np.float64)
    for i in range(o.shape[0]):
        env.set_state(o[i, :nq], o[i, nq:])
        env.do_simulation(np.clip(a[i], low, high), env.frame_skip)
        out[i] = env._get_obs()
    if is_torch:
        return torch.as_tensor(out, device=obs.device).to(obs.dtype)
    return out
