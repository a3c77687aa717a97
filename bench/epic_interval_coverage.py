"""Observed coverage of EPIC's 95% interval on the gridworld, against the exact value.

For each coverage distribution, ``--draws`` independent coverage samples at the
standard sizes (N_T = 1024 transitions, M = 256 mean-term samples; seeds 10 000 + i, so
none is a cached board sample) are drawn; on each, for each submission, the
sample-based EPIC to the ground truth and three 95% intervals are computed:

  * ``two_source_basic``: episodes and mean-term samples resampled, basic bootstrap
    (what `epic_distance_with_ci` and the board report);
  * ``two_source_percentile``: the same replicates, percentile interval;
  * ``rows_only``: transitions resampled as rows with the mean terms held fixed (the
    board's interval before issue 18).

The exact value is `epic_distance_tabular` on the task's exact D_S, D_A, D_T. Prints
and writes to bench/results/epic_interval_coverage.json the fraction of draws whose
interval contains it (target: >= 0.90 for a 95% interval), the mean width, and the
estimator's mean, bias and draw-to-draw standard deviation.

    .venv/bin/python bench/epic_interval_coverage.py --draws 100
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from benchmark.metrics import epic, stats
from benchmark.metrics.canonical import canonical_parts, validate_inputs
from benchmark.metrics.epic_interval import episode_ids, sample_groups, two_source_bootstrap
from benchmark.submissions import load_submission
from benchmark.tasks import load_task
from benchmark.tasks.tabular import reward_table

ROOT = Path(__file__).resolve().parent.parent
INTERVALS = ("two_source_basic", "two_source_percentile", "rows_only")


def intervals(reward, truth, sample, discount: float, seed: int) -> dict[str, tuple]:
    """The estimate and the three intervals on one coverage sample (one canonicalization)."""
    inputs = validate_inputs([reward, truth], sample.transitions, sample.state_samples,
                             sample.action_samples, discount, None, None, "cpu")  # fmt: skip
    groups = torch.as_tensor(sample_groups(inputs.state_samples.shape[0]))
    parts = canonical_parts([reward, truth], ["reward", "truth"], inputs, groups)
    common = [x.cpu().numpy() for x in (parts.raw, parts.group_sums, parts.group_sizes,
                                        parts.at_s, parts.at_next)]  # fmt: skip
    eps = episode_ids(inputs.transitions.dones.cpu().numpy())
    basic = two_source_bootstrap(*common, discount, episodes=eps, seed=seed)
    pct = two_source_bootstrap(*common, discount, episodes=eps, seed=seed, interval="percentile")
    ca, cb = (c.cpu().numpy() for c in parts.canonical)
    rows = stats.bootstrap_pearson_distance(ca, cb, seed=seed)
    return {
        "estimate": basic.estimate,
        "two_source_basic": (basic.low, basic.high),
        "two_source_percentile": (pct.low, pct.high),
        "rows_only": (rows.low, rows.high),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--n-transitions", type=int, default=1024)
    parser.add_argument("--n-samples", type=int, default=256)
    parser.add_argument("--coverage", action="append", default=None)
    parser.add_argument("--submission", action="append", default=None)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench/results/epic_interval_coverage.json"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    task = load_task("gridworld")
    tab = task.tabular
    truth = task.reward("ground_truth")
    subs = args.submission or ["gridworld-preferences", "gridworld-regression"]
    rewards = {s: load_submission(ROOT / "submissions" / s).load_reward() for s in subs}
    tables = {s: reward_table(r, tab.n_states, tab.n_actions) for s, r in rewards.items()}
    results = []
    start = time.perf_counter()
    for cov in args.coverage or task.coverage_names:
        c = tab.coverage[cov]
        exact = {
            s: epic.epic_distance_tabular(
                tables[s],
                tab.rewards["ground_truth"],
                state_dist=c.state_dist,
                action_dist=c.action_dist,
                transition_dist=c.transition_dist,
                discount=task.discount,
            )  # fmt: skip
            for s in subs
        }
        draws: dict[str, list[dict]] = {s: [] for s in subs}
        for i in range(args.draws):
            sample = task.coverage(cov).sample(
                args.n_transitions, args.n_samples, 10_000 + i, cache=False
            )
            for s in subs:
                draws[s].append(intervals(rewards[s], truth, sample, task.discount, seed=i))
        for s in subs:
            est = np.array([d["estimate"] for d in draws[s]])
            row = {
                "coverage": cov,
                "submission": s,
                "exact": exact[s],
                "mean_estimate": float(est.mean()),
                "bias": float(est.mean() - exact[s]),
                "sd_estimate": float(est.std(ddof=1)),
            }
            for name in INTERVALS:
                lows, highs = np.array([d[name] for d in draws[s]]).T
                row[f"coverage_{name}"] = float(np.mean((lows <= exact[s]) & (exact[s] <= highs)))
                row[f"mean_width_{name}"] = float(np.mean(highs - lows))
            results.append(row)
            print(
                f"{cov:<8} {s:<24} exact {exact[s]:.4f} mean {row['mean_estimate']:.4f} "
                f"sd {row['sd_estimate']:.4f} | coverage: "
                + ", ".join(f"{n} {row[f'coverage_{n}']:.2f}" for n in INTERVALS),
                flush=True,
            )
    overall = {name: float(np.mean([r[f"coverage_{name}"] for r in results])) for name in INTERVALS}
    print("overall coverage:", ", ".join(f"{k} {v:.3f}" for k, v in overall.items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "task": "gridworld",
                "n_transitions": args.n_transitions,
                "n_samples": args.n_samples,
                "draws": args.draws,
                "rows": results,
                "overall_coverage": overall,
                "wall_time_s": time.perf_counter() - start,
                "machine": platform.platform(),
                "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
