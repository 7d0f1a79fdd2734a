"""One control group per sandbox: memory (no swap), process count, CPU time, and a kill that
takes every process of the sandbox at once.

Rlimits count per process: three children under a 2 GiB address-space limit held 3 GiB, and the
kernel's OOM killer then chose among all the machine's processes. A cgroup limits the sandbox as
a whole, its OOM kill stays inside it, its CPU counter sums every process, and its member list
finds every process to kill, even ones that left the session and the process group.

Both layouts are supported, each controller from wherever it is writable:
- cgroup v2 (current distributions): a child of this process's cgroup with `memory.max`,
  `memory.swap.max = 0`, `pids.max`; CPU from `cpu.stat`; kill by `cgroup.kill`. Controllers must
  be enabled in the parent's `cgroup.subtree_control` (a delegated subtree, e.g. systemd's
  `Delegate=yes`); where they are not, v2 still gives the member list, CPU and the kill.
- cgroup v1 (this project's machines: memory, pids, freezer, cpuacct beside a v2 hierarchy with
  no controllers): `memory.limit_in_bytes` and `memory.memsw.limit_in_bytes` (no swap; where
  swap accounting is off, `memory.swappiness = 0`), `pids.max`, CPU from `cpuacct.usage`, and a
  kill that freezes the group (freezer) so nothing forks while it is being killed.
Where no hierarchy is writable (an unprivileged user without a delegated subtree), `create`
returns None and the sandbox falls back to rlimits per process (SandboxReport.cgroup is None).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field

ROOT = "/sys/fs/cgroup"
PARENT = "capability-sandbox"
EXTRA_PROCESSES = 4  # launcher, init, tester, the tester's interpreter threads


def _own_paths() -> dict[str, str]:
    """controller (or "" for v2) -> this process's cgroup path in that hierarchy."""
    paths: dict[str, str] = {}
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as handle:
            for line in handle:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                for name in controllers.split(",") if controllers else [""]:
                    paths[name] = path
    except OSError:
        pass
    return paths


def _v2_mount() -> str | None:
    try:
        with open("/proc/self/mounts", encoding="utf-8") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) > 2 and fields[2] == "cgroup2":
                    return fields[1]
    except OSError:
        pass
    return None


def _write(path: str, value: str) -> bool:
    try:
        with open(path, "w", encoding="ascii") as handle:
            handle.write(value)
        return True
    except OSError:
        return False


def _make(base: str, token: str) -> str | None:
    path = os.path.join(base, PARENT, token)
    _sweep(os.path.join(base, PARENT))
    try:
        os.makedirs(path, exist_ok=False)
    except OSError:
        return None
    return path


def _sweep(parent: str) -> None:
    """Remove the empty cgroups of grading processes that are gone (a worker killed in the middle
    of a sandbox never removed its own); a cgroup with members is never removed (rmdir fails)."""
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        owner = name.partition("-")[0]
        if not owner.isdigit() or not os.path.isdir(os.path.join(parent, name)):
            continue
        try:
            os.kill(int(owner), 0)
            continue  # its grading process still lives: it removes its own
        except ProcessLookupError:
            pass
        except OSError:
            continue
        try:
            os.rmdir(os.path.join(parent, name))
        except OSError:
            pass


@dataclass
class SandboxCgroup:
    """The directories made for one sandbox; `procs` are the files its launcher joins."""

    dirs: list[str] = field(default_factory=list)
    procs: list[str] = field(default_factory=list)
    cpu_file: str | None = None  # cpuacct.usage (ns) or cpu.stat (usage_usec)
    kill_file: str | None = None  # v2 cgroup.kill
    freezer: str | None = None  # v1 freezer directory
    limits: list[str] = field(default_factory=list)  # what is limited, for the report

    def describe(self) -> str:
        return ", ".join(self.limits) or "membership only"

    def members(self) -> set[int]:
        found: set[int] = set()
        for procs in self.procs:
            try:
                with open(procs, encoding="ascii") as handle:
                    found.update(int(line) for line in handle if line.strip())
            except (OSError, ValueError):
                pass
        return found

    def kill(self) -> None:
        """SIGKILL every member; the group frozen meanwhile where a freezer exists."""
        if self.kill_file and _write(self.kill_file, "1"):
            return
        frozen = bool(self.freezer) and _write(os.path.join(self.freezer, "freezer.state"), "FROZEN")
        for _ in range(3):
            members = self.members()
            if not members:
                break
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if frozen:
            _write(os.path.join(self.freezer, "freezer.state"), "THAWED")

    def wait_empty(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while self.members():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def remove(self) -> None:
        for path in self.dirs:
            try:
                os.rmdir(path)
            except OSError:
                pass


def create(token: str, memory: int, processes: int) -> SandboxCgroup | None:
    """A cgroup for one sandbox with its limits, or None where no hierarchy is writable."""
    own = _own_paths()
    group = SandboxCgroup()
    v2 = _v2_mount()
    if v2 is not None and "" in own:
        path = _make(v2 + own[""], token)
        if path is not None:
            group.dirs.append(path)
            group.procs.append(os.path.join(path, "cgroup.procs"))
            if os.path.exists(os.path.join(path, "cgroup.kill")):
                group.kill_file = os.path.join(path, "cgroup.kill")
            if _write(os.path.join(path, "memory.max"), str(memory)):
                _write(os.path.join(path, "memory.swap.max"), "0")
                group.limits.append("memory (v2)")
            if _write(os.path.join(path, "pids.max"), str(processes + EXTRA_PROCESSES)):
                group.limits.append("pids (v2)")
            if os.path.exists(os.path.join(path, "cpu.stat")):
                group.cpu_file = os.path.join(path, "cpu.stat")
    for controller in ("memory", "pids", "cpuacct", "freezer"):
        if any(controller in item and "(v2)" in item for item in group.limits):
            continue
        base = os.path.join(ROOT, controller)
        if controller not in own or not os.path.isdir(base) or base == v2:
            continue
        path = _make(base + own[controller], token)
        if path is None:
            continue
        group.dirs.append(path)
        group.procs.append(os.path.join(path, "cgroup.procs"))
        if controller == "memory" and _write(os.path.join(path, "memory.limit_in_bytes"), str(memory)):
            if not _write(os.path.join(path, "memory.memsw.limit_in_bytes"), str(memory)):
                _write(os.path.join(path, "memory.swappiness"), "0")
            group.limits.append("memory (v1)")
        elif controller == "pids" and _write(os.path.join(path, "pids.max"),
                                             str(processes + EXTRA_PROCESSES)):
            group.limits.append("pids (v1)")
        elif controller == "cpuacct" and group.cpu_file is None:
            group.cpu_file = os.path.join(path, "cpuacct.usage")
        elif controller == "freezer":
            group.freezer = path
    if not group.dirs:
        return None
    if group.cpu_file:
        group.limits.append("cpu time")
    return group


def cpu_seconds(cpu_file: str) -> float | None:
    """CPU time used by the group so far (the launcher polls this; also sent into it as text)."""
    try:
        with open(cpu_file, encoding="ascii") as handle:
            text = handle.read()
    except OSError:
        return None
    if cpu_file.endswith("cpu.stat"):
        for line in text.splitlines():
            if line.startswith("usage_usec "):
                return int(line.split()[1]) / 1e6
        return None
    try:
        return int(text.strip()) / 1e9
    except ValueError:
        return None
