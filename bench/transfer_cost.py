"""Cost of one transfer training: trainings per CPU-hour per task, a budget vs cheaper candidates.

Why: reoptimization transfer needs K reference runs plus every submission on several
seeds, so the cost of one training decides how many seeds fit. This measures the CPU
seconds of one ``train_policy`` on the ground-truth reward at a task's budget, in the
same process and interleaved with candidate budgets (``--candidate NAME=JSON`` of Budget
fields, repeatable; default ``CANDIDATE``: the PointMass/PointMaze standard budget before
issue 17), so load on a shared machine hits every arm alike. CPU time
(``time.process_time``, one torch thread) rather than wall time: on a loaded machine
wall time measures the neighbours. A warm-up training first pays the one-time imports
(torch._dynamo on the first optimizer), which a long evaluation pays once.

Each arm also reports the trained policy's mean ground-truth return (test variant, the
task's fixed evaluation episodes) and the random policy's: a cheaper budget must still learn.

Measured 2026-11-26 (``bench/results/transfer_cost.json``; reference seeds 1000-1004, one
process per task at nice 10 on the shared 2-core machine, load average 10-15), the old
standard (64 envs x 64 steps, batch 1024, 10 epochs, lr 3e-4) against candidates of the
same 300k steps unless named:

    old standard       PointMass  21.4 CPU-s (1.00x)  -51.97 +- 6.81; PointMaze  24.7 (1.00x)  -8.65 +- 0.10
    128x32_b2048_e5    PointMass   9.3 CPU-s (2.31x)  -55.48 +- 4.10; PointMaze  11.1 (2.21x)  -9.47 +- 0.67
    64x64_e5_200k      PointMass   8.2 CPU-s (2.62x)  -45.61 +- 3.44; PointMaze  11.8 (2.09x)  -9.03 +- 0.07
    128x64_b2048_e5    PointMass   8.9 CPU-s (2.39x)  -48.13 +- 2.22; PointMaze  11.0 (2.25x)  -8.65 +- 0.11

The bar: median CPU >= 2x cheaper and a mean test return over the 5 seeds no lower than
the old budget's mean minus its seed-to-seed standard deviation (PointMass -52.0 - 6.8,
PointMaze -8.65 - 0.10, from the cached protocol-2 references of the same seeds).
``128x64_b2048_e5`` (128 envs x 64 steps, batch 2048, 5 epochs, lr 1e-3) met it on both
tasks and is the standard budget from then on; more envs x fewer steps (256 x 16, 128 x
32) learned worse on PointMass, and 200k steps or 5 epochs at lr <= 7e-4 stayed 0.1-0.4
below the old PointMaze plateau (single-seed probes, see the log lines in the JSON's
``notes``).

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

CANDIDATE = {  # the PointMass/PointMaze standard budget before issue 17
    "n_envs": 64,
    "hyperparams": {"n_steps": 64, "batch_size": 1024, "n_epochs": 10, "learning_rate": 3e-4},
}


def main() -> None:
    from benchmark.metrics.reoptimize import evaluate_policy, evaluate_random, train_policy
    from benchmark.tasks import load_task

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", dest="tasks", action="append", default=None)
    parser.add_argument("--budget", default="standard")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1000, 1001])
    parser.add_argument(
        "--candidate", dest="candidates", action="append", default=None,
        help="NAME=JSON of Budget fields (repeatable; default: previous_standard=CANDIDATE)",
    )  # fmt: skip
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
        arms = {"budget": current}
        for arm, fields in _candidates(args.candidates).items():
            arms[arm] = _with_fields(current, fields)
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
        entry: dict = {"random_return": random_return, "seeds": args.seeds}
        for arm, rs in runs.items():
            cpu = statistics.median(r["cpu_s"] for r in rs)
            returns = [r["return"] for r in rs]
            entry[arm] = {
                "fields": dataclasses.asdict(arms[arm]),
                "median_cpu_s": cpu,
                "trainings_per_cpu_hour": 3600.0 / cpu,
                "mean_return": statistics.fmean(returns),
                "std_return": statistics.stdev(returns) if len(returns) > 1 else None,
                "speedup_cpu": entry.get("budget", {}).get("median_cpu_s", cpu) / cpu,
                "runs": rs,
            }
            print(f"{name} {arm}: {entry[arm]['trainings_per_cpu_hour']:.0f} trainings per "
                  f"CPU-hour ({entry[arm]['speedup_cpu']:.2f}x), return "
                  f"{entry[arm]['mean_return']:.2f} +- {entry[arm]['std_return'] or 0:.2f} "
                  f"(random {random_return:.1f})")  # fmt: skip
        report[name] = entry
    report["machine"] = {"platform": platform.platform(), "python": platform.python_version()}
    Path(args.out).write_text(json.dumps(report, indent=2))


def _candidates(specs: list[str] | None) -> dict[str, dict]:
    """``NAME=JSON`` arguments → {arm name: Budget fields}; none given: the default CANDIDATE."""
    if not specs:
        return {"previous_standard": CANDIDATE}
    arms = {}
    for spec in specs:
        name, sep, fields = spec.partition("=")
        if not sep or name in ("", "budget"):
            raise SystemExit(f"--candidate {spec!r}: write NAME=JSON, NAME not 'budget'")
        arms[name] = json.loads(fields)
    return arms


def _with_fields(budget, fields: dict):
    """The budget with ``fields`` replaced; ``hyperparams`` merged key by key."""
    fields = dict(fields)
    hyper = {**(budget.hyperparams or {}), **fields.pop("hyperparams", {})}
    return dataclasses.replace(budget, hyperparams=hyper, **fields)


if __name__ == "__main__":
    main()
