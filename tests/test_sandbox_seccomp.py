"""The system-call filter: one test per denied thing (docs/SANDBOX.md lists them).

Each system call is made with arguments the kernel rejects on its own (a bad pointer, a bad file
descriptor, bad flags) in a process whose filter denies with an errno the kernel never returns
for these calls (ENOTRECOVERABLE), so a refusal is the filter's and not the kernel's own
permission check (the sandbox's filter says EPERM, checked once at the end). Nothing here changes
the machine even were the filter missing (the calls cannot succeed, or are no-ops for a session
without a terminal).
"""

from __future__ import annotations

import errno
import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from capability_tests.sandbox import seccomp

MACHINE = platform.machine()
pytestmark = pytest.mark.skipif(MACHINE not in seccomp.AUDIT_ARCH,
                                reason=f"no filter for {MACHINE}: the sandbox refuses to run there")

CLONE_FS = 0x200
# name -> arguments the kernel rejects (or ignores) by itself
PROBES = {
    "unshare": (0x04000000 | CLONE_FS | 0x10000000,), "setns": (-1, 0), "mount": (0, 0, 0, 0, 0),
    "umount2": (0, 0), "pivot_root": (0, 0), "chroot": (0,), "open_tree": (-1, 0, 0xFFFFFFFF),
    "move_mount": (-1, 0, -1, 0, 0xFFFFFFFF), "fsopen": (0, 0xFFFFFFFF), "fsconfig": (-1, 0, 0, 0, 0),
    "fsmount": (-1, 0, 0), "fspick": (-1, 0, 0xFFFFFFFF), "mount_setattr": (-1, 0, 0xFFFFFFFF, 0, 0),
    "keyctl": (0xFFFF, 0, 0, 0, 0), "add_key": (0, 0, 0, 0, 0), "request_key": (0, 0, 0, 0),
    "ptrace": (0xFFFF, 0, 0, 0), "process_vm_readv": (0, 0, 0, 0, 0, 0xFFFF),
    "process_vm_writev": (0, 0, 0, 0, 0, 0xFFFF), "kcmp": (0, 0, 0xFFFF, 0, 0),
    "pidfd_getfd": (-1, -1, 0), "bpf": (0xFFFF, 0, 0), "perf_event_open": (0, 0, 0, 0, 0),
    "userfaultfd": (0xFFFFFFFF,), "io_uring_setup": (0, 0), "io_uring_enter": (-1, 0, 0, 0, 0, 0),
    "io_uring_register": (-1, 0xFFFF, 0, 0), "open_by_handle_at": (-1, 0, 0),
    "name_to_handle_at": (-1, 0, 0, 0, 0xFFFFFFFF), "fanotify_init": (0xFFFFFFFF, 0),
    "lookup_dcookie": (0, 0, 0), "kexec_load": (0, 0, 0, 0xFFFFFFFF),
    "kexec_file_load": (-1, -1, 0, 0, 0xFFFFFFFF), "init_module": (0, 0, 0),
    "finit_module": (-1, 0, 0), "delete_module": (0, 0), "reboot": (0, 0, 0, 0),
    "swapon": (0, 0), "swapoff": (0,), "acct": (1,), "quotactl": (0xFFFFFFFF, 0, 0, 0),
    "syslog": (0xFFFF, 0, 0), "vhangup": (), "iopl": (0xFFFF,), "ioperm": (0xFFFFFFFF, 1, 1),
    "settimeofday": (1, 1), "clock_settime": (0xFFFF, 0), "adjtimex": (0,),
    "clock_adjtime": (0xFFFF, 0),
}
# the three rules that look at arguments, and the expected refusal
SPECIAL = {
    "clone with a namespace flag": ("clone", (0x00020000 | CLONE_FS, 0, 0, 0, 0),
                                    errno.ENOTRECOVERABLE),
    "clone3": ("clone3", (0, 0), errno.ENOSYS),
    "socket(AF_UNIX)": ("socket", (1, 1, 0), errno.ENOTRECOVERABLE),
}
SPECIAL_NUMBERS = {"clone": seccomp.CLONE, "clone3": seccomp.CLONE3, "socket": seccomp.SOCKET}

