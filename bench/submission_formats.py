"""Submission formats: load time and forward throughput of each, against the live net.

In one run, for one trained-size reward net (BasicRewardNet 128x128 on a task's spaces):
the time to load it from each safe format (state-dict via safetensors, torch-export .pt2)
and from a trusted imitation pickle, and the median forward time (variants interleaved) on a batch of coverage rows
through ``Submission.load_reward`` (which casts inputs and runs under no_grad). Reports
ratios to the live module's own forward, i.e. the overhead a format adds to every
metric evaluation. Results go to ``bench/results/submission_formats.json``.

Measured on the shared 2-core dev box (load average ~11): load times are stable between
runs (torch-export ~210-330 ms, state-dict ~1 ms, pickle ~0.5 ms); forward ratios were
not (the same architecture ran 0.1x-8x the live net from run to run, while the live net
against itself stayed at ~1.0x), so rerun on a quiet machine before quoting them.

    .venv/bin/python bench/submission_formats.py [--task pointmass] [--batch 4096] [--repeats 50]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from imitation.rewards.reward_nets import BasicRewardNet

from benchmark.submissions import save_model, write_submission
from benchmark.tasks import load_task

FORMATS = ("state-dict", "torch-export", "imitation-pickle")
RESULTS = Path(__file__).resolve().parent / "results" / "submission_formats.json"


def _best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="pointmass")
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)

    task = load_task(args.task)
    net = BasicRewardNet(
        task.observation_space, task.action_space, use_next_state=True, hid_sizes=(128, 128)
    ).eval()
    t = task.coverage(task.coverage_names[0]).sample(args.batch, 16, 0).transitions
    rows = tuple(x.float() for x in (t.obs, t.acts, t.next_obs, t.dones))

    def live() -> None:
        with torch.no_grad():
            net(*rows)

    results: dict[str, dict[str, float]] = {}
    forwards = {"live": live}
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in FORMATS:
            folder = Path(tmp) / f"bench-{fmt}"
            if fmt == "imitation-pickle":
                folder.mkdir()
                torch.save(net, folder / "model.pt")
                model = {"format": fmt, "file": "model.pt"}
            else:
                model = save_model(net, folder, task, prefer=fmt)
            sub = write_submission(
                folder,
                {"name": folder.name, "task": args.task, "method": "bench", "authors": ["bench"],
                 "description": "benchmark", "model": model},
            )  # fmt: skip
            load_s = _best_time(lambda s=sub: s.load_reward(trust_pickle=True), 5)
            reward = sub.load_reward(trust_pickle=True)
            with torch.no_grad():
                torch.testing.assert_close(reward(*rows), net(*rows))
            forwards[fmt] = lambda r=reward: r(*rows)
            results[fmt] = {"load_s": load_s, "file_bytes": sub.model.file.stat().st_size}
    forwards["live-again"] = live  # the same call twice: the noise floor of the ratios
    # Interleave the variants repeat by repeat, so load on a shared machine hits all alike.
    times: dict[str, list[float]] = {key: [] for key in forwards}
    for fn in forwards.values():
        fn()  # warm-up
    for _ in range(args.repeats):
        for key, fn in forwards.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    results["live"], results["live-again"] = {}, {}
    for key, values in times.items():
        results[key]["forward_s"] = statistics.median(values)
    for fmt in (*FORMATS, "live-again"):
        results[fmt]["forward_ratio_to_live"] = (
            results[fmt]["forward_s"] / results["live"]["forward_s"]
        )

    print(
        f"{args.task}, BasicRewardNet 128x128, batch {args.batch}, 1 thread, median of {args.repeats} interleaved"
    )
    print(f"  live net forward (median) {results['live']['forward_s'] * 1e3:8.2f} ms")
    again = results["live-again"]["forward_ratio_to_live"]
    print(f"  live net again (noise)    {again:.2f}x live")
    for fmt in FORMATS:
        r = results[fmt]
        print(
            f"  {fmt:<16} load {r['load_s'] * 1e3:8.1f} ms  forward {r['forward_s'] * 1e3:8.2f} ms"
            f"  ({r['forward_ratio_to_live']:.2f}x live)  file {r['file_bytes'] / 1024:.0f} KiB"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "task": args.task,
        "batch": args.batch,
        "repeats": args.repeats,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "results": results,
    }
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
