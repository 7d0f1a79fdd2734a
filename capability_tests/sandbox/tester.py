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
        CodecError,
        LineReader,
        decode,
        encode,
        write_message,
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
        if not call_result_matches(candidate(*case["args"]), case["expected"]):
            return {"passed": False, "why": f"wrong result on test {number} of {len(job['cases'])}"}
    return {"passed": True}


def call_result_matches(prediction, expected):
    """LiveCodeBench's rule for LeetCode-style calls (`grade_call_based`): a tuple result is
    compared as a list (the expected value is JSON), then `==`."""
    if isinstance(prediction, tuple):
        prediction = list(prediction)
    return prediction == expected


def _run_stdio(job, channel):
    for number, case in enumerate(job["cases"], start=1):
        reply = channel.request({"stdin": case["input"]})
        output = _value(reply)
        if not isinstance(output, str) or not stdio_output_matches(output, case["output"]):
            return {"passed": False, "why": f"wrong output on test {number} of {len(job['cases'])}"}
    return {"passed": True}


def stdio_output_matches(prediction, expected):
    """LiveCodeBench's rule for standard output (`grade_stdio`): both texts stripped and split
    on newlines, each line stripped; the same number of lines; each pair of lines equal as text,
    or else both whitespace-separated numbers, equal as `Decimal`s ("1.0" matches "1")."""
    from decimal import Decimal

    def lines(text):
        return [line.strip() for line in text.strip().split("\n")]

    def decimals(line):
        try:
            return [Decimal(item) for item in line.split()]
        except Exception:  # noqa: BLE001 - decimal.InvalidOperation: not a number
            return None

    got, want = lines(prediction), lines(expected)
    if len(got) != len(want):
        return False
    for line, expected_line in zip(got, want):
        if line == expected_line:
            continue
        numbers = decimals(line)
        if numbers is None or numbers != decimals(expected_line):
            return False
    return True


def _numpy_stand_in():
    """EvalPlus's tests import numpy for `np.allclose` on float results; the sandbox runs the
    standard library only, so the tester gets this stand-in (`evalplus_allclose`)."""
    import types

    class ndarray:  # never instantiated: isinstance(x, np.ndarray) is False
        pass

    module = types.ModuleType("numpy")
    module.allclose = evalplus_allclose
    module.isclose = evalplus_allclose
    module.ndarray = ndarray
    module.float64 = module.float32 = float
    sys.modules["numpy"] = module


def evalplus_allclose(out, exp, rtol=1e-05, atol=1e-08, equal_nan=False):
    """`np.allclose(out, exp)` as EvalPlus's own evaluator reaches it (`unsafe_execute`): first
    `type(out) == type(exp)` and, for a list or tuple, equal lengths (the Hub's test text leaves
    these out, and there `np.allclose([], 0.5)` broadcasts to True: an empty container would pass
    every float problem); then element by element |out - exp| <= atol + rtol * |exp|."""
    if type(out) is not type(exp):
        return False
    if isinstance(exp, (list, tuple)) and len(out) != len(exp):
        return False
    return _close(out, exp, rtol, atol, equal_nan)


def _close(a, b, rtol, atol, equal_nan):
    import math

    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        if not isinstance(a, (list, tuple)) or not isinstance(b, (list, tuple)) or len(a) != len(b):
            return False  # numpy cannot broadcast ragged shapes
        return all(_close(x, y, rtol, atol, equal_nan) for x, y in zip(a, b))
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return False  # not numbers: numpy's comparison fails
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return bool(equal_nan) and math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= atol + rtol * abs(b)


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
