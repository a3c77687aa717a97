"""Writing submissions: save a live reward net safely, and convert imitation's pickles.

Why: imitation's training scripts save a whole reward net with ``torch.save`` (a pickle,
unsafe to load). ``submit --from-imitation`` loads it once, on the user's own machine
with ``--trust-pickle``, and writes a safe folder: ``state-dict`` when the net is one of
the named architectures (checked by comparing outputs), otherwise ``torch-export``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from benchmark.submissions.architectures import build_architecture, infer_architecture
from benchmark.submissions.spec import (
    NAME_PATTERN,
    Submission,
    SubmissionError,
    sha256_file,
    write_submission,
)
from benchmark.submissions.validation import ValidationConfig, ValidationReport, validate_submission
from benchmark.tasks import Task, list_tasks, load_task

STATE_DICT_FILE = "model.safetensors"
EXPORT_FILE = "model.pt2"


def example_inputs(task: Task, n: int = 64, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """(obs, acts, next_obs, dones) float32 rows from the task's first coverage."""
    sample = task.coverage(task.coverage_names[0]).sample(n, 8, seed)
    t = sample.transitions
    return tuple(x.to(torch.float32) for x in (t.obs, t.acts, t.next_obs, t.dones))


def export_reward(module: nn.Module, inputs: tuple[torch.Tensor, ...], file: Path) -> None:
    """Save ``module`` as a torch.export program with a dynamic batch dimension."""
    batch = torch.export.Dim("batch", min=1, max=1 << 24)
    dynamic = tuple({0: batch} for _ in inputs)
    program = torch.export.export(module.eval(), inputs, dynamic_shapes=dynamic, strict=False)
    torch.export.save(program, str(file))


def _save_state_dict(
    module: nn.Module,
    architecture: str,
    options: dict,
    task: Task,
    inputs: tuple[torch.Tensor, ...],
    file: Path,
) -> bool:
    """Write safetensors; True if the rebuilt net reproduces ``module``'s outputs."""
    state = {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}
    save_file(state, str(file))
    rebuilt = build_architecture(architecture, options, task.observation_space, task.action_space)
    rebuilt.load_state_dict(load_file(str(file)), strict=True)
    with torch.no_grad():
        return torch.allclose(rebuilt.eval()(*inputs), module.eval()(*inputs), atol=1e-6)


def save_model(
    net: nn.Module, folder: Path, task: Task, prefer: str = "state-dict"
) -> dict[str, Any]:
    """Save ``net`` into ``folder`` in a safe format; returns the TOML ``[model]`` table.

    ``prefer="state-dict"`` falls back to torch-export when the net is not a named
    architecture or its rebuilt copy disagrees; ``prefer="torch-export"`` always exports.
    """
    folder.mkdir(parents=True, exist_ok=True)
    net = net.to("cpu").eval()
    inputs = example_inputs(task)
    if prefer == "state-dict":
        try:
            architecture, options, module = infer_architecture(net)
        except ValueError:
            pass
        else:
            file = folder / STATE_DICT_FILE
            if _save_state_dict(module, architecture, options, task, inputs, file):
                return {
                    "format": "state-dict",
                    "file": STATE_DICT_FILE,
                    "architecture": architecture,
                    "options": options,
                }
            file.unlink()
    elif prefer != "torch-export":
        raise ValueError(f"prefer must be 'state-dict' or 'torch-export', got {prefer!r}")
    export_reward(net, inputs, folder / EXPORT_FILE)
    return {"format": "torch-export", "file": EXPORT_FILE}


@dataclass
class Conversion:
    """What submit --from-imitation produced."""

    submission: Submission | None
    report: ValidationReport
    folder: Path

    def instructions(self) -> str:
        """What the user does next: commit the folder and open a pull request."""
        if not self.report.passed:
            return f"{self.folder} was written but does not validate; fix the failures above."
        files = " ".join(str(p) for p in sorted(self.folder.iterdir()))
        return (
            f"{self.folder} is a valid submission. Edit authors/description/method in its "
            "submission.toml if needed (editing the TOML does not change model.sha256), then:\n"
            f"    git add {files}\n"
            f'    git commit -m "Add submission {self.folder.name}"\n'
            "and open a pull request."
        )


def submit_from_imitation(
    source: str | Path,
    *,
    task: str,
    name: str,
    root: str | Path = "submissions",
    trust_pickle: bool = False,
    method: str = "unspecified",
    authors: list[str] | None = None,
    description: str | None = None,
    paper: str | None = None,
    prefer: str = "state-dict",
    overwrite: bool = False,
    config: ValidationConfig | None = None,
) -> Conversion:
    """Turn a reward net saved by imitation (``torch.save(reward_net, path)``) into a folder.

    Raises SubmissionError (naming ``name`` and the check) for a refused pickle, a bad
    name or task, an existing folder, or a file that is not a reward net; validation
    failures of the written folder come back in the report.
    """
    source = Path(source)
    if NAME_PATTERN.fullmatch(name) is None:
        raise SubmissionError(name, "schema", "name must be lowercase letters, digits and dashes")
    if task not in list_tasks():
        raise SubmissionError(
            name, "task", f"unknown task {task!r}; valid tasks are {', '.join(list_tasks())}"
        )
    if not source.is_file():
        raise SubmissionError(name, "file", f"{source} does not exist")
    if not trust_pickle:
        raise SubmissionError(
            name,
            "load",
            f"{source} is a pickle saved by torch.save; loading it runs arbitrary code, so it "
            "is refused. Pass --trust-pickle if you trust the file (e.g. you trained it).",
        )
    folder = Path(root) / name
    if folder.exists() and not overwrite:
        raise SubmissionError(name, "schema", f"{folder} already exists; choose another --name")
    try:
        net = torch.load(str(source), map_location="cpu", weights_only=False)
    except Exception as exc:
        raise SubmissionError(name, "load", f"could not unpickle {source}: {exc}") from exc
    if not isinstance(net, nn.Module):
        raise SubmissionError(
            name, "load", f"{source} holds a {type(net).__name__}, not an imitation reward net"
        )
    task_obj = load_task(task)
    if folder.exists():
        shutil.rmtree(folder)
    try:
        model = save_model(net, folder, task_obj, prefer=prefer)
    except Exception as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise SubmissionError(
            name,
            "load",
            f"could not convert {source} to a safe format: {type(exc).__name__}: {exc}",
        ) from exc
    data: dict[str, Any] = {
        "name": name,
        "task": task,
        "method": method,
        "authors": authors or ["unknown"],
        "description": description
        or f"Reward net converted from imitation ({type(net).__name__}).",
    }
    if paper:
        data["paper"] = paper
    data["model"] = model
    data["provenance"] = {
        "converted_from": source.name,
        "source_sha256": sha256_file(source),
        "source_class": f"{type(net).__module__}.{type(net).__qualname__}",
    }
    submission = write_submission(folder, data)
    report = validate_submission(folder, config)
    return Conversion(submission, report, folder)
