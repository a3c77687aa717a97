"""Executors for a list of evaluation units: in this process, or as Ray tasks.

Both call `benchmark.evaluation.run_unit` on each unit and hand the rows to a
``record(unit, rows)`` callback in the driver, which alone writes the store, so
results are the same whichever executor ran them (each unit seeds itself).

Ray is optional (``pip install -e ".[ray]"``): ``--executor ray`` starts a local Ray
instance, or joins an existing cluster with ``ray_address`` ("auto" or
"ray://head:10001"). Workers need epic-bench installed (same commit) and the
submissions and task files at the same paths, or a ``runtime_env``; see the README's
"Running at scale".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tqdm.auto import tqdm

EXECUTORS = ("local", "ray")
Record = Callable[[Any, list[dict[str, Any]]], None]


def run_units(
    units: Sequence[Any],
    record: Record,
    *,
    executor: str = "local",
    device: str = "cpu",
    run_id: str = "",
    trust_pickle: bool = False,
    ray_address: str | None = None,
    progress: bool = True,
) -> None:
    """Run every unit and call ``record(unit, rows)`` as each finishes (any order for Ray)."""
    if executor == "local":
        _run_local(units, record, device=device, run_id=run_id, trust_pickle=trust_pickle,
                   progress=progress)  # fmt: skip
    elif executor == "ray":
        _run_ray(units, record, device=device, run_id=run_id, trust_pickle=trust_pickle,
                 address=ray_address, progress=progress)  # fmt: skip
    else:
        raise ValueError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")


def _run_local(units, record: Record, *, device, run_id, trust_pickle, progress) -> None:
    from benchmark.evaluation import run_unit

    with tqdm(total=len(units), desc="evaluate", unit="unit", disable=not progress) as bar:
        for unit in units:
            bar.set_postfix_str(unit.label, refresh=False)
            record(unit, run_unit(unit, device=device, run_id=run_id, trust_pickle=trust_pickle))
            bar.update()


def _ray_unit(unit, device: str, run_id: str, trust_pickle: bool) -> list[dict[str, Any]]:
    """The Ray task body: one thread per worker, so results match the local executor."""
    import torch

    from benchmark.evaluation import run_unit

    torch.set_num_threads(1)
    return run_unit(unit, device=device, run_id=run_id, trust_pickle=trust_pickle)


def _run_ray(units, record: Record, *, device, run_id, trust_pickle, address, progress) -> None:
    try:
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
        pending = {remote.remote(u, device, run_id, trust_pickle): u for u in units}
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
