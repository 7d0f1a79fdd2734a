"""Issue 19: hostile candidates, one per attack, each graded wrong (never an error, never a pass),
with nothing left behind: no process in the sandbox's cgroup or PID namespace, no connection
accepted by a listener on a TCP port, an abstract socket or a path socket, no key in any keyring.

The FUSE test aborts every FUSE connection it created in a finalizer, whatever the outcome, so a
failure here can never leave CI hanging on an unkillable process.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from capability_tests.code import timing
from capability_tests.code.verifier import verify_code
from capability_tests.problems import Problem
from capability_tests.sandbox import Limits, run_tests
from capability_tests.sandbox import run as sandbox_run
from capability_tests.sandbox.launcher import UID_BASE
from capability_tests.sandbox.teardown import processes_in_pidns

HOSTILE = Path(__file__).parent / "data" / "hostile"
YES_TEST = "def check(candidate):\n    got = candidate()\n    assert got == 'yes', got\n"
FUSE_CONNECTIONS = Path("/sys/fs/fuse/connections")


def problem(test: str = YES_TEST, entry_point: str = "attack", pid: str = "p") -> Problem:
    return Problem(benchmark="sandboxtest", problem_id=pid, question="", answer="",
                   source="tests", verifier="code",
                   meta={"mode": "function", "entry_point": entry_point, "test": test})


def block(code: str) -> str:
    return f"```python\n{code}\n```"


def _keys() -> list[str]:
    """Key owners among the sandbox user ids: /proc/key-users has a line per user id that holds
    keys ("uid: usage nkeys/nikeys ..."), whatever their permissions (/proc/keys would show
    only the keys root may view)."""
    try:
        lines = Path("/proc/key-users").read_text().splitlines()
    except OSError:
        return []
    return [line.strip() for line in lines
            if line.split(":")[0].strip().isdigit() and int(line.split(":")[0]) >= UID_BASE]


@pytest.fixture(autouse=True)
def nothing_left(monkeypatch):
    """Record every sandbox the test starts (PID namespace, cgroup); afterwards none of their
    processes is left, no cgroup of ours remains, no new key exists."""
    seen: list = []
    original = sandbox_run.run_tests

    def recording(*args, **kwargs):
        report = original(*args, **kwargs)
        seen.append(report)
        return report

    monkeypatch.setattr(sandbox_run, "run_tests", recording)
    monkeypatch.setattr("capability_tests.code.verifier.run_tests", recording)
    monkeypatch.setattr(timing, "DEFAULT_S", 2.0)  # no reference solution: this limit applies
    keys_before = _keys()  # user keyrings, once made, last as long as the machine
    yield seen
    for report in seen:  # without a cgroup: the namespace (its number may be reused later)
        assert report.cgroup or report.pidns is None or not processes_in_pidns(report.pidns)
    ours = Path("/sys/fs/cgroup/pids/capability-sandbox")  # a cgroup goes once it is empty
    if ours.is_dir():
        assert [d.name for d in ours.iterdir() if d.is_dir()
                and d.name.startswith(f"{os.getpid()}-")] == []
    assert _keys() == keys_before


def _graded_wrong(verdict) -> None:
    assert not verdict.correct and not verdict.error, verdict
    assert verdict.outcome in ("wrong", "timeout"), verdict


# -- 1. a process the sandbox cannot kill -------------------------------------------------------

@pytest.fixture
def fuse_guard():
    """Abort every FUSE connection created while the test ran (the test's own cleanup)."""
    import subprocess
    import sys

    # fusectl is not always mounted: list and abort in a mount namespace of our own
    script = ("import ctypes, os, sys\nlibc = ctypes.CDLL(None, use_errno=True)\n"
              "libc.unshare(0x20000)\nlibc.mount(None, b'/', None, ctypes.c_ulong(16384 | 262144), None)\n"
              "libc.mount(b'fusectl', b'/sys/fs/fuse/connections', b'fusectl', ctypes.c_ulong(0), None)\n"
              "root = '/sys/fs/fuse/connections'\n"
              "if sys.argv[1:] == ['list']:\n    print(' '.join(os.listdir(root)))\n"
              "else:\n    for name in sys.argv[1:]:\n"
              "        open(os.path.join(root, name, 'abort'), 'w').write('1')\n")

    def helper(*args):
        return subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                              text=True, timeout=30).stdout.split()

    before = set(helper("list"))
    yield
    new = set(helper("list")) - before
    if new:
        helper(*sorted(new))


