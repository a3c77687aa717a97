"""What running a submission in a contained worker costs EPIC, against the same model in-process.

In one run, alternating repetitions (so a shared machine's drift hits both alike), on the
same coverage sample: ``epic_distance`` of a submission to the ground truth with

  (a) in-process: ``Submission.load_reward()`` (an nn.Module in this process);
  (b) contained:  ``ContainedReward`` (every forward sent to a warm worker process as raw
      float32 bytes, float64 inputs as float64; rewards sent back the same way).

Both use one torch thread. Prints the median seconds of each and the ratio (b)/(a), and
writes JSON to bench/results/contained_overhead.json. Worker start-up (once per
submission per evaluate run) is reported separately.

    .venv/bin/python bench/contained_overhead.py --submission submissions/pointmass-regression
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submission", default="submissions/pointmass-regression")
    parser.add_argument("--coverage", default="random")
    parser.add_argument("--n-transitions", type=int, default=1024)
    parser.add_argument("--n-samples", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import torch

    from benchmark.metrics.epic import epic_distance
    from benchmark.submissions import load_submission
    from benchmark.submissions.contained import ContainedReward, WorkerLimits
    from benchmark.tasks import load_task

    torch.set_num_threads(1)
    sub = load_submission(args.submission)
    task = load_task(sub.task)
    sample = task.coverage(args.coverage).sample(args.n_transitions, args.n_samples, 0)
    truth = task.reward("ground_truth")
    local = sub.load_reward()
    contained = ContainedReward(sub, WorkerLimits(threads=1))
    start = time.perf_counter()
    contained.start()
    startup = time.perf_counter() - start

    def epic(reward) -> tuple[float, float]:
        t0 = time.perf_counter()
        value = epic_distance(reward, truth, transitions=sample.transitions,
                              state_samples=sample.state_samples,
                              action_samples=sample.action_samples, discount=task.discount)  # fmt: skip
        return time.perf_counter() - t0, value

    times: dict[str, list[float]] = {"in_process": [], "contained": []}
    values = {}
    for _ in range(args.repeats):
        for name, reward in (("in_process", local), ("contained", contained)):
            seconds, values[name] = epic(reward)
            times[name].append(seconds)
    contained.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.node(),
        "submission": sub.name,
        "coverage": args.coverage,
        "n_transitions": args.n_transitions,
        "n_samples": args.n_samples,
        "median_s": med,
        "ratio_contained_over_in_process": med["contained"] / med["in_process"],
        "worker_startup_s": startup,
        "epic": values,
    }
    print(
        f"EPIC {sub.name} N_T={args.n_transitions} M={args.n_samples}: in-process "
        f"{med['in_process']:.3f} s, contained {med['contained']:.3f} s, ratio "
        f"{result['ratio_contained_over_in_process']:.2f}x; worker start-up {startup:.1f} s; "
        f"EPIC equal: {values['in_process'] == values['contained']}"
    )
    out = Path(__file__).parent / "results" / "contained_overhead.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
