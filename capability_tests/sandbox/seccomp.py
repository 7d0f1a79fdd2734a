"""The sandbox's system-call filter: what a sandboxed program may not ask the kernel for.

Installed (seccomp, classic BPF, through `prctl` with ctypes) in the tester and the candidate
just before each `exec`, after `PR_SET_NO_NEW_PRIVS`; inherited by every process they start,
never removable. Written against the kernel interface directly rather than through libseccomp:
the sandbox's interpreters run `-I -S` (no site-packages, so no binding), and the filter is small.
This file is sent into the sandbox as source text (standard library only).

Denied (EPERM unless said otherwise): see `DENIED`; `clone` with any namespace flag; `clone3`
(ENOSYS: its flags sit in memory a filter cannot read, and C libraries then fall back to `clone`);
`socket(AF_UNIX, ...)` (a path socket could reach a service of the host; `socketpair` stays
allowed); on x86-64 every x32 system call. docs/SANDBOX.md lists them with one test each.
"""

import ctypes
import errno
import platform
import struct

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
ARCH_INDEX = {"x86_64": 0, "aarch64": 1}
# name: (x86-64 number, arm64 number); None where the call does not exist there
DENIED = {
    # new namespaces, mounts, changing root: the FUSE deadlock and every mount-based attack
    "unshare": (272, 97), "setns": (308, 268), "mount": (165, 40), "umount2": (166, 39),
    "pivot_root": (155, 41), "chroot": (161, 51), "open_tree": (428, 428),
    "move_mount": (429, 429), "fsopen": (430, 430), "fsconfig": (431, 431),
    "fsmount": (432, 432), "fspick": (433, 433), "mount_setattr": (442, 442),
    # kernel keyrings outlive the sandbox
    "keyctl": (250, 219), "add_key": (248, 217), "request_key": (249, 218),
    # reading or writing other processes
    "ptrace": (101, 117), "process_vm_readv": (310, 270), "process_vm_writev": (311, 271),
    "kcmp": (312, 272), "pidfd_getfd": (438, 438),
    # large kernel attack surfaces
    "bpf": (321, 280), "perf_event_open": (298, 241), "userfaultfd": (323, 282),
    "io_uring_setup": (425, 425), "io_uring_enter": (426, 426), "io_uring_register": (427, 427),
    "open_by_handle_at": (304, 265), "name_to_handle_at": (303, 264),
    "fanotify_init": (300, 262), "lookup_dcookie": (212, 18),
    # the machine itself (root only; denied anyway)
    "kexec_load": (246, 104), "kexec_file_load": (320, 294), "init_module": (175, 105),
    "finit_module": (313, 273), "delete_module": (176, 106), "reboot": (169, 142),
    "swapon": (167, 224), "swapoff": (168, 225), "acct": (163, 89), "quotactl": (179, 60),
    "syslog": (103, 116), "vhangup": (153, 58), "iopl": (172, None), "ioperm": (173, None),
    "settimeofday": (164, 170), "clock_settime": (227, 112), "adjtimex": (159, 171),
    "clock_adjtime": (305, 266),
}
CLONE, CLONE3, SOCKET = (56, 220), (435, 435), (41, 198)
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME
NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 \
    | 0x20000000 | 0x40000000 | 0x00000080
AF_UNIX = 1
X32_BIT = 0x40000000

_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
RET_KILL_PROCESS = 0x80000000
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2


def filter_program(machine=None, deny_errno=errno.EPERM):
    """The filter as a list of (code, jt, jf, k) for `machine` (default: this one); raises
    OSError for an architecture it has no numbers for (the sandbox then refuses to run).
    `deny_errno`: what a denied call fails with (tests choose one the kernel never gives)."""
    machine = machine or platform.machine()
    if machine not in AUDIT_ARCH:
        raise OSError(errno.ENOSYS, f"no system-call filter for architecture {machine}")
    col = ARCH_INDEX[machine]
    body = [("ld", 4), ("jeq", AUDIT_ARCH[machine], None, "kill"), ("ld", 0)]
    if machine == "x86_64":
        body.append(("jge", X32_BIT, "eperm", None))
    for numbers in DENIED.values():
        if numbers[col] is not None:
            body.append(("jeq", numbers[col], "eperm", None))
    body += [("jeq", CLONE3[col], "enosys", None), ("jeq", CLONE[col], "clone", None),
             ("jeq", SOCKET[col], "socket", None), ("ret", RET_ALLOW)]
    labels = {"clone": len(body)}
    body += [("ld", 16), ("jset", NAMESPACE_FLAGS, "eperm", None), ("ret", RET_ALLOW)]
    labels["socket"] = len(body)
    body += [("ld", 16), ("jeq", AF_UNIX, "eperm", None), ("ret", RET_ALLOW)]
    labels.update(eperm=len(body), enosys=len(body) + 1, kill=len(body) + 2)
    body += [("ret", RET_ERRNO | deny_errno), ("ret", RET_ERRNO | errno.ENOSYS),
             ("ret", RET_KILL_PROCESS)]
    program = []
    for at, op in enumerate(body):
        if op[0] == "ld":
            program.append((_LD_W_ABS, 0, 0, op[1]))
        elif op[0] == "ret":
            program.append((_RET, 0, 0, op[1]))
        else:
            code = {"jeq": _JEQ, "jge": _JGE, "jset": _JSET}[op[0]]
            jt = 0 if op[2] is None else labels[op[2]] - at - 1
            jf = 0 if op[3] is None else labels[op[3]] - at - 1
            assert 0 <= jt < 256 and 0 <= jf < 256
            program.append((code, jt, jf, op[1]))
    return program


def install(libc=None, deny_errno=errno.EPERM):
    """No new privileges, then the filter, for this process and everything it starts."""
    libc = libc or ctypes.CDLL(None, use_errno=True)
    program = filter_program(deny_errno=deny_errno)
    data = b"".join(struct.pack("HBBI", *ins) for ins in program)
    buffer = ctypes.create_string_buffer(data, len(data))

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = Prog(len(program), ctypes.cast(buffer, ctypes.c_void_p))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "prctl(PR_SET_SECCOMP)")
