"""Hostile submissions, built here byte by byte, are refused or contained.

Each hostile .pt2 is first shown to do harm through torch's own loader (in a separate
process, against a file in tmp_path), so the test proves the defence and not a harmless
file. Then ``validate`` and ``Submission.load_reward`` must refuse it with a message
naming the problem, with no effect on the file system, and a model that hangs, crashes
or allocates without bound must fail its call quickly with a clear error.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import hostile_models
import pytest
import torch
from torch import nn

from benchmark.submissions import (
    SubmissionError,
    ValidationConfig,
    load_submission,
    validate_submission,
    write_submission,
)
from benchmark.submissions.archive import ArchiveError, safe_program_bytes
from benchmark.submissions.contained import ContainedReward, ModelCallError, WorkerLimits

TASK = "pointmass"  # obs [6], acts [2]
FAST = ValidationConfig(n_transitions=32, batch_size=64, timing_repeats=1, batch_sizes=(1, 40))
INPUTS = (torch.zeros(3, 6), torch.zeros(3, 2), torch.zeros(3, 6), torch.zeros(3))


class Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(6, 1)

    def forward(self, obs, acts, next_obs, dones):
        return self.layer(next_obs).squeeze(-1)


class Counter(nn.Module):
    """Keeps state across calls in a buffer: its rewards depend on the call count."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, obs, acts, next_obs, dones):
        self.calls.add_(1)
        return obs.sum(dim=1) + self.calls


class ManyMatmuls(nn.Module):
    """Pure operators only, but minutes of work per forward (a 'huge loop' unrolled)."""

    def forward(self, obs, acts, next_obs, dones):
        x = torch.ones(3000, 3000) * obs.sum()
        for _ in range(200):
            x = torch.tanh(x @ x)
        return obs.sum(dim=1) + x.sum()


def _meta(name: str) -> dict:
    return {
        "name": name,
        "task": TASK,
        "method": "test",
        "authors": ["Test"],
        "description": "a hostile test submission",
    }


def _export(module: nn.Module, file: Path) -> None:
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    program = torch.export.export(
        module.eval(), INPUTS, dynamic_shapes=tuple({0: batch} for _ in INPUTS), strict=False
    )
    torch.export.save(program, str(file))


def _rewrite(file: Path, edit) -> None:
    """Rewrite the archive entry by entry: ``edit(rel_name, bytes) -> {name: bytes}``."""
    with zipfile.ZipFile(file) as archive:
        entries = [(info.filename, archive.read(info)) for info in archive.infolist()]
    prefix = entries[0][0].split("/", 1)[0]
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED) as out:
        for name, raw in entries:
            for rel, new in edit(name.split("/", 1)[1], raw).items():
                out.writestr(f"{prefix}/{rel}", new)


def _submit(root: Path, name: str, build) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    build(folder / "model.pt2")
    write_submission(
        folder, {**_meta(name), "model": {"format": "torch-export", "file": "model.pt2"}}
    )
    return folder


def _torch_loads_and_runs(file: Path) -> subprocess.CompletedProcess:
    """torch's own loader on ``file`` then one forward, in a separate process."""
    code = (
        "import sys, torch\n"
        "m = torch.export.load(sys.argv[1]).module()\n"
        "m(torch.zeros(3, 6), torch.zeros(3, 2), torch.zeros(3, 6), torch.zeros(3))\n"
    )
    return subprocess.run([sys.executable, "-c", code, str(file)], capture_output=True, timeout=300)


def _refused(folder: Path, match: str) -> None:
    report = validate_submission(folder, FAST)
    assert [r.check for r in report.failures] == ["load"], report.format()
    assert match in report.failures[0].detail, report.failures[0].detail
    with pytest.raises(SubmissionError, match=re.escape(match)):
        load_submission(folder).load_reward()


