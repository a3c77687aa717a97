"""Turning a Submission's model into a RewardFn, one loader per format.

torch-export      torch.export program (.pt2): a graph plus tensors, opened by
                  archive.py first (no pickled entry, only pure tensor operators).
state-dict        safetensors weights for a named architecture (architectures.py).
imitation-pickle  a whole module saved with torch.save: runs arbitrary code when
                  loaded, so refused unless the caller passes trust_pickle=True.
task-reward       the task's own reward, scaled and optionally potential-shaped;
                  used for the sanity entries (ground truth, shaped, negated).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load_file
from torch import nn

from benchmark.submissions.architectures import build_architecture
from benchmark.submissions.archive import check_loaded_program, safe_program_bytes
from benchmark.submissions.spec import SubmissionError
from benchmark.tasks import Task, load_task

if TYPE_CHECKING:
    from benchmark.data import RewardFn
    from benchmark.submissions.spec import Submission


class SubmittedReward(nn.Module):
    """A submission's model as a RewardFn: inputs cast to float32 on its device, no grad.

    Why a wrapper: metrics hand over float64 or CPU tensors, while a submitted net holds
    float32 weights on one device; submitted models are never trained by the benchmark.
    Inputs obs/next_obs [B, *obs], acts [B, *act], dones [B]; returns the model's output,
    which validation checks is a float tensor of shape [B].
    """

    def __init__(
        self, model: nn.Module | RewardFn, device: str = "cpu", native_dtypes: bool = False
    ) -> None:
        super().__init__()
        self.model = model
        self.device = torch.device(device)
        # True for our own closed-form task rewards: floating inputs keep their dtype
        # (float64 MuJoCo observations), so the ground truth pays what the env pays.
        self.native_dtypes = native_dtypes

    def forward(
        self, obs: torch.Tensor, acts: torch.Tensor, next_obs: torch.Tensor, dones: torch.Tensor
    ) -> torch.Tensor:
        args = [
            torch.as_tensor(x).to(device=self.device, dtype=self._dtype(torch.as_tensor(x)))
            for x in (obs, acts, next_obs, dones)
        ]
        with torch.no_grad():
            return self.model(*args)

    def _dtype(self, x: torch.Tensor) -> torch.dtype:
        if self.native_dtypes and x.dtype.is_floating_point:
            return x.dtype
        return torch.float32

    def train(self, mode: bool = True) -> SubmittedReward:
        """Switch mode; tolerate exported modules that refuse train()/eval()."""
        self.training = mode
        if isinstance(self.model, nn.Module):
            try:
                self.model.train(mode)
            except (NotImplementedError, RuntimeError):
                pass
        return self


def shaping_potential(states: torch.Tensor) -> torch.Tensor:
    """The fixed potential of shaped sanity entries: Φ(s) = Σ_i cos((i+1)·s_i + i).

    A closed form (no random weights) so it is the same on every machine and version;
    non-constant on one-hot states. states [B, *obs] -> [B].
    """
    flat = states.flatten(1)
    index = torch.arange(flat.shape[1], dtype=flat.dtype, device=flat.device)
    return torch.cos((index + 1) * flat + index).sum(dim=1)


class TaskReward(nn.Module):
    """R'(s,a,s') = scale·R(s,a,s') + potential_scale·(γΦ(s') − Φ(s)) for a task reward R.

    The shaping is applied without zeroing Φ at episode ends, so EPIC to R is exactly 0
    for scale > 0 (it is invariant to exactly this transformation).
    """

    def __init__(
        self, reward: RewardFn, scale: float, potential_scale: float, discount: float
    ) -> None:
        super().__init__()
        self.reward = reward
        self.scale = scale
        self.potential_scale = potential_scale
        self.discount = discount

    def forward(
        self, obs: torch.Tensor, acts: torch.Tensor, next_obs: torch.Tensor, dones: torch.Tensor
    ) -> torch.Tensor:
        out = self.scale * self.reward(obs, acts, next_obs, dones)
        if self.potential_scale != 0.0:
            shaping = self.discount * shaping_potential(next_obs) - shaping_potential(obs)
            out = out + self.potential_scale * shaping.to(out.dtype)
        return out


def _load_task(submission: Submission) -> Task:
    return load_task(submission.task)


def _load_torch_export(submission: Submission, device: str, trust_pickle: bool) -> nn.Module:
    """Load a .pt2 only through the archive check (archive.py): no pickle, pure operators."""
    program = torch.export.load(io.BytesIO(safe_program_bytes(submission.model.file)))
    check_loaded_program(program)
    return program.module().to(device)


def _load_state_dict(submission: Submission, device: str, trust_pickle: bool) -> nn.Module:
    task = _load_task(submission)
    spec = submission.model
    module = build_architecture(
        spec.architecture or "", spec.options, task.observation_space, task.action_space
    )
    state = load_file(str(spec.file), device="cpu")
    module.load_state_dict(state, strict=True)
    return module.to(device)


def _load_pickle(submission: Submission, device: str, trust_pickle: bool) -> nn.Module:
    if not trust_pickle:
        raise SubmissionError(
            submission.name,
            "load",
            f"{submission.model.file.name} is an imitation-pickle (a whole module saved with "
            "torch.save); loading it runs arbitrary code from the file, so it is refused. "
            "Pass --trust-pickle (trust_pickle=True) only if you trust where it came from, or "
            "convert it once with `epic-bench submit --from-imitation PATH --trust-pickle`.",
        )
    module = torch.load(str(submission.model.file), map_location=device, weights_only=False)
    if not isinstance(module, nn.Module):
        raise TypeError(f"the pickle holds a {type(module).__name__}, not a torch nn.Module")
    return module


def _load_task_reward(submission: Submission, device: str, trust_pickle: bool) -> nn.Module:
    task = _load_task(submission)
    params = submission.model.params
    name = params["reward"]
    if name not in task.reward_names:
        raise ValueError(
            f"model.reward {name!r} is not a reward of task {task.name}; "
            f"choose one of {', '.join(task.reward_names)}"
        )
    scale = float(params.get("scale", 1.0))
    potential_scale = float(params.get("potential_scale", 0.0))
    if not (math.isfinite(scale) and math.isfinite(potential_scale)):
        raise ValueError("scale and potential_scale must be finite")
    return TaskReward(task.reward(name, device=device), scale, potential_scale, task.discount)


Loader = Callable[["Submission", str, bool], nn.Module]  # (submission, device, trust_pickle)


# The one table of formats: adding a format with a model file is a loader above plus an
# entry here (`spec` validates ``model.format`` against these names and checks the file).
LOADERS: dict[str, Loader] = {
    "torch-export": _load_torch_export,
    "state-dict": _load_state_dict,
    "imitation-pickle": _load_pickle,
    "task-reward": _load_task_reward,  # the one format without a file (spec parses it apart)
}
FORMATS = tuple(LOADERS)


def load_reward(
    submission: Submission, device: str = "cpu", trust_pickle: bool = False
) -> RewardFn:
    """Build the submission's RewardFn (see Submission.load_reward)."""
    fmt = submission.model.format
    try:
        if fmt not in LOADERS:  # parse_submission already rejects this
            raise ValueError(f"unknown model format {fmt!r}")
        model = LOADERS[fmt](submission, device, trust_pickle)
    except SubmissionError:
        raise
    except Exception as exc:  # any failure to build the model is this check's failure
        raise SubmissionError(
            submission.name, "load", f"could not load the {fmt} model: {type(exc).__name__}: {exc}"
        ) from exc
    return SubmittedReward(
        model, device=device, native_dtypes=takes_native_dtypes(submission)
    ).eval()


def takes_native_dtypes(submission: Submission) -> bool:
    """Whether the model computes in its inputs' float dtype: only the task's own
    closed-form rewards (format task-reward, our code), never a float32 net."""
    return submission.model.format == "task-reward"
