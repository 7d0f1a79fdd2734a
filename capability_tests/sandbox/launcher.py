"""The sandbox's launcher: a fresh interpreter that builds the sandbox and reports what happened.

`run.py` starts it as `python -I -S -B -c <this file>` with the job as one JSON line on stdin, and
reads one JSON line from its stdout. It dies with its parent (PR_SET_PDEATHSIG). Steps:

1. `unshare` new mount, PID, network, IPC and UTS namespaces (as root), or the same plus a new
   user namespace (unprivileged, where the kernel allows it); else the "plain" backend: no
   namespaces, only limits, a session of its own and separate user ids where it is root.
2. fork the sandbox's init (PID 1 of the new PID namespace; it dies with the launcher, and when
   it ends the kernel kills every process left in the namespace, fork bombs included). In its
   mount namespace it makes every mount private and read-only, mounts a fresh, size-limited
   tmpfs on /tmp (the only writable place; `/tmp/work` is the candidate's directory) and a /proc
   that shows only the sandbox's processes.
3. init starts the tester (see tester.py), waits until it is non-dumpable, then starts the
   candidate (candidate.py): each with an empty environment, closed file descriptors other than
   its pipes, resource limits (CPU seconds, address space, file size, processes, open files,
   no core files), no supplementary groups, and (as root) a user id of its own.
4. the launcher waits for the tester's verdict line until the wall-clock deadline, then kills
   init (which takes the whole namespace with it) and prints
   `{"verdict": <tester's line or null>, "timed_out": bool, "backend": ..., "pidns": ...}`.
"""

import ctypes
import json
import os
import resource
import select
import signal
import sys
import time

try:
    from capability_tests.sandbox.seccomp import install as install_seccomp
except ImportError:  # inside the sandbox the filter's source text precedes this file's
    install_seccomp = install  # noqa: F821

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE, MS_MOVE = 32, 4096, 16384, 1 << 18, 8192
PR_SET_PDEATHSIG = 1
SYS_MOUNT_SETATTR = 442  # the same number on x86-64 and arm64
AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY = -100, 0x8000, 1
UID_BASE = 1_000_000  # as root: tester and candidate run as UID_BASE + 2 * launcher pid (+1)
VERDICT_LIMIT = 1 << 20
DEVICES = ("null", "zero", "full", "random", "urandom")
STOP_GRACE_S = 3.0  # after the kill, how long the launcher waits for init before saying "stuck"

libc = ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _write_file(path, text):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def enter_namespaces():
    """Unshare; returns the backend name ("root-namespaces", "user-namespaces" or "plain")."""
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    if os.geteuid() == 0 and libc.unshare(flags) == 0:
        return "root-namespaces"
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(flags | CLONE_NEWUSER) == 0:
        # one id mapped: ours, seen inside as 1000 (an exec'd program has no capabilities)
        _write_file("/proc/self/setgroups", "deny")
        _write_file("/proc/self/uid_map", f"1000 {uid} 1")
        _write_file("/proc/self/gid_map", f"1000 {gid} 1")
        return "user-namespaces"
    return "plain"


def _mount(source, target, fstype, flags, data):
    _check(libc.mount(source, target, fstype, ctypes.c_ulong(flags), data),
           f"mount {target.decode()}")


def private_read_only_root():
    _mount(None, b"/", None, MS_REC | MS_PRIVATE, None)
    attr = (ctypes.c_uint64 * 4)(MOUNT_ATTR_RDONLY, 0, 0, 0)
    if libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, b"/", AT_RECURSIVE, ctypes.byref(attr), 32) == 0:
        return
    # older kernels: remount each mount read-only, keeping its locked flags
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        mounts = [line.split() for line in handle]
    for fields in sorted(mounts, key=lambda f: len(f[4])):
        point = fields[4].encode().decode("unicode_escape").encode()
        options = fields[5].split(",")
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        flags |= MS_NOSUID if "nosuid" in options else 0
        flags |= MS_NODEV if "nodev" in options else 0
        flags |= MS_NOEXEC if "noexec" in options else 0
        libc.mount(None, point, None, ctypes.c_ulong(flags), None)  # best effort per mount


def expose_interpreter(prefix):
    """Make the interpreter's installation reachable for the sandbox's user ids when a folder
    above it is closed to others (pyenv under a 0700 /root): cover the highest closed folder with
    an empty read-only tmpfs that holds only a read-only bind of the installation. Everything
    else in that folder (a home directory's files) is hidden as a side effect."""
    closed = None
    path = "/"
    for part in prefix.strip("/").split("/")[:-1]:
        path = os.path.join(path, part)
        if not os.stat(path).st_mode & 0o001:
            closed = path
            break
    if closed is None:
        return
    stage = "/tmp/.interpreter"
    os.mkdir(stage, 0o755)
    _mount(prefix.encode(), stage.encode(), None, MS_BIND | MS_REC, None)
    _mount(b"tmpfs", closed.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"size=64k,mode=0755")
    os.makedirs(prefix, 0o755)
    _mount(stage.encode(), prefix.encode(), None, MS_BIND | MS_REC, None)
    _mount(None, prefix.encode(), None, MS_REMOUNT | MS_BIND | MS_RDONLY, None)
    _check(libc.umount2(stage.encode(), 2), "umount staging")  # MNT_DETACH
    os.rmdir(stage)
    _mount(None, closed.encode(), None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)


