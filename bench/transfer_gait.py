"""What a board transfer run's policy does: gait on HalfCheetah, survival on Hopper (issue 17).

Written to explain two surprises: `halfcheetah-preferences` transfers at 0.96 on one seed
and 0.37 on two, and `hopper-preferences` above the ground truth's own retrained runs.
Retrains a board transfer run (test variant, standard budget, the row's seed) and asks two
things of it:

1. Is the board row reproducible? The retrained policy's ground-truth return on the
   fixed evaluation episodes must equal the row's ``policy_return`` (SAC on one CPU
   thread is deterministic for a seed).
2. Which gait did SAC find? HalfCheetah's observation here keeps x in front, so
   ``obs[2]`` is the torso pitch (a hinge angle, radians, 0 upright). A cheetah that
   flipped over and "runs" on its back, a well-known local optimum of the task, spends
   its steps at |pitch| > π/2.
   On Hopper, which ends an episode when the hopper falls, the question is how the
   ground-truth return splits: healthy reward (1 per step alive, so the episode length),
   forward progress (x_end − x_start)/dt, and control cost 1e-3‖a‖² (the weights of
   benchmark.rewards.locomotion's spec, gymnasium Hopper-v4's). The three parts are summed again and must equal the evaluator's return, a
   check that the split is the reward's.

Usage: ``python bench/transfer_gait.py halfcheetah-preferences 1`` (≈ 16 CPU-min per run);
``python bench/transfer_gait.py --zero-action hopper`` measures the no-torque policy (no
training), the floor a policy that only stands reaches.
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
from benchmark.rewards.locomotion import get_spec
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


def survival(task, model, budget) -> dict[str, float]:
    """Episode length and the split of the ground-truth return, first episode of each env.

    Mirrors the evaluator (benchmark.metrics.reoptimize._evaluate): the same fixed episodes,
    the first episode of each env counted. x is obs[0] (the task keeps it in front); the
    last step's x comes from the terminal observation, as the vector env resets at once.
    """
    spec = get_spec(task.reward_specs["ground_truth"].params["env"])
    n = int(budget.eval_episodes)
    venv = task.make_vec_env(n, seed=EVAL_SEED_OFFSET, variant="test")
    obs = venv.reset()
    x_start = obs[:, 0].copy()
    x_end = np.full(n, np.nan)
    length = np.zeros(n, dtype=int)
    ctrl = np.zeros(n)
    env_return = np.zeros(n)
    finished = np.zeros(n, dtype=bool)
    while not finished.all():
        acts = model.predict(obs, deterministic=True)[0]
        obs, rewards, dones, infos = venv.step(acts)
        live = ~finished
        length += live
        ctrl += np.where(live, spec.ctrl_cost_weight * np.sum(np.square(acts), axis=1), 0.0)
        env_return += np.where(live, rewards, 0.0)
        for i in np.flatnonzero(live & dones):
            x_end[i] = infos[i]["terminal_observation"][0]
        finished |= dones
    venv.close()
    forward = spec.forward_reward_weight * (x_end - x_start) / spec.dt
    healthy = spec.healthy_reward * length
    return {
        "mean_episode_length": float(length.mean()),
        "share_of_full_length_episodes": float((length >= int(task.horizon)).mean()),
        "mean_healthy_part": float(healthy.mean()),
        "mean_forward_part": float(forward.mean()),
        "mean_control_part": float(-ctrl.mean()),
        "mean_distance_m": float((x_end - x_start).mean()),
        "return_from_parts": float((healthy + forward - ctrl).mean()),
        "env_return": float(env_return.mean()),
    }


MEASURES = {"halfcheetah": gait, "hopper": survival}


class ZeroAction:
    """The policy that applies no torque: on Hopper it stands until it tips over."""

    def __init__(self, task) -> None:
        self.shape = task.action_space.shape

    def predict(self, obs: np.ndarray, deterministic: bool = True):
        return np.zeros((obs.shape[0], *self.shape), dtype=np.float32), None


def save(record: dict) -> None:
    records = json.loads(OUT.read_text()) if OUT.exists() else []
    key = (record["submission"], record["seed"])
    records = [r for r in records if (r["submission"], r["seed"]) != key]
    OUT.write_text(json.dumps([*records, record], indent=1) + "\n")
    print(json.dumps(record, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submission", nargs="?")
    parser.add_argument("seed", type=int, nargs="?")
    parser.add_argument("--zero-action", metavar="TASK",
                        help="measure the no-torque policy on TASK instead (no training)")  # fmt: skip
    args = parser.parse_args()
    if args.zero_action:
        task = load_task(args.zero_action)
        save({"submission": f"{task.name}:zero-action", "seed": None,
              **MEASURES[task.name](task, ZeroAction(task), task.budgets["standard"])})  # fmt: skip
        return
    if args.submission is None or args.seed is None:
        parser.error("give SUBMISSION SEED, or --zero-action TASK")
    sub = {s.name: s for s in list_submissions(ROOT / "submissions")}[args.submission]
    task = load_task(sub.task)
    budget = task.budgets["standard"]
    on_board = board_return(args.submission, args.seed)
    start = time.perf_counter()
    model = train_policy(task, sub.load_reward(), budget, seed=args.seed, variant="test")
    retrained = evaluate_policy(task, model, budget, seed=args.seed, variant="test")
    save({
        "submission": args.submission,
        "seed": args.seed,
        "board_policy_return": on_board,
        "retrained_policy_return": retrained,
        **MEASURES[task.name](task, model, budget),
        "wall_time_s": time.perf_counter() - start,
    })  # fmt: skip


if __name__ == "__main__":
    main()