def _pickle_bytes(obj: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


# -- archives refused before torch reads them ------------------------------------------


def test_a_pickled_weight_is_refused_and_its_code_never_runs(tmp_path):
    marker = tmp_path / "pwned-by-weight"

    def pickled_weight(file: Path) -> None:
        _export(Linear(), file)

        def edit(rel, raw):
            if rel == "data/weights/model_weights_config.json":
                config = json.loads(raw)
                config["config"]["layer.weight"]["use_pickle"] = True
                return {rel: json.dumps(config).encode()}
            if rel == "data/weights/weight_0":
                return {rel: _pickle_bytes(hostile_models.WritesAtUnpickling(str(marker)))}
            return {rel: raw}

        _rewrite(file, edit)

    folder = _submit(tmp_path, "pickled-weight", pickled_weight)
    _torch_loads_and_runs(folder / "model.pt2")
    assert marker.exists(), "precondition: torch's loader runs the pickled weight's code"
    marker.unlink()
    _refused(folder, "pickled (use_pickle)")
    assert not marker.exists()


def test_a_legacy_weights_file_is_refused(tmp_path):
    marker = tmp_path / "pwned-by-legacy"

    def legacy(file: Path) -> None:
        _export(Linear(), file)
        evil = _pickle_bytes(hostile_models.WritesAtUnpickling(str(marker)))
        _rewrite(
            file,
            lambda rel, raw: (
                {rel: raw, "data/weights/model.pt": evil}
                if rel.endswith("weight_0")
                else {rel: raw}
            ),
        )

    folder = _submit(tmp_path, "legacy-weights", legacy)
    _torch_loads_and_runs(folder / "model.pt2")
    assert marker.exists(), "precondition: torch's loader unpickles a legacy weights file"
    marker.unlink()
    _refused(folder, "legacy pickled weights file")
    assert not marker.exists()


def test_pickled_sample_inputs_are_dropped_not_unpickled(tmp_path):
    """torch falls back to weights_only=False when the sample inputs fail a safe load."""
    marker = tmp_path / "pwned-by-sample-inputs"

    def sample_inputs(file: Path) -> None:
        _export(Linear(), file)
        evil = _pickle_bytes(hostile_models.WritesAtUnpickling(str(marker)))
        _rewrite(file, lambda rel, raw: {rel: evil if "sample_inputs" in rel else raw})

    folder = _submit(tmp_path, "pickled-inputs", sample_inputs)
    _torch_loads_and_runs(folder / "model.pt2")
    assert marker.exists(), "precondition: torch's loader unpickles the sample inputs"
    marker.unlink()
    report = validate_submission(folder, FAST)
    assert report.passed, report.format()  # the model itself is fine; the inputs are ignored
    assert not marker.exists()


def test_a_file_writing_operator_is_refused(tmp_path):
    """aten.from_file(path, shared=True) + fill_ overwrites a file: no pickle involved."""
    victim = tmp_path / "victim.txt"

    class FullThenFill(nn.Module):
        def forward(self, obs, acts, next_obs, dones):
            m = torch.full((4,), 1, dtype=torch.uint8)
            m.fill_(88)
            return obs.sum(dim=1) + m.sum() * 0

    def from_file(file: Path) -> None:
        _export(FullThenFill(), file)

        def edit(rel, raw):
            if rel != "models/model.json":
                return {rel: raw}
            program = json.loads(raw)
            node = program["graph_module"]["graph"]["nodes"][0]
            assert node["target"] == "torch.ops.aten.full.default"
            node["target"] = "torch.ops.aten.from_file.default"
            node["inputs"] = [
                {"name": "filename", "arg": {"as_string": str(victim)}, "kind": 1},
                {"name": "shared", "arg": {"as_bool": True}, "kind": 1},
                {"name": "size", "arg": {"as_int": 4}, "kind": 1},
                {"name": "dtype", "arg": {"as_scalar_type": 1}, "kind": 2},
            ]
            return {rel: json.dumps(program).encode()}

        _rewrite(file, edit)

    folder = _submit(tmp_path, "from-file", from_file)
    victim.write_text("abcdefgh")
    _torch_loads_and_runs(folder / "model.pt2")
    assert victim.read_text() == "XXXXefgh", "precondition: torch runs the file-writing graph"
    victim.write_text("abcdefgh")
    _refused(folder, "torch.ops.aten.from_file.default")
    assert victim.read_text() == "abcdefgh"


def test_an_in_place_operator_is_refused(tmp_path):
    folder = _submit(tmp_path, "stateful", lambda f: _export(Counter(), f))
    _refused(folder, "in-place operator")


def test_a_zip_bomb_is_refused_before_inflating(tmp_path):
    file = tmp_path / "bomb.pt2"
    _export(Linear(), file)
    with zipfile.ZipFile(file, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        prefix = archive.namelist()[0].split("/", 1)[0]
        with archive.open(f"{prefix}/data/weights/weight_9", "w", force_zip64=True) as entry:
            zeros = bytes(1 << 24)
            for _ in range(32):  # 512 MiB of zeros, about 0.5 MiB on disk
                entry.write(zeros)
    assert file.stat().st_size < 8 << 20
    start = time.perf_counter()
    with pytest.raises(ArchiveError, match="compressed or encrypted"):
        safe_program_bytes(file)
    assert time.perf_counter() - start < 5


def test_absurd_declared_sizes_are_refused_before_allocation(tmp_path):
    file = tmp_path / "absurd.pt2"
    _export(Linear(), file)

    def empty_weight_of_huge_shape(rel, raw):
        if rel == "data/weights/model_weights_config.json":
            config = json.loads(raw)
            config["config"]["layer.weight"]["tensor_meta"]["sizes"] = [
                {"as_int": 1 << 20},
                {"as_int": 1 << 20},
            ]
            return {rel: json.dumps(config).encode()}
        return {rel: b"" if rel == "data/weights/weight_0" else raw}

    _rewrite(file, empty_weight_of_huge_shape)
    with pytest.raises(ArchiveError, match="larger than its 0 bytes"):
        safe_program_bytes(file)

    big = tmp_path / "big.pt2"
    big.write_bytes(b"\0" * 2048)
    with pytest.raises(ArchiveError, match="above the 1024 limit"):
        from benchmark.submissions.archive import ArchiveLimits

        safe_program_bytes(big, ArchiveLimits(max_file_bytes=1024))


@pytest.mark.parametrize(
    ("where", "value", "match"),
    [
        ("range_constraints", "__import__('os').system('touch pwned')", "quotes something"),
        ("extra", "print('hi')", "outside the layout"),
        ("spec", "collections.defaultdict", "only tuples, lists and dicts"),
    ],
)
def test_code_hidden_in_metadata_is_refused(tmp_path, where, value, match):
    file = tmp_path / "meta.pt2"
    _export(Linear(), file)

    def edit(rel, raw):
        if where == "extra" and rel == "archive_format":
            return {rel: raw, "extra/evil.py": value.encode()}
        if rel != "models/model.json":
            return {rel: raw}
        program = json.loads(raw)
        if where == "range_constraints":
            program["range_constraints"][value] = {"min_val": 0, "max_val": None}
        if where == "spec":
            call = program["graph_module"]["module_call_graph"][0]["signature"]
            call["in_spec"] = call["in_spec"].replace("builtins.dict", value)
        return {rel: json.dumps(program).encode()}

    _rewrite(file, edit)
    with pytest.raises(ArchiveError, match=match):
        safe_program_bytes(file)


def test_a_clean_export_loads_and_matches_the_module(tmp_path):
    module = Linear().eval()
    folder = _submit(tmp_path, "clean", lambda f: _export(module, f))
    rows = (torch.randn(5, 6), torch.randn(5, 2), torch.randn(5, 6), torch.zeros(5))
    with ContainedReward(load_submission(folder)) as reward:
        torch.testing.assert_close(reward(*rows), module(*rows).detach())
    assert validate_submission(folder, FAST).passed


# -- models contained at run time --------------------------------------------------------


def _pickled(tmp_path: Path, name: str, module: nn.Module):
    folder = tmp_path / name
    folder.mkdir()
    torch.save(module, folder / "model.pt")
    model = {"format": "imitation-pickle", "file": "model.pt"}
    return write_submission(folder, {**_meta(name), "model": model})


def _rows(n: int = 8) -> tuple[torch.Tensor, ...]:
    return torch.randn(n, 6), torch.randn(n, 2), torch.randn(n, 6), torch.zeros(n)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_forward_that_never_returns_is_killed_after_the_call_limit(tmp_path):
    sub = _pickled(tmp_path, "sleeps", hostile_models.SleepsForever())
    reward = ContainedReward(sub, WorkerLimits(call_timeout_s=1.0), trust_pickle=True)
    reward.start()
    pid = reward._process.pid
    start = time.perf_counter()
    with pytest.raises(ModelCallError, match="did not return from one forward within 1 s"):
        reward(*_rows())
    assert time.perf_counter() - start < 10
    assert _gone(pid)


def test_a_pure_graph_with_minutes_of_work_is_killed_too(tmp_path):
    folder = _submit(tmp_path, "many-matmuls", lambda f: _export(ManyMatmuls(), f))
    with ContainedReward(load_submission(folder), WorkerLimits(call_timeout_s=2.0)) as reward:
        reward.start()  # start-up and loading are not the forward being timed
        start = time.perf_counter()
        with pytest.raises(ModelCallError, match="within 2 s"):
            reward(*_rows())
        assert time.perf_counter() - start < 15


def test_a_crashing_worker_is_reported_and_the_next_call_gets_a_new_worker(tmp_path):
    sub = _pickled(tmp_path, "segfaults", hostile_models.CrashesInterpreter())
    with ContainedReward(sub, trust_pickle=True) as reward:
        with pytest.raises(ModelCallError, match="killed by signal SIGSEGV"):
            reward(*_rows())
        with pytest.raises(ModelCallError, match="SIGSEGV"):  # restarted, crashes again
            reward(*_rows())
    good = _pickled(tmp_path, "fine", hostile_models.SumReward())
    with ContainedReward(good, trust_pickle=True) as reward:
        obs, acts, next_obs, dones = _rows()
        torch.testing.assert_close(reward(obs, acts, next_obs, dones), obs.sum(dim=1))


def test_a_forward_past_the_memory_limit_fails_that_call(tmp_path):
    sub = _pickled(tmp_path, "allocates", hostile_models.AllocatesWithoutBound())
    limits = WorkerLimits(memory_bytes=4 << 30)
    with ContainedReward(sub, limits, trust_pickle=True) as reward:
        with pytest.raises(ModelCallError, match="can't allocate memory|not enough memory"):
            reward(*_rows())


def test_a_trusted_model_cannot_write_files_from_the_worker(tmp_path):
    target = tmp_path / "log.txt"
    target.write_text("")
    sub = _pickled(tmp_path, "writes", hostile_models.WritesAFile(str(target)))
    with ContainedReward(sub, trust_pickle=True) as reward:
        with pytest.raises(ModelCallError, match="File too large"):
            reward(*_rows())
    assert target.read_text() == ""
