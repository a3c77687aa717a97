"""The bytes between the evaluator and a model worker: framed messages, raw arrays, JSON.

Why not pickle (or multiprocessing's Connection, which pickles): the worker runs a
stranger's model, so whatever it sends back may be forged. Unpickling forged bytes runs
code; decoding a dtype code, a shape and raw numbers cannot. Every length is checked
against a limit before anything is allocated for it.

A message is ``kind`` (1 byte) + payload length (8 bytes, little-endian) + payload.
Arrays: count (1 byte), then per array its dtype code (1 byte), ndim (1 byte), shape
(ndim x 8 bytes) and the raw little-endian C-order elements.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

import numpy as np

DTYPES = {
    1: np.dtype("<f4"),
    2: np.dtype("<f8"),
    3: np.dtype("<f2"),
    4: np.dtype("<i8"),
    5: np.dtype("<i4"),
    6: np.dtype("<i2"),
    7: np.dtype("i1"),
    8: np.dtype("u1"),
    9: np.dtype("?"),
}
CODES = {dtype: code for code, dtype in DTYPES.items()}
HEADER = struct.Struct("<cQ")
MAX_NDIM = 8


class WireError(Exception):
    """A message broke the framing or a limit: the worker is not trusted after it."""


class WireTimeout(WireError):
    """No complete message arrived before the deadline."""


def encode_arrays(arrays: list[np.ndarray]) -> bytes:
    """Arrays as one payload (C order, little-endian); the dtype must be in DTYPES."""
    parts = [struct.pack("<B", len(arrays))]
    for a in arrays:
        a = np.ascontiguousarray(a)
        dtype = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        code = CODES.get(np.dtype(dtype))
        if code is None:
            raise WireError(f"arrays of dtype {a.dtype} cannot be sent")
        parts.append(struct.pack(f"<BB{a.ndim}Q", code, a.ndim, *a.shape))
        parts.append(a.astype(DTYPES[code], copy=False).tobytes())
    return b"".join(parts)


def decode_arrays(payload: bytes) -> list[np.ndarray]:
    """Inverse of encode_arrays; every declared size must match the bytes present."""
    view = memoryview(payload)
    if len(view) < 1:
        raise WireError("empty array payload")
    (count,), pos = struct.unpack_from("<B", view), 1
    arrays = []
    for _ in range(count):
        if pos + 2 > len(view):
            raise WireError("truncated array header")
        code, ndim = struct.unpack_from("<BB", view, pos)
        pos += 2
        if code not in DTYPES or ndim > MAX_NDIM or pos + 8 * ndim > len(view):
            raise WireError(f"bad array header (dtype code {code}, ndim {ndim})")
        shape = struct.unpack_from(f"<{ndim}Q", view, pos)
        pos += 8 * ndim
        nbytes = DTYPES[code].itemsize * int(np.prod(shape, dtype=object))
        if pos + nbytes > len(view):
            raise WireError(f"array of shape {shape} needs {nbytes} bytes, fewer were sent")
        arrays.append(np.frombuffer(view[pos : pos + nbytes], dtype=DTYPES[code]).reshape(shape))
        pos += nbytes
    if pos != len(view):
        raise WireError(f"{len(view) - pos} stray bytes after the arrays")
    return arrays


def encode_json(value: Any) -> bytes:
    return json.dumps(value).encode()


def decode_json(payload: bytes) -> Any:
    try:
        return json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WireError(f"malformed JSON message: {str(exc)[:100]}") from exc


def send(fd: int, kind: bytes, payload: bytes) -> None:
    """Write one message to the file descriptor ``fd`` (blocking)."""
    view = memoryview(HEADER.pack(kind, len(payload)) + payload)
    while view:
        view = view[os.write(fd, view) :]


def receive(fd: int, max_bytes: int, deadline: float | None = None) -> tuple[bytes, bytes]:
    """Read one message (kind, payload) from ``fd``; WireTimeout past ``deadline``.

    ``deadline`` is a ``time.monotonic()`` value (None: wait forever); a payload
    longer than ``max_bytes`` is refused before it is read.
    """
    kind, length = HEADER.unpack(_read_exact(fd, HEADER.size, deadline))
    if length > max_bytes:
        raise WireError(f"a {length}-byte message exceeds the {max_bytes}-byte limit")
    return kind, _read_exact(fd, length, deadline)


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise WireTimeout("no answer before the deadline")
        chunk = os.read(fd, min(n - len(chunks), 1 << 22))
        if not chunk:
            raise EOFError("the other side closed the pipe")
        chunks += chunk
    return bytes(chunks)
