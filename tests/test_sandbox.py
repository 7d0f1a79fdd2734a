"""The sandbox holds: hostile programs are contained, counted wrong, and leave nothing behind.

Each hostile program also defines a wrong answer, or answers "yes" only when its attack worked,
so a pass would show the attack succeeded. After every test, no process of any sandbox is left
(its cgroup is gone, which happens only once it is empty; without one, its PID namespace is empty).
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
from capability_tests.grading.pool import GradingPool
from capability_tests.problems import Problem
from capability_tests.sandbox import Limits, run_tests

ADD_TEST = "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"
YES_TEST = "def check(candidate):\n    assert candidate() == 'yes'\n"


def problem(test: str = ADD_TEST, entry_point: str = "add", pid: str = "p") -> Problem:
    return Problem(benchmark="sandboxtest", problem_id=pid, question="", answer="",
                   source="tests", verifier="code",
                   meta={"mode": "function", "entry_point": entry_point, "test": test})


def block(code: str) -> str:
    return f"```python\n{code}\n```"


def sandbox_processes(pidns: set[str]) -> list[str]:
    """Processes still alive in one of `pidns`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ns = os.readlink(entry / "ns" / "pid")
        except OSError:
            continue
        if ns in pidns:
            found.append(f"{entry.name} ({ns})")
    return found


@pytest.fixture(autouse=True)
def nothing_left_behind(monkeypatch):
    """Record every sandbox the test starts; check none survives: its cgroup is gone (removed
    only once empty) or, without a cgroup, its PID namespace holds no process. (Other sandboxes
    may run on the machine meanwhile, with their own user ids and recycled namespace numbers:
    only this test's sandboxes are checked.)"""
    import capability_tests.sandbox.run as run

    seen: list = []
    original = run.run_tests

    def recording(*args, **kwargs):
        report = original(*args, **kwargs)
        seen.append(report)
        return report

    monkeypatch.setattr(run, "run_tests", recording)
    monkeypatch.setattr("capability_tests.code.verifier.run_tests", recording)
    monkeypatch.setattr(timing, "DEFAULT_S", 2.0)  # no reference solution: this limit applies
    yield seen
    host_ns = os.readlink("/proc/self/ns/pid")
    assert host_ns not in {r.pidns for r in seen}
    ours = Path("/sys/fs/cgroup/pids/capability-sandbox")
    if ours.is_dir():
        assert [d.name for d in ours.iterdir() if d.name.startswith(f"{os.getpid()}-")] == []
    unlimited = {r.pidns for r in seen if r.pidns and not r.cgroup}
    deadline = time.monotonic() + 5
    while sandbox_processes(unlimited) and time.monotonic() < deadline:
        time.sleep(0.1)  # the kernel reaps a killed namespace asynchronously
    assert sandbox_processes(unlimited) == []


def test_a_right_program_passes_and_a_wrong_one_fails():
    right = verify_code(block("def add(a, b):\n    return a + b"), problem())
    wrong = verify_code(block("def add(a, b):\n    return a * b"), problem())
    assert right.correct and not right.timed_out, right
    assert not wrong.correct and not wrong.timed_out and "assertion" in wrong.reason


def test_an_infinite_loop_times_out_and_is_counted_apart():
    start = time.monotonic()
    verdict = verify_code(block("def add(a, b):\n    while True:\n        pass"), problem())
    assert not verdict.correct and verdict.timed_out and verdict.outcome == "timeout"
    # 2 s of CPU time; the wall-clock backstop behind it bounds the wait on a saturated machine.
    # A correctness bound with a wide margin (a loop nobody stops never returns), not a speed figure.
    assert time.monotonic() - start < 2 * timing.wall_backstop(2.0) + 30


def test_a_fork_bomb_is_contained():
    bomb = ("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n"
            "        pass\ndef add(a, b):\n    return a + b")
    start = time.monotonic()
    report = run_tests(bomb, {"mode": "function", "prompt": "", "test": ADD_TEST,
                              "entry_point": "add"}, Limits(wall=1.5, cpu=2), entry_point="add")
    assert not report.passed and report.timed_out
    # stopped, not left running: a correctness bound with a wide margin, not a speed figure
    assert time.monotonic() - start < 1.5 + 60
    # the machine still forks: this test process can start a child
    assert os.waitpid(os.spawnv(os.P_NOWAIT, "/bin/true", ["true"]), 0)[1] == 0


