"""Wall time of one submission's full standard evaluation, and where it goes.

One submission per task (default ``<task>-regression``, an imitation BasicRewardNet, so
every metric runs a real network) is evaluated on the standard grid that
``epic-bench evaluate`` builds (`benchmark.evaluation.expand_grid`): every metric
(EPIC, NPEC, ERC, transfer, transfer_train), every coverage, 3 seeds, budget
"standard", N_T = 1024, M = 256. Each unit runs through `run_unit`, the code path of
``epic-bench evaluate``, without the store and W&B.

From scratch, in a fresh cache folder (``--cache``; default a new temporary one), in
phases timed separately:

  shared    what every submission of the run reuses: coverage samples and ERC episodes
            per (task, coverage, seed) and the transfer references (R_random, R_gt per
            seed and variant: one random evaluation and one ground-truth training each);
            the canonicalized ground truth is computed by the first EPIC unit of each
            (task, coverage, seed) and cached (`evaluation.unit._canonical_truth`);
  units     the units themselves, each with wall time and CPU time (user + system of
            this process and its children).

The machine is shared: wall times move with other users' load, so the JSON records the
load (``/proc/loadavg``) before and after, CPU seconds beside wall seconds, and the
totals both ways. A loaded machine cannot afford the whole grid: ``--measure-seeds K``
runs only the seeds < K of every (metric, coverage) and counts the other seeds' units at
their task and metric's measured mean (the shared phase then covers the measured seeds).
On MuJoCo one transfer training is many minutes: ``--transfer-timesteps T`` shortens each
measured training to T steps of its budget's algorithm and hyperparameters and scales its
training time linearly to the full budget (SAC's cost per step is constant after its
``learning_starts``; evaluation is timed apart and not scaled; labelled in the JSON).

    .venv/bin/python bench/standard_eval.py                        # gridworld, pointmass, pointmaze
    .venv/bin/python bench/standard_eval.py --tasks halfcheetah hopper --no-transfer \\
        --output bench/results/standard_eval_mujoco.json
    .venv/bin/python bench/standard_eval.py --device cuda ...      # the CUDA path
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import torch

from benchmark.evaluation import expand_grid, run_unit
from benchmark.evaluation.grid import METRICS, cached_task
from benchmark.metrics.registry import DISTANCE_METRICS, REGISTRY
from benchmark.submissions import load_submission

POINT_TASKS = ("gridworld", "pointmass", "pointmaze")
# Transfer metric -> the task variant its policy is trained in (the registry's params).
TRANSFER_VARIANTS = {n: s.params["variant"] for n, s in REGISTRY.items() if s.kind == "transfer"}


def cpu_seconds() -> float:
    """User + system CPU time of this process and its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def load() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


class Clock:
    """Wall and CPU seconds of a block: ``with clock: ...`` then ``clock.wall, clock.cpu``."""

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = cpu_seconds() - self._cpu


def shared_phase(task_name, units, transfer, device, timesteps=None) -> list[dict]:
    """Coverage samples, ERC episodes and transfer references of one task, timed."""
    from benchmark.metrics.transfer import reference_returns

    task = cached_task(task_name)
    rows = []
    for key in sorted({(u.metric, u.coverage, u.seed, u.n_transitions, u.n_samples)
                       for u in units if u.metric in DISTANCE_METRICS}):  # fmt: skip
        metric, coverage, seed, nt, m = key
        episodes = REGISTRY[metric].needs == "episodes"
        what = "episodes" if episodes else "coverage_sample"
        if any(r["what"] == what and r["coverage"] == coverage and r["seed"] == seed
               for r in rows):  # fmt: skip
            continue
        with Clock() as c:
            if episodes:
                task.coverage(coverage).episodes(nt, seed)
            else:
                task.coverage(coverage).sample(nt, m, seed)
        rows.append(dict(task=task_name, what=what, coverage=coverage, seed=seed,
                         wall_s=c.wall, cpu_s=c.cpu))  # fmt: skip
    if transfer:
        budget = next(u.budget for u in units if u.metric in TRANSFER_VARIANTS)
        for variant in sorted({TRANSFER_VARIANTS[u.metric] for u in units
                               if u.metric in TRANSFER_VARIANTS}):  # fmt: skip
            for seed in sorted({u.seed for u in units if u.metric in TRANSFER_VARIANTS}):
                row = dict(task=task_name, what=f"transfer_refs_{variant}", coverage="", seed=seed)
                if timesteps:
                    row.update(shortened_training(task, None, budget, seed, variant, timesteps,
                                                  device))  # fmt: skip
                else:
                    with Clock() as c:
                        reference_returns(task, budget, seed=seed, device=device, variant=variant)
                    row.update(wall_s=c.wall, cpu_s=c.cpu)
                rows.append(row)
    return rows


