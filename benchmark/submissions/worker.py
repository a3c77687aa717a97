"""The model worker: a separate process that loads one submission and answers forwards.

Run as ``python -m benchmark.submissions.worker``; ``contained.py`` starts and talks to
it. Why a process: a forward that never returns, allocates without bound or crashes
the interpreter must fail one unit, not the whole evaluation, and Python cannot stop a
thread stuck in C++. The process limits itself before it reads any submission byte
(resource.setrlimit): address space (CPU only; CUDA reserves address space it never
uses), file size 0 (it cannot write a file) and no core dumps.

Protocol (wire.py) on the stdin/stdout pipes the evaluator opened; the worker moves them
to private descriptors first, so a model that prints cannot corrupt an answer:
  L {"path", "sha256", "device", "trust_pickle", "threads"}  ->  K {"format"} | E {...}
  C arrays [obs, acts, next_obs, dones] (f32/f64)             ->  R [rewards] | E {...}
  Q                                                           ->  (exits)
An E answer is {"check": "load" | "run" | "shape" | "dtype", "message": str}.
"""

from __future__ import annotations

import os
import resource
import signal
import sys
from typing import Any

MAX_REQUEST_BYTES = 1 << 34


def limit_resources(memory_bytes: int | None) -> None:
    """Apply this process's limits; called first thing, before any submission is read."""
    _die_with_parent()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, no kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory_bytes is not None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the evaluator dies, even mid-forward (best effort)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main() -> None:
    memory = os.environ.get("EPIC_BENCH_WORKER_MEMORY", "")
    limit_resources(int(memory) if memory else None)
    in_fd, out_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # print() in a model goes to stderr, never into the protocol
    from benchmark.submissions import wire

    reward = None
    device = "cpu"
    while True:
        try:
            kind, payload = wire.receive(in_fd, MAX_REQUEST_BYTES)
        except EOFError:
            return
        if kind == b"Q":
            return
        if kind == b"L":
            request = wire.decode_json(payload)
            device = request["device"]
            reward, answer = _load(request)
            wire.send(out_fd, *answer)
        elif kind == b"C" and reward is not None:
            wire.send(out_fd, *_forward(reward, wire.decode_arrays(payload), device))
        else:
            wire.send(out_fd, b"E", wire.encode_json({"check": "run", "message": "no model"}))


def _sendable() -> tuple:
    """The torch dtypes wire.DTYPES can carry."""
    import torch

    return (torch.float16, torch.float32, torch.float64, torch.int64, torch.int32, torch.int16,
            torch.int8, torch.uint8, torch.bool)  # fmt: skip


def _error(check: str, message: str) -> tuple[bytes, bytes]:
    from benchmark.submissions.wire import encode_json

    return b"E", encode_json({"check": check, "message": message[:2000]})


def _load(request: dict[str, Any]) -> tuple[Any, tuple[bytes, bytes]]:
    import torch

    from benchmark.submissions.formats import load_reward
    from benchmark.submissions.spec import SubmissionError, load_submission
    from benchmark.submissions.wire import encode_json

    if request.get("threads"):
        torch.set_num_threads(int(request["threads"]))
    try:
        submission = load_submission(request["path"])
        if submission.sha256 != request["sha256"]:
            return None, _error(
                "sha256",
                f"the submission changed since it was listed (sha256 {submission.sha256[:12]} "
                f"!= {request['sha256'][:12]}); re-run the command",
            )
        reward = load_reward(submission, request["device"], bool(request["trust_pickle"]))
    except SubmissionError as exc:
        return None, _error(exc.check, exc.message)
    except Exception as exc:  # noqa: BLE001 - reported to the evaluator as a load failure
        return None, _error("load", f"{type(exc).__name__}: {exc}")
    return reward, (b"K", encode_json({"format": submission.format}))


def _forward(reward, arrays: list, device: str) -> tuple[bytes, bytes]:
    import numpy as np
    import torch

    from benchmark.submissions.wire import encode_arrays

    if len(arrays) != 4:
        return _error("run", f"expected 4 input arrays, got {len(arrays)}")
    inputs = [torch.from_numpy(np.array(a)).to(device) for a in arrays]
    try:
        out = reward(*inputs)
    except Exception as exc:  # noqa: BLE001 - the model's own failure, reported by name
        return _error("run", f"the model raised {type(exc).__name__}: {exc}")
    if not isinstance(out, torch.Tensor):
        return _error("shape", f"the model returned a {type(out).__name__}, not a tensor")
    out = out.detach().to("cpu")
    if out.dtype == torch.bfloat16:
        out = out.to(torch.float32)
    if out.dtype not in _sendable():
        return _error("dtype", f"the model returned rewards of dtype {out.dtype}")
    return b"R", encode_arrays([out.contiguous().numpy()])


if __name__ == "__main__":
    sys.exit(main())
