"""How much each Hopper reward pays per step for staying alive, which EPIC cannot see (issue 17).

Hopper ends an episode when the hopper falls. There a constant added to the reward is not a
potential shaping: shaping by a constant c needs Φ ≡ c/(γ − 1) on live states and Φ = 0 at
the absorbing terminal state (Ng et al. 1999; the paper authors' `PotentialShaping`
docstring in evaluating-rewards says the same), so +c per step pays an agent for surviving
and −c for falling early. EPIC ignores dones (benchmark.metrics.epic) and its
canonicalization removes every constant, so two rewards that differ only in their offset
have EPIC 0 yet different optimal policies on this task.

The ground truth is exactly w_f (x' − x)/dt + h − w_c ‖a‖² with h = 1 on every step.
For each reward and coverage sample (the board's seed-0 sample, N = 1024) this fits
R ≈ a · (x' − x)/dt + b + c · ‖a‖² by least squares and writes a, b, c, b/a and R² to
bench/results/reward_offset.json. b/a is the reward's survival pay per step in units of its
forward weight: 1.0 for the ground truth (its fit is exact, R² = 1, a check).

    .venv/bin/python bench/reward_offset.py     # seconds
"""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from benchmark.rewards.locomotion import LocomotionSpec, forward_velocity, get_spec
from benchmark.submissions import load_submission
from benchmark.tasks import load_task

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "reward_offset.json"
REWARDS = ("ground-truth", "preferences", "regression", "airl", "airl-state-only", "random")


def fit(reward, transitions, spec: LocomotionSpec) -> dict[str, float]:
    """Least-squares R ≈ a · forward velocity + b + c · ‖a‖² on the transitions."""
    t = transitions
    forward = forward_velocity(spec, t.obs.double(), t.next_obs.double()).numpy()
    squared_action = t.acts.double().square().sum(dim=1).numpy()
    design = np.stack([forward, np.ones_like(forward), squared_action], axis=1)
    with torch.no_grad():
        y = reward(t.obs, t.acts, t.next_obs, t.dones).double().numpy()
    (a, b, c), *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ np.array([a, b, c])
    return {
        "forward_weight": float(a),
        "offset_per_step": float(b),
        "squared_action_weight": float(c),
        "survival_pay_in_forward_units": float(b / a),
        "r2": float(1.0 - residual.var() / y.var()),
        "mean_reward": float(y.mean()),
    }


def main() -> None:
    torch.set_num_threads(1)
    task = load_task("hopper")
    spec = get_spec("Hopper-v4")
    rewards = {s: load_submission(ROOT / "submissions" / f"hopper-{s}").load_reward()
               for s in REWARDS}  # fmt: skip
    rows = []
    for cov in task.coverage_names:
        transitions = task.coverage(cov).sample(1024, 256, 0).transitions
        for name, reward in rewards.items():
            row = {"coverage": cov, "reward": f"hopper-{name}", **fit(reward, transitions, spec)}
            rows.append(row)
            print(f"{cov:<8} {row['reward']:<24} a {row['forward_weight']:+.3f}  "
                  f"b {row['offset_per_step']:+.3f}  c {row['squared_action_weight']:+.3f}  "
                  f"b/a {row['survival_pay_in_forward_units']:+.2f}  R² {row['r2']:.2f}")  # fmt: skip
    OUT.write_text(json.dumps({
        "rows": rows, "machine": platform.platform(),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
    }, indent=1) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
