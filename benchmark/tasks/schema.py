"""Strict reading of task files: typed fields, unknown keys, family modules.

Why a module of its own: every error a task file can raise names the file and the dotted
field (``TaskError``), and `benchmark.tasks.task` only says *which* fields a task has.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any


class TaskError(ValueError):
    """A task name, reward/coverage name or task file is wrong; the message says how."""


class FieldChecker:
    """Reads typed fields from a TOML table, naming the file and dotted field on error."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, message: str) -> TaskError:
        return TaskError(f"{self.path}: field {where!r}: {message}")

    def table(self, data: dict, key: str, where: str, *, required: bool = True) -> dict:
        full = f"{where}.{key}" if where else key
        if key not in data:
            if required:
                raise self.fail(full, "missing; add this table to the task file")
            return {}
        if not isinstance(data[key], dict):
            raise self.fail(full, f"must be a table, got {type(data[key]).__name__}")
        return data[key]

    def value(
        self, data: dict, key: str, where: str, kind: type | tuple, default: Any = ...
    ) -> Any:
        full = f"{where}.{key}" if where else key
        if key not in data:
            if default is ...:
                raise self.fail(full, "missing; add it to the task file")
            return default
        v = data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(v, bool) and bool not in kinds or not isinstance(v, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise self.fail(full, f"must be {names}, got {type(v).__name__} {v!r}")
        return float(v) if float in kinds and isinstance(v, int) else v

    def no_unknown(self, data: dict, allowed: set[str], where: str) -> None:
        unknown = sorted(set(data) - allowed)
        if unknown:
            full = f"{where}.{unknown[0]}" if where else unknown[0]
            raise self.fail(full, f"unknown key; valid keys here are {sorted(allowed)}")


def family_modules(kind: str, family: str) -> list[str]:
    """Modules a family name may mean, in order: a built-in ``benchmark.<kind>.<family>``
    (undotted names only), then ``family`` itself as any importable module."""
    return [family] if "." in family else [f"benchmark.{kind}.{family}", family]


def import_family(kind: str, family: str, check: FieldChecker, where: str) -> ModuleType:
    candidates = family_modules(kind, family)
    for module in candidates:
        try:
            return importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name is not None and module.startswith(e.name):
                continue  # this candidate does not exist; try the next
            raise check.fail(where, f"importing {module} failed: {type(e).__name__}: {e}") from e
        except Exception as e:  # a user's module with a bug: report it by task file and field
            raise check.fail(where, f"importing {module} failed: {type(e).__name__}: {e}") from e
    raise check.fail(
        where,
        f"no module {' or '.join(candidates)} for family {family!r}; a family is a built-in "
        "benchmark/" + kind + "/<name>.py or any importable module such as 'mylab.myenv' "
        "(put its directory on PYTHONPATH)",
    )
