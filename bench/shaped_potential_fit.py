"""Why `halfcheetah-shaped` transfers badly although its EPIC is 0 (issue 17): its potential.

The shaped sanity entries add γΦ(s') − Φ(s) with Φ(s) = Σ_i cos((i+1)·s_i + i)
(`shaping_potential`). Shaping keeps the optimal policies (Ng et al. 1999), and the
shaped Q-function is Q(s, a) − Φ(s), so an actor-critic learner must fit −Φ with its
critic. On HalfCheetah the observation has 18 entries, the velocities among them, and
the frequencies reach 18 rad per unit of velocity: Φ oscillates faster than states
visited in a few thousand steps can pin down. This measures how well a network of SAC's
critic size (MLP 256-256, ReLU; SB3's default) fits Φ from the states of one coverage
rollout, held out on another seed's, against a smooth control potential (the task's
own `shaped` potential ẋ + 10 z, `benchmark.rewards.locomotion.potential`).

A fit this cheap is not SAC; it asks whether the target is learnable at all from that
many states with that much optimization (SAC's standard budget makes 55k gradient
steps). Writes bench/results/shaped_potential_fit.json.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from torch import nn

from benchmark.rewards.locomotion import get_spec, potential
from benchmark.submissions.formats import shaping_potential
from benchmark.tasks import load_task

OUT = Path(__file__).parent / "results" / "shaped_potential_fit.json"
TASKS = {"halfcheetah": "HalfCheetah-v4", "hopper": "Hopper-v4"}
N_TRANSITIONS = 8000
STEPS = 20_000
BATCH = 256


def r_squared(pred: torch.Tensor, target: torch.Tensor) -> float:
    return float(1.0 - ((pred - target) ** 2).mean() / target.var(unbiased=False))


def fit(train_x: torch.Tensor, train_y: torch.Tensor, test_x, test_y, seed: int) -> dict:
    """Adam (SAC's lr 3e-4, batch 256) on standardized targets; R² on held-out states."""
    torch.manual_seed(seed)
    mean, std = train_y.mean(), train_y.std()
    net = nn.Sequential(
        nn.Linear(train_x.shape[1], 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
        nn.Linear(256, 1),
    )  # fmt: skip
    opt = torch.optim.Adam(net.parameters(), lr=3e-4)
    for _ in range(STEPS):
        idx = torch.randint(len(train_x), (BATCH,))
        loss = ((net(train_x[idx]).squeeze(1) - (train_y[idx] - mean) / std) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        train_pred = net(train_x).squeeze(1) * std + mean
        test_pred = net(test_x).squeeze(1) * std + mean
    return {"train_r2": r_squared(train_pred, train_y), "test_r2": r_squared(test_pred, test_y)}


def main() -> None:
    torch.set_num_threads(1)
    results = []
    for task_name, env_id in TASKS.items():
        task = load_task(task_name)
        spec = get_spec(env_id)
        for coverage in ("expert", "random"):
            train = task.coverage(coverage).episodes(N_TRANSITIONS, seed=0).obs.float()
            test = task.coverage(coverage).episodes(N_TRANSITIONS, seed=1).obs.float()
            targets = {
                "sanity_cosine": shaping_potential,
                "smooth_control": lambda s, spec=spec: potential(spec, s, 1.0, 10.0),
            }
            for name, phi in targets.items():
                start = time.perf_counter()
                row = fit(train, phi(train), test, phi(test), seed=0)
                row.update(task=task_name, coverage=coverage, potential=name,
                           phi_std=float(phi(test).std()), n_states=len(train),
                           seconds=round(time.perf_counter() - start, 1))  # fmt: skip
                print(json.dumps(row))
                results.append(row)
    OUT.write_text(json.dumps({"steps": STEPS, "batch": BATCH, "rows": results}, indent=1))


if __name__ == "__main__":
    main()
