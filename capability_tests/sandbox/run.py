"""Run one candidate program against its tests in the sandbox; the one call the verifier makes.

`run_tests(program, tests, limits)` starts the launcher (launcher.py) as a fresh interpreter with
an empty environment, in a session of its own, hands it the job, and returns a `SandboxReport`.
Nothing of the candidate's comes back except through the tester's verdict line, which the tester
writes only after the benchmark's tests returned. The launcher kills the whole sandbox at the
wall-clock limit; this side adds its own limit on top (a launcher that does not answer in time
is killed with its process group, and its sandbox dies with it: PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from capability_tests.safe_text import safe_text
from capability_tests.sandbox import candidate, cgroups, codec, launcher, seccomp, tester
from capability_tests.sandbox.teardown import abort_fuse_of, processes_in_pidns

BACKENDS = ("auto", "namespaces", "plain")
NOT_STOPPED = "the program could not be stopped"
REASON_CHARS = 400
ENV_BACKEND = "CAPABILITY_TESTS_SANDBOX"  # auto (default), namespaces (refuse plain), plain


@dataclass(frozen=True)
class Limits:
    """Per sandbox: wall-clock seconds; CPU seconds (of the whole sandbox where a cgroup counts
    them, else per process); memory (the cgroup's, no swap, and each process's address space);
    largest file, which is also the cap on what the program prints; processes/threads; the size
    of its writable tmpfs."""

    wall: float = 10.0
    cpu: float = 10.0
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
    cgroup: str | None = None  # what the sandbox's cgroup limits; None: rlimits only
    cpu_seconds: float | None = None  # CPU time of the whole sandbox (None: no cgroup counted)
    over_cpu: bool = False  # the timeout was the CPU-time limit (not the wall clock)


def _source(module) -> str:
    return Path(module.__file__).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _sources() -> tuple[str, str, str]:
    shared = _source(codec)
    return (_source(seccomp) + "\n" + _source(launcher), shared + "\n" + _source(tester),
            shared + "\n" + _source(candidate))


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
              mode: str = "function", entry_point: str | None = None,
              _hardening: bool = True) -> SandboxReport:
    """Run `program` (the candidate's whole module) against `tester_job` (mode, prompt, test,
    entry_point or cases). `mode` is how the candidate answers: "function", "calls" (LeetCode
    style: the method of `Solution()` first) or "stdio" (candidate.py). `_hardening=False`
    (tests of the teardown only) leaves out the system-call filter and the minimal /dev, to let
    a known attack reach the kernel."""
    launcher_source, tester_source, candidate_source = _sources()
    python, prefix = interpreter()
    try:
        backend = backend_setting()
    except ValueError as exc:
        return SandboxReport(False, "", False, 0.0, None, error=str(exc))
    group = cgroups.create(f"{os.getpid()}-{next(_TOKENS)}", limits.memory, limits.processes)
    job = {
        "parent_pid": os.getpid(), "python": python, "prefix": prefix,
        "backend": backend,
        "wall": float(limits.wall), "cpu": float(limits.cpu), "memory": int(limits.memory),
        "fsize": int(limits.file_size), "nproc": int(limits.processes),
        "tmpfs_bytes": int(limits.tmpfs), "seccomp": _hardening, "minimal_dev": _hardening,
        "cgroup_procs": group.procs if group else [],
        "cgroup_cpu": group.cpu_file if group else None,
        "tester_source": tester_source, "candidate_source": candidate_source,
        "tester_job": dict(tester_job),
        "candidate_job": {"program": program, "mode": mode, "entry_point": entry_point},
    }
    report, err = None, b""
    try:
        report, err, _ = _launch(python, launcher_source, job, limits)
    finally:
        # a PID namespace is searched only while its init may still live (no answer, or stuck):
        # a namespace that ended may have passed its number on to another sandbox's
        unfinished = report is None or bool(report.get("stuck"))
        stopped = _teardown(group, (report or {}).get("pidns") if unfinished else None)
    described = group.describe() if group else None
    if report is None or report.get("stuck") or not stopped:
        # the launcher did not answer, or a process of the sandbox survived SIGKILL: a verdict
        # all the same (the program did this), never an ungraded row graded again every run
        return SandboxReport(False, NOT_STOPPED, False, limits.wall,
                             (report or {}).get("backend"), pidns=(report or {}).get("pidns"),
                             cgroup=described)
    if report.get("error"):
        detail = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return SandboxReport(False, "", False, report.get("seconds", 0.0), report.get("backend"),
                             error=safe_text(f"{report['error']} {detail[0][:300]}".strip(),
                                             REASON_CHARS), cgroup=described)
    if report.get("launcher_failed"):
        return SandboxReport(False, "", False, 0.0, None, cgroup=described,
                             error=safe_text(report["launcher_failed"], REASON_CHARS))
    verdict = report.get("verdict")
    timed_out = bool(report.get("timed_out"))
    over_cpu = bool(report.get("over_cpu"))
    if isinstance(verdict, dict) and verdict.get("passed") is True:
        passed, why = True, "passed"
    elif isinstance(verdict, dict):
        passed, why = False, safe_text(verdict.get("why", "failed"), REASON_CHARS)
    else:
        passed = False
        why = (f"over {float(limits.cpu):g} s of CPU time" if over_cpu
               else f"timeout after {limits.wall:g} s" if timed_out
               else "the tests did not finish (the sandbox ended without a verdict)")
    return SandboxReport(passed, why, timed_out, float(report.get("seconds", 0.0)),
                         report.get("backend"), pidns=report.get("pidns"),
                         calls=int(verdict.get("calls", 0)) if isinstance(verdict, dict) else 0,
                         cgroup=described, over_cpu=over_cpu,
                         cpu_seconds=report.get("cpu_seconds"))


_TOKENS = itertools.count()


def _launch(python: str, source: str, job: dict, limits: Limits):
    """Start the launcher, hand it the job, wait for its one-line report (with a deadline).
    Returns (report or None when it did not answer, its stderr, its exit status)."""
    proc = subprocess.Popen(
        [python, "-I", "-S", "-B", "-c", source],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={}, start_new_session=True, close_fds=True,
    )
    try:
        out, err = proc.communicate((json.dumps(job) + "\n").encode(),
                                    timeout=limits.wall + launcher.STOP_GRACE_S + 15)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        return None, b"", None
    finally:
        if proc.poll() is None:
            _kill_group(proc)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    try:
        return json.loads(out.decode().strip().splitlines()[-1]), err, proc.returncode
    except (ValueError, IndexError):
        why = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return ({"launcher_failed": f"the sandbox launcher failed (status {proc.returncode}): "
                                   f"{why[0][:300]}"}, err, proc.returncode)


def _teardown(group, pidns: str | None) -> bool:
    """Kill whatever of the sandbox is left and wait until it is gone: the cgroup's members
    (or, without one, the processes of its PID namespace); a process that SIGKILL cannot end
    (stuck in a FUSE request its own file system will never answer) gets its FUSE connections
    aborted. True when nothing is left."""
    def left() -> set[int]:
        found = group.members() if group else set()
        return found | (processes_in_pidns(pidns) if pidns else set())

    stopped = False
    for attempt in range(3):
        if group:
            group.kill()
        for pid in left():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        deadline = time.monotonic() + (1.0 if attempt == 0 else 3.0)
        while left() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not left():
            stopped = True
            break
        abort_fuse_of(left())
    if group and stopped:
        group.remove()
    return stopped


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
