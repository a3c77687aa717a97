"""The coverage cache never changes the numbers: keyed files, reused, checked on load.

What the cache must do (`benchmark.tasks.coverage_cache`): a cached call returns what
`cache=False` returns; a second call reads the file instead of drawing again; any file that
is not a valid entry for its name gives one warning naming the file and the reason, and is
rebuilt. Real files in a temporary cache folder; the real gridworld task.
"""

import warnings
from pathlib import Path

import pytest
import torch

from benchmark.tasks import coverage_cache, load_task
from benchmark.tasks.coverage import CoverageSample


@pytest.fixture(autouse=True)
def cache_dir(private_cache):
    """Every test here gets its own cache (conftest's `private_cache`)."""
    return private_cache


@pytest.fixture(scope="module")
def grid():
    return load_task("gridworld")


def test_cache_is_reused_and_keyed_by_sizes_seed_and_file(grid, cache_dir, tmp_path):
    first = grid.coverage("random").sample(200, 100, seed=0)
    path = coverage_cache.cache_path(grid, "random", 200, 100, 0)
    assert path.is_file() and path.is_relative_to(cache_dir)
    assert f"gridworld-v{grid.version}" in str(path)
    again = grid.coverage("random").sample(200, 100, seed=0)
    assert torch.equal(first.transitions.obs, again.transitions.obs)
    assert coverage_cache.cache_path(grid, "random", 200, 100, 1) != path
    assert coverage_cache.cache_path(grid, "random", 201, 100, 0) != path
    edited = tmp_path / "gridworld.toml"
    edited.write_text(grid.path.read_text().replace("slip = 0.2", "slip = 0.3"))
    assert coverage_cache.cache_path(load_task(edited), "random", 200, 100, 0) != path


def _cache_warnings(record) -> list[str]:
    """The cache's warnings among those recorded (a library may warn during a rollout)."""
    return [str(w.message) for w in record if "coverage cache" in str(w.message)]


def _assert_rebuild_warning(record, path: Path, reason: str) -> None:
    """What the user must see: one warning naming the file, that it is rebuilt, and why."""
    assert _cache_warnings(record) == [f"rebuilding corrupt coverage cache file {path}: {reason}"]


def test_corrupt_cache_file_is_rebuilt_with_a_warning(grid):
    fresh = grid.coverage("expert").sample(100, 50, seed=0)
    path = coverage_cache.cache_path(grid, "expert", 100, 50, 0)
    path.write_bytes(b"not a safetensors file")
    with pytest.warns(UserWarning, match="corrupt"):
        rebuilt = grid.coverage("expert").sample(100, 50, seed=0)
    assert torch.equal(fresh.transitions.acts, rebuilt.transitions.acts)
    assert torch.equal(coverage_cache.load_sample(path, 100, 50)[0].acts, fresh.transitions.acts)


def test_an_edited_cache_file_fails_its_content_hash_and_is_rebuilt(grid):
    """A changed number still loads as safetensors; the recorded content hash catches it."""
    from safetensors.torch import load_file, save_file

    fresh = grid.coverage("random").sample(100, 50, seed=0)
    path = coverage_cache.cache_path(grid, "random", 100, 50, 0)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    tensors = load_file(str(path))
    tensors["dones"] = 1.0 - tensors["dones"]  # every episode boundary moved
    save_file(tensors, str(path), metadata=metadata)  # the old hash, the new content
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        rebuilt = grid.coverage("random").sample(100, 50, seed=0)
    _assert_rebuild_warning(
        record, path, "its content does not match the hash recorded when it was written"
    )
    assert torch.equal(rebuilt.transitions.dones, fresh.transitions.dones)
    save_file(
        tensors, str(path), metadata={k: v for k, v in metadata.items() if k != "content_sha256"}
    )
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        grid.coverage("random").sample(100, 50, seed=0)
    _assert_rebuild_warning(record, path, "it has no content hash (written by an older epic-bench)")
    assert torch.equal(coverage_cache.load_sample(path, 100, 50)[0].dones, fresh.transitions.dones)


