"""Cost of one transfer training: trainings per CPU-hour per task, a budget vs a cheaper candidate.

Why: reoptimization transfer needs K reference runs plus every submission on several
seeds, so the cost of one training decides how many seeds fit. This measures the CPU
seconds of one ``train_policy`` on the ground-truth reward at a task's budget, in the
same process and interleaved with a candidate budget (``--candidate``, JSON of Budget
fields; default ``CANDIDATE``: 256 batched envs x 16 steps, 5 epochs instead of 10),
so load on a shared machine hits both arms alike. CPU time
(``time.process_time``, one torch thread) rather than wall time: on a loaded machine
wall time measures the neighbours. A warm-up training first pays the one-time imports
(torch._dynamo on the first optimizer), which a long evaluation pays once.

Each arm also reports the trained policy's mean ground-truth return and the random
policy's, on the task's fixed evaluation episodes: a cheaper budget must still learn.

    .venv/bin/python bench/transfer_cost.py --task pointmass --task pointmaze --seeds 1000 1001
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import time
from pathlib import Path

CANDIDATE = {
    "n_envs": 256,
    "hyperparams": {"n_steps": 16, "batch_size": 1024, "n_epochs": 5, "learning_rate": 5e-4},
}


def main() -> None:
    from benchmark.metrics.reoptimize import evaluate_policy, evaluate_random, train_policy
    from benchmark.tasks import load_task

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", dest="tasks", action="append", default=None)
    parser.add_argument("--budget", default="standard")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1000, 1001])
    parser.add_argument("--candidate", default=json.dumps(CANDIDATE), help="JSON Budget fields")
    parser.add_argument("--out", default="bench/results/transfer_cost.json")
    args = parser.parse_args()
    tasks = args.tasks or ["pointmass", "pointmaze"]

    warm = load_task(tasks[0])
    warm_budget = dataclasses.replace(warm.budgets["smoke"], total_timesteps=512)
    train_policy(warm, None, warm_budget, seed=0)  # one-time imports, not measured

    report = {}
    for name in tasks:
        task = load_task(name)
        current = task.budgets[args.budget]
        candidate = dataclasses.replace(current, **json.loads(args.candidate))
        arms = {"budget": current, "candidate": candidate}
        runs: dict[str, list[dict]] = {arm: [] for arm in arms}
        for seed in args.seeds:
            for arm, budget in arms.items():  # interleaved: A B A B ...
                start = time.process_time()
                model = train_policy(task, None, budget, seed=seed)
                cpu = time.process_time() - start
                ret = evaluate_policy(task, model, budget, seed=seed)
                runs[arm].append({"seed": seed, "cpu_s": cpu, "return": ret})
                print(f"{name} {arm:10s} seed {seed}: {cpu:6.2f} CPU s, return {ret:8.2f}",
                      flush=True)  # fmt: skip
        random_return = evaluate_random(task, current, seed=args.seeds[0])
        entry = {"random_return": random_return, "budget": dataclasses.asdict(current)}
        for arm, rs in runs.items():
            cpu = statistics.median(r["cpu_s"] for r in rs)
            entry[arm] = {
                "median_cpu_s": cpu,
                "trainings_per_cpu_hour": 3600.0 / cpu,
                "mean_return": statistics.fmean(r["return"] for r in rs),
                "runs": rs,
            }
        entry["speedup_cpu"] = entry["budget"]["median_cpu_s"] / entry["candidate"]["median_cpu_s"]
        report[name] = entry
        print(f"{name}: {entry['budget']['trainings_per_cpu_hour']:.0f} (budget) vs "
              f"{entry['candidate']['trainings_per_cpu_hour']:.0f} (candidate) trainings per "
              f"CPU-hour ({entry['speedup_cpu']:.2f}x); returns "
              f"{entry['budget']['mean_return']:.1f} vs {entry['candidate']['mean_return']:.1f} "
              f"(random {random_return:.1f})")  # fmt: skip
    report["machine"] = {"platform": platform.platform(), "python": platform.python_version()}
    Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
