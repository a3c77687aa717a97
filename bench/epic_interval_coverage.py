"""Observed coverage of the 95% intervals of EPIC, STARC and DARD on the gridworld.

For each coverage distribution, ``--draws`` independent coverage samples at the
standard sizes (N_T = 1024 transitions, M = 256 mean-term samples; seeds 10 000 + i, so
none is a cached board sample) are drawn; on each, for each submission, the sample-based
distance to the ground truth and its 95% intervals are computed:

  * EPIC ``board``: what `epic_distance_with_ci` and the board report;
    EPIC ``rows_only``: transitions resampled as rows, mean terms held fixed (the board's
    interval before issue 18);
  * STARC ``board`` and DARD ``board``: what their ``unit_value`` reports.

The exact value comes from the task's exact D_S, D_A, D_T (`epic_distance_tabular`,
`starc_distance_tabular(canonicalization="epic", weights=D_T)`, `dard_distance_tabular`
with the train dynamics). Prints and writes to bench/results/epic_interval_coverage.json
the fraction of draws whose interval contains it (target: >= 0.90 for a 95% interval),
the mean width, and the estimator's mean, bias and draw-to-draw standard deviation.
Each cell's coverage over D draws has a binomial standard error of about
sqrt(0.95 · 0.05 / D) (0.022 at D = 100).

    .venv/bin/python bench/epic_interval_coverage.py --draws 100
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from benchmark.metrics import dard, epic, starc, stats
from benchmark.metrics.canonical import canonical_parts, canonicalize_many, validate_inputs
from benchmark.metrics.canonical_interval import (
    interval_from_inputs,
    sample_episodes_of,
    sample_groups,
    two_source_bootstrap,
)
from benchmark.metrics.dard_sampling import draw_successors, parts_on_draws
from benchmark.metrics.dynamics import transition_model
from benchmark.submissions import load_submission
from benchmark.tasks import load_task
from benchmark.tasks.tabular import reward_table

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ("preferences", "airl", "regression", "random")
Interval = tuple[float, float, float]  # estimate, low, high


def _dones_only_episodes(dones: torch.Tensor) -> np.ndarray:
    """Episodes split at dones alone (the board's rule before this bench's fix)."""
    d = dones.cpu().numpy().astype(bool)
    return np.concatenate([[0], np.cumsum(d[:-1])]).astype(np.int64)


def epic_intervals(reward, truth, sample, discount: float, seed: int) -> dict[str, Interval]:
    """EPIC's estimate with the interval before (episodes at dones, independent mean-term
    samples) and after (blocks of transitions and of mean-term samples: the board's now)."""
    inputs = validate_inputs([reward, truth], sample.transitions, sample.state_samples,
                             sample.action_samples, discount, None, None, "cpu")  # fmt: skip
    groups = torch.as_tensor(sample_groups(inputs.state_samples.shape[0]))
    parts = canonical_parts([reward, truth], ["reward", "truth"], inputs, groups)
    common = [x.cpu().numpy() for x in (parts.raw, parts.group_sums, parts.group_sizes,
                                        parts.at_s, parts.at_next)]  # fmt: skip
    dones = _dones_only_episodes(inputs.transitions.dones)
    before = two_source_bootstrap(*common, discount, episodes=dones, seed=seed)
    episodes = inputs.transitions.bootstrap_blocks()
    after = two_source_bootstrap(*common, discount, episodes=episodes, seed=seed,
                                 sample_episodes=sample_episodes_of(sample))  # fmt: skip
    return {"before": _triple(before), "after": _triple(after)}


def starc_intervals(reward, truth, sample, discount: float, seed: int) -> dict[str, Interval]:
    """STARC's estimate with the interval before (rows, percentile) and after (the board's)."""
    inputs = validate_inputs([reward, truth], sample.transitions, sample.state_samples,
                             sample.action_samples, discount, None, None, "cpu")  # fmt: skip
    canon, _, scales = canonicalize_many([reward, truth], ["reward", "truth"], inputs,
                                         include_constant=True, deduplicate=True)  # fmt: skip
    ca, cb = (c.cpu().numpy() for c in canon)
    value = starc.starc_from_canonical(ca, cb, scales=scales)
    rows = stats.bootstrap_paired_distance(ca, cb, None, stats.cosine_distance_batch, seed=seed)
    after = interval_from_inputs([reward, truth], ["reward", "truth"], inputs,
                                 statistic=starc.STATISTIC, seed=seed,
                                 sample_episodes=sample_episodes_of(sample))  # fmt: skip
    return {"before": (value, rows.low, rows.high), "after": _triple(after)}


def dard_intervals(reward, truth, sample, draws, discount: float, seed: int) -> dict[str, Interval]:
    """DARD's estimate with the interval before (rows, percentile) and after (the board's)."""
    parts = parts_on_draws([reward, truth], ["reward", "truth"], draws, discount,
                           torch.as_tensor(sample_groups(draws.actions.shape[0])))  # fmt: skip
    ca, cb = (c.cpu().numpy() for c in parts.canonical)
    rows = stats.bootstrap_pearson_distance(ca, cb, seed=seed)
    eps = sample.action_blocks.cpu().numpy()
    after = dard._interval(parts, draws, discount, None, eps, 1000, 0.95, seed)
    return {"before": _triple(rows), "after": _triple(after)}


def _triple(ci: stats.ConfidenceInterval) -> Interval:
    return (ci.estimate, ci.low, ci.high)


def exact_values(task, tables: dict[str, np.ndarray], coverage: str) -> dict[str, dict[str, float]]:
    """metric -> submission -> exact distance to the ground truth on ``coverage``."""
    tab = task.tabular
    c = tab.coverage[coverage]
    gt, gamma = tab.rewards["ground_truth"], task.discount
    out: dict[str, dict[str, float]] = {"epic": {}, "starc": {}, "dard": {}}
    for s, table in tables.items():
        out["epic"][s] = epic.epic_distance_tabular(
            table, gt, state_dist=c.state_dist, action_dist=c.action_dist,
            transition_dist=c.transition_dist, discount=gamma,
        )  # fmt: skip
        out["starc"][s] = starc.starc_distance_tabular(
            table, gt, discount=gamma, canonicalization="epic", state_dist=c.state_dist,
            action_dist=c.action_dist, weights=c.transition_dist,
        )  # fmt: skip
        out["dard"][s] = dard.dard_distance_tabular(
            table, gt, transition=tab.transitions["train"], action_dist=c.action_dist,
            transition_dist=c.transition_dist, discount=gamma,
        )  # fmt: skip
    return out


def summarize(metric: str, cov: str, sub: str, exact: float, draws: list[dict]) -> dict:
    """One cell: the estimator's mean, bias and sd, and each interval's coverage and width."""
    est = np.array([next(iter(d.values()))[0] for d in draws])
    row = {
        "metric": metric,
        "coverage": cov,
        "submission": sub,
        "exact": exact,
        "mean_estimate": float(est.mean()),
        "bias": float(est.mean() - exact),
        "sd_estimate": float(est.std(ddof=1)),
    }
    for name in draws[0]:
        _, lows, highs = np.array([d[name] for d in draws]).T
        row[f"coverage_{name}"] = float(np.mean((lows <= exact) & (exact <= highs)))
        row[f"mean_width_{name}"] = float(np.mean(highs - lows))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--n-transitions", type=int, default=1024)
    parser.add_argument("--n-samples", type=int, default=256)
    parser.add_argument("--coverage", action="append", default=None)
    parser.add_argument("--submission", action="append", default=None,
                        help="gridworld-<name>; default: " + ", ".join(SUBMISSIONS))  # fmt: skip
    parser.add_argument(
        "--metric", action="append", default=None, choices=("epic", "starc", "dard")
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench/results/epic_interval_coverage.json"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    task = load_task("gridworld")
    tab = task.tabular
    truth = task.reward("ground_truth")
    model = transition_model(task)
    subs = args.submission or [f"gridworld-{s}" for s in SUBMISSIONS]
    metrics = args.metric or ["epic", "starc", "dard"]
    rewards = {s: load_submission(ROOT / "submissions" / s).load_reward() for s in subs}
    tables = {s: reward_table(r, tab.n_states, tab.n_actions) for s, r in rewards.items()}
    sample_based: dict[str, Callable] = {"epic": epic_intervals, "starc": starc_intervals}
    results = []
    start = time.perf_counter()
    for cov in args.coverage or task.coverage_names:
        exact = exact_values(task, tables, cov)
        draws: dict[tuple[str, str], list[dict]] = {(m, s): [] for m in metrics for s in subs}
        for i in range(args.draws):
            sample = task.coverage(cov).sample(
                args.n_transitions, args.n_samples, 10_000 + i, cache=False
            )
            if "dard" in metrics:  # dard.unit_value's draws: the coverage's D_A, seeded alike
                succ = draw_successors(sample.transitions, sample.action_samples, model,
                                       seed=10_000 + i, device="cpu")  # fmt: skip
            for s in subs:
                for m in metrics:
                    args_m = (sample, succ) if m == "dard" else (sample,)
                    fn = dard_intervals if m == "dard" else sample_based[m]
                    draws[m, s].append(fn(rewards[s], truth, *args_m, task.discount, seed=i))
        for m in metrics:
            for s in subs:
                row = summarize(m, cov, s, exact[m][s], draws[m, s])
                results.append(row)
                cells = [k[len("coverage_") :] for k in row if k.startswith("coverage_")]
                print(
                    f"{m:<5} {cov:<8} {s:<22} exact {row['exact']:.4f} mean "
                    f"{row['mean_estimate']:.4f} sd {row['sd_estimate']:.4f} | coverage: "
                    + ", ".join(f"{c} {row['coverage_' + c]:.2f}" for c in cells),
                    flush=True,
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "task": "gridworld",
                "n_transitions": args.n_transitions,
                "n_samples": args.n_samples,
                "draws": args.draws,
                "rows": results,
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
