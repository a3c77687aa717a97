"""A bare model file as a submission, for quick scoring and comparison.

Why: a researcher iterating on a reward model has a file (``reward_net.pt`` from
imitation, a ``.pt2`` export, safetensors weights), not yet a submission folder. Wrapping
the file in a scratch folder with a generated ``submission.toml`` lets ``evaluate`` and
``compare`` use exactly the loaders, sha256 identity and checks of real submissions, so a
quick score is the number the same model would get once submitted.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from benchmark.submissions.spec import Submission, SubmissionError, write_submission

# File suffix -> submission format (see benchmark.submissions.formats).
MODEL_FILE_FORMATS = {
    ".pt2": "torch-export",
    ".safetensors": "state-dict",
    ".pt": "imitation-pickle",
    ".pth": "imitation-pickle",
}


def name_for_model_file(path: str | Path) -> str:
    """A valid submission name from a file name: ``reward_net.pt`` -> ``reward-net``."""
    stem = re.sub(r"[^a-z0-9]+", "-", Path(path).stem.lower()).strip("-")
    return stem or "model"


def model_file_submission(
    path: str | Path,
    *,
    task: str,
    root: str | Path,
    name: str | None = None,
    architecture: str | None = None,
    options: dict[str, Any] | None = None,
) -> Submission:
    """Write ``root/<name>/`` holding a copy of ``path`` and its submission.toml; load it.

    Args:
        path: the model file; its suffix picks the format (MODEL_FILE_FORMATS).
        task: the task the model was trained for.
        root: scratch folder for generated submissions (never the shipped ``submissions/``).
        name: submission name (default from the file name).
        architecture, options: for safetensors weights, the named architecture and its
            constructor options (as ``[model]`` of a submission.toml).

    Raises:
        SubmissionError: unknown suffix, missing file, or a safetensors file without an
            architecture; the message says what to pass.
    """
    path = Path(path)
    name = name or name_for_model_file(path)
    if not path.is_file():
        raise SubmissionError(name, "file", f"model file {path} does not exist")
    fmt = MODEL_FILE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SubmissionError(
            name,
            "schema",
            f"cannot tell the format of {path.name} from its suffix; use one of "
            f"{', '.join(MODEL_FILE_FORMATS)} (torch.export program, safetensors weights with "
            "--architecture, or an imitation net saved with torch.save and --trust-pickle)",
        )
    if fmt == "state-dict" and not architecture:
        raise SubmissionError(
            name,
            "schema",
            f"{path.name} holds only weights; pass --architecture (BasicRewardNet, "
            "BasicShapedRewardNet or mlp) and its --options as JSON, e.g. "
            "'{\"hid_sizes\": [32, 32]}'",
        )
    folder = Path(root) / name
    if folder.exists():
        shutil.rmtree(folder)  # a scratch folder: the previous copy of this name is replaced
    folder.mkdir(parents=True)
    model_name = f"model{path.suffix.lower()}"
    shutil.copyfile(path, folder / model_name)
    model: dict[str, Any] = {"format": fmt, "file": model_name}
    if fmt == "state-dict":
        model["architecture"] = architecture
        model["options"] = dict(options or {})
    data = {
        "name": name,
        "task": task,
        "method": "model file",
        "authors": ["local"],
        "description": f"Scored from {path.resolve()} without a submission folder.",
        "model": model,
        "provenance": {"source_file": str(path.resolve())},
    }
    return write_submission(folder, data)