PROBE = r"""
import ctypes, json, os, sys
calls = json.loads(sys.argv[2])
os.setsid()  # no controlling terminal: vhangup has nothing to hang up
if sys.argv[1] == "filtered":
    install(deny_errno=131)  # ENOTRECOVERABLE
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
out = {}
for name, (number, args) in calls.items():
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(number), *[ctypes.c_long(a) for a in args])
    out[name] = [result, ctypes.get_errno()]
print(json.dumps(out))
"""


def _numbers() -> dict[str, tuple[int, list[int]]]:
    column = seccomp.ARCH_INDEX[MACHINE]
    calls = {name: (seccomp.DENIED[name][column], list(args)) for name, args in PROBES.items()
             if seccomp.DENIED[name][column] is not None}
    for label, (call, args, _) in SPECIAL.items():
        calls[label] = (SPECIAL_NUMBERS[call][column], list(args))
    calls["fork-like clone"] = (seccomp.CLONE[column], [CLONE_FS | 0x00000800, 0, 0, 0, 0])
    calls["socket(AF_INET)"] = (seccomp.SOCKET[column], [2, 1, 0])
    return calls


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict[str, list[int]]]:
    source = Path(seccomp.__file__).read_text() + PROBE
    found = {}
    for mode in ("filtered",):
        done = subprocess.run([sys.executable, "-I", "-S", "-c", source, mode, json.dumps(_numbers())],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        found[mode] = json.loads(done.stdout)
    return found


def test_every_denied_call_has_a_probe():
    assert set(PROBES) == set(seccomp.DENIED)


@pytest.mark.parametrize("name", sorted(n for n in seccomp.DENIED
                                        if seccomp.DENIED[n][seccomp.ARCH_INDEX.get(MACHINE, 0)]))
def test_the_filter_denies(name, outcomes):
    assert outcomes["filtered"][name] == [-1, errno.ENOTRECOVERABLE]


@pytest.mark.parametrize("label", sorted(SPECIAL))
def test_the_filter_denies_by_argument(label, outcomes):
    assert outcomes["filtered"][label] == [-1, SPECIAL[label][2]]


def test_other_calls_and_arguments_pass_the_filter(outcomes):
    """A plain clone (fork), a TCP socket: allowed (the filter is not a blanket refusal)."""
    assert outcomes["filtered"]["fork-like clone"][1] != errno.ENOTRECOVERABLE
    assert outcomes["filtered"]["socket(AF_INET)"][0] >= 0


def test_the_filter_is_on_in_the_sandbox_and_ordinary_programs_still_run():
    """Threads, fork, subprocesses, socketpair and TCP sockets keep working under the filter."""
    from capability_tests.sandbox import Limits, run_tests

    code = ("import os, socket, subprocess, threading, ctypes\ndef attack():\n"
            "    status = open('/proc/self/status').read()\n"
            "    assert 'Seccomp:\\t2' in status, status\n"
            "    t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
            "    a, b = socket.socketpair(); a.send(b'x'); assert b.recv(1) == b'x'\n"
            "    socket.socket(socket.AF_INET).close()\n"
            "    assert subprocess.run(['/bin/true']).returncode == 0\n"
            "    assert ctypes.CDLL(None, use_errno=True).unshare(0x10000000) == -1\n"
            "    assert sorted(os.listdir('/dev')) == ['fd', 'full', 'null', 'random', 'shm', "
            "'stderr', 'stdin', 'stdout', 'urandom', 'zero'], os.listdir('/dev')\n"
            "    return 'yes'")
    job = {"mode": "function", "prompt": "",
           "test": "def check(c):\n    got = c()\n    assert got == 'yes', got\n",
           "entry_point": "attack"}
    report = run_tests(code, job, Limits(wall=20, cpu=10), entry_point="attack")
    assert report.passed, report
