"""Opening a torch-export (.pt2) archive ourselves, before torch sees any of its bytes.

Why: in torch 2.13 ``torch.export.load`` unpickles (``weights_only=False``) every entry
marked ``use_pickle``, a legacy ``data/weights/<model>.pt``, custom-object constants and,
when a safe load fails, the sample inputs; it compiles the archive's ``guards_code``
strings into Python; it hands shape expressions to ``sympy.sympify`` (an ``eval``); its
tree specs can import modules by name; and the graph itself may call file-writing
operators. So the archive is read here with Python's ``zipfile`` and ``json`` only, and
``safe_program_bytes`` returns a new archive that holds nothing but what a pure reward
graph needs:

- the layout torch.export.save writes for one model named ``model``, every entry
  stored uncompressed (a compressed entry could be a zip bomb; ``torch.export.save``
  never compresses), sizes consistent with the file and under ``ArchiveLimits``;
- weights and constants as raw tensor bytes whose declared shape fits the bytes
  stored (no pickled entry, no legacy weights file, no custom objects, CPU only);
- every graph node an operator of ``operators.PURE_ATEN`` (no subgraphs), inputs
  only parameters, buffers, constants and user tensors, outputs only user outputs (a
  buffer or input mutation would give the model state across calls);
- shape expressions of a small arithmetic grammar, tree specs of plain containers.

The rewritten archive drops the node metadata and guards code and carries sample
no sample inputs, so torch's loader takes none of its unsafe paths.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.submissions.operators import refusal

MODEL = "model"
FIXED_ENTRIES = (
    "archive_format",
    "archive_version",
    "byteorder",
    ".data/version",
    ".data/serialization_id",
    f"models/{MODEL}.json",
    f"data/weights/{MODEL}_weights_config.json",
    f"data/constants/{MODEL}_constants_config.json",
    f"data/sample_inputs/{MODEL}.pt",
)
LEGACY_ENTRIES = (f"data/weights/{MODEL}.pt", f"data/constants/{MODEL}.pt")
WEIGHT_FILE = re.compile(r"weight_[0-9]+")
CONSTANT_FILE = re.compile(r"tensor_[0-9]+")
PREFIX = re.compile(r"[A-Za-z0-9_.-]{1,128}")
# torch's ScalarType codes of the serialization schema -> bytes per element.
DTYPE_BYTES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 2, 7: 4, 8: 8, 12: 1, 13: 2}
ALLOWED_INPUTS = ("parameter", "buffer", "tensor_constant", "user_input")
ALLOWED_OUTPUTS = ("user_output",)
SPEC_TYPES = (None, "builtins.tuple", "builtins.list", "builtins.dict")
# Shape expressions: integers, symbols s0/u0, arithmetic and these sympy functions only.
EXPR_CHARS = re.compile(r"[A-Za-z0-9_ +\-*/(),.<>=!%']*")
EXPR_NAMES = frozenset(
    {"Max", "Min", "FloorDiv", "CeilDiv", "Mod", "PythonMod", "CleanDiv", "IntTrueDiv",
     "FloatTrueDiv", "ToFloat", "TruncToInt", "TruncToFloat", "FloorToInt", "CeilToInt",
     "RoundToInt", "Abs", "Pow", "PowByNatural", "FloatPow", "Eq", "Ne", "Lt", "Le", "Gt",
     "Ge", "And", "Or", "Not", "True", "False", "oo", "Integer", "Rational", "Float",
     "Symbol", "positive", "integer", "nonnegative", "real", "finite"}
)  # fmt: skip
SYMBOL = re.compile(r"[su][0-9]+|[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?")


class ArchiveError(ValueError):
    """The .pt2 file is refused; the message says which entry or node and why."""


@dataclass(frozen=True)
class ArchiveLimits:
    """Sizes above which an archive is refused before anything is allocated for it."""

    max_file_bytes: int = 1 << 30
    max_json_bytes: int = 64 << 20
    max_entries: int = 4096


def safe_program_bytes(path: str | Path, limits: ArchiveLimits | None = None) -> bytes:
    """A sanitized copy of the .pt2 at ``path`` for ``torch.export.load``; ArchiveError if refused."""
    limits = limits or ArchiveLimits()
    path = Path(path)
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise ArchiveError(f"{path.name} is {size} bytes, above the {limits.max_file_bytes} limit")
    data = path.read_bytes()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArchiveError(f"{path.name} is not a zip archive: {exc}") from exc
    entries = _check_entries(infos, size, limits)
    prefix = entries.pop("")
    read = {rel: archive.read(info) for rel, info in entries.items()}
    _expect_text(read, "archive_format", "pt2")
    _expect_text(read, "byteorder", "little")
    for rel in (f"models/{MODEL}.json", f"data/weights/{MODEL}_weights_config.json"):
        if rel not in read:
            raise ArchiveError(f"the archive lacks {rel}; save the model with torch.export.save")
    weights = _payload_config(read, "weights", WEIGHT_FILE)
    constants = _payload_config(read, "constants", CONSTANT_FILE)
    payloads = set(weights) | set(constants)
    stray = [rel for rel in read if rel not in FIXED_ENTRIES and rel not in payloads]
    if stray:
        raise ArchiveError(f"entry {stray[0]!r} is not referenced by the weights or constants")
    program = _load_json(read[f"models/{MODEL}.json"], f"models/{MODEL}.json")
    _check_program(program)
    _strip_code_paths(program)
    read[f"models/{MODEL}.json"] = json.dumps(program).encode()
    # Empty sample inputs: torch then loads none (it would fall back to weights_only=False).
    read[f"data/sample_inputs/{MODEL}.pt"] = b""
    return _write_archive(prefix, read)


def _check_entries(
    infos: list[zipfile.ZipInfo], size: int, limits: ArchiveLimits
) -> dict[str, Any]:
    """Map each entry's name below the archive's one top folder to its ZipInfo ('' -> folder)."""
    if not infos or len(infos) > limits.max_entries:
        raise ArchiveError(f"the archive has {len(infos)} entries (1 to {limits.max_entries})")
    prefixes = {info.filename.split("/", 1)[0] for info in infos}
    if len(prefixes) != 1 or not PREFIX.fullmatch(next(iter(prefixes))):
        raise ArchiveError("the archive must hold one top folder, as torch.export.save writes")
    prefix = prefixes.pop()
    entries: dict[str, Any] = {"": prefix}
    total = 0
    for info in infos:
        rel = info.filename[len(prefix) + 1 :]
        if rel in LEGACY_ENTRIES:
            raise ArchiveError(
                f"entry {rel!r} is a legacy pickled weights file (unpickling runs code); "
                "re-save the model with a current torch.export.save"
            )
        if rel in entries:
            raise ArchiveError(f"entry {rel!r} appears twice")
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            raise ArchiveError(
                f"entry {rel!r} is compressed or encrypted; torch.export.save stores entries "
                "uncompressed, and a compressed entry's real size (a zip bomb) is unknown "
                "until it is inflated"
            )
        if info.file_size != info.compress_size or info.header_offset + info.file_size > size:
            raise ArchiveError(f"entry {rel!r} declares {info.file_size} bytes the file lacks")
        known = (
            rel in FIXED_ENTRIES
            or (rel.startswith("data/weights/") and WEIGHT_FILE.fullmatch(rel[13:]))
            or (rel.startswith("data/constants/") and CONSTANT_FILE.fullmatch(rel[15:]))
        )
        if not known:
            raise ArchiveError(
                f"entry {rel!r} is outside the layout of a one-model torch.export archive "
                "(no extra files, AOTInductor code, custom objects or second models)"
            )
        total += info.file_size
        entries[rel] = info
    if total > size:
        raise ArchiveError(f"the entries declare {total} bytes, more than the {size}-byte file")
    return entries


def _expect_text(read: dict[str, bytes], rel: str, value: str) -> None:
    if rel in read and read[rel].decode(errors="replace").strip() != value:
        raise ArchiveError(f"entry {rel!r} must read {value!r}")


def _load_json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ArchiveError(f"{what} is not valid JSON: {str(exc)[:200]}") from exc


def _payload_config(read: dict[str, bytes], kind: str, pattern: re.Pattern[str]) -> set[str]:
    """Check a weights/constants config; returns the archive entries it references."""
    rel = f"data/{kind}/{MODEL}_{kind}_config.json"
    if rel not in read:
        return set()
    config = _load_json(read[rel], rel)
    table = config.get("config") if isinstance(config, dict) else None
    if not isinstance(table, dict):
        raise ArchiveError(f"{rel} has no 'config' table")
    used = set()
    for fqn, meta in table.items():
        where = f"{kind[:-1]} {fqn!r}"
        if not isinstance(meta, dict) or meta.get("use_pickle") is not False:
            raise ArchiveError(f"{where} is pickled (use_pickle); unpickling runs code")
        name = meta.get("path_name")
        entry = f"data/{kind}/{name}"
        if not isinstance(name, str) or not pattern.fullmatch(name) or entry not in read:
            raise ArchiveError(f"{where} names a missing or foreign entry {name!r}")
        _check_tensor_meta(where, meta.get("tensor_meta"), len(read[entry]))
        used.add(entry)
    return used


def _check_tensor_meta(where: str, meta: Any, nbytes: int) -> None:
    """The declared tensor must be a CPU tensor of a plain dtype that fits the stored bytes.

    Why: torch allocates ``zeros(declared size)`` for an empty entry, so an absurd
    declared size would be allocated before any model runs.
    """
    if not isinstance(meta, dict) or meta.get("dtype") not in DTYPE_BYTES:
        raise ArchiveError(f"{where} has no tensor metadata of a plain numeric dtype")
    device = meta.get("device") or {}
    if device.get("type") != "cpu":
        raise ArchiveError(f"{where} is stored for device {device.get('type')!r}; save on CPU")
    sizes = [_as_int(s, where) for s in meta.get("sizes", [])]
    strides = [_as_int(s, where) for s in meta.get("strides", [])]
    offset = _as_int(meta.get("storage_offset", {"as_int": 0}), where)
    if len(sizes) != len(strides) or min(sizes + strides + [offset], default=0) < 0:
        raise ArchiveError(f"{where} has inconsistent sizes and strides")
    if 0 in sizes:
        return
    last = offset + sum((n - 1) * s for n, s in zip(sizes, strides, strict=True))
    if (last + 1) * DTYPE_BYTES[meta["dtype"]] > nbytes:
        raise ArchiveError(f"{where} declares a shape {sizes} larger than its {nbytes} bytes")


def _as_int(value: Any, where: str) -> int:
    if not isinstance(value, dict) or type(value.get("as_int")) is not int:
        raise ArchiveError(f"{where} has a symbolic or malformed size; weights have fixed shapes")
    return value["as_int"]


def _check_program(program: Any) -> None:
    graph_module = program.get("graph_module") if isinstance(program, dict) else None
    if not isinstance(graph_module, dict) or not isinstance(graph_module.get("graph"), dict):
        raise ArchiveError(f"models/{MODEL}.json has no graph")
    graph = graph_module["graph"]
    if graph.get("custom_obj_values"):
        raise ArchiveError("the graph holds custom objects (script objects run their own code)")
    for node in graph.get("nodes", []):
        target = node.get("target") if isinstance(node, dict) else None
        why = refusal(target) if isinstance(target, str) else "malformed node"
        if why is None and _holds_key(node.get("inputs"), "as_graph"):
            why = "it takes a subgraph (control flow)"
        if why is not None:
            raise ArchiveError(f"graph node {node.get('name', '?')!r} calls {target}: {why}")
    signature = graph_module.get("signature") or {}
    for spec in signature.get("input_specs", []):
        kind = next(iter(spec), None) if isinstance(spec, dict) else None
        if kind not in ALLOWED_INPUTS:
            raise ArchiveError(f"the program's inputs include a {kind!r} (only tensors allowed)")
    for spec in signature.get("output_specs", []):
        kind = next(iter(spec), None) if isinstance(spec, dict) else None
        if kind not in ALLOWED_OUTPUTS:
            raise ArchiveError(
                f"the program has a {kind!r} output: it mutates a buffer or an input, so "
                "its rewards would depend on earlier calls"
            )
    for key, value in _walk(program):
        if key == "expr_str" and isinstance(value, str):
            _check_expression(value)
    for name in (program.get("range_constraints") or {}).keys():
        _check_expression(name)
    for call in graph_module.get("module_call_graph", []):
        for key in ("in_spec", "out_spec"):
            spec = ((call or {}).get("signature") or {}).get(key)
            if spec is not None:
                _check_tree_spec(spec)


def _holds_key(value: Any, key: str) -> bool:
    return any(k == key for k, _ in _walk(value))


def _walk(value: Any):
    """Every (key, value) pair of nested dicts and lists, iteratively (no recursion limit)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for k, v in item.items():
                yield k, v
                stack.append(v)
        elif isinstance(item, list):
            stack.extend(item)