def test_episodes_are_cached_and_a_corrupt_file_is_rebuilt(grid, cache_dir):
    first = grid.coverage("expert").episodes(400, seed=1)
    path = coverage_cache.episodes_cache_path(grid, "expert", 400, 1)
    assert path.is_file() and path.parent.is_relative_to(cache_dir)
    again = grid.coverage("expert").episodes(400, seed=1)
    assert torch.equal(again.obs, first.obs) and torch.equal(again.dones, first.dones)
    path.write_bytes(b"not safetensors")
    with pytest.warns(UserWarning, match="corrupt coverage cache"):
        rebuilt = grid.coverage("expert").episodes(400, seed=1)
    assert torch.equal(rebuilt.next_obs, first.next_obs)


# --- the gaps of the mutation run (docs/testing.md, `tasks/coverage.py`) -----------------

GRID_STATES, GRID_ACTIONS = 25, 5  # gridworld.toml: 5 x 5 cells, 5 moves (one-hot inputs)
SAMPLE_KEYS = (  # sorted, as the message lists them
    "['action_blocks', 'action_samples', 'acts', 'dones', 'next_obs', 'obs', "
    "'state_blocks', 'state_samples']"
)


def _write_cache_file(path: Path, tensors: dict[str, torch.Tensor], hashed: bool = True) -> None:
    """A well-formed safetensors file with a valid content hash: only the edit is wrong."""
    from safetensors.torch import save_file

    tensors = {k: v.contiguous() for k, v in tensors.items()}
    metadata = {"content_sha256": coverage_cache.content_sha256(tensors) if hashed else "0" * 64}
    save_file(tensors, str(path), metadata=metadata)


def _read_cache_file(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def _assert_same_sample(a: CoverageSample, b: CoverageSample) -> None:
    for x, y in (
        (a.transitions.obs, b.transitions.obs),
        (a.transitions.acts, b.transitions.acts),
        (a.transitions.next_obs, b.transitions.next_obs),
        (a.transitions.dones, b.transitions.dones),
        (a.state_samples, b.state_samples),
        (a.action_samples, b.action_samples),
        (a.state_blocks, b.state_blocks),
        (a.action_blocks, b.action_blocks),
    ):
        assert torch.equal(x, y)


def _assert_same_episodes(a, b) -> None:
    for x, y in ((a.obs, b.obs), (a.acts, b.acts), (a.next_obs, b.next_obs), (a.dones, b.dones)):
        assert torch.equal(x, y)


def _sample_with_warnings(coverage, *args, cache=True):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        sample = coverage.sample(*args, cache=cache)
    return sample, record


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        # N matches the name, M does not (and the other way round): both must be refused
        (
            (100, 40),
            f"state_samples has shape (40, {GRID_STATES}); its name (N=100, M=50) "
            f"needs (50, {GRID_STATES})",
        ),
        (
            (120, 50),
            f"obs has shape (120, {GRID_STATES}); its name (N=100, M=50) "
            f"needs (100, {GRID_STATES})",
        ),
    ],
    ids=["same-N-other-M", "other-N-same-M"],
)
def test_a_cache_file_of_other_sizes_is_not_taken_for_this_one(grid, stored, reason):
    coverage = grid.coverage("random")
    coverage.sample(*stored, seed=0)
    path = coverage_cache.cache_path(grid, "random", 100, 50, 0)
    path.write_bytes(coverage_cache.cache_path(grid, "random", *stored, 0).read_bytes())
    sample, record = _sample_with_warnings(coverage, 100, 50, 0)
    _assert_rebuild_warning(record, path, reason)
    _assert_same_sample(sample, coverage.sample(100, 50, seed=0, cache=False))
    assert len(sample.transitions) == 100 and sample.state_samples.shape[0] == 50


