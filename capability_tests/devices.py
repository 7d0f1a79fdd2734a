"""Which GPUs each xdist worker's engine gets: one engine per GPU, or per group of GPUs.

Under `pytest -n N` every worker starts its own engine. Without a plan they all land on the
first device (vLLM and torch use device 0 of what they see), and the second runs out of memory.
So the controller gives worker i its own slice of the devices the run may use, and the worker
narrows `CUDA_VISIBLE_DEVICES` to that slice before any CUDA library is imported:

- the devices the run may use are those in a `CUDA_VISIBLE_DEVICES` the user set (indices or
  UUIDs, kept as written), else every NVIDIA GPU of the machine (counted without importing torch);
- an engine needs `tensor_parallel_size x pipeline_parallel_size` devices (from `--engine-arg`);
  worker i gets the i-th group of that many;
- more workers than groups is a usage error naming `-n`; no GPU at all leaves everything as it is
  (CPU engines).

Pure functions on plain values (the environment and the device count are parameters), so the
logic is tested without a GPU; `capability_tests.plugin` applies it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

VISIBLE_ENV = "CUDA_VISIBLE_DEVICES"
PARALLEL_ARGS = ("tensor_parallel_size", "pipeline_parallel_size")


class DeviceError(ValueError):
    """The requested workers and parallel sizes do not fit the devices; says what to change."""


def count_nvidia_gpus(proc: Path = Path("/proc/driver/nvidia/gpus")) -> int:
    """NVIDIA GPUs the driver exposes (one folder each under /proc/driver/nvidia/gpus): no CUDA
    import, so the controller can plan before any worker starts."""
    try:
        return sum(1 for entry in proc.iterdir() if entry.is_dir())
    except OSError:
        return 0


def visible_devices(environ: Mapping[str, str] = os.environ,
                    machine_count: int | None = None) -> list[str]:
    """The device ids this run may use, as `CUDA_VISIBLE_DEVICES` entries: the user's list if
    set (empty: none), else 0..n-1 for the machine's GPUs. Empty: no GPU (CPU engines)."""
    given = environ.get(VISIBLE_ENV)
    if given is not None:
        return [d.strip() for d in given.split(",") if d.strip()]
    count = count_nvidia_gpus() if machine_count is None else machine_count
    return [str(i) for i in range(count)]


def devices_per_engine(engine_args: Mapping[str, object]) -> int:
    """Devices one engine spans: tensor_parallel_size x pipeline_parallel_size (1 by default)."""
    size = 1
    for name in PARALLEL_ARGS:
        value = engine_args.get(name, 1)
        try:
            value = int(value)  # --engine-arg values may arrive as strings
        except (TypeError, ValueError):
            raise DeviceError(f"--engine-arg {name}={value!r}: not a whole number") from None
        if value < 1:
            raise DeviceError(f"--engine-arg {name}={value}: must be at least 1")
        size *= value
    return size


def engines_that_fit(visible: Sequence[str], per_engine: int) -> int:
    """How many engines of `per_engine` devices the visible devices hold (`-n auto`)."""
    return len(visible) // per_engine


def check_workers(workers: int, visible: Sequence[str], per_engine: int) -> None:
    """Raise DeviceError when `workers` engines of `per_engine` devices do not fit."""
    if not visible or workers * per_engine <= len(visible):
        return
    need = f"{workers} x {per_engine}" if per_engine > 1 else str(workers)
    fits = engines_that_fit(visible, per_engine)
    raise DeviceError(
        f"-n {workers}: each xdist worker runs its own engine on its own "
        f"{'devices' if per_engine > 1 else 'GPU'}, which needs {need} GPUs; "
        f"{len(visible)} visible ({VISIBLE_ENV}={','.join(visible)}). Use -n {max(fits, 1)}"
        + (" or a smaller tensor_parallel_size" if per_engine > 1 else "")
        + (" (-n auto picks it)" if fits else ", or no -n")
    )


def worker_devices(index: int, workers: int, visible: Sequence[str], per_engine: int) -> list[str]:
    """The devices of worker `index` (0-based) of `workers`: the index-th group of `per_engine`
    visible devices. Empty when there is no GPU."""
    if not visible:
        return []
    check_workers(workers, visible, per_engine)
    if not 0 <= index < workers:
        raise DeviceError(f"xdist worker {index} of {workers}: no such worker")
    return list(visible[index * per_engine:(index + 1) * per_engine])


def worker_index(worker_id: str) -> int:
    """0 for xdist's "gw0", 3 for "gw3"."""
    digits = worker_id.removeprefix("gw")
    if not digits.isdigit():
        raise DeviceError(f"unexpected xdist worker id {worker_id!r}")
    return int(digits)