def shortened_training(task, reward, budget_name, seed, variant, timesteps, device) -> dict:
    """One training of ``timesteps`` steps (the budget's algorithm and hyperparameters) and
    its evaluation, timed apart: only the training is scaled to the full budget.

    ``reward`` None trains on the ground truth and also evaluates the random policy (the
    transfer references' work).
    """
    from benchmark.metrics.reoptimize import evaluate_policy, evaluate_random, train_policy

    full = task.budgets[budget_name]
    short = replace(full, total_timesteps=timesteps)
    with Clock() as train:
        model = train_policy(task, reward, short, seed=seed, device=device, variant=variant)
    with Clock() as evaluation:
        evaluate_policy(task, model, short, seed=seed, device=device, variant=variant)
        if reward is None:
            evaluate_random(task, short, seed=seed, device=device, variant=variant)
    scale = full.total_timesteps / timesteps
    return dict(wall_s=train.wall * scale + evaluation.wall,
                cpu_s=train.cpu * scale + evaluation.cpu,
                measured_train_wall_s=train.wall, measured_eval_wall_s=evaluation.wall,
                timesteps=timesteps, full_timesteps=full.total_timesteps,
                extrapolated="training time linear in timesteps")  # fmt: skip


def summarize(unit_rows, shared_rows, shared_scale: float = 1.0) -> dict:
    """Per task x metric: units, measured seconds, and the total with extrapolations.

    ``shared_scale``: seeds of the grid / seeds measured (shared work is per seed).
    """
    table = {}
    for row in unit_rows:
        key = f"{row['task']}/{row['metric']}"
        entry = table.setdefault(key, {"units": 0, "measured_units": 0, "wall_s": 0.0,
                                       "cpu_s": 0.0, "per_unit_wall_s": [],
                                       "per_unit_cpu_s": []})  # fmt: skip
        entry["units"] += 1
        if row.get("measured", True):
            entry["measured_units"] += 1
            entry["per_unit_wall_s"].append(row["wall_s"])
            entry["per_unit_cpu_s"].append(row["cpu_s"])
    for entry in table.values():
        for kind in ("wall", "cpu"):
            per = entry[f"per_unit_{kind}_s"]
            entry[f"median_unit_{kind}_s"] = statistics.median(per)
            # Units not measured (MuJoCo transfer seeds) count at the measured mean.
            entry[f"{kind}_s"] = sum(per) / len(per) * entry["units"]
            del entry[f"per_unit_{kind}_s"]
    shared = {}
    for row in shared_rows:
        key = f"{row['task']}/{row['what']}"
        s = shared.setdefault(key, {"count": 0, "wall_s": 0.0, "cpu_s": 0.0})
        s["count"] += shared_scale
        s["wall_s"] += row["wall_s"] * shared_scale
        s["cpu_s"] += row["cpu_s"] * shared_scale
    totals = {
        kind: {
            "units": sum(e[f"{kind}_s"] for e in table.values()),
            "shared": sum(s[f"{kind}_s"] for s in shared.values()),
        }
        for kind in ("wall", "cpu")
    }
    for t in totals.values():
        t["from_scratch"] = t["units"] + t["shared"]
    return {"per_metric": table, "shared": shared, "totals_s": totals}