def minimal_dev(job):
    """A fresh /dev holding only null, zero, full, random and urandom (bind mounts of the host's
    nodes), the usual links, and a private /dev/shm; a private /run. Host sockets in /run or
    /dev/shm and devices such as /dev/fuse are out of reach."""
    stage = "/tmp/.dev"
    os.mkdir(stage, 0o755)
    _mount(b"tmpfs", stage.encode(), b"tmpfs", MS_NOSUID | MS_NOEXEC, b"size=64k,mode=0755")
    for name in DEVICES:
        target = f"{stage}/{name}"
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o666))
        _mount(f"/dev/{name}".encode(), target.encode(), None, MS_BIND, None)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{stage}/{name}")
    os.mkdir(f"{stage}/shm", 0o1777)
    _mount(stage.encode(), b"/dev", None, MS_MOVE, None)
    os.rmdir(stage)
    shm = f"size={job['tmpfs_bytes']},mode=1777".encode()
    _mount(b"tmpfs", b"/dev/shm", b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, shm)
    _mount(None, b"/dev", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, None)
    if os.path.isdir("/run"):
        _mount(b"tmpfs", b"/run", b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
               b"size=16k,mode=0755")


def _limits(job, cpu):
    cpu = int(cpu) + 1  # whole seconds, per process: behind the cgroup's exact sum
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (job["memory"], job["memory"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (job["fsize"], job["fsize"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (job["nproc"], job["nproc"]))


def _start(job, source, fds, uid, cwd, backend):
    """fork + exec one sandboxed interpreter with `fds` (target fd -> our fd) as its only files."""
    pid = os.fork()
    if pid:
        return pid
    try:
        for target, fd in fds.items():  # move out of the way first, then into place
            fds[target] = os.dup(fd)
        for target, fd in fds.items():
            os.dup2(fd, target)
        os.closerange(max(fds) + 1, 1 << 16)
        _limits(job, job["cpu"])
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        os.chdir(cwd)
        if job.get("seccomp", True):
            install_seccomp(libc)
        env = {"HOME": cwd, "TMPDIR": cwd, "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
        os.execve(job["python"], [job["python"], "-I", "-S", "-B", "-c", source], env)
    finally:
        os._exit(127)


def sandbox_init(job, backend, verdict_w):
    """PID 1 of the sandbox (or, in the plain backend, its session leader)."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    cwd = job.get("workdir") or "/tmp/work"
    if backend == "plain":
        os.setsid()
    else:
        private_read_only_root()
        _mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV,
               f"size={job['tmpfs_bytes']},mode=0755".encode())
        _mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
        if backend == "root-namespaces":
            expose_interpreter(job["prefix"])
        if job.get("minimal_dev", True):
            minimal_dev(job)
        os.mkdir(cwd, 0o700)
    root = os.geteuid() == 0 and backend != "user-namespaces"
    tester_uid = UID_BASE + 2 * job["launcher_pid"] if root else None
    candidate_uid = tester_uid + 1 if root else None
    if candidate_uid is not None:
        os.chown(cwd, candidate_uid, candidate_uid)
    devnull = os.open(os.devnull, os.O_RDWR)
    # what the candidate prints goes to an unlinked file: RLIMIT_FSIZE ends it at a fixed size,
    # whatever the machine's load (printing to /dev/null cost only wall-clock time)
    output_path = os.path.join(cwd, ".output")
    output = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
    os.unlink(output_path)
    tester_job_r, tester_job_w = os.pipe()
    ready_r, ready_w = os.pipe()
    request_r, request_w = os.pipe()
    reply_r, reply_w = os.pipe()
    tester = _start(job, job["tester_source"],
                    {0: tester_job_r, 1: devnull, 2: devnull, 3: verdict_w, 4: request_w,
                     5: reply_r, 6: ready_w}, tester_uid, "/", backend)
    for fd in (tester_job_r, ready_w, verdict_w):
        os.close(fd)
    _send(tester_job_w, job["tester_job"])
    ready, _, _ = select.select([ready_r], [], [], job["wall"])
    if not ready or os.read(ready_r, 1) != b"R":
        os._exit(3)
    candidate_job_r, candidate_job_w = os.pipe()
    _start(job, job["candidate_source"],
           {0: candidate_job_r, 1: output, 2: output, 3: request_r, 4: reply_w},
           candidate_uid, cwd, backend)
    for fd in (candidate_job_r, request_r, reply_w, request_w, reply_r, ready_r, devnull, output):
        os.close(fd)
    _send(candidate_job_w, job["candidate_job"])
    while True:  # reap everything; done when the tester is
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        if pid == tester:
            break
    os._exit(0)


def _send(fd, message):
    data = (json.dumps(message) + "\n").encode()
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except BrokenPipeError:
        pass
    os.close(fd)


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    job = json.loads(sys.stdin.readline())
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != job["parent_pid"]:
        os._exit(1)  # the parent died before PR_SET_PDEATHSIG took effect
    job["launcher_pid"] = os.getpid()
    for procs in job.get("cgroup_procs", ()):  # before anything forks: all of it is inside
        _write_file(procs, str(os.getpid()))
    start = time.monotonic()
    verdict_r, verdict_w = os.pipe()
    backend = "plain" if job.get("backend") == "plain" else enter_namespaces()
    if backend == "plain" and job.get("backend") == "namespaces":
        print(json.dumps({"error": "no namespaces available (unshare refused)",
                          "backend": backend}), flush=True)
        return
    if backend == "plain" and os.geteuid() == 0 and not _reachable_by_others(job["prefix"]):
        print(json.dumps({"error": f"plain backend: the interpreter under {job['prefix']} is not "
                          "reachable for an unprivileged user id (a folder above it is closed) "
                          "and without a mount namespace it cannot be exposed",
                          "backend": backend}), flush=True)
        return
    if backend == "plain":
        import tempfile

        job["workdir"] = tempfile.mkdtemp(prefix="capability-sandbox-")
    init = os.fork()
    if init == 0:
        try:
            os.close(verdict_r)
            sandbox_init(job, backend, verdict_w)
        except BaseException as exc:  # noqa: BLE001 - report a broken sandbox, never a verdict
            try:
                os.write(2, f"sandbox init failed: {type(exc).__name__}: {exc}\n".encode())
            finally:
                os._exit(2)
        os._exit(0)
    os.close(verdict_w)
    pidns = None
    try:
        pidns = os.readlink(f"/proc/{init}/ns/pid") if backend != "plain" else None
    except OSError:
        pass
    deadline = start + job["wall"]
    data, timed_out, over_cpu = b"", False, False
    cpu_file = job.get("cgroup_cpu")
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([verdict_r], [], [], min(left, 0.05) if cpu_file else left)
        if not ready:
            used = _cpu_seconds(cpu_file) if cpu_file else None
            if used is not None and used > job["cpu"]:
                timed_out = over_cpu = True  # the sandbox as a whole used its CPU time
                break
            continue
        chunk = os.read(verdict_r, 65536)
        if not chunk or len(data) > VERDICT_LIMIT:
            break
        data += chunk
    seconds = time.monotonic() - start
    os.kill(init, signal.SIGKILL) if backend != "plain" else _kill_session(init, job)
    status, stop_deadline = None, time.monotonic() + STOP_GRACE_S
    while status is None and time.monotonic() < stop_deadline:
        done, status = os.waitpid(init, os.WNOHANG)
        status = status if done else None
        if status is None:
            time.sleep(0.01)
    if status is None:  # init hangs in the kernel (a process it waits for cannot die)
        print(json.dumps({"stuck": True, "backend": backend, "pidns": pidns,
                          "seconds": seconds}), flush=True)
        os._exit(0)
    verdict = None
    if data.endswith(b"\n") and not timed_out:
        try:
            verdict = json.loads(data)
        except ValueError:
            verdict = None
    report = {"verdict": verdict, "timed_out": timed_out, "over_cpu": over_cpu,
              "backend": backend, "pidns": pidns, "seconds": seconds, "init_status": status,
              "cpu_seconds": _cpu_seconds(cpu_file) if cpu_file else None}
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) in (2, 3) and verdict is None:
        # 2: init failed (mounts, pipes); 3: the tester never started: nothing of the candidate's
        report["error"] = ("the sandbox could not be set up" if os.WEXITSTATUS(status) == 2
                           else "the tester did not start")
    if backend == "plain":
        import shutil

        shutil.rmtree(job["workdir"], ignore_errors=True)
    print(json.dumps(report), flush=True)


def _cpu_seconds(cpu_file):
    """The sandbox cgroup's CPU time (cpuacct.usage in ns, or usage_usec of v2 cpu.stat)."""
    try:
        with open(cpu_file, encoding="ascii") as handle:
            text = handle.read()
        if cpu_file.endswith("cpu.stat"):
            return int(text.split("usage_usec", 1)[1].split()[0]) / 1e6
        return int(text.strip()) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def _reachable_by_others(prefix):
    path = "/"
    for part in prefix.strip("/").split("/"):
        path = os.path.join(path, part)
        if not os.stat(path).st_mode & 0o001:
            return False
    return True


def _kill_session(init, job):
    """Plain backend: kill the session's process group, and as root every process of the two
    sandbox user ids (a process that left the session is still found by its user id)."""
    try:
        os.killpg(init, signal.SIGKILL)
    except OSError:
        pass
    if os.geteuid() == 0:
        for uid in (UID_BASE + 2 * job["launcher_pid"], UID_BASE + 2 * job["launcher_pid"] + 1):
            pid = os.fork()
            if pid == 0:
                try:
                    os.setresuid(uid, uid, uid)
                    os.kill(-1, signal.SIGKILL)  # every process this user id may signal: its own
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
