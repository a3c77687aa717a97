"""A board unit on CUDA: the same numbers as on the CPU, computed where it was asked.

Why a separate, CUDA-only file: two seeded bugs survive every CPU test (issue 16's
mutation run) — a unit that drops its device (``sampled_unit`` evaluating on the CPU)
and mean-term sums kept on the CPU. Both give the CPU's numbers, so only a check of the
device the submission's reward actually sees, next to CPU-vs-CUDA equality, catches them.
Skipped on machines without CUDA (this project's CI has none; the GPU machine runs it).
"""

from pathlib import Path

import pytest
import torch

from benchmark.metrics.registry import UnitInputs
from benchmark.metrics.registry import metric as spec
from benchmark.submissions import load_submission
from benchmark.tasks import load_task

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@pytest.mark.parametrize("name", ["epic", "starc", "dard"])
def test_a_unit_on_cuda_matches_the_cpu_and_runs_on_cuda(name):
    task = load_task("pointmass")
    reward = load_submission(REPO / "submissions" / "pointmass-preferences").load_reward()
    devices: set[str] = set()

    def recorded(obs, acts, next_obs, dones):
        devices.update(x.device.type for x in (obs, acts, next_obs, dones))
        return reward(obs, acts, next_obs, dones)

    rows = {
        device: spec(name).runner()(UnitInputs(task, recorded, task.reward("ground_truth"),
                                               "random", 0, "smoke", 256, 64, device))
        for device in ("cpu", "cuda")
    }  # fmt: skip
    assert devices == {"cpu", "cuda"}
    for key in ("value", "ci_low", "ci_high"):
        assert rows["cuda"][key] == pytest.approx(rows["cpu"][key], abs=1e-5), key
