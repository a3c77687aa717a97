"""The submission format: ``submissions/<name>/submission.toml`` plus one model file.

Why a separate module: the evaluation runner, the leaderboard and ``validate`` all need
to read a submission's metadata (name, task, method, sha256) without loading any model,
so parsing and integrity checks live here and model loading lives in ``formats.py``.

A submission.toml looks like::

    name = "pointmass-regression"          # lowercase, digits, dashes; == folder name
    task = "pointmass"
    method = "regression"
    authors = ["Ada Lovelace"]
    description = "BasicRewardNet regressed onto the ground-truth reward."
    paper = "https://arxiv.org/abs/2006.13900"   # optional

    [model]
    format = "state-dict"                  # torch-export | state-dict | imitation-pickle | task-reward
    file = "model.safetensors"
    sha256 = "…"                           # of the model file, recorded at submit time
    architecture = "BasicRewardNet"        # state-dict only
    [model.options]                        # the architecture's constructor options
    hid_sizes = [32, 32]

    [provenance]                           # free-form: command, budget, seed, versions
    command = "epic-bench baselines train --method regression --task pointmass"
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.paths import write_text_atomic
from benchmark.vocabulary import CHECKPOINT_SUFFIX

if TYPE_CHECKING:
    from benchmark.data import RewardFn

SUBMISSION_FILE = "submission.toml"
NAME_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
REQUIRED_KEYS = ("name", "task", "method", "authors", "description", "model")
TOP_KEYS = (*REQUIRED_KEYS, "paper", "provenance", "family")
# The [model] keys each format reads; any other key is a typo or a misunderstanding.
MODEL_KEYS = {
    "torch-export": ("format", "file", "sha256"),
    "imitation-pickle": ("format", "file", "sha256"),
    "state-dict": ("format", "file", "sha256", "architecture", "options"),
    "task-reward": ("format", "sha256", "reward", "scale", "potential_scale"),
}
MAX_TOML_BYTES = 1 << 20


class SubmissionError(Exception):
    """A submission failed a check; the message names the submission and the check."""

    def __init__(self, submission: str, check: str, message: str) -> None:
        self.submission = submission
        self.check = check
        self.message = message
        super().__init__(f"submission '{submission}': {check} check failed: {message}")


@dataclass(frozen=True)
class ModelSpec:
    """The ``[model]`` table: how to turn the submission into a RewardFn.

    Attributes:
        format: one of `benchmark.submissions.formats.FORMATS`.
        file: the model file (absolute path), or None for ``task-reward``.
        sha256: hex digest of the model file (for ``task-reward``: of the canonical spec).
        architecture: named architecture for ``state-dict`` (see architectures.py).
        options: constructor options for the architecture.
        params: the remaining keys of the table (e.g. ``reward``, ``scale`` for task-reward).
    """

    format: str
    file: Path | None
    sha256: str
    architecture: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Submission:
    """One parsed, integrity-checked submission (no model loaded yet)."""

    name: str
    task: str
    method: str
    authors: tuple[str, ...]
    description: str
    paper: str | None
    model: ModelSpec
    provenance: dict[str, Any]
    path: Path
    # A checkpoint along one training run: named ``<family>-ckpt<k>`` (vocabulary).
    family: str | None = None

    @property
    def sha256(self) -> str:
        """Digest of the model file as recorded in the TOML (verified at load)."""
        return self.model.sha256

    @property
    def format(self) -> str:
        return self.model.format

    def load_reward(self, device: str = "cpu", trust_pickle: bool = False) -> RewardFn:
        """Load the model as a RewardFn (an ``nn.Module`` in eval mode, no grad).

        Raises SubmissionError (check ``load``) when the model cannot be built, and
        refuses ``imitation-pickle`` unless ``trust_pickle`` is True.
        """
        # Lazy (spec <-> formats, documented): loading imports torch; metadata does not.
        from benchmark.submissions.formats import load_reward

        return load_reward(self, device=device, trust_pickle=trust_pickle)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def spec_digest(table: dict[str, Any]) -> str:
    """sha256 of a canonical JSON of a model table: the identity of a file-less model."""
    canonical = {k: v for k, v in table.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def _require(cond: bool, name: str, check: str, message: str) -> None:
    if not cond:
        raise SubmissionError(name, check, message)


def _parse_model(name: str, folder: Path, table: Any) -> ModelSpec:
    _require(isinstance(table, dict), name, "schema", "[model] must be a table")
    # Lazy, and the one import cycle left (spec <-> formats): the format names live in the
    # loaders' table, and loading imports torch, which reading metadata must not.
    from benchmark.submissions.formats import FORMATS

    fmt = table.get("format")
    _require(
        fmt in FORMATS,
        name,
        "schema",
        f"model.format is {fmt!r}; use one of {', '.join(FORMATS)}",
    )
    _check_keys(name, "model.", table, MODEL_KEYS[fmt])
    options = table.get("options", {})
    _require(isinstance(options, dict), name, "schema", "model.options must be a table")
    params = {k: v for k, v in table.items() if k not in ("format", "file", "sha256", "options")}
    architecture = params.pop("architecture", None)
    if fmt == "state-dict":
        _require(
            isinstance(architecture, str),
            name,
            "schema",
            "a state-dict model needs model.architecture (e.g. 'BasicRewardNet', "
            "'BasicShapedRewardNet', 'mlp')",
        )
    if fmt == "task-reward":
        _require(
            isinstance(params.get("reward"), str),
            name,
            "schema",
            "a task-reward model needs model.reward, the name of one of the task's rewards",
        )
        for key in ("scale", "potential_scale"):
            value = params.get(key, 0.0)
            _require(
                isinstance(value, int | float)
                and not isinstance(value, bool)  # TOML true is not the number 1
                and math.isfinite(value),
                name,
                "schema",
                f"model.{key} must be a finite number, got {value!r}",
            )
        recorded = table.get("sha256")
        digest = spec_digest(table)
        _require(
            recorded is None or recorded == digest,
            name,
            "sha256",
            f"model table was tampered with: recorded sha256 {recorded} but the table hashes to "
            f"{digest}; re-run `epic-bench submit` or restore the original table",
        )
        return ModelSpec(fmt, None, digest, architecture, dict(options), params)

    file_name = table.get("file")
    _require(
        isinstance(file_name, str) and file_name != "",
        name,
        "schema",
        f"a {fmt} model needs model.file, the model file's name inside {folder}",
    )
    model_file = (folder / file_name).resolve()
    _require(
        model_file.parent == folder.resolve(),
        name,
        "schema",
        f"model.file {file_name!r} must name a file directly inside the submission folder",
    )
    _require(
        model_file.is_file(),
        name,
        "file",
        f"model file {file_name!r} is missing from {folder}; add it or fix model.file",
    )
    recorded = table.get("sha256")
    _require(
        isinstance(recorded, str) and re.fullmatch(r"[0-9a-f]{64}", recorded) is not None,
        name,
        "schema",
        "model.sha256 must be the 64-hex-digit sha256 of the model file, recorded at submit time "
        f"(`sha256sum {file_name}`)",
    )
    actual = sha256_file(model_file)
    _require(
        actual == recorded,
        name,
        "sha256",
        f"model file {file_name!r} was tampered with: recorded sha256 {recorded} but the file "
        f"hashes to {actual}; restore the submitted file or re-submit it",
    )
    return ModelSpec(fmt, model_file, recorded, architecture, dict(options), params)


def _check_keys(name: str, prefix: str, table: dict[str, Any], known: tuple[str, ...]) -> None:
    """An unknown key is an error naming it (``papr`` would otherwise be silently ignored)."""
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise SubmissionError(
                name,
                "schema",
                f"unknown key {prefix}{key} in {SUBMISSION_FILE}; {hint}"
                f"the keys are {', '.join(known)}",
            )


def parse_submission(folder: Path, data: dict[str, Any]) -> Submission:
    """Validate a parsed submission.toml and check its files; raises SubmissionError."""
    name = data.get("name") if isinstance(data.get("name"), str) else folder.name
    missing = [k for k in REQUIRED_KEYS if k not in data]
    _require(not missing, name, "schema", f"submission.toml lacks required keys {missing}")
    _check_keys(name, "", data, TOP_KEYS)
    _require(
        NAME_PATTERN.fullmatch(name) is not None,
        name,
        "schema",
        "name must be lowercase letters, digits and single dashes (e.g. 'pointmass-airl')",
    )
    _require(
        name == folder.name,
        name,
        "schema",
        f"name {name!r} must equal the folder name {folder.name!r} (this keeps names unique)",
    )
    for key in ("task", "method", "description"):
        _require(
            isinstance(data[key], str) and data[key].strip() != "",
            name,
            "schema",
            f"{key} must be a non-empty string",
        )
    authors = data["authors"]
    _require(
        isinstance(authors, list) and authors and all(isinstance(a, str) for a in authors),
        name,
        "schema",
        'authors must be a non-empty list of names, e.g. authors = ["Ada Lovelace"]',
    )
    paper = data.get("paper")
    _require(paper is None or isinstance(paper, str), name, "schema", "paper must be a string")
    provenance = data.get("provenance", {})
    _require(isinstance(provenance, dict), name, "schema", "[provenance] must be a table")
    family = data.get("family")
    _require(
        family is None
        or (
            isinstance(family, str)
            and re.fullmatch(rf"{re.escape(family + CHECKPOINT_SUFFIX)}[1-9]\d*", name)
        ),
        name,
        "schema",
        f"family must be a string with the name '<family>{CHECKPOINT_SUFFIX}<k>' (k >= 1), "
        f"e.g. family = 'pointmass-airl' for 'pointmass-airl{CHECKPOINT_SUFFIX}3'",
    )
    _check_task(name, data["task"])
    model = _parse_model(name, folder, data["model"])
    return Submission(
        name=name,
        task=data["task"],
        method=data["method"],
        authors=tuple(authors),
        description=data["description"],
        paper=paper,
        model=model,
        provenance=dict(provenance),
        path=folder.resolve(),
        family=family,
    )


def _check_task(name: str, task: str) -> None:
    # Lazy: the task registry imports gymnasium and torch; reading metadata stays light.
    from benchmark.tasks import list_tasks

    tasks = list_tasks()
    _require(
        task in tasks,
        name,
        "task",
        f"unknown task {task!r}; valid tasks are {', '.join(sorted(tasks))}",
    )


def load_submission(path: str | Path) -> Submission:
    """Read ``path/submission.toml`` (or the file itself), check schema, task, file, sha256.

    Loads no model. Raises SubmissionError naming the submission and the failed check.
    """
    path = Path(path)
    folder = path.parent if path.name == SUBMISSION_FILE else path
    toml_file = folder / SUBMISSION_FILE
    if not toml_file.is_file():  # missing, or a folder of that name
        raise SubmissionError(
            folder.name,
            "file",
            f"{toml_file} does not exist; a submission is a folder holding {SUBMISSION_FILE}",
        )
    size = toml_file.stat().st_size
    if size > MAX_TOML_BYTES:
        raise SubmissionError(
            folder.name, "schema", f"{toml_file} is {size} bytes; the limit is {MAX_TOML_BYTES}"
        )
    try:
        text = toml_file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionError(
            folder.name,
            "schema",
            f"{toml_file} is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8",
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SubmissionError(
            folder.name, "schema", f"{toml_file} is not valid TOML: {exc}"
        ) from exc
    except RecursionError:
        raise SubmissionError(
            folder.name, "schema", f"{toml_file} nests arrays or tables too deeply to read"
        ) from None
    return parse_submission(folder, data)


def list_submissions(root: str | Path = "submissions") -> list[Submission]:
    """All valid submissions under ``root``, sorted by name (invalid ones are skipped).

    Use ``scan_submissions`` to see the invalid ones and why.
    """
    return [s for s in scan_submissions(root) if isinstance(s, Submission)]


def scan_submissions(root: str | Path = "submissions") -> list[Submission | SubmissionError]:
    """Every folder under ``root`` with a submission.toml: a Submission or the error it gives."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"submissions root {root} is not a directory")
    found: list[Submission | SubmissionError] = []
    for folder in sorted(p for p in root.iterdir() if (p / SUBMISSION_FILE).exists()):
        try:
            found.append(load_submission(folder))
        except SubmissionError as exc:
            found.append(exc)
        except (OSError, ValueError) as exc:  # unreadable: reported by name, the rest go on
            found.append(SubmissionError(folder.name, "file", f"{type(exc).__name__}: {exc}"))
    return found


# -- writing ---------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write non-finite float {value} to TOML")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dumps_toml(data: dict[str, Any], _prefix: str = "") -> str:
    """A minimal TOML writer for submission files (scalars, lists, nested tables)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    out = "\n".join(lines) + ("\n" if lines else "")
    for key, value in data.items():
        if isinstance(value, dict):
            table = f"{_prefix}{key}"
            out += f"\n[{table}]\n" + dumps_toml(value, _prefix=f"{table}.")
    return out


def write_submission(folder: Path, data: dict[str, Any]) -> Submission:
    """Write ``data`` as folder/submission.toml, filling model.sha256, and load it back."""
    folder.mkdir(parents=True, exist_ok=True)
    model = dict(data["model"])
    if model.get("format") == "task-reward":
        model["sha256"] = spec_digest(model)
    else:
        model["sha256"] = sha256_file(folder / model["file"])
    data = {**data, "model": model}
    write_text_atomic(folder / SUBMISSION_FILE, dumps_toml(data))
    return load_submission(folder)
