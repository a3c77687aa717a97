"""What the evaluation machinery costs on top of the metric computations it runs.

All in one run, on the same gridworld grid (task-reward submissions, EPIC, small samples):

  (a) bare:   `epic_distance_with_ci` called directly for every unit on the same
              coverage samples (the work that cannot be avoided);
  (b) local:  `evaluation.evaluate` with the local executor, no W&B: grid, per-unit
              loading, provenance rows, Parquet batches (target (b)/(a) <= 1.2);
  (c) wandb:  the same with offline W&B, one run per unit;
  (d) ray:    the same with the Ray executor on a local instance (start-up included;
              skipped when Ray is not installed);
  (e) store:  writing N rows through `make_row` + `write_batch` against a bare
              `pyarrow.parquet.write_table` of the same columns.

Prints ratios and writes JSON to bench/results/evaluate_overhead.json.

    .venv/bin/python bench/evaluate_overhead.py --seeds 4
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--n-transitions", type=int, default=1024)
    parser.add_argument("--n-samples", type=int, default=256)
    parser.add_argument("--store-rows", type=int, default=20000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="epic-bench-bench-"))
    os.environ["EPIC_BENCH_CACHE"] = str(work / "cache")

    from benchmark import evaluation as ev
    from benchmark.metrics.epic import epic_distance_with_ci
    from benchmark.results import SCHEMA, make_row, write_batch
    from benchmark.submissions import load_submission, write_submission
    from benchmark.tasks import load_task

    for name, reward in (("gw-nocost", "no_control_cost"), ("gw-opposite", "opposite"),
                         ("gw-shaped", "shaped")):  # fmt: skip
        write_submission(work / "subs" / name, {
            "name": name, "task": "gridworld", "method": "task-reward", "authors": ["bench"],
            "description": reward, "model": {"format": "task-reward", "reward": reward}})  # fmt: skip
    subs = ev.select_submissions(root=work / "subs")
    units = ev.expand_grid(subs, metrics=["epic"], seeds=args.seeds,
                           n_transitions=args.n_transitions, n_samples=args.n_samples)  # fmt: skip
    # Warm the coverage cache and module caches so every variant sees the same state.
    ev.evaluate(units, results_dir=work / "warm", wandb=False, progress=False)
    task = load_task("gridworld")
    truth = task.reward("ground_truth")

    def bare() -> None:
        for u in units:
            reward = load_submission(u.submission_path).load_reward()
            s = task.coverage(u.coverage).sample(u.n_transitions, u.n_samples, u.seed)
            epic_distance_with_ci(reward, truth, transitions=s.transitions,
                                  state_samples=s.state_samples, action_samples=s.action_samples,
                                  discount=task.discount, seed=u.seed)  # fmt: skip

    def timed(fn) -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    times = {"bare": timed(bare)}
    times["local"] = timed(
        lambda: ev.evaluate(units, results_dir=work / "local", wandb=False, progress=False)
    )
    times["wandb"] = timed(lambda: ev.evaluate(units, results_dir=work / "wandb", wandb=True,
                                               wandb_dir=work / "wandb-runs", progress=False))  # fmt: skip
    try:
        import ray  # noqa: F401

        times["ray"] = timed(lambda: ev.evaluate(units, results_dir=work / "ray", executor="ray",
                                                 wandb=False, progress=False))  # fmt: skip
    except ImportError:
        pass

    rows = [make_row(run_id="b", submission="s", submission_sha256="0" * 64, method="m",
                     task="gridworld", task_version="1", metric="epic", coverage="random",
                     seed=i, value=0.1) for i in range(args.store_rows)]  # fmt: skip
    columns = {n: [r[n] for r in rows] for n in SCHEMA.names}
    t_raw = timed(lambda: pq.write_table(pa.table(columns, schema=SCHEMA), work / "raw.parquet"))
    t_store = timed(lambda: write_batch(rows, work / "store", name="batch"))

    report = {
        "timestamp": datetime.now(UTC).isoformat(),
        "machine": platform.platform(),
        "units": len(units),
        "n_transitions": args.n_transitions,
        "n_samples": args.n_samples,
        "seconds": times,
        "ratio_local_over_bare": times["local"] / times["bare"],
        "ratio_wandb_over_local": times["wandb"] / times["local"],
        "ratio_ray_over_local": times["ray"] / times["local"] if "ray" in times else None,
        "store_rows": args.store_rows,
        "ratio_store_write_over_raw_pyarrow": t_store / t_raw,
    }
    for key, value in report.items():
        print(f"{key:>36}: {value}")
    out = Path(__file__).parent / "results" / "evaluate_overhead.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