# case -> (edit of a valid file's tensors, write a valid content hash, the reason shown)
FOREIGN_SAMPLE_FILES = {
    "other-keys": (lambda t: {"x": torch.zeros(3)}, True, f"keys ['x'] differ from {SAMPLE_KEYS}"),
    # numpy cannot read bfloat16: the dtype must be refused before any hash is computed
    "bfloat16-obs": (
        lambda t: {**t, "obs": t["obs"].to(torch.bfloat16)},
        False,
        "obs is torch.bfloat16, not torch.float32 or torch.float64",
    ),
    "int32-blocks": (
        lambda t: {**t, "state_blocks": t["state_blocks"].to(torch.int32)},
        True,
        "state_blocks is torch.int32, not torch.int64",
    ),
    "short-blocks": (
        lambda t: {**t, "state_blocks": t["state_blocks"][:10]},
        True,
        "state_blocks has shape (10,); its name (N=100, M=50) needs (50,)",
    ),
    "short-action-blocks": (
        lambda t: {**t, "action_blocks": t["action_blocks"][:10]},
        True,
        "action_blocks has shape (10,); its name (N=100, M=50) needs (50,)",
    ),
    "narrow-actions": (
        lambda t: {**t, "action_samples": t["action_samples"][:, :3]},
        True,
        f"action_samples has shape (50, 3); its name (N=100, M=50) needs (50, {GRID_ACTIONS})",
    ),
    "short-dones": (
        lambda t: {**t, "dones": t["dones"][:-1]},
        True,
        "Transitions fields disagree on length: obs has 100 rows, dones has 99",
    ),
}


@pytest.mark.parametrize("case", FOREIGN_SAMPLE_FILES)
def test_a_foreign_cache_file_is_rebuilt_with_a_warning_that_says_what_is_wrong(grid, case):
    """A file that loads as safetensors but is no sample of its name: warned, rebuilt."""
    coverage = grid.coverage("random")
    fresh = coverage.sample(100, 50, seed=0)
    path = coverage_cache.cache_path(grid, "random", 100, 50, 0)
    edit, hashed, reason = FOREIGN_SAMPLE_FILES[case]
    _write_cache_file(path, edit(_read_cache_file(path)), hashed=hashed)
    rebuilt, record = _sample_with_warnings(coverage, 100, 50, 0)
    _assert_rebuild_warning(record, path, reason)
    _assert_same_sample(rebuilt, fresh)
    again, record = _sample_with_warnings(coverage, 100, 50, 0)  # the rebuilt file is valid
    assert _cache_warnings(record) == []
    _assert_same_sample(again, fresh)


def test_a_sample_without_the_cache_leaves_the_cache_file_alone(grid, cache_dir):
    coverage = grid.coverage("random")
    path = coverage_cache.cache_path(grid, "random", 100, 50, 0)
    fresh, record = _sample_with_warnings(coverage, 100, 50, 0, cache=False)
    assert _cache_warnings(record) == [] and not path.exists()  # nothing written
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not safetensors")
    again, record = _sample_with_warnings(coverage, 100, 50, 0, cache=False)
    assert _cache_warnings(record) == []  # nothing read: the damaged file is not even looked at
    assert path.read_bytes() == b"not safetensors"
    _assert_same_sample(again, fresh)


def test_float64_observations_are_a_valid_cache_entry(grid):
    """MuJoCo observations are float64 (`encode` keeps the env's dtype): not corrupt."""
    coverage = grid.coverage("random")
    fresh = coverage.sample(100, 50, seed=0)
    path = coverage_cache.cache_path(grid, "random", 100, 50, 0)
    tensors = _read_cache_file(path)
    for key in ("obs", "next_obs", "state_samples"):
        tensors[key] = tensors[key].double()
    _write_cache_file(path, tensors)
    loaded, record = _sample_with_warnings(coverage, 100, 50, 0)
    assert _cache_warnings(record) == []
    assert loaded.transitions.obs.dtype == torch.float64
    assert torch.equal(loaded.transitions.obs, fresh.transitions.obs.double())


