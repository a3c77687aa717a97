"""Why `halfcheetah-preferences` transfers at 0.96 on one seed and 0.37 on two (issue 17).

Retrains a board transfer run (test variant, standard budget, the row's seed) and asks two
things of it:

1. Is the board row reproducible? The retrained policy's ground-truth return on the
   fixed evaluation episodes must equal the row's ``policy_return`` (SAC on one CPU
   thread is deterministic for a seed).
2. Which gait did SAC find? HalfCheetah's observation here keeps x in front, so
   ``obs[2]`` is the torso pitch (a hinge angle, radians, 0 upright). A cheetah that
   flipped over and "runs" on its back, a well-known local optimum of the task, spends
   its steps at |pitch| > π/2.

Usage: ``python bench/transfer_gait.py halfcheetah-preferences 1`` (≈ 16 CPU-min per run).
Appends one record per run to bench/results/transfer_gait.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmark.metrics.reoptimize import EVAL_SEED_OFFSET, evaluate_policy, train_policy
from benchmark.results import read_results
from benchmark.submissions import list_submissions
from benchmark.tasks import load_task

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).parent / "results" / "transfer_gait.json"
PITCH = 2  # obs = [x, z, pitch, joint angles ..., velocities ...] on the MuJoCo tasks


def board_return(submission: str, seed: int) -> float:
    rows = read_results(ROOT / "leaderboard" / "results")
    rows = rows[(rows["submission"] == submission) & (rows["metric"] == "transfer")
                & (rows["budget"] == "standard") & (rows["seed"] == seed)]  # fmt: skip
    if rows.empty:
        raise SystemExit(f"no standard transfer row of {submission} at seed {seed} on the board")
    return float(rows["policy_return"].iloc[-1])


def gait(task, model, budget) -> dict[str, float]:
    """Torso pitch of the deterministic policy over the fixed evaluation episodes.

    Why full episodes only: vector envs reset an episode that ends early (a Hopper that
    falls), and the steps after it would be another start's; HalfCheetah never ends early.
    """
    venv = task.make_vec_env(int(budget.eval_episodes), seed=EVAL_SEED_OFFSET, variant="test")
    obs = venv.reset()
    pitch = []
    for step in range(1, int(task.horizon) + 1):
        pitch.append(obs[:, PITCH].copy())
        obs, _, dones, _ = venv.step(model.predict(obs, deterministic=True)[0])
        if step < int(task.horizon) and np.any(dones):
            raise SystemExit(f"{task.name}: an evaluation episode ended at step {step}; "
                             "this bench measures the gait of full-length episodes only")  # fmt: skip
    venv.close()
    p = np.asarray(pitch)
    return {
        "mean_pitch_rad": float(p.mean()),
        "share_of_steps_upside_down": float((np.abs(p) > np.pi / 2).mean()),
        "mean_pitch_last_100_steps_rad": float(p[-100:].mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submission")
    parser.add_argument("seed", type=int)
    args = parser.parse_args()
    sub = {s.name: s for s in list_submissions(ROOT / "submissions")}[args.submission]
    task = load_task(sub.task)
    budget = task.budgets["standard"]
    on_board = board_return(args.submission, args.seed)
    start = time.perf_counter()
    model = train_policy(task, sub.load_reward(), budget, seed=args.seed, variant="test")
    retrained = evaluate_policy(task, model, budget, seed=args.seed, variant="test")
    record = {
        "submission": args.submission,
        "seed": args.seed,
        "board_policy_return": on_board,
        "retrained_policy_return": retrained,
        **gait(task, model, budget),
        "wall_time_s": time.perf_counter() - start,
    }
    records = json.loads(OUT.read_text()) if OUT.exists() else []
    records = [r for r in records if (r["submission"], r["seed"]) != (args.submission, args.seed)]
    OUT.write_text(json.dumps([*records, record], indent=1) + "\n")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