def test_allocating_8_gb_fails_inside_the_sandbox():
    verdict = verify_code(block("x = bytearray(8 << 30)\ndef add(a, b):\n    return a + b"),
                          problem())
    assert not verdict.correct and "MemoryError" in verdict.reason


def test_writing_outside_its_directory_fails(tmp_path):
    target = tmp_path / "open"
    target.mkdir()
    target.chmod(0o777)  # only the read-only mounts stand between the candidate and this folder
    places = [str(target / "escaped"), "/tmp/capability-sandbox-escaped", "/var/tmp/escaped",
              str(Path.cwd() / "escaped")]
    code = (f"import os\ndef attack():\n    wrote = []\n    for path in {places!r}:\n"
            "        try:\n            with open(path, 'w') as f:\n                f.write('x')\n"
            "            wrote.append(path)\n        except OSError:\n            pass\n"
            "    with open('mine.txt', 'w') as f:\n        f.write('its own folder is writable')\n"
            "    return 'yes' if wrote else 'no: ' + open('mine.txt').read()")
    verdict = verify_code(block(code), problem(YES_TEST, "attack"))
    assert not verdict.correct and "assertion" in verdict.reason
    assert not any(os.path.exists(p) for p in places)
    # /dev/shm and /run are the sandbox's own (private tmpfs): a write there reaches nothing
    shared = verify_code(block("def attack():\n    open('/dev/shm/escaped', 'w').write('x')\n"
                               "    open('/run/escaped', 'w').write('x')\n    return 'yes'"),
                         problem(YES_TEST, "attack"))
    assert not shared.correct and not os.path.exists("/dev/shm/escaped")
    assert not os.path.exists("/run/escaped")


def test_the_parents_environment_is_invisible(monkeypatch):
    monkeypatch.setenv("CAPABILITY_SANDBOX_SECRET", "hunter2-token")
    code = ("import os, glob\ndef attack():\n"
            "    if 'hunter2' in repr(dict(os.environ)):\n        return 'yes'\n"
            "    for path in glob.glob('/proc/*/environ'):\n        try:\n"
            "            if b'hunter2' in open(path, 'rb').read():\n                return 'yes'\n"
            "        except OSError:\n            pass\n    return 'no'")
    verdict = verify_code(block(code), problem(YES_TEST, "attack"))
    assert not verdict.correct and "assertion" in verdict.reason


def test_no_network_connection():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted = []

    def accept():
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            try:
                accepted.append(server.accept())
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept)
    thread.start()
    code = (f"import socket\ndef attack():\n    for host in ('127.0.0.1', '8.8.8.8', 'pypi.org'):\n"
            f"        try:\n            socket.create_connection((host, {port}), timeout=0.5)\n"
            "            return 'yes'\n        except OSError:\n            pass\n    return 'no'")
    try:
        verdict = verify_code(block(code), problem(YES_TEST, "attack"))
    finally:
        thread.join()
        server.close()
    assert not verdict.correct and "assertion" in verdict.reason
    assert accepted == []


def test_killing_its_parents_and_the_suite_changes_nothing():
    me = os.getpid()
    code = ("import os, signal\nfor pid in (os.getppid(), 1, -1, " + str(me) + "):\n    try:\n"
            "        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\n"
            "try:\n    os.killpg(os.getpgid(0), signal.SIGKILL)\nexcept OSError:\n    pass\n"
            "def add(a, b):\n    return a - b")
    verdict = verify_code(block(code), problem())
    assert not verdict.correct and not verdict.error
    assert os.getpid() == me  # still here


def test_printing_1_gb_is_contained():
    code = ("import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n"
            "    sys.stdout.write(chunk)\n    sys.stderr.write(chunk)\n"
            "def add(a, b):\n    return 0")
    verdict = verify_code(block(code), problem())
    assert not verdict.correct and not verdict.error


@pytest.mark.parametrize("exit_call", ["sys.exit(0)", "os._exit(0)", "raise SystemExit(0)"])
def test_exiting_before_the_tests_is_not_a_pass(exit_call):
    at_import = verify_code(block(f"import os, sys\n{exit_call}\ndef add(a, b):\n    return a + b"),
                            problem())
    in_call = verify_code(block(f"import os, sys\ndef add(a, b):\n    {exit_call}"), problem())
    assert not at_import.correct and not in_call.correct
    assert not at_import.error and not in_call.error