def test_a_fuse_deadlock_is_refused_and_graded_wrong(fuse_guard):
    verdict = verify_code(block((HOSTILE / "fuse_deadlock.py").read_text()), problem())
    _graded_wrong(verdict)
    assert "no: unshare" in verdict.reason  # stopped at its first step: no new namespace


def test_a_sandbox_that_cannot_be_stopped_is_killed_and_graded_wrong(fuse_guard):
    """The same attack with the filter and the minimal /dev left out (so it reaches the kernel):
    the teardown still completes, aborting the candidate's FUSE connection, and the sample gets
    a verdict, "the program could not be stopped" or wrong, never an ungraded row."""
    job = {"mode": "function", "prompt": "", "test": YES_TEST, "entry_point": "attack"}
    start = time.monotonic()
    report = run_tests((HOSTILE / "fuse_deadlock.py").read_text(), job, Limits(wall=5, cpu=5),
                       entry_point="attack", _hardening=False)
    assert report.error is None, report
    # the teardown ends (wall limit, kill, teardown's 15 s): a correctness bound with a wide
    # margin for a busy machine, not a speed figure
    assert time.monotonic() - start < 2 * (5 + 3 + 15) + 30
    assert not report.passed  # the attack "passes" its test, then cannot be stopped
    assert report.why == sandbox_run.NOT_STOPPED


# -- 2. a pass by an empty container ------------------------------------------------------------

EVALPLUS_TEST = '''
import numpy as np

def is_floats(x) -> bool:
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)):
        return all(isinstance(i, float) for i in x)
    return False

def assertion(out, exp, atol):
    exact_match = out == exp
    if atol == 0 and is_floats(exp):
        atol = 1e-6
    if not exact_match and atol != 0:
        assert np.allclose(out, exp, rtol=1e-07, atol=atol)
    else:
        assert exact_match

def check(candidate):
    for inp, exp in [([3.5], 0.5), ([1.33], 0.33000000000000007)]:
        assertion(candidate(*inp), exp, 0)
'''


@pytest.mark.parametrize("answer", ["[]", "()", "[0.5]", "0", "None", "'0.5'", "True"])
def test_an_empty_or_mistyped_answer_never_passes_a_float_problem(answer):
    verdict = verify_code(block(f"def truncate(x):\n    return {answer}"),
                          problem(EVALPLUS_TEST, "truncate"))
    _graded_wrong(verdict)


def test_the_right_float_answer_passes_within_evalplus_tolerance():
    verdict = verify_code(block("def truncate(x):\n    return x % 1.0 + 1e-9"),
                          problem(EVALPLUS_TEST, "truncate"))
    assert verdict.correct, verdict


# -- 3. a crash by a string ---------------------------------------------------------------------

def test_a_lone_surrogate_in_an_exception_is_a_clean_wrong_verdict():
    verdict = verify_code(block("def attack():\n    raise ValueError('\\ud800 and \\udfff')"),
                          problem())
    _graded_wrong(verdict)
    verdict.reason.encode("utf-8")  # valid UTF-8: the store and reports can write it
    assert "\\ud800" in verdict.reason


# -- 4. sockets: TCP, abstract, path ------------------------------------------------------------

class Listener:
    """A listening socket that records every connection it accepts."""

    def __init__(self, family: int, address):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind(address)
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.accepted: list = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                self.accepted.append(self.sock.accept())
            except (TimeoutError, OSError):
                continue

    def close(self):
        self.stop.set()
        self.thread.join()
        self.sock.close()


