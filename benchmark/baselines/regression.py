"""Regression baseline: supervised MSE of a BasicRewardNet onto the ground-truth reward.

The training data are the task's own coverage samples (every coverage, pooled), the
targets the ground-truth reward on them. This is the "best case" learned reward: it
sees the true reward directly, so its EPIC distance measures function-approximation
error alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from imitation.rewards.reward_nets import BasicRewardNet
from tqdm import trange

from benchmark.baselines.common import TrainResult, seed_everything
from benchmark.data import Transitions


@dataclass(frozen=True)
class RegressionBudget:
    n_transitions: int  # per coverage
    steps: int
    batch_size: int = 256
    lr: float = 1e-3
    hid_sizes: tuple[int, ...] = (64, 64)


BUDGETS = {
    "smoke": RegressionBudget(n_transitions=1024, steps=100),
    "standard": RegressionBudget(n_transitions=8192, steps=3000),
}


def train_regression(task, budget: RegressionBudget, seed: int) -> TrainResult:
    """Fit r_θ(s, a, s') to R(s, a, s') by Adam on mean squared error."""
    seed_everything(seed)
    data = Transitions.concatenate(
        [
            task.coverage(name).sample(budget.n_transitions, 16, seed + i).transitions
            for i, name in enumerate(task.coverage_names)
        ]
    )
    data = Transitions(
        *(x.to(torch.float32) for x in (data.obs, data.acts, data.next_obs, data.dones))
    )
    ground_truth = task.reward("ground_truth")
    with torch.no_grad():
        targets = ground_truth(data.obs, data.acts, data.next_obs, data.dones).to(torch.float32)

    net = BasicRewardNet(
        task.observation_space,
        task.action_space,
        use_state=True,
        use_action=True,
        use_next_state=True,
        use_done=False,
        hid_sizes=budget.hid_sizes,
    )
    optimizer = torch.optim.Adam(net.parameters(), lr=budget.lr)
    generator = torch.Generator().manual_seed(seed)
    loss = torch.tensor(float("nan"))
    for _ in trange(budget.steps, desc=f"regression {task.name}", leave=False):
        idx = torch.randint(len(data), (budget.batch_size,), generator=generator)
        batch = data[idx]
        pred = net(batch.obs, batch.acts, batch.next_obs, batch.dones)
        loss = torch.nn.functional.mse_loss(pred, targets[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    with torch.no_grad():
        pred = net(data.obs, data.acts, data.next_obs, data.dones)
        mse = torch.nn.functional.mse_loss(pred, targets).item()
        r2 = 1.0 - mse / targets.var().clamp_min(1e-12).item()
    return TrainResult(
        net=net.eval(),
        metrics={"train_mse": mse, "train_r2": r2},
        description=(
            "BasicRewardNet (state, action, next state) regressed onto the ground-truth reward "
            "by MSE over the task's pooled coverage samples."
        ),
    )