def print_summary(summary: dict) -> None:
    print(f"\n{'task/metric':<28}{'units':>6}{'wall s':>10}{'CPU s':>10}{'median unit wall s':>20}")
    for key, e in summary["per_metric"].items():
        note = "" if e["measured_units"] == e["units"] else f"  ({e['measured_units']} measured)"
        print(f"{key:<28}{e['units']:>6}{e['wall_s']:>10.1f}{e['cpu_s']:>10.1f}"
              f"{e['median_unit_wall_s']:>20.2f}{note}")  # fmt: skip
    for key, s in summary["shared"].items():
        print(f"{'shared ' + key:<34}{s['count']:>6.0f}{s['wall_s']:>10.1f}{s['cpu_s']:>10.1f}")
    for kind, t in summary["totals_s"].items():
        print(f"total {kind}: units {t['units'] / 60:.1f} min + shared {t['shared'] / 60:.1f} min"
              f" = {t['from_scratch'] / 60:.1f} min from scratch")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", nargs="+", default=list(POINT_TASKS))
    parser.add_argument("--method", default="regression", help="submission <task>-<method>")
    parser.add_argument("--metrics", nargs="+", default=list(METRICS))
    parser.add_argument("--no-transfer", action="store_true", help="distances only")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", default="standard")
    parser.add_argument("--measure-seeds", type=int, default=None,
                        help="run only seeds < K; count the rest at their metric's mean")  # fmt: skip
    parser.add_argument("--transfer-timesteps", type=int, default=None,
                        help="shorten each measured training to this many steps, extrapolate")  # fmt: skip
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=None, help="default: a fresh temp folder")
    parser.add_argument("--output", type=Path,
                        default=Path(__file__).parent / "results" / "standard_eval.json")  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cache = args.cache or Path(tempfile.mkdtemp(prefix="epic-bench-standard-eval-"))
    os.environ["EPIC_BENCH_CACHE"] = str(cache)  # read at each use (benchmark.paths)
    metrics = [m for m in args.metrics if not (args.no_transfer and m in TRANSFER_VARIANTS)]
    result = {
        "benchmark": "standard_eval",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "cache": str(cache),
        "metrics": metrics,
        "device": args.device,
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "load_before": load(),
        "units": [],
        "shared": [],
    }
    whole = Clock().__enter__()

    def write() -> None:
        scale = args.seeds / min(args.seeds, args.measure_seeds or args.seeds)
        result["shared_scale"] = scale
        result["summary"] = (
            summarize(result["units"], result["shared"], scale) if result["units"] else {}
        )
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n")

    for task_name in args.tasks:
        sub = load_submission(Path("submissions") / f"{task_name}-{args.method}")
        units = expand_grid([sub], tasks=[task_name], metrics=metrics, seeds=args.seeds,
                            budget=args.budget)  # fmt: skip
        print(f"{task_name}: {sub.name}, {len(units)} units", flush=True)
        measured = [u for u in units if args.measure_seeds is None or u.seed < args.measure_seeds]
        result["shared"] += shared_phase(task_name, measured, not args.no_transfer, args.device,
                                         args.transfer_timesteps)  # fmt: skip
        write()
        for unit in units:
            row = dict(task=unit.task, metric=unit.metric, coverage=unit.coverage,
                       seed=unit.seed)  # fmt: skip
            if args.measure_seeds is not None and unit.seed >= args.measure_seeds:
                result["units"].append({**row, "measured": False})
                continue
            if unit.metric in TRANSFER_VARIANTS:
                if args.transfer_timesteps:
                    from benchmark.evaluation.unit import _submission_reward

                    reward = _submission_reward(unit.submission_path, unit.submission_sha256,
                                                args.device, False)  # fmt: skip
                    row.update(shortened_training(
                        cached_task(unit.task), reward, unit.budget, unit.seed,
                        TRANSFER_VARIANTS[unit.metric], args.transfer_timesteps, args.device))  # fmt: skip
                    result["units"].append(row)
                    print(f"  {unit.label}: {row['wall_s']:.1f} s (extrapolated)", flush=True)
                    write()
                    continue
            with Clock() as c:
                out = run_unit(unit, device=args.device)
            status = out[0]["status"]
            if status != "ok":
                raise RuntimeError(f"{unit.label} failed: {out[0]['error']}")
            row.update(wall_s=c.wall, cpu_s=c.cpu, value=out[0]["value"])
            result["units"].append(row)
            print(f"  {unit.label}: {c.wall:.1f} s wall, {c.cpu:.1f} s CPU", flush=True)
            write()
    whole.__exit__()
    result["elapsed_s"] = {"wall": whole.wall, "cpu": whole.cpu}
    result["load_after"] = load()
    write()
    print_summary(result["summary"])
    print(f"load average before {result['load_before']}, after {result['load_after']}")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