def test_no_connection_reaches_a_tcp_an_abstract_or_a_path_socket(tmp_path):
    path_dir = Path("/dev/shm") / f"capability-test-{os.getpid()}"
    path_dir.mkdir(exist_ok=True)
    path_dir.chmod(0o777)
    path = str(path_dir / "service.sock")
    tcp = Listener(socket.AF_INET, ("127.0.0.1", 0))
    abstract_name = f"\0capability-test-{os.getpid()}"
    abstract = Listener(socket.AF_UNIX, abstract_name)
    unix = Listener(socket.AF_UNIX, path)
    os.chmod(path, 0o777)
    port = tcp.sock.getsockname()[1]
    code = (
        "import socket\ndef attack():\n    got = []\n"
        f"    for family, address in ((socket.AF_INET, ('127.0.0.1', {port})),\n"
        f"                            (socket.AF_UNIX, {abstract_name!r}),\n"
        f"                            (socket.AF_UNIX, {path!r})):\n"
        "        try:\n            s = socket.socket(family, socket.SOCK_STREAM)\n"
        "            s.settimeout(1)\n            s.connect(address)\n"
        "            got.append(repr(address))\n        except OSError:\n            pass\n"
        "    return 'yes' if got else 'no'")
    try:
        verdict = verify_code(block(code), problem())
    finally:
        time.sleep(0.2)
        for listener in (tcp, abstract, unix):
            listener.close()
        os.unlink(path)
        path_dir.rmdir()
    _graded_wrong(verdict)
    assert tcp.accepted == [] and abstract.accepted == [] and unix.accepted == []


# -- 5. memory per sandbox ----------------------------------------------------------------------

def test_memory_is_limited_for_the_sandbox_as_a_whole():
    """Three children of 200 MiB each under a 256 MiB limit: each fits its own address-space
    limit, together they do not; the OOM kill stays inside the sandbox."""
    code = (
        "import os\ndef attack():\n    pids = []\n    r, w = os.pipe()\n"
        "    for _ in range(3):\n        pid = os.fork()\n        if pid == 0:\n"
        "            block = bytearray(200 << 20)\n            for i in range(0, len(block), 4096):\n"
        "                block[i] = 1\n            os.write(w, b'x')\n            import time\n"
        "            time.sleep(3)\n            os._exit(0)\n        pids.append(pid)\n"
        "    got = b''\n    os.close(w)\n    while len(got) < 3:\n        chunk = os.read(r, 3)\n"
        "        if not chunk:\n            break\n        got += chunk\n"
        "    return 'yes' if len(got) == 3 else 'no'")
    job = {"mode": "function", "prompt": "", "test": YES_TEST, "entry_point": "attack"}
    report = run_tests(code, job, Limits(wall=20, cpu=10, memory=256 << 20), entry_point="attack")
    assert report.cgroup and "memory" in report.cgroup, report
    assert not report.passed and report.error is None, report


# -- 6. kernel keyrings -------------------------------------------------------------------------

def test_no_key_can_be_added_to_any_keyring():
    code = (
        "import ctypes, os\ndef attack():\n    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    add_key = {'x86_64': 248, 'aarch64': 217}[os.uname().machine]\n"
        "    made = []\n    for ring in (-3, -4, -5, -2):  # session, user, user-session, process\n"
        "        key = libc.syscall(add_key, b'user', b'capability-test-key', b'secret', 6, ring)\n"
        "        if key > 0:\n            made.append(key)\n"
        "    return 'yes' if made else 'no: ' + os.strerror(ctypes.get_errno())")
    verdict = verify_code(block(code), problem())
    _graded_wrong(verdict)
    assert "Operation not permitted" in verdict.reason  # and no key: see nothing_left


# -- 7. quadratic extraction --------------------------------------------------------------------