def _check_expression(text: str) -> None:
    """Shape expressions go to sympy.sympify (an eval): allow arithmetic on symbols only."""
    # Quoted text may only be a symbol's name, as in Symbol('s11', integer=True).
    quoted = re.findall(r"'([^']*)'", text)
    if any(not SYMBOL.fullmatch(q) for q in quoted) or text.count("'") != 2 * len(quoted):
        raise ArchiveError(f"shape expression {text[:80]!r} quotes something other than a symbol")
    names = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", re.sub(r"'[^']*'", "", text))
    bad = [n for n in names if n not in EXPR_NAMES and not SYMBOL.fullmatch(n)]
    if len(text) > 1000 or not EXPR_CHARS.fullmatch(text) or "__" in text or bad:
        raise ArchiveError(f"shape expression {text[:80]!r} is not plain integer arithmetic")


def _check_tree_spec(spec: str) -> None:
    """Tree specs name Python types that torch resolves (and may import): containers only."""
    if "__enum__" in spec:
        raise ArchiveError("a tree spec names an enum, which torch would import")
    for key, value in _walk(_load_json(spec.encode(), "a tree spec")):
        if key == "type" and value not in SPEC_TYPES:
            raise ArchiveError(f"a tree spec uses type {value!r}; only tuples, lists and dicts")


