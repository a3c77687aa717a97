"""Why `halfcheetah-preferences` has EPIC 0.69 on expert coverage (issue 17): the position term.

With the x-position in the observation, the MuJoCo ground truth is a potential shaping
plus a *progress reward* (Φ(s) = w_f x / dt):

    w_f (x' − x)/dt = γ Φ(s') − Φ(s) + w_f (1 − γ) x'/dt,

so r = shaping + w_f (1 − γ) x'/dt − w_c ‖a‖² [+ h(s')]. EPIC removes the shaping, hence
C(r) = w_f (1 − γ) x'/dt − w_c ‖a‖² [+ h(s')] + const (DESIGN.md's C(R), by linearity): on
`expert` coverage, where x' runs from 0 to the distance the expert covers, the canonical
ground truth is the distance travelled. A reward scores well only if *its* canonical form
grows with x', i.e. only if R(s, a, s') depends on the absolute positions x, x' with
∂R/∂x' + γ ∂R/∂x ≈ w_f (1 − γ)/dt. EPIC's mean terms R(s, A, S') with S' ~ D_S drawn
independently of s (transitions that teleport) are what expose that dependence; on real
transitions (x' − x)/dt and the velocity entry xdot(s') of the observation carry nearly
the same information, so preferences over fragments of real transitions hardly tell a
learner which one to use (per-transition regression targets do: ``halfcheetah-regression``
learned ±20 per metre).

For each task, coverage (the board's seed-0 sample, N = 1024, M = 256) and reward this
prints and writes to bench/results/mujoco_position_term.json:

  * ``raw_rho``: Pearson ρ of R and the ground truth on D_T (no canonicalization);
  * ``canon_rho`` and ``epic``: ρ of the canonical rewards, and D_EPIC = sqrt((1 − ρ)/2);
  * ``fragment_rho``: ρ of the 10-step discounted returns of R and of the ground truth over
    the windows of 10 consecutive transitions in D_T: what a preference label compares
    (the training's fragment length);
  * ``slope_c_on_xnext``: least-squares slope of C(R) on x' (ground truth: w_f (1 − γ)/dt,
    0.2 per metre on HalfCheetah);
  * ``dr_dxnext``, ``dr_dx``: median finite differences of R in x' and in x (δ = 0.1 m;
    ground truth ±w_f/dt, ±20 per metre on HalfCheetah).

Rewards: the committed learned submissions; on HalfCheetah also the 10³-comparison
preferences model of commit d3fddf1 (read with ``git show``); and two references built
here: ``progress`` (the reward above: EPIC 0 by the derivation, a check) and
``velocity_entry`` (w_f xdot(s') − w_c ‖a‖² [+ h(s')], xdot(s') = qvel[0] from the
observation: the ground truth's information, read from the velocity entry).

``--fragments FILE.npz`` adds where the training fragments lie (x and xdot of every
fragment state, as written by ``record_fragments``) against the expert coverage.
``--record-fragments FILE.npz`` re-runs the standard preferences training (seed 0; 216
CPU-s, 18 min wall at load 11, reproducing the committed model bitwise) and records them: it wraps imitation's RandomFragmenter to copy what it cuts.

    .venv/bin/python bench/mujoco_position_term.py [--fragments F.npz | --record-fragments F.npz]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from benchmark.data import RewardFn
from benchmark.metrics.epic import canonicalize, pearson_distance
from benchmark.rewards.locomotion import LocomotionSpec, control_cost, get_spec, healthy_reward
from benchmark.submissions import load_submission
from benchmark.tasks import load_task

ROOT = Path(__file__).resolve().parent.parent
TASKS = {"halfcheetah": "HalfCheetah-v4", "hopper": "Hopper-v4"}
LEARNED = ("preferences", "regression", "airl", "airl-state-only", "random")
OLD_PREFERENCES = ("d3fddf1", "submissions/halfcheetah-preferences")  # 10³ comparisons
DELTA = 0.1  # metres, for the finite differences
FRAGMENT_LENGTH = 10  # PreferencesBudget.fragment_length


def progress_reward(spec: LocomotionSpec, discount: float) -> RewardFn:
    """w_f (1 − γ) x'/dt − w_c ‖a‖² [+ h(s')]: the ground truth minus γΦ(s') − Φ(s)."""

    def reward(obs, acts, next_obs, dones):
        progress = spec.forward_reward_weight * (1 - discount) * next_obs[:, 0] / spec.dt
        extra = healthy_reward(spec, next_obs) - control_cost(spec, acts, next_obs.dtype)
        return progress + extra

    return reward


def velocity_entry_reward(spec: LocomotionSpec) -> RewardFn:
    """w_f xdot(s') − w_c ‖a‖² [+ h(s')]: forward velocity read from the observation."""

    def reward(obs, acts, next_obs, dones):
        velocity = spec.forward_reward_weight * next_obs[:, spec.velocity_index]
        extra = healthy_reward(spec, next_obs) - control_cost(spec, acts, next_obs.dtype)
        return velocity + extra

    return reward


def old_preferences(folder: Path) -> RewardFn:
    """The 10³-comparison halfcheetah-preferences model, checked out of git history."""
    commit, path = OLD_PREFERENCES
    target = folder / "halfcheetah-preferences"
    target.mkdir(parents=True, exist_ok=True)
    for name in ("submission.toml", "model.safetensors"):
        blob = subprocess.run(["git", "show", f"{commit}:{path}/{name}"], cwd=ROOT,
                              check=True, capture_output=True).stdout  # fmt: skip
        (target / name).write_bytes(blob)
    return load_submission(target).load_reward()


def evaluate(reward: RewardFn, sample, truth_raw: np.ndarray, truth_canon: np.ndarray,
             discount: float) -> dict[str, float]:  # fmt: skip
    """The row's statistics (module docstring) for one reward on one coverage sample."""
    t = sample.transitions
    obs, acts, nxt, dones = t.obs.float(), t.acts.float(), t.next_obs.float(), t.dones.float()
    with torch.no_grad():
        raw = reward(obs, acts, nxt, dones).double()

        def shifted(column_of: str) -> np.ndarray:
            o, n = obs.clone(), nxt.clone()
            (n if column_of == "next" else o)[:, 0] += DELTA
            return ((reward(o, acts, n, dones).double() - raw) / DELTA).numpy()

        dr_dxnext, dr_dx = shifted("next"), shifted("this")
    canon = canonicalize(reward, t, sample.state_samples, sample.action_samples, discount)
    canon = canon.numpy()
    starts = fragment_windows(t, FRAGMENT_LENGTH)
    mine, theirs = (fragment_returns(r, starts, discount) for r in (raw.numpy(), truth_raw))
    xnext = t.next_obs[:, 0].double().numpy()
    return {
        "raw_rho": float(np.corrcoef(raw.numpy(), truth_raw)[0, 1]),
        "canon_rho": float(np.corrcoef(canon, truth_canon)[0, 1]),
        "epic": pearson_distance(canon, truth_canon),
        "fragment_rho": float(np.corrcoef(mine, theirs)[0, 1]),
        "fragment_windows": int(len(starts)),
        "slope_c_on_xnext": float(np.polyfit(xnext, canon, 1)[0]),
        "dr_dxnext": float(np.median(dr_dxnext)),
        "dr_dx": float(np.median(dr_dx)),
    }


def fragment_windows(t, length: int) -> np.ndarray:
    """Start rows of non-overlapping windows of ``length`` consecutive transitions of one
    episode (each s' is the next row's s and no done inside), [W]."""
    linked = (t.next_obs[:-1] == t.obs[1:]).all(dim=-1) & (t.dones[:-1] < 0.5)
    starts, run = [], 0
    for i, ok in enumerate(linked.tolist() + [False]):
        run += 1
        if run == length:
            starts.append(i - length + 1)
            run = 0
        elif not ok:
            run = 0
    return np.asarray(starts, dtype=np.int64)


def fragment_returns(raw: np.ndarray, starts: np.ndarray, discount: float) -> np.ndarray:
    """Σ_t γ^t r_t over each window (the preference model's fragment return), [W]."""
    index = starts[:, None] + np.arange(FRAGMENT_LENGTH)[None, :]
    return raw[index] @ (discount ** np.arange(FRAGMENT_LENGTH))


def coverage_ranges(sample, spec: LocomotionSpec) -> dict[str, float]:
    """Where D_T lies: x' and the step's forward velocity (x' − x)/dt."""
    t = sample.transitions
    xnext = t.next_obs[:, 0].double().numpy()
    velocity = ((t.next_obs[:, 0] - t.obs[:, 0]).double() / spec.dt).numpy()
    return {
        "xnext_min": float(xnext.min()),
        "xnext_max": float(xnext.max()),
        "xnext_std": float(xnext.std()),
        "velocity_mean": float(velocity.mean()),
        "velocity_p05": float(np.percentile(velocity, 5)),
        "velocity_p95": float(np.percentile(velocity, 95)),
    }


def record_fragments(out: Path, budget: str = "standard") -> dict[str, float]:
    """Re-run the halfcheetah preferences training (``budget``, seed 0: the committed one at
    "standard") and save the x and xdot of every state of every fragment it cuts; returns
    the training's metrics."""
    from imitation.algorithms import preference_comparisons as pc

    from benchmark.baselines import preferences

    spec = get_spec(TASKS["halfcheetah"])
    states: list[np.ndarray] = []
    cut = pc.RandomFragmenter.__call__

    def recording(self, trajectories, fragment_length, num_pairs):
        pairs = cut(self, trajectories, fragment_length, num_pairs)
        for pair in pairs:
            states.extend(f.obs[:, [0, spec.velocity_index]] for f in pair)
        return pairs

    pc.RandomFragmenter.__call__ = recording
    try:
        task = load_task("halfcheetah")
        result = preferences.train_preferences(task, preferences.BUDGETS[budget], 0)
    finally:
        pc.RandomFragmenter.__call__ = cut
    np.savez_compressed(out, states=np.concatenate(states))
    return result.metrics


def fragment_overlap(path: Path, expert_sample, spec: LocomotionSpec) -> dict[str, float]:
    """The fragments' x and xdot against the expert coverage's: ranges and the share of
    expert transitions inside the fragments' central 98%."""
    states = np.load(path)["states"]
    x, xdot = states[:, 0], states[:, 1]
    t = expert_sample.transitions
    ex, exdot = t.next_obs[:, 0].double().numpy(), t.next_obs[:, spec.velocity_index].numpy()
    lo_x, hi_x = np.percentile(x, [1, 99])
    lo_v, hi_v = np.percentile(xdot, [1, 99])
    return {
        "fragment_states": int(len(x)),
        "fragment_x_p01": float(lo_x),
        "fragment_x_p99": float(hi_x),
        "fragment_xdot_p01": float(lo_v),
        "fragment_xdot_p99": float(hi_v),
        "fragment_xdot_mean": float(xdot.mean()),
        "expert_xdot_mean": float(exdot.mean()),
        "expert_share_x_inside": float(np.mean((ex >= lo_x) & (ex <= hi_x))),
        "expert_share_xdot_inside": float(np.mean((exdot >= lo_v) & (exdot <= hi_v))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", action="append", choices=sorted(TASKS), default=None)
    parser.add_argument("--seed", type=int, default=0, help="coverage sample (board seed)")
    parser.add_argument("--fragments", type=Path, default=None)
    parser.add_argument("--record-fragments", type=Path, default=None)
    parser.add_argument("--record-budget", default="standard", help="smoke: a quick check")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench/results/mujoco_position_term.json"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    report: dict = {"rows": [], "coverage": []}
    if args.record_fragments is not None:
        report["retrain_metrics"] = record_fragments(args.record_fragments, args.record_budget)
        args.fragments = args.record_fragments
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.task or sorted(TASKS):
            task, spec = load_task(name), get_spec(TASKS[name])
            truth = task.reward("ground_truth")
            rewards: dict[str, RewardFn] = {
                f"{name}-{s}": load_submission(ROOT / "submissions" / f"{name}-{s}").load_reward()
                for s in LEARNED
            }
            if name == "halfcheetah":
                rewards["halfcheetah-preferences@1e3"] = old_preferences(Path(tmp))
            rewards["progress"] = progress_reward(spec, task.discount)
            rewards["velocity_entry"] = velocity_entry_reward(spec)
            for cov in task.coverage_names:
                sample = task.coverage(cov).sample(1024, 256, args.seed)
                t = sample.transitions
                with torch.no_grad():
                    truth_raw = truth(t.obs, t.acts, t.next_obs, t.dones).double().numpy()
                truth_canon = canonicalize(truth, t, sample.state_samples, sample.action_samples,
                                           task.discount).numpy()  # fmt: skip
                report["coverage"].append({"task": name, "coverage": cov,
                                           **coverage_ranges(sample, spec)})  # fmt: skip
                for label, reward in rewards.items():
                    row = {"task": name, "coverage": cov, "reward": label,
                           **evaluate(reward, sample, truth_raw, truth_canon, task.discount)}  # fmt: skip
                    report["rows"].append(row)
                    print(f"{name:<11} {cov:<8} {label:<28} raw ρ {row['raw_rho']:+.3f} "
                          f"frag ρ {row['fragment_rho']:+.3f} canon ρ {row['canon_rho']:+.3f} EPIC {row['epic']:.3f} slope C/x' "
                          f"{row['slope_c_on_xnext']:+.4f} dR/dx' {row['dr_dxnext']:+.3f} "
                          f"dR/dx {row['dr_dx']:+.3f}", flush=True)  # fmt: skip
                if name == "halfcheetah" and cov == "expert" and args.fragments is not None:
                    report["fragments"] = fragment_overlap(args.fragments, sample, spec)
    for c in report["coverage"]:
        print(c)
    if "fragments" in report:
        print(report["fragments"])
    report.update(
        seed=args.seed,
        wall_time_s=time.perf_counter() - start,
        machine=platform.platform(),
        timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
