"""A submission's RewardFn whose every forward runs in a contained worker process.

Why: the evaluator must survive any model. ``ContainedReward`` starts
``python -m benchmark.submissions.worker`` (worker.py), which limits its own memory
and file writes before it loads the submission; each call sends the four input arrays
as raw float32 bytes (float64 ones as float64) and waits at most ``call_timeout_s`` for
the rewards. A hang is killed and reported, a crash is reported with the tail of the
worker's stderr, and nothing the worker sends is unpickled (wire.py). The worker keeps
the model loaded between calls, and a killed worker is restarted for the next call.

    reward = ContainedReward(submission, WorkerLimits(call_timeout_s=60))
    rewards = reward(obs, acts, next_obs, dones)   # torch.Tensor [B], like any RewardFn
    reward.close()
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from benchmark.submissions import wire
from benchmark.submissions.formats import takes_native_dtypes
from benchmark.submissions.spec import Submission, SubmissionError


@dataclass(frozen=True)
class WorkerLimits:
    """Limits of one model worker.

    call_timeout_s: seconds one forward may take before the worker is killed.
    load_timeout_s: seconds for start-up (Python, torch) and loading the model.
    memory_bytes: the worker's address-space limit on CPU (None: none). A reward
        net needs far less; torch itself takes ~1 GiB of address space.
    threads: torch threads in the worker (None: torch's default).
    """

    call_timeout_s: float = 60.0
    load_timeout_s: float = 180.0
    memory_bytes: int | None = 8 << 30
    threads: int | None = 1


class ModelCallError(SubmissionError):
    """A forward failed in the worker: raised, timed out, crashed or broke the protocol."""


_LIVE: weakref.WeakSet[ContainedReward] = weakref.WeakSet()
_UNIT = threading.local()  # .deadline (time.monotonic) and .limit_s of the running unit


class ContainedReward:
    """RewardFn of a submission, computed in a worker process (see the module docstring).

    Inputs obs/next_obs [B, *obs], acts [B, *act], dones [B] (any float dtype, any
    device); returns the worker's output as a tensor on the inputs' device, unchecked
    (callers check the contract: ``contract.check_reward``).
    """

    def __init__(
        self,
        submission: Submission,
        limits: WorkerLimits | None = None,
        *,
        device: str = "cpu",
        trust_pickle: bool = False,
    ) -> None:
        self.submission = submission
        self.limits = limits or WorkerLimits()
        self.device = device
        self.trust_pickle = trust_pickle
        self._process: subprocess.Popen | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._lock = threading.Lock()
        _LIVE.add(self)

    @property
    def name(self) -> str:
        return self.submission.name

    @property
    def native_dtypes(self) -> bool:
        """As `formats.SubmittedReward.native_dtypes`: callers (the transfer wrapper) then
        pass float64 observations as they are, and `_wire_array` carries them as float64."""
        return takes_native_dtypes(self.submission)

    def start(self) -> None:
        """Start the worker and load the model; raises SubmissionError (check 'load')."""
        with self._lock:
            self._ensure_started()

    def __call__(
        self, obs: torch.Tensor, acts: torch.Tensor, next_obs: torch.Tensor, dones: torch.Tensor
    ) -> torch.Tensor:
        home = obs.device if isinstance(obs, torch.Tensor) else torch.device("cpu")
        arrays = [_wire_array(x) for x in (obs, acts, next_obs, dones)]
        rows = arrays[0].shape[0] if arrays[0].ndim else 1
        timeout_s, unit_message = self._call_timeout()
        with self._lock:
            self._ensure_started()
            kind, payload = self._exchange(
                b"C", wire.encode_arrays(arrays), timeout_s, 64 * rows + 4096, unit_message
            )
        if kind == b"E":
            raise self._answer_error(payload)
        try:
            (out,) = wire.decode_arrays(payload)
        except (wire.WireError, ValueError) as exc:
            self._kill()
            raise ModelCallError(
                self.name, "run", f"the worker sent a malformed answer: {exc}"
            ) from None
        return torch.from_numpy(out.copy()).to(home)

    @staticmethod
    @contextlib.contextmanager
    def unit_deadline(seconds: float | None) -> Iterator[None]:
        """Within this block, no forward of any ContainedReward runs past ``seconds`` from now.

        Why at the calls: a unit's time goes to model forwards and the bounded work
        between them, so bounding every forward by the time left bounds the unit.
        """
        previous = getattr(_UNIT, "deadline", None), getattr(_UNIT, "limit_s", None)
        _UNIT.deadline = None if seconds is None else time.monotonic() + seconds
        _UNIT.limit_s = seconds
        try:
            yield
        finally:
            _UNIT.deadline, _UNIT.limit_s = previous

    def _call_timeout(self) -> tuple[float, str | None]:
        """Seconds this forward may take, and the unit-limit message if that bounds it."""
        deadline = getattr(_UNIT, "deadline", None)
        if deadline is None or deadline - time.monotonic() >= self.limits.call_timeout_s:
            return self.limits.call_timeout_s, None
        message = f"the unit ran past its time limit of {_UNIT.limit_s:g} s"
        left = deadline - time.monotonic()
        if left <= 0:
            raise ModelCallError(self.name, "run", message)
        return left, message

    def close(self) -> None:
        """Stop the worker (politely, then by force)."""
        with self._lock:
            process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        try:
            wire.send(process.stdin.fileno(), b"Q", b"")
            process.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        _kill_group(process)

    def __enter__(self) -> ContainedReward:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        process = getattr(self, "_process", None)
        if process is not None and process.poll() is None:
            _kill_group(process)

    # -- the worker ------------------------------------------------------------------

    def _ensure_started(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self._stderr.clear()
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        if self.limits.memory_bytes is not None and self.device == "cpu":
            env["EPIC_BENCH_WORKER_MEMORY"] = str(self.limits.memory_bytes)
        else:
            env.pop("EPIC_BENCH_WORKER_MEMORY", None)
        if self.limits.threads:
            env["OMP_NUM_THREADS"] = str(self.limits.threads)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmark.submissions.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,  # its own process group: killed with all its children
        )
        threading.Thread(target=self._drain_stderr, args=(self._process,), daemon=True).start()
        request = {
            "path": str(self.submission.path),
            "sha256": self.submission.sha256,
            "device": self.device,
            "trust_pickle": self.trust_pickle,
            "threads": self.limits.threads,
        }
        kind, payload = self._exchange(
            b"L", wire.encode_json(request), self.limits.load_timeout_s, 1 << 16, None, "load"
        )
        if kind != b"K":
            error = self._answer_error(payload)
            self._kill()
            raise error

    def _exchange(
        self,
        kind: bytes,
        payload: bytes,
        timeout_s: float,
        max_answer: int,
        timeout_message: str | None = None,
        what: str = "run",
    ) -> tuple[bytes, bytes]:
        process = self._process
        assert process is not None and process.stdin and process.stdout
        try:
            wire.send(process.stdin.fileno(), kind, payload)
            deadline = time.monotonic() + timeout_s
            answer = wire.receive(process.stdout.fileno(), max_answer, deadline)
        except wire.WireTimeout:
            self._kill()
            if timeout_message is not None:
                raise ModelCallError(self.name, what, timeout_message) from None
            doing = "load" if what == "load" else "return from one forward"
            raise ModelCallError(
                self.name,
                what,
                f"the model did not {doing} within {timeout_s:g} s; its worker was killed "
                "(an endless loop, a deadlock or far too much work)",
            ) from None
        except (EOFError, OSError, wire.WireError) as exc:
            code = self._kill()
            raise ModelCallError(self.name, what, self._crash_message(code, exc)) from None
        if answer[0] not in (b"K", b"R", b"E"):
            self._kill()
            raise ModelCallError(self.name, what, f"the worker answered kind {answer[0]!r}")
        return answer

    def _answer_error(self, payload: bytes) -> SubmissionError:
        try:
            info = wire.decode_json(payload)
            check, message = str(info["check"]), str(info["message"])
        except (wire.WireError, KeyError, TypeError):
            self._kill()
            return ModelCallError(self.name, "run", "the worker sent a malformed error")
        if check in ("run", "shape", "dtype"):
            return ModelCallError(self.name, check, message)
        return SubmissionError(self.name, check, message)

    def _crash_message(self, code: int | None, exc: BaseException) -> str:
        if code is not None and code < 0:
            how = f"was killed by signal {signal.Signals(-code).name}"
        elif code is not None:
            how = f"exited with status {code}"
        else:
            how = f"broke the protocol ({exc})"
        tail = " | ".join(line for line in list(self._stderr)[-3:] if line.strip())
        hint = " (over its memory limit?)" if "MemoryError" in tail or "alloc" in tail else ""
        return f"the model worker {how}{hint}" + (f": {tail[-500:]}" if tail else "")

    def _drain_stderr(self, process: subprocess.Popen) -> None:
        """Keep the last lines the worker printed (for crash reports); never block it."""
        assert process.stderr is not None
        for raw in iter(process.stderr.readline, b""):
            self._stderr.append(raw[:1000].decode("utf-8", "replace").rstrip())

    def _kill(self) -> int | None:
        process, self._process = self._process, None
        if process is None:
            return None
        _kill_group(process)
        return process.returncode


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:
                pass


def _wire_array(x: object) -> np.ndarray:
    """float64 stays float64, anything else travels as float32.

    Why keep float64: the task's own closed-form rewards (the sanity entries) compute in
    the inputs' dtype, and MuJoCo observations are float64, so only then does the ground
    truth through the worker pay what the env pays; a submitted net casts to float32 in
    the worker either way (formats.SubmittedReward), so its outputs do not change.
    """
    if isinstance(x, torch.Tensor):
        dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        return x.detach().to("cpu", dtype).numpy()
    x = np.asarray(x)
    return x if x.dtype == np.float64 else x.astype(np.float32)


@atexit.register
def _close_all() -> None:
    for reward in list(_LIVE):
        reward.close()
