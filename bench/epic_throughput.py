"""Throughput of the sample-based EPIC estimator against the forward passes it cannot avoid.

An MLP reward (2 hidden layers of 256, HalfCheetah-sized obs 18 / acts 6) is compared
with a second MLP, N_T transitions and M mean-term samples. Timed in one run,
interleaved over repetitions (the machine is shared), medians reported:

  (a) bare:       2·N_T·M forward passes of each reward in batches of ``max_batch`` rows
                  on prebuilt inputs — the naive evaluation count of the mean terms;
  (b) contiguous: `epic_distance` on trajectories with next_obs[t] = obs[t+1], where
                  deduplication needs only ~N_T distinct states (target (b)/(a) <= 0.55);
  (c) unrelated:  `epic_distance` on independent (s, s') pairs, 2·N_T distinct states:
                  everything beyond (a) is overhead (target (c)/(a) <= 1.05);
  (d) naive loop: per transition, evaluate both rewards at the transition and on M rows
                  for s and for s'; a few hundred transitions timed, extrapolated to N_T.

Each repetition runs the four in a rotated order. On a shared machine the ratio to (a)
also moves with the speed of the forward passes between separately timed runs, so
(b) and (c) also record, inside the same call, the rows EPIC fed the rewards (work ratio
to (a), exact) and the share of EPIC's wall time spent outside the reward forwards (its
own overhead: sampling, dedup, tiling, sums), and every variant records its CPU seconds
(ratios of those are what a loaded machine cannot distort at one thread) and its minor page
faults: a forward pass that re-faults its activations' pages each batch (glibc returning
freed memory to the OS) runs ~25% slower, which is what separated EPIC from the bare passes
before `benchmark.metrics.host_memory` (set before anything is timed, so (a) gets it too;
``EPIC_BENCH_DEFAULT_MALLOC=1`` measures glibc's defaults). Prints the ratios and writes
JSON to bench/results/epic_throughput.json (``--device cuda``: epic_throughput_cuda.json).

    .venv/bin/python bench/epic_throughput.py --n-transitions 1024 --n-samples 1024
    .venv/bin/python bench/epic_throughput.py --device cuda --n-transitions 4096 --n-samples 4096
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from benchmark.data import Transitions
from benchmark.metrics.epic import epic_distance
from benchmark.metrics.host_memory import keep_freed_memory
from benchmark.metrics.reward_evaluation import resolve_max_batch

OBS_DIM, ACT_DIM, HIDDEN = 18, 6, 256


class MLPReward(nn.Module):
    """R(s, a, s') = MLP([s, a, s']): ``[B, 18], [B, 6], [B, 18], [B] -> [B]``."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(
            nn.Linear(2 * OBS_DIM + ACT_DIM, HIDDEN),
            nn.ReLU(),
            nn.Linear(HIDDEN, HIDDEN),
            nn.ReLU(),
            nn.Linear(HIDDEN, 1),
        )

    def forward(self, obs, acts, next_obs, dones):
        return self.net(torch.cat([obs, acts, next_obs], dim=1)).squeeze(1)


