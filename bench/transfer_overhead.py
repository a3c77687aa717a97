"""Overhead of training on a learned reward: time(learned MLP reward) / time(ground truth).

Reoptimization transfer trains on a learned RewardFn through
`benchmark.envs.reward_wrapper.LearnedRewardVecEnv` (one batched reward call per vector
step). This measures what that costs against training on the environment's own
reward, with the same algorithm, budget and seed, in the same run, interleaved
(A B C A B C ...) so that load on a shared machine hits every arm alike. Target:
ratio ≤ 1.3.

Arms:
    env_reward   the environment's own reward (no wrapper): the reference
    gt_wrapped   the task's ground_truth RewardFn through the wrapper
    mlp_wrapped  an imitation BasicRewardNet (an MLP on s, a, s') through the wrapper

Prints wall and CPU seconds (median over repeats) and the ratios; writes
bench/results/transfer_overhead.json.

    .venv/bin/python bench/transfer_overhead.py --task pointmass --budget smoke --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

os.environ.setdefault("WANDB_MODE", "offline")


def main() -> None:
    from imitation.rewards.reward_nets import BasicRewardNet

    from benchmark.metrics.transfer import train_policy
    from benchmark.tasks import load_task

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="pointmass")
    parser.add_argument("--budget", default="smoke")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--timesteps", type=int, default=None, help="override the budget's")
    parser.add_argument(
        "--hid-sizes", default="32,32", help="reward MLP hidden sizes (imitation's default)"
    )
    parser.add_argument("--out", default="bench/results/transfer_overhead.json")
    args = parser.parse_args()

    task = load_task(args.task)
    budget = task.budgets[args.budget]
    if args.timesteps is not None:
        import dataclasses

        budget = dataclasses.replace(budget, total_timesteps=args.timesteps)
    torch.manual_seed(0)
    hid_sizes = tuple(int(h) for h in args.hid_sizes.split(","))
    mlp = BasicRewardNet(
        task.observation_space, task.action_space, use_next_state=True, hid_sizes=hid_sizes
    )
    mlp = mlp.to(args.device).eval()
    arms = {
        "env_reward": None,
        "gt_wrapped": task.reward("ground_truth", device=args.device),
        "mlp_wrapped": mlp,
    }
    wall: dict[str, list[float]] = {k: [] for k in arms}
    cpu: dict[str, list[float]] = {k: [] for k in arms}
    for rep in range(args.repeats):
        for name, reward in arms.items():
            w0, c0 = time.perf_counter(), time.process_time()
            train_policy(task, reward, budget, seed=rep, device=args.device, variant="test")
            wall[name].append(time.perf_counter() - w0)
            cpu[name].append(time.process_time() - c0)
            print(f"repeat {rep} {name:12s} wall {wall[name][-1]:7.2f}s cpu {cpu[name][-1]:7.2f}s",
                  flush=True)  # fmt: skip
    med_wall = {k: statistics.median(v) for k, v in wall.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    result = {
        "task": args.task,
        "budget": args.budget,
        "algorithm": budget.algorithm,
        "total_timesteps": budget.total_timesteps,
        "n_envs": budget.n_envs,
        "device": args.device,
        "reward_hid_sizes": list(hid_sizes),
        "repeats": args.repeats,
        "median_wall_s": med_wall,
        "median_cpu_s": med_cpu,
        "wall_s": wall,
        "cpu_s": cpu,
        "ratio_mlp_over_env_wall": med_wall["mlp_wrapped"] / med_wall["env_reward"],
        "ratio_mlp_over_env_cpu": med_cpu["mlp_wrapped"] / med_cpu["env_reward"],
        "ratio_gt_wrapped_over_env_cpu": med_cpu["gt_wrapped"] / med_cpu["env_reward"],
        "target": 1.3,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
        },  # fmt: skip
    }
    print(
        f"\n{args.task}/{args.budget} (reward MLP {hid_sizes}, {budget.algorithm}, {budget.total_timesteps} steps, "
        f"{budget.n_envs} envs): learned-MLP / ground-truth training time = "
        f"{result['ratio_mlp_over_env_wall']:.3f} (wall), {result['ratio_mlp_over_env_cpu']:.3f} (cpu); "
        f"gt RewardFn through the wrapper / env reward = {result['ratio_gt_wrapped_over_env_cpu']:.3f} (cpu); "
        f"target <= 1.3"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing[f"{args.task}/{args.budget}/{args.device}/mlp{args.hid_sizes.replace(',', 'x')}"] = (
        result
    )
    out.write_text(json.dumps(existing, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