def test_patching_or_forging_the_harness_is_not_a_pass():
    forge = (
        "import os, glob, builtins\n"
        "line = b'{\"passed\": true, \"calls\": 1}\\n'\n"
        "for fd in range(0, 64):\n    try:\n        os.write(fd, line)\n    except OSError:\n"
        "        pass\n"
        "for path in glob.glob('/proc/*/fd/*'):\n    try:\n"
        "        fd = os.open(path, os.O_WRONLY)\n        os.write(fd, line)\n"
        "    except OSError:\n        pass\n"
        "builtins.AssertionError = type('Nothing', (BaseException,), {})\n"
        "class AlwaysEqual:\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = None\n"
        "def add(a, b):\n    return AlwaysEqual()")
    verdict = verify_code(block(forge), problem())
    assert not verdict.correct and not verdict.error, verdict
    # the same trick through a subclass of a plain type crosses as the plain value
    subclass = ("class Sly(int):\n    def __eq__(self, other):\n        return True\n"
                "def add(a, b):\n    return Sly(42)")
    assert not verify_code(block(subclass), problem()).correct


def _wrong_hostile(code: str) -> str:
    return block(code + "\ndef add(a, b):\n    return None")


def test_hostile_programs_do_not_disturb_the_rest_of_a_run():
    """Hostile and right programs graded together on a pool: every right one still passes."""
    hostile = [
        _wrong_hostile("import os\nfor pid in (os.getppid(), 1, -1):\n    try:\n"
                       "        os.kill(pid, 9)\n    except OSError:\n        pass"),
        _wrong_hostile("import sys\nsys.stdout.write('x' * (1 << 28))"),
        _wrong_hostile("x = bytearray(8 << 30)"),
        _wrong_hostile("import os\nos._exit(0)"),
    ]
    right = block("def add(a, b):\n    return a + b")
    pairs = []
    for i, bad in enumerate(hostile):
        pairs += [(bad, problem(pid=f"bad{i}")), (right, problem(pid=f"good{i}"))]
    with GradingPool(workers=2) as pool:
        verdicts = pool.map(pairs)
    assert [v.correct for v in verdicts] == [False, True] * len(hostile)
    assert not any(v.error for v in verdicts)


def test_the_plain_backend_decides_right_or_says_why_not(monkeypatch):
    """Without namespaces (CAPABILITY_TESTS_SANDBOX=plain): limits, a session and (as root) user
    ids of its own. Where the interpreter lies in a folder closed to other users (pyenv under a
    0700 /root, as on this project's machines) it cannot run there: a sandbox error that names
    the folder, never a verdict."""
    from capability_tests.sandbox.launcher import _reachable_by_others
    from capability_tests.sandbox.run import interpreter

    monkeypatch.setenv("CAPABILITY_TESTS_SANDBOX", "plain")
    job = {"mode": "function", "prompt": "", "test": ADD_TEST, "entry_point": "add"}
    right = run_tests("def add(a, b):\n    return a + b", job, Limits(wall=5), entry_point="add")
    wrong = run_tests("import os\nos._exit(0)", job, Limits(wall=5), entry_point="add")
    if os.geteuid() == 0 and not _reachable_by_others(interpreter()[1]):
        assert right.error and "not reachable" in right.error and not right.passed
        verdict = verify_code(block("def add(a, b):\n    return a + b"), problem())
        assert verdict.error and verdict.outcome == "error"
    else:
        assert right.backend == "plain" and right.passed and right.error is None
        assert not wrong.passed and wrong.error is None


def test_a_sandbox_that_cannot_run_is_a_grading_error_never_a_verdict(monkeypatch):
    monkeypatch.setenv("CAPABILITY_TESTS_SANDBOX", "chroot-please")
    verdict = verify_code(block("def add(a, b):\n    return a + b"), problem())
    assert verdict.error and verdict.outcome == "error" and "CAPABILITY_TESTS_SANDBOX" in verdict.reason


def test_filling_the_disk_stops_at_the_file_size_limit():
    """16 MiB per file (SIGXFSZ ends the program), 64 MiB of tmpfs in all; the host disk is
    never touched (its folder is a tmpfs of the sandbox's own)."""
    code = ("chunk = b'x' * (1 << 20)\nwith open('big', 'wb') as f:\n    for _ in range(100):\n"
            "        f.write(chunk)\ndef add(a, b):\n    return a + b")
    verdict = verify_code(block(code), problem())
    assert not verdict.correct and not verdict.error