class TimedReward(nn.Module):
    """Wraps a reward and adds up its forward time and rows (EPIC sees the inner params)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.seconds = 0.0
        self.rows = 0

    def forward(self, obs, acts, next_obs, dones):
        start = time.perf_counter()
        out = self.inner(obs, acts, next_obs, dones)
        sync(out.device)
        self.seconds += time.perf_counter() - start
        self.rows += obs.shape[0]
        return out


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so that wall times cover it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def contiguous_transitions(n: int, episode_length: int, gen: torch.Generator) -> Transitions:
    """Random-walk episodes of ``episode_length`` steps: next_obs[t] == obs[t+1] within one."""
    parts, left = [], n
    while left > 0:
        steps = min(left, episode_length)
        walk = torch.cumsum(0.1 * torch.randn(steps + 1, OBS_DIM, generator=gen), dim=0)
        dones = torch.zeros(steps)
        dones[-1] = 1.0
        acts = torch.rand(steps, ACT_DIM, generator=gen) * 2 - 1
        parts.append(Transitions(walk[:-1], acts, walk[1:], dones))
        left -= steps
    return Transitions.concatenate(parts)


def unrelated_transitions(n: int, gen: torch.Generator) -> Transitions:
    return Transitions(
        torch.randn(n, OBS_DIM, generator=gen),
        torch.rand(n, ACT_DIM, generator=gen) * 2 - 1,
        torch.randn(n, OBS_DIM, generator=gen),
        torch.zeros(n),
    )


def time_bare(rewards, rows: int, max_batch: int, gen: torch.Generator, device) -> float:
    """(a): ``rows`` forward passes of each reward in batches of ``max_batch``."""
    obs = torch.randn(max_batch, OBS_DIM, generator=gen).to(device)
    acts = torch.rand(max_batch, ACT_DIM, generator=gen).to(device)
    nxt = torch.randn(max_batch, OBS_DIM, generator=gen).to(device)
    dones = torch.zeros(max_batch, device=device)
    sync(device)
    start = time.perf_counter()
    with torch.no_grad():
        for r0 in range(0, rows, max_batch):
            b = min(max_batch, rows - r0)
            for reward in rewards:
                reward(obs[:b], acts[:b], nxt[:b], dones[:b])
    sync(device)
    return time.perf_counter() - start


def time_epic(
    rewards, transitions, state_samples, action_samples, max_batch
) -> tuple[float, float, float, int]:
    """Wall time, distance, seconds inside the reward forwards, rows fed to the rewards."""
    timed = [TimedReward(r) for r in rewards]
    start = time.perf_counter()
    d = epic_distance(
        *timed,
        transitions=transitions,
        state_samples=state_samples,
        action_samples=action_samples,
        discount=0.99,
        max_batch=max_batch,
    )
    wall = time.perf_counter() - start
    return wall, d, sum(t.seconds for t in timed), sum(t.rows for t in timed)


def time_naive(rewards, transitions, state_samples, action_samples, n_loop: int) -> float:
    """(d): one transition at a time, mean terms recomputed for s and s' (extrapolate)."""
    m = state_samples.shape[0]
    zeros_m = torch.zeros(m, device=state_samples.device)
    zero = torch.zeros(1, device=state_samples.device)
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(n_loop):
            t = transitions[i : i + 1]
            for reward in rewards:
                r = reward(t.obs, t.acts, t.next_obs, zero)
                m_s = reward(t.obs.expand(m, -1), action_samples, state_samples, zeros_m).mean()
                m_n = reward(
                    t.next_obs.expand(m, -1), action_samples, state_samples, zeros_m
                ).mean()
                _ = r + 0.99 * m_n - m_s
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n-transitions", type=int, default=4096)
    parser.add_argument("--n-samples", type=int, default=4096)
    parser.add_argument("--episode-length", type=int, default=1000, help="HalfCheetah's time limit")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive-transitions", type=int, default=200)
    parser.add_argument("--max-batch", type=int, default=None, help="default: the device's")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="default: bench/results/epic_throughput[_cuda].json",
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    args.max_batch = resolve_max_batch(args.max_batch, device)
    if args.output is None:
        suffix = "" if device.type == "cpu" else f"_{device.type}"
        args.output = Path(__file__).parent / "results" / f"epic_throughput{suffix}.json"
    # Before anything is timed, so the bare passes (a) run with the same allocator
    # settings as EPIC (resolve_max_batch applies them too; this makes it explicit).
    fixed_malloc = keep_freed_memory()

    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)
    n, m = args.n_transitions, args.n_samples
    rewards = [MLPReward(args.seed).eval().to(device), MLPReward(args.seed + 1).eval().to(device)]
    contiguous = contiguous_transitions(n, args.episode_length, gen).to(device)
    unrelated = unrelated_transitions(n, gen).to(device)
    state_samples = torch.randn(m, OBS_DIM, generator=gen).to(device)
    action_samples = (torch.rand(m, ACT_DIM, generator=gen) * 2 - 1).to(device)
    n_loop = min(args.naive_transitions, n)
    distinct_contiguous = torch.unique(
        torch.cat([contiguous.obs, contiguous.next_obs]), dim=0
    ).shape[0]

    times: dict[str, list[float]] = {"bare": [], "contiguous": [], "unrelated": [], "naive": []}
    distances: dict[str, float] = {}
    outside_forward: dict[str, list[float]] = {"contiguous": [], "unrelated": []}
    rows_fed: dict[str, int] = {}
    faults: dict[str, list[int]] = {k: [] for k in times}
    cpu_times: dict[str, list[float]] = {k: [] for k in times}

    def run(name: str) -> None:
        before, cpu = minor_faults(), time.process_time()
        timed(name)
        faults[name].append(minor_faults() - before)
        scale = n / n_loop if name == "naive" else 1.0
        cpu_times[name].append((time.process_time() - cpu) * scale)

    def timed(name: str) -> None:
        if name == "bare":
            times["bare"].append(time_bare(rewards, 2 * n * m, args.max_batch, gen, device))
        elif name == "naive":
            t = time_naive(rewards, unrelated, state_samples, action_samples, n_loop)
            times["naive"].append(t * n / n_loop)
        else:
            tr = contiguous if name == "contiguous" else unrelated
            sync(device)
            t, distances[name], inside, rows_fed[name] = time_epic(
                rewards, tr, state_samples, action_samples, args.max_batch
            )
            times[name].append(t)
            outside_forward[name].append(1.0 - inside / t)

    order = list(times)
    for rep in tqdm(range(args.repeats), desc="repetitions"):
        # Rotate the order each repetition so that no variant always runs first (warm-up,
        # other users' load on the shared machine).
        for name in order[rep % len(order) :] + order[: rep % len(order)]:
            run(name)

    med = {k: statistics.median(v) for k, v in times.items()}
    ratios = {
        "contiguous_over_bare": med["contiguous"] / med["bare"],
        "unrelated_over_bare": med["unrelated"] / med["bare"],
        "naive_over_bare": med["naive"] / med["bare"],
    }
    med_cpu = {k: statistics.median(v) for k, v in cpu_times.items()}
    cpu_ratios = {
        f"{k}_over_bare": med_cpu[k] / med_cpu["bare"] for k in ("contiguous", "unrelated", "naive")
    }
    targets = {"contiguous_over_bare": 0.55, "unrelated_over_bare": 1.05}
    rows_per_s = 2 * 2 * n * m / med["bare"]
    print(
        f"N_T = {n}, M = {m}, episode length {args.episode_length}, max_batch {args.max_batch}, "
        f"{args.threads} threads, {args.repeats} interleaved repeats (medians)"
    )
    print(f"distinct states, contiguous: {distinct_contiguous} of {2 * n}")
    print(f"(a) bare forward passes   {med['bare']:8.2f} s   ({rows_per_s:,.0f} rows/s)")
    print(
        f"(b) epic, contiguous      {med['contiguous']:8.2f} s   (b)/(a) = {ratios['contiguous_over_bare']:.3f}  target <= 0.55"
    )
    print(
        f"(c) epic, unrelated       {med['unrelated']:8.2f} s   (c)/(a) = {ratios['unrelated_over_bare']:.3f}  target <= 1.05"
    )
    print(
        f"(d) naive loop (extrap.)  {med['naive']:8.2f} s   (d)/(a) = {ratios['naive_over_bare']:.3f}  ({n_loop} transitions timed)"
    )

    print(
        "CPU-time ratios (this process's CPU seconds; robust to other users' load): "
        + ", ".join(f"{k} {v:.3f}" for k, v in cpu_ratios.items())
    )
    bare_rows = 2 * n * m * len(rewards)
    work_ratio = {k: rows / bare_rows for k, rows in rows_fed.items()}
    overhead = {k: statistics.median(v) for k, v in outside_forward.items()}
    for name in ("contiguous", "unrelated"):
        print(
            f"    {name:<11} rows fed / bare rows = {work_ratio[name]:.3f}, "
            f"time outside the forwards = {overhead[name]:.1%} of EPIC's"
        )
    print(
        f"malloc thresholds fixed: {fixed_malloc}; minor page faults per variant (median): "
        + ", ".join(f"{k} {statistics.median(v):,.0f}" for k, v in faults.items())
    )

    args.output.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "epic_throughput",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "reward": f"MLP {2 * OBS_DIM + ACT_DIM}-{HIDDEN}-{HIDDEN}-1",
        "device": str(device),
        "fixed_malloc_thresholds": fixed_malloc,
        "minor_page_faults": faults,
        "torch": torch.__version__,
        "platform": platform.platform(),
        "distinct_states_contiguous": distinct_contiguous,
        "naive_transitions_timed": n_loop,
        "times_s": times,
        "median_s": med,
        "ratios": ratios,
        "targets": targets,
        "meets_targets": {k: ratios[k] <= v for k, v in targets.items()},
        "cpu_times_s": cpu_times,
        "median_cpu_s": med_cpu,
        "cpu_ratios": cpu_ratios,
        "meets_targets_cpu": {k: cpu_ratios[k] <= v for k, v in targets.items()},
        "load_average_after": Path("/proc/loadavg").read_text().split()[:3],
        "bare_rows_per_s": rows_per_s,
        "distances": distances,
        "bare_rows": bare_rows,
        "rows_fed_over_bare": work_ratio,
        "share_outside_forwards": overhead,
        "mean_term_chunks": math.ceil(2 * n / max(1, args.max_batch // m)),
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
