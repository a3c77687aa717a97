"""PointMass environment throughput: batched torch core vs per-copy vector envs.

Measures environment steps per second (one step of one copy = one env step) for
the same PointMass dynamics stepped five ways, in one run:

    core            PointMassCore(n) stepped with torch tensors on --device
    core_vecenv     CoreVecEnv over that core (SB3 VecEnv, numpy at the boundary)
    sync_torch      gymnasium SyncVectorEnv of the single gymnasium env (CoreEnv, n = 1 core)
    dummy_torch     SB3 DummyVecEnv of the same single env
    sync_numpy      SyncVectorEnv of a plain-numpy single env with identical dynamics
                    (the fair per-copy reference: no torch overhead per call)

Ratios are reported against ``sync_numpy`` and ``sync_torch``. Results go to
``bench/results/env_throughput.json``.

    .venv/bin/python bench/env_throughput.py [--n 1024] [--ref-n 64] [--seconds 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.vec_env import DummyVecEnv
from tqdm import tqdm

from benchmark.envs import pointmass as pm

RESULTS = Path(__file__).resolve().parent / "results" / "env_throughput.json"


class NumpyPointMassEnv(gym.Env):
    """PointMass train dynamics in plain numpy, one copy (reference only; see pointmass.py)."""

    def __init__(self, horizon: int = 100, dt: float = 0.1):
        self.observation_space = pm.OBSERVATION_SPACE
        self.action_space = pm.ACTION_SPACE
        self.horizon, self.dt = horizon, dt
        self.state = np.zeros(6, dtype=np.float32)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        pos = self.np_random.uniform(-pm.START, pm.START, 2)
        goal = self.np_random.uniform(-pm.START, pm.START, 2)
        self.state = np.concatenate([pos, np.zeros(2), goal]).astype(np.float32)
        self.t = 0
        return self.state.copy(), {}

    def step(self, action):
        a = np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0)
        pos, vel, goal = self.state[:2], self.state[2:4], self.state[4:]
        new_pos = pos + self.dt * vel
        new_vel = vel + self.dt * a
        clipped = np.clip(new_pos, -pm.ARENA, pm.ARENA)
        new_vel = np.where(clipped != new_pos, 0.0, new_vel)
        new_vel = np.clip(new_vel, -pm.MAX_SPEED, pm.MAX_SPEED)
        reward = -float(np.linalg.norm(clipped - goal)) - pm.CTRL_COEF * float(a @ a)
        self.state = np.concatenate([clipped, new_vel, goal]).astype(np.float32)
        self.t += 1
        return self.state.copy(), reward, False, self.t >= self.horizon, {}


def check_numpy_reference_matches_core(steps: int = 50) -> float:
    """Max |obs difference| of the numpy reference vs the core from the same state (sanity)."""
    env = NumpyPointMassEnv()
    obs, _ = env.reset(seed=0)
    core = pm.PointMassCore(1)
    core.reset()
    core.state = torch.from_numpy(obs).reshape(1, 6)
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(steps):
        a = rng.uniform(-1, 1, 2).astype(np.float32)
        obs, *_ = env.step(a)
        out = core.step(torch.from_numpy(a).reshape(1, 2))
        worst = max(worst, float(np.abs(out.next_obs[0].numpy() - obs).max()))
    return worst


def timed(step: Callable[[int], None], n_copies: int, seconds: float, device: torch.device) -> dict:
    """Call step(i) until ``seconds`` have passed (after 5 warm-up calls); env steps per second."""
    for i in range(5):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step(calls)
        calls += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    return {
        "copies": n_copies,
        "calls": calls,
        "seconds": elapsed,
        "steps_per_sec": calls * n_copies / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1024, help="copies in the batched core")
    parser.add_argument("--ref-n", type=int, default=64, help="copies in the per-copy vector envs")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.add_argument("--device", default="cpu", help="device of the batched core (cpu, cuda)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (shared machine: 1)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(
            "--device cuda: no CUDA device visible to torch here; run with --device cpu"
        )

    gen = torch.Generator(device=device).manual_seed(0)
    core_actions = torch.rand(64, args.n, 2, generator=gen, device=device) * 2 - 1
    np_actions = np.random.default_rng(0).uniform(-1, 1, (64, args.n, 2)).astype(np.float32)
    ref_actions = np_actions[:, : args.ref_n]

    core = pm.PointMassCore(args.n, device=device, seed=0)
    core.reset()
    core_vec = pm.make_vec_env({}, args.n, seed=0, device=args.device)
    core_vec.reset()
    sync_torch = gym.vector.SyncVectorEnv(
        [lambda i=i: pm.make_env({}, seed=i) for i in range(args.ref_n)]
    )
    sync_torch.reset(seed=0)
    dummy_torch = DummyVecEnv([lambda i=i: pm.make_env({}, seed=i) for i in range(args.ref_n)])
    dummy_torch.reset()
    sync_numpy = gym.vector.SyncVectorEnv([NumpyPointMassEnv for _ in range(args.ref_n)])
    sync_numpy.reset(seed=0)

    cases: dict[str, tuple[Callable[[int], None], int, torch.device]] = {
        "core": (lambda i: core.step(core_actions[i % 64]), args.n, device),
        "core_vecenv": (lambda i: core_vec.step(np_actions[i % 64]), args.n, device),
        "sync_torch": (
            lambda i: sync_torch.step(ref_actions[i % 64]),
            args.ref_n,
            torch.device("cpu"),
        ),
        "dummy_torch": (
            lambda i: dummy_torch.step(ref_actions[i % 64]),
            args.ref_n,
            torch.device("cpu"),
        ),
        "sync_numpy": (
            lambda i: sync_numpy.step(ref_actions[i % 64]),
            args.ref_n,
            torch.device("cpu"),
        ),
    }
    results = {}
    for name, (step, copies, dev) in tqdm(cases.items(), desc="measuring", unit="case"):
        results[name] = timed(step, copies, args.seconds, dev)

    ratios = {
        f"{name}_vs_{ref}": results[name]["steps_per_sec"] / results[ref]["steps_per_sec"]
        for ref in ("sync_numpy", "sync_torch")
        for name in results
        if name != ref
    }
    report = {
        "benchmark": "env_throughput",
        "env": "pointmass (train dynamics)",
        "device": str(device),
        "cuda_device": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torch_threads": args.threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(),
        "numpy_reference_max_abs_diff": check_numpy_reference_matches_core(),
        "results": results,
        "ratios": ratios,
    }
    print(
        f"PointMass env steps per second ({device}, core n={args.n}, per-copy envs n={args.ref_n}):"
    )
    for name, r in results.items():
        print(f"  {name:12s} {r['steps_per_sec']:14,.0f}")
    for name, value in ratios.items():
        print(f"  {name:28s} {value:10.1f}x")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
