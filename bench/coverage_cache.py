"""Coverage sampling: generating a CoverageSample vs loading it from the on-disk cache.

For each task and coverage, in one run: the wall time to draw a CoverageSample of
N transitions and M state/action samples (rollouts in the train env), and the time to
load the same sample back from the safetensors cache. Reports the ratio
generate / load, which is what `epic-bench coverage build` buys every later evaluation,
and checks the loaded sample equals the generated one. Results go to
``bench/results/coverage_cache.json``.

    .venv/bin/python bench/coverage_cache.py [--n-transitions 4096] [--n-samples 4096] [--task gridworld ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch
from tqdm import tqdm

RESULTS = Path(__file__).resolve().parent / "results" / "coverage_cache.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-transitions", type=int, default=4096)
    parser.add_argument("--n-samples", type=int, default=4096)
    parser.add_argument(
        "--task", action="append", default=None, help="repeatable; default all tasks"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(1)
    cache = tempfile.mkdtemp(prefix="epic-bench-cache-")
    os.environ["EPIC_BENCH_CACHE"] = cache  # a fresh cache: the first call must generate
    from benchmark.tasks import list_tasks, load_task

    tasks = [load_task(name) for name in (args.task or list_tasks())]
    units = [(t, c) for t in tasks for c in t.coverage_names]
    rows = []
    for task, name in tqdm(units, desc="coverage", unit="sample"):
        coverage = task.coverage(name)
        start = time.perf_counter()
        generated = coverage.sample(args.n_transitions, args.n_samples, args.seed)
        generate_s = time.perf_counter() - start
        start = time.perf_counter()
        loaded = coverage.sample(args.n_transitions, args.n_samples, args.seed)
        load_s = time.perf_counter() - start
        same = torch.equal(generated.transitions.obs, loaded.transitions.obs) and torch.equal(
            generated.state_samples, loaded.state_samples
        )
        rows.append(
            {
                "task": task.name,
                "coverage": name,
                "generate_s": round(generate_s, 4),
                "load_s": round(load_s, 5),
                "generate_over_load": round(generate_s / load_s, 1),
                "transitions_per_s": round((args.n_transitions + args.n_samples) / generate_s),
                "identical": same,
            }
        )
    for r in rows:
        print(
            f"{r['task']:>12} {r['coverage']:>8}: generate {r['generate_s']:7.3f} s "
            f"({r['transitions_per_s']:>8} transitions/s), load {r['load_s'] * 1e3:7.2f} ms, "
            f"ratio {r['generate_over_load']:>8.1f}x, identical={r['identical']}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "n_transitions": args.n_transitions,
        "n_samples": args.n_samples,
        "seed": args.seed,
        "machine": platform.platform(),
        "torch_threads": 1,
        "rows": rows,
    }
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
