"""Executors for a list of work items: in this process, or as Ray tasks.

Both call ``fn(unit)`` on each unit and hand the rows to a ``record(unit, rows)``
callback in the driver, which alone writes the store, so results are the same whichever
executor ran them (each unit seeds itself). Executors know nothing of what a unit is
(the runner passes `run_unit`), so they import no other stage.

Ray is optional (``pip install -e ".[ray]"``): ``--executor ray`` starts a local Ray
instance, or joins an existing cluster with ``ray_address`` ("auto" or
"ray://head:10001"). Workers need epic-bench installed (same commit) and the
submissions and task files at the same paths, or a ``runtime_env``; see the README's
"Running at scale".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from benchmark.vocabulary import EXECUTORS

Rows = list[dict[str, Any]]
Record = Callable[[Any, Rows], None]
Compute = Callable[[Any], Rows]  # must pickle for Ray (a module-level function or a partial)


def run_units(
    units: Sequence[Any],
    fn: Compute,
    record: Record,
    *,
    executor: str = "local",
    device: str = "cpu",
    ray_address: str | None = None,
    progress: bool = True,
) -> None:
    """Call ``record(unit, fn(unit))`` for every unit as each finishes (any order for Ray).

    ``device`` only tells Ray whether a task needs a GPU; ``fn`` itself carries it.
    """
    if executor == "local":
        _run_local(units, fn, record, progress=progress)
    elif executor == "ray":
        _run_ray(units, fn, record, device=device, address=ray_address, progress=progress)
    else:
        raise ValueError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")


def _label(unit: Any) -> str:
    return str(getattr(unit, "label", unit))


def _run_local(units: Sequence[Any], fn: Compute, record: Record, *, progress: bool) -> None:
    with tqdm(total=len(units), desc="evaluate", unit="unit", disable=not progress) as bar:
        for unit in units:
            bar.set_postfix_str(_label(unit), refresh=False)
            record(unit, fn(unit))
            bar.update()


def _ray_unit(fn: Compute, unit: Any) -> Rows:
    """The Ray task body: one thread per worker, so results match the local executor."""
    torch.set_num_threads(1)
    return fn(unit)


def _run_ray(units: Sequence[Any], fn: Compute, record: Record, *, device: str,
             address: str | None, progress: bool) -> None:  # fmt: skip
    try:  # Lazy: Ray is an optional extra
        import ray
    except ImportError as e:
        raise RuntimeError(
            'the Ray executor needs Ray: pip install -c constraints.txt -e ".[ray]"'
        ) from e
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)  # fmt: skip
    try:
        remote = ray.remote(num_cpus=1, num_gpus=1 if device.startswith("cuda") else 0)(_ray_unit)
        pending = {remote.remote(fn, u): u for u in units}
        with tqdm(
            total=len(units), desc="evaluate (ray)", unit="unit", disable=not progress
        ) as bar:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    unit = pending.pop(ref)
                    record(unit, ray.get(ref))
                    bar.update()
    except KeyboardInterrupt:
        for ref in list(locals().get("pending", {})):
            ray.cancel(ref, force=True)
        raise
    finally:
        if started_here:
            ray.shutdown()
