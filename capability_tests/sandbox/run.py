"""Run one candidate program against its tests in the sandbox; the one call the verifier makes.

`run_tests(program, tests, limits)` starts the launcher (launcher.py) as a fresh interpreter with
an empty environment, in a session of its own, hands it the job, and returns a `SandboxReport`.
Nothing of the candidate's comes back except through the tester's verdict line, which the tester
writes only after the benchmark's tests returned. The launcher kills the whole sandbox at the
wall-clock limit; this side adds its own limit on top (a launcher that does not answer in time
is killed with its process group, and its sandbox dies with it: PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from capability_tests.sandbox import candidate, codec, launcher, tester

BACKENDS = ("auto", "namespaces", "plain")
ENV_BACKEND = "CAPABILITY_TESTS_SANDBOX"  # auto (default), namespaces (refuse plain), plain


@dataclass(frozen=True)
class Limits:
    """Per candidate: wall-clock and CPU seconds, address space, largest file, processes/threads
    (of the candidate's user id), the size of its writable tmpfs."""

    wall: float = 10.0
    cpu: int = 10
    memory: int = 2 << 30
    file_size: int = 16 << 20
    processes: int = 32
    tmpfs: int = 64 << 20


@dataclass(frozen=True)
class SandboxReport:
    passed: bool
    why: str
    timed_out: bool
    seconds: float
    backend: str | None
    error: str | None = None  # the sandbox itself failed: no verdict on the candidate
    pidns: str | None = None
    calls: int = 0


def _source(module) -> str:
    return Path(module.__file__).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _sources() -> tuple[str, str, str]:
    shared = _source(codec)
    return (_source(launcher), shared + "\n" + _source(tester), shared + "\n" + _source(candidate))


def interpreter() -> tuple[str, str]:
    """The base interpreter (no virtual environment: the sandbox runs `-I -S`, standard library
    only) and its installation prefix."""
    prefix = os.path.realpath(sys.base_prefix)
    executable = os.path.realpath(sys.executable)
    if not executable.startswith(prefix + os.sep):
        candidate_path = Path(prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
        executable = str(candidate_path)
    return executable, prefix


def backend_setting() -> str:
    value = os.environ.get(ENV_BACKEND, "auto").strip() or "auto"
    if value not in BACKENDS:
        raise ValueError(f"{ENV_BACKEND}={value!r}: expected one of {', '.join(BACKENDS)}")
    return value


def run_tests(program: str, tester_job: Mapping[str, Any], limits: Limits,
              mode: str = "function", entry_point: str | None = None) -> SandboxReport:
    """Run `program` (the candidate's whole module) against `tester_job` (mode, prompt, test,
    entry_point or cases)."""
    launcher_source, tester_source, candidate_source = _sources()
    python, prefix = interpreter()
    try:
        backend = backend_setting()
    except ValueError as exc:
        return SandboxReport(False, "", False, 0.0, None, error=str(exc))
    job = {
        "parent_pid": os.getpid(), "python": python, "prefix": prefix,
        "backend": backend,
        "wall": float(limits.wall), "cpu": int(limits.cpu), "memory": int(limits.memory),
        "fsize": int(limits.file_size), "nproc": int(limits.processes),
        "tmpfs_bytes": int(limits.tmpfs),
        "tester_source": tester_source, "candidate_source": candidate_source,
        "tester_job": dict(tester_job),
        "candidate_job": {"program": program, "mode": mode, "entry_point": entry_point},
    }
    proc = subprocess.Popen(
        [python, "-I", "-S", "-B", "-c", launcher_source],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={}, start_new_session=True, close_fds=True,
    )
    try:
        out, err = proc.communicate((json.dumps(job) + "\n").encode(), timeout=limits.wall + 15)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        return SandboxReport(False, "sandbox launcher did not answer", True, limits.wall, None,
                             error="the sandbox launcher did not answer in time")
    finally:
        if proc.poll() is None:
            _kill_group(proc)
            proc.wait()
    try:
        report = json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        why = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return SandboxReport(False, "", False, 0.0, None,
                             error=f"the sandbox launcher failed (status {proc.returncode}): {why[0][:300]}")
    if report.get("error"):
        detail = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return SandboxReport(False, "", False, report.get("seconds", 0.0), report.get("backend"),
                             error=f"{report['error']} {detail[0][:300]}".strip())
    verdict = report.get("verdict")
    timed_out = bool(report.get("timed_out"))
    if isinstance(verdict, dict) and verdict.get("passed") is True:
        passed, why = True, "passed"
    elif isinstance(verdict, dict):
        passed, why = False, str(verdict.get("why", "failed"))[:400]
    else:
        passed = False
        why = (f"timeout after {limits.wall:g} s" if timed_out
               else "the tests did not finish (the sandbox ended without a verdict)")
    return SandboxReport(passed, why, timed_out, float(report.get("seconds", 0.0)),
                         report.get("backend"), pidns=report.get("pidns"),
                         calls=int(verdict.get("calls", 0)) if isinstance(verdict, dict) else 0)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
