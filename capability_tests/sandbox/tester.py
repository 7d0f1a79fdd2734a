"""The tester's side of the sandbox: run the benchmark's tests against the candidate's process.

Runs as its own interpreter (`python -I -S -B -c <codec + this file>`) under a user id other than
the candidate's, and makes itself non-dumpable first, so the candidate can neither signal it,
trace it, nor read its memory or file descriptors. It executes only the benchmark's own text (the
problem's prompt, which may define helpers the tests use, and its test code); the function under
test is a proxy that sends plain-data arguments to the candidate's process and decodes its plain-data
reply. File descriptors: 0 the job, 3 where the verdict goes (only this process holds it), 4
requests to the candidate, 5 its replies, 6 "ready" to the sandbox's init.

The verdict is one JSON line on fd 3, written only after the tests returned: `{"passed": true}`,
or `{"passed": false, "why": ...}`. No line at all (killed, timed out) is never a pass.
"""

import os
import sys

try:
    from capability_tests.sandbox.codec import (
        CodecError, LineReader, decode, encode, write_message,
    )
except ImportError:  # inside the sandbox the codec's source text precedes this file's
    pass


class CandidateFailed(Exception):
    """The candidate's process ended or answered something that is not a value."""


def _nondumpable():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE 0: no ptrace, no /proc/PID/{mem,fd}
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE)")


def _exception_type(name):
    import builtins

    found = getattr(builtins, name, None)
    if isinstance(found, type) and issubclass(found, Exception):
        return found
    return RuntimeError


class _Channel:
    def __init__(self):
        self.replies = LineReader(5)
        self.calls = 0

    def reply(self):
        try:
            return self.replies.read()
        except EOFError:
            raise CandidateFailed("the candidate's process ended before the tests did") from None
        except CodecError as exc:
            raise CandidateFailed(f"the candidate sent an unreadable reply ({exc})") from None

    def request(self, message):
        self.calls += 1
        try:
            write_message(4, message)
        except BrokenPipeError:
            raise CandidateFailed("the candidate's process ended before the tests did") from None
        reply = self.reply()
        if "ok" in reply:
            return reply
        if "raise" in reply:
            name = str(reply.get("raise"))
            raise _exception_type(name)(str(reply.get("message", ""))[:300])
        raise CandidateFailed("the candidate sent a reply that is neither a value nor an error")


def _value(reply):
    try:
        return decode(reply["ok"])
    except (CodecError, ValueError, TypeError, RecursionError) as exc:
        raise CandidateFailed(f"the candidate returned an unreadable value ({exc})") from None


def _run(job, channel):
    loaded = channel.reply()
    if not loaded.get("loaded"):
        return {"passed": False, "why": f"the program does not load: {loaded.get('error', '')}"[:400]}
    if job["mode"] == "stdio":
        return _run_stdio(job, channel)
    entry_point = job["entry_point"]

    def candidate(*args, **kwargs):
        try:
            message = {"args": encode(list(args)), "kwargs": encode(dict(kwargs))}
        except CodecError as exc:
            raise CandidateFailed(f"test arguments cannot cross the sandbox ({exc})") from None
        return _value(channel.request(message))

    candidate.__name__ = entry_point
    if job["mode"] == "calls":
        return _run_calls(job, candidate)
    _numpy_stand_in()
    namespace = {"__name__": "tests", "__builtins__": __builtins__}
    exec(compile(job.get("prompt", ""), "prompt.py", "exec"), namespace)
    namespace[entry_point] = candidate  # tests that call the function by name (MBPP+)
    exec(compile(job["test"], "tests.py", "exec"), namespace)
    check = namespace.get("check")
    if callable(check):
        check(candidate)
    if channel.calls == 0:
        raise CandidateFailed("the tests never called the candidate")
    return {"passed": True}


def _run_calls(job, candidate):
    for number, case in enumerate(job["cases"], start=1):
        if _plain(candidate(*case["args"])) != _plain(case["expected"]):
            return {"passed": False, "why": f"wrong result on test {number} of {len(job['cases'])}"}
    return {"passed": True}


def _plain(value):
    """Compare as JSON would: tuples as lists (LiveCodeBench's expected values are JSON)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _run_stdio(job, channel):
    for number, case in enumerate(job["cases"], start=1):
        reply = channel.request({"stdin": case["input"]})
        output = _value(reply)
        if not isinstance(output, str) or _lines(output) != _lines(case["output"]):
            return {"passed": False, "why": f"wrong output on test {number} of {len(job['cases'])}"}
    return {"passed": True}


def _numpy_stand_in():
    """EvalPlus's tests import numpy for `np.allclose` on float results; the sandbox runs the
    standard library only, so the tester gets this small stand-in when numpy is missing."""
    try:
        import numpy  # noqa: F401
        return
    except ImportError:
        pass
    import math
    import types

    def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
        if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
            a = list(a) if isinstance(a, (list, tuple)) else [a] * len(b)
            b = list(b) if isinstance(b, (list, tuple)) else [b] * len(a)
            return len(a) == len(b) and all(allclose(x, y, rtol, atol, equal_nan)
                                            for x, y in zip(a, b))
        if isinstance(a, bool) or isinstance(b, bool) or not (
                isinstance(a, (int, float)) and isinstance(b, (int, float))):
            raise TypeError("allclose of non-numbers")
        if math.isnan(a) or math.isnan(b):
            return equal_nan and math.isnan(a) and math.isnan(b)
        return abs(a - b) <= atol + rtol * abs(b)

    class ndarray:  # never instantiated: isinstance(x, np.ndarray) is False
        pass

    module = types.ModuleType("numpy")
    module.allclose = allclose
    module.isclose = allclose
    module.ndarray = ndarray
    module.float64 = module.float32 = float
    sys.modules["numpy"] = module


def _lines(text):
    """Outputs compare line by line with trailing white space ignored (as LiveCodeBench does)."""
    return [line.rstrip() for line in text.strip().splitlines()]


def _main():
    _nondumpable()
    job = LineReader(0).read()
    os.close(0)
    os.write(6, b"R")
    os.close(6)
    channel = _Channel()
    try:
        verdict = _run(job, channel)
    except AssertionError as exc:
        verdict = {"passed": False, "why": f"a test assertion failed{': ' + str(exc)[:200] if str(exc) else ''}"}
    except CandidateFailed as exc:
        verdict = {"passed": False, "why": str(exc)[:400]}
    except RecursionError:
        verdict = {"passed": False, "why": "RecursionError in the tests"}
    except BaseException as exc:  # noqa: BLE001 - an exception the candidate's reply raised
        verdict = {"passed": False, "why": f"{type(exc).__name__}: {str(exc)[:300]}"}
    verdict["calls"] = channel.calls
    write_message(3, verdict)


if __name__ == "__main__":
    _main()