def test_extraction_at_the_size_cap_is_linear():
    """Inputs that made the fenced-block pattern backtrack: each is scanned in a bounded number
    of passes (checked by counting, not by timing: the machine is shared)."""
    from capability_tests.code import extract

    cap = extract.MAX_PROGRAM_CHARS
    texts = ["```" + " " * (cap - 3), "```" + " " * (cap - 10) + "x y\n", "```\n" * (cap // 4),
             "``` " * (cap // 4), "```python\n" + "`" * (cap - 10)]
    calls = {"find": 0}
    original = str.find

    class Counting(str):
        def find(self, *args):
            calls["find"] += 1
            return original(self, *args)

    for text in texts:
        calls["find"] = 0
        blocks = extract.fenced_blocks(Counting(text))
        assert calls["find"] <= 2 * text.count("```") + 4  # each fence visited a bounded number
        assert isinstance(blocks, list)
    start = time.process_time()
    for text in texts:
        extract.extract_program(text, "", "f")
    assert time.process_time() - start < 20  # minutes before; seconds even on a busy machine


# -- 8. verdicts independent of the load --------------------------------------------------------

def test_printing_1_gb_fails_the_same_way_on_any_machine():
    """Output that goes nowhere has a fixed cap (the file-size limit, 16 MiB): past it the write
    fails, deterministically, before any time limit could decide."""
    code = ("import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)\n"
            "def attack():\n    return 'yes'")
    verdict = verify_code(block(code), problem())
    _graded_wrong(verdict)
    assert not verdict.timed_out and "File too large" in verdict.reason


def test_a_correct_program_passes_beside_a_cpu_heavy_one():
    """The limit is CPU time of the sandbox: a program that needs 1 s of CPU passes under a
    2 s limit while other sandboxes saturate every core (its wall time grows, its CPU time not)."""
    spin = block("def attack():\n    while True:\n        pass")
    work = block("import time\ndef attack():\n    end = time.process_time() + 1.0\n"
                 "    while time.process_time() < end:\n        pass\n    return 'yes'")
    results: dict = {}

    def grade(name, text):
        results[name] = verify_code(text, problem(pid=name))

    cores = len(os.sched_getaffinity(0))  # one hog per usable core saturates the machine
    hogs = [threading.Thread(target=grade, args=(f"hog{i}", spin)) for i in range(cores)]
    for hog in hogs:
        hog.start()
    grade("work", work)
    for hog in hogs:
        hog.join()
    assert results["work"].correct, results["work"]
    for i in range(cores):  # CPU time, or the wall-clock backstop where the machine is saturated
        assert results[f"hog{i}"].timed_out and not results[f"hog{i}"].error


def test_reference_times_are_the_minimum_of_several_runs(monkeypatch, tmp_path):
    monkeypatch.setenv("CAPABILITY_TESTS_CACHE", str(tmp_path))
    from capability_tests.code import verifier

    runs = []
    original = verifier._run

    def counted(*args, **kwargs):
        report = original(*args, **kwargs)
        runs.append(report.cpu_seconds if report.cpu_seconds is not None else report.seconds)
        return report

    monkeypatch.setattr(verifier, "_run", counted)
    ref = Problem(benchmark="sandboxtest", problem_id="ref", question="", source="tests",
                  answer="def attack():\n    return 'yes'", verifier="code",
                  meta={"mode": "function", "entry_point": "attack", "test": YES_TEST})
    limit = verifier.problem_limit(ref)
    assert len(runs) == timing.REFERENCE_REPEATS
    assert limit == timing.limit_for(round(min(runs), 4))
    assert verifier.problem_limit(ref) == limit and len(runs) == timing.REFERENCE_REPEATS


def test_the_cgroup_of_a_grading_process_that_died_is_removed_by_the_next_sandbox():
    """A grading worker killed in the middle of a sandbox leaves its (empty) cgroup; the next
    sandbox made on the machine removes it."""
    import subprocess

    from capability_tests.sandbox import cgroups

    dead = subprocess.Popen(["/bin/true"])
    dead.wait()
    stale = cgroups.create(f"{dead.pid}-0", 64 << 20, 4)
    if stale is None:
        pytest.skip("no writable cgroup hierarchy here (the sandbox runs on rlimits alone)")
    assert all(os.path.isdir(d) for d in stale.dirs)
    fresh = cgroups.create(f"{os.getpid()}-sweep", 64 << 20, 4)
    try:
        assert not any(os.path.isdir(d) for d in stale.dirs)
    finally:
        fresh.remove()
