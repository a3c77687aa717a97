"""The on-disk cache of coverage samples and episodes: file names, writing, checks on load.

Why its own module: the cache must never change the numbers. A file is used only when it
is a valid entry for its name: the expected keys and dtypes, the content hash recorded at
write time, and every field's shape fitting the sizes N and M in the name. Anything else
is rebuilt with one warning naming the file and the reason (`read_cache`).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from benchmark.data import Transitions
from benchmark.paths import atomic_write, cache_root

if TYPE_CHECKING:
    from benchmark.tasks.task import Task

T = TypeVar("T")

# Bump when the sampling code (`coverage.draw`) changes what a (task file, coverage, sizes, seed) produces.
# 2: the last transition is an episode end also when N is not a multiple of n_envs.
# 3: "mixture" is the paper's policy mixture (switching random/expert), not an ε-noisy expert.
# 4: samples record the rollout block each D_S / D_A draw came from (same numbers otherwise).
CACHE_FORMAT = 4


def cache_path(task: Task, coverage: str, n_transitions: int, n_samples: int, seed: int) -> Path:
    """Cache file; the key holds task version, a hash of its TOML, coverage, sizes and seed."""
    name = f"{coverage}-nt{n_transitions}-m{n_samples}-seed{seed}-{_cache_key(task)}"
    return _cache_dir(task) / f"{name}.safetensors"


def episodes_cache_path(task: Task, coverage: str, n_transitions: int, seed: int) -> Path:
    """Cache file of `Coverage.episodes`, next to the samples and keyed the same way."""
    name = f"{coverage}-episodes-nt{n_transitions}-seed{seed}-{_cache_key(task)}"
    return _cache_dir(task) / f"{name}.safetensors"


def _cache_dir(task: Task) -> Path:
    return cache_root() / "coverage" / f"{task.name}-v{task.version}"


def _cache_key(task: Task) -> str:
    return hashlib.sha256(f"{task.toml_sha256}:{CACHE_FORMAT}".encode()).hexdigest()[:12]


TRANSITION_KEYS = ("obs", "acts", "next_obs", "dones")
SAMPLE_KEYS = ("state_samples", "action_samples", "state_blocks", "action_blocks")
_KEYS = (*TRANSITION_KEYS, *SAMPLE_KEYS)
# The dtypes `draw` writes: `encode` keeps a Box env's float dtype (float64 on MuJoCo),
# block indices are int64. Anything else is a damaged or foreign file.
_FLOATS = (torch.float32, torch.float64)
_DTYPES = {
    **{k: _FLOATS for k in (*TRANSITION_KEYS, "state_samples", "action_samples")},
    "state_blocks": (torch.int64,),
    "action_blocks": (torch.int64,),
}


def content_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes, in name order.

    Why: a cache file can be damaged or edited without breaking its format (a flipped
    bit in a float still loads); the hash recorded at write time catches that on load.
    """
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()


def save(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write atomically with a content hash: a temporary file renamed into place."""
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    metadata = {**metadata, "content_sha256": content_sha256(tensors)}
    with atomic_write(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def transition_tensors(t: Transitions) -> dict[str, torch.Tensor]:
    return dict(zip(TRANSITION_KEYS, (t.obs, t.acts, t.next_obs, t.dones), strict=True))


def _load_tensors(path: Path, keys: tuple[str, ...]) -> dict[str, torch.Tensor]:
    with safe_open(str(path), framework="pt") as f:
        recorded = (f.metadata() or {}).get("content_sha256")
    tensors = load_file(str(path))
    if set(tensors) != set(keys):
        raise ValueError(f"keys {sorted(tensors)} differ from {sorted(keys)}")
    for name in keys:  # before hashing: numpy cannot read some dtypes (bfloat16)
        if tensors[name].dtype not in _DTYPES[name]:
            allowed = " or ".join(str(d) for d in _DTYPES[name])
            raise ValueError(f"{name} is {tensors[name].dtype}, not {allowed}")
    if recorded is None:
        raise ValueError("it has no content hash (written by an older epic-bench)")
    if content_sha256(tensors) != recorded:
        raise ValueError("its content does not match the hash recorded when it was written")
    return tensors


def load_sample(
    path: Path, n_transitions: int, n_samples: int
) -> tuple[Transitions, dict[str, torch.Tensor]]:
    """The transitions and the D_S / D_A fields (`SAMPLE_KEYS`) in ``path``; ValueError
    unless every field has the shape its name's N, M give (`CoverageSample`): a file of
    other sizes must not pass for this one."""
    tensors = _load_tensors(path, _KEYS)
    t = Transitions(*(tensors[k] for k in TRANSITION_KEYS))  # checks lengths agree
    expected = {
        "obs": (n_transitions, *t.obs.shape[1:]),
        "state_samples": (n_samples, *t.obs.shape[1:]),
        "action_samples": (n_samples, *t.acts.shape[1:]),
        "state_blocks": (n_samples,),
        "action_blocks": (n_samples,),
    }
    for name, shape in expected.items():
        actual = tuple(tensors[name].shape)
        if actual != shape:
            raise ValueError(
                f"{name} has shape {actual}; its name (N={n_transitions}, M={n_samples}) "
                f"needs {shape}"
            )
    return t, {k: tensors[k] for k in SAMPLE_KEYS}


def load_episodes(path: Path, n_transitions: int) -> Transitions:
    """The episodes in ``path``; ValueError unless they can be `complete_episodes` of a
    rollout of ``n_transitions``: at most that many, ending with a whole episode."""
    tensors = _load_tensors(path, TRANSITION_KEYS)
    episodes = Transitions(*(tensors[k] for k in TRANSITION_KEYS))
    if len(episodes) > n_transitions:
        raise ValueError(
            f"it holds {len(episodes)} transitions, more than the N={n_transitions} of its name"
        )
    if len(episodes) == 0 or episodes.dones[-1] != 1:
        raise ValueError("it does not end with a whole episode")
    return episodes


def read_cache(path: Path, load: Callable[[], T]) -> T | None:
    """``load()`` if ``path`` exists; None (with a warning) when it is corrupt, to rebuild it."""
    if not path.is_file():
        return None
    try:
        return load()
    except (SafetensorError, ValueError, OSError, RuntimeError) as e:
        warnings.warn(f"rebuilding corrupt coverage cache file {path}: {e}", stacklevel=3)
        return None