def _episodes_with_warnings(coverage, n, seed, cache=True):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        episodes = coverage.episodes(n, seed=seed, cache=cache)
    return episodes, record


# 8 streams, horizon 20: 400 transitions are 50 steps a stream (2 whole episodes: 320
# transitions), 600 are 75 steps (3 whole episodes: 480).
EPISODE_KEYS = ((400, 1), (400, 2), (600, 1))


def test_episodes_of_each_size_and_seed_have_their_own_cache_file_and_reuse_it(grid, cache_dir):
    coverage = grid.coverage("random")
    first = {key: coverage.episodes(key[0], seed=key[1]) for key in EPISODE_KEYS}
    assert {key: len(e) for key, e in first.items()} == {
        (400, 1): 320,
        (400, 2): 320,
        (600, 1): 480,
    }
    files = sorted(cache_dir.rglob("random-episodes-*.safetensors"))
    assert len(files) == 3
    assert files == sorted(
        coverage_cache.episodes_cache_path(grid, "random", n, s) for n, s in EPISODE_KEYS
    )
    stats = {f: (f.stat().st_ino, f.stat().st_mtime_ns) for f in files}
    for (n, seed), episodes in first.items():
        # the cache never changes the numbers: a fresh rollout of that size and seed
        _assert_same_episodes(episodes, coverage.episodes(n, seed=seed, cache=False))
        again, record = _episodes_with_warnings(coverage, n, seed)
        assert _cache_warnings(record) == []
        _assert_same_episodes(again, episodes)
    # read, not rebuilt: a rebuild writes a new file (atomic rename, a new inode)
    assert {f: (f.stat().st_ino, f.stat().st_mtime_ns) for f in files} == stats


def test_episodes_without_the_cache_leave_the_cache_file_alone(grid, cache_dir):
    coverage = grid.coverage("random")
    path = coverage_cache.episodes_cache_path(grid, "random", 400, 1)
    fresh, record = _episodes_with_warnings(coverage, 400, 1, cache=False)
    assert _cache_warnings(record) == [] and not path.exists()  # nothing written
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not safetensors")
    again, record = _episodes_with_warnings(coverage, 400, 1, cache=False)
    assert _cache_warnings(record) == []  # nothing read: the damaged file is not even looked at
    assert path.read_bytes() == b"not safetensors"
    _assert_same_episodes(again, fresh)


def test_an_episodes_cache_file_that_cannot_be_of_its_name_is_rebuilt(grid):
    coverage = grid.coverage("random")
    fresh = coverage.episodes(400, seed=1)
    path = coverage_cache.episodes_cache_path(grid, "random", 400, 1)
    coverage.episodes(600, seed=1)  # its file, under the name of 400 transitions:
    path.write_bytes(coverage_cache.episodes_cache_path(grid, "random", 600, 1).read_bytes())
    rebuilt, record = _episodes_with_warnings(coverage, 400, 1)
    _assert_rebuild_warning(
        record, path, "it holds 480 transitions, more than the N=400 of its name"
    )
    _assert_same_episodes(rebuilt, fresh)
    # its first 310 of 320 transitions stop 10 steps into the 16th episode: a fragment;
    # and a file of no transitions at all (complete_episodes never returns one)
    for rows in (slice(0, 310), slice(0, 0)):
        _write_cache_file(path, {k: v[rows] for k, v in _read_cache_file(path).items()})
        rebuilt, record = _episodes_with_warnings(coverage, 400, 1)
        _assert_rebuild_warning(record, path, "it does not end with a whole episode")
        _assert_same_episodes(rebuilt, fresh)


def test_episodes_that_fill_the_whole_rollout_are_a_valid_cache_entry(grid):
    """8 streams of 160 / 8 = 20 steps: one whole 20-step episode each, N = 160 kept."""
    coverage = grid.coverage("random")
    first = coverage.episodes(160, seed=0)
    assert len(first) == 160
    again, record = _episodes_with_warnings(coverage, 160, 0)
    assert _cache_warnings(record) == []
    _assert_same_episodes(again, first)
