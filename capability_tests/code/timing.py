"""Time limits fair to this machine: scaled from the reference solution's own run time here.

A fixed limit turns right but slowish programs into timeouts on a slow CPU (CI's 2 shared cores)
and lets wrong-but-slow ones through on a fast one. So each problem's limit is
`BASE_S + FACTOR * reference` seconds of CPU time, within [MIN_S, MAX_S], rounded up to a step of
a fixed geometric grid (`STEPS_PER_DOUBLING` per doubling from MIN_S), where `reference` is
the CPU time of the benchmark's own solution through the same sandbox on this machine
(interpreter start-ups included; the wall time where no cgroup counts CPU), the minimum of
`REFERENCE_REPEATS` runs, measured once and recorded under the cache directory, keyed by the machine
(host name, CPU model, core count, Python version) and by the problem's solution and tests, with
the clock that counted it. A problem without a reference solution gets `DEFAULT_S`.

The grid is there because the limit is part of a code verdict's key (`verdict_limits`): a
re-measured reference (a cleared cache, another machine) that moves the limit by a few percent
lands on the same step and regrades nothing, while one that moves it by a step or more (a
machine twice as slow, a changed FACTOR) gives another key, and the stored verdicts made under
the old limit are graded again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import sys
from functools import lru_cache
from pathlib import Path

BASE_S = 3.0
FACTOR = 4.0
MIN_S = 3.0
MAX_S = 30.0
DEFAULT_S = 10.0
REFERENCE_LIMIT_S = 60.0  # the reference's own run: generous, it is trusted code
REFERENCE_REPEATS = 3  # the reference time is the minimum of this many runs
WALL_FACTOR, WALL_SLACK_S = 3.0, 5.0  # wall-clock backstop over a CPU-time limit
STEPS_PER_DOUBLING = 4  # the limit grid: MIN_S * 2 ** (i / 4), 19% apart
FORMAT = 3  # 3: CPU seconds of the sandbox (wall where no cgroup counts), minimum of 3 runs, clock


def wall_backstop(cpu_seconds: float) -> float:
    """The wall-clock limit behind a CPU-time limit: reached only by a program that waits."""
    return round(WALL_FACTOR * cpu_seconds + WALL_SLACK_S, 3)


def limit_for(reference_seconds: float | None) -> float:
    """The problem's CPU-time limit: deterministic in the reference, on the grid (see above)."""
    if reference_seconds is None:
        return DEFAULT_S
    raw = min(MAX_S, max(MIN_S, BASE_S + FACTOR * reference_seconds))
    step = math.ceil(math.log2(raw / MIN_S) * STEPS_PER_DOUBLING - 1e-9)
    return round(min(MAX_S, MIN_S * 2 ** (step / STEPS_PER_DOUBLING)), 2)


def _cache_root() -> Path:
    env = os.environ.get("CAPABILITY_TESTS_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("capability-tests"))


@lru_cache(maxsize=1)
def machine_key() -> str:
    """A short digest naming this machine for timing purposes."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    text = f"{platform.node()}|{cpu}|{cores}|{sys.version.split()[0]}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def reference_key(benchmark: str, problem_id: str, program: str, tests: str) -> str:
    h = hashlib.sha256()
    for part in (benchmark, problem_id, program, tests):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:24]


def _path(key: str) -> Path:
    return _cache_root() / "code-reference-times" / machine_key() / f"{key}.json"


def recorded(key: str) -> float | None:
    """The recorded reference time for `key` on this machine, or None."""
    found = recorded_with_clock(key)
    return None if found is None else found[0]


def recorded_with_clock(key: str) -> tuple[float, str] | None:
    """(seconds, clock) recorded for `key` on this machine: "cpu" where the sandbox's cgroup
    counted the reference's CPU time, "wall" where none did; None when not recorded."""
    try:
        data = json.loads(_path(key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    seconds, clock = data.get("seconds"), data.get("clock")
    if not isinstance(seconds, (int, float)) or seconds < 0 or clock not in ("cpu", "wall"):
        return None
    return float(seconds), clock


def record(key: str, seconds: float, problem: str, clock: str = "cpu") -> None:
    """Write atomically (several grading processes may measure the same problem at once)."""
    path = _path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"format": FORMAT, "seconds": seconds, "clock": clock,
                                   "problem": problem}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache costs a measurement next time, never a verdict
