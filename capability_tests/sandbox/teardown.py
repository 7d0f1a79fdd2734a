"""Finding and ending what is left of a sandbox, when SIGKILL alone does not.

A process can be immune to SIGKILL while it waits in the kernel for a FUSE file system to answer,
and a program can make that file system itself (a user namespace, /dev/fuse, a mount) and never
answer: the sandbox's init then waits forever for it. The system-call filter and the minimal /dev
prevent that today; this is the second line: the FUSE connections that the sandbox's remaining
processes have mounted are aborted (`/sys/fs/fuse/connections/<dev>/abort`), which fails every
waiting request, and the processes then die. Only connections found in the mount tables of the
sandbox's own processes are touched.
"""

from __future__ import annotations

import os

FUSE_CONNECTIONS = "/sys/fs/fuse/connections"


def processes_in_pidns(pidns: str) -> set[int]:
    """Host PIDs of the processes in the PID namespace `pidns` ("pid:[inode]")."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == pidns:
                    found.add(int(entry))
            except OSError:
                pass
    return found


def fuse_connections_of(pids: set[int]) -> set[str]:
    """The FUSE connection names (the file system's device number) mounted in the mount
    namespaces of `pids`' threads."""
    found = set()
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/mountinfo", encoding="utf-8",
                          errors="replace") as handle:
                    lines = handle.read().splitlines()
            except OSError:
                continue
            for line in lines:
                left, _, right = line.partition(" - ")
                fields = left.split()
                if len(fields) > 2 and right.split()[:1] and right.split()[0].startswith("fuse"):
                    major, _, minor = fields[2].partition(":")
                    try:
                        found.add(str((int(major) << 20) | int(minor)))
                    except ValueError:
                        pass
    return found


def abort_fuse_of(pids: set[int]) -> list[str]:
    """Abort the FUSE connections the sandbox's processes use; returns those aborted. Where the
    fusectl file system is not mounted (as on this project's machines), a short helper mounts it
    in a mount namespace of its own (root only), so the host's mounts stay as they were."""
    names = sorted(fuse_connections_of(pids))
    if not names:
        return []
    if os.path.isdir(os.path.join(FUSE_CONNECTIONS, names[0])):
        return [name for name in names if _abort(FUSE_CONNECTIONS, name)]
    import subprocess
    import sys

    try:
        done = subprocess.run([sys.executable, "-I", "-S", "-c", _HELPER, *names],
                              capture_output=True, timeout=10, env={})
    except (OSError, subprocess.TimeoutExpired):
        return []
    return done.stdout.decode(errors="replace").split()


def _abort(root: str, name: str) -> bool:
    try:
        with open(os.path.join(root, name, "abort"), "w") as handle:
            handle.write("1")
        return True
    except OSError:
        return False


_HELPER = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.unshare(0x00020000) != 0:
    sys.exit(1)
libc.mount(None, b"/", None, ctypes.c_ulong(16384 | (1 << 18)), None)  # MS_REC | MS_PRIVATE
if libc.mount(b"fusectl", b"/sys/fs/fuse/connections", b"fusectl", ctypes.c_ulong(0), None) != 0:
    sys.exit(1)
for name in sys.argv[1:]:
    try:
        with open(f"/sys/fs/fuse/connections/{name}/abort", "w") as handle:
            handle.write("1")
        print(name)
    except OSError:
        pass
"""