def _strip_code_paths(program: dict[str, Any]) -> None:
    """Drop what torch would turn into code or imports and the model does not need."""
    program["guards_code"] = []
    graph_module = program["graph_module"]
    graph_module["metadata"] = {}
    for node in graph_module["graph"].get("nodes", []):
        node["metadata"] = {}


def _write_archive(prefix: str, entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as out:
        for rel, raw in entries.items():
            out.writestr(f"{prefix}/{rel}", raw)
    return buffer.getvalue()


def check_loaded_program(program: Any) -> None:
    """Check the graph torch built, node by node (defence in depth behind the JSON check)."""
    import torch

    for node in program.graph_module.graph.nodes:
        if node.op == "call_function":
            target = node.target
            if isinstance(target, torch._ops.OpOverload):
                name = f"torch.ops.{target.namespace}.{target._schema.name.split('::')[-1]}"
                name += f".{target._overloadname}"
            else:
                module = getattr(target, "__module__", None) or ""
                name = f"{module}.{getattr(target, '__name__', repr(target))}"
            why = refusal(name)
            if why is not None:
                raise ArchiveError(f"graph node {node.name!r} calls {name}: {why}")
        elif node.op not in ("placeholder", "output", "get_attr"):
            raise ArchiveError(f"graph node {node.name!r} is a {node.op} (only operator calls)")
    signature = program.graph_signature
    if signature.buffers_to_mutate or signature.user_inputs_to_mutate:
        raise ArchiveError("the program mutates a buffer or an input across calls")
