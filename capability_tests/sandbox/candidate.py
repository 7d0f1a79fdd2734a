"""The candidate's side of the sandbox: load the model's program, then answer the tester's calls.

Runs as its own interpreter (`python -I -S -B -c <codec + this file>`), as an unprivileged user
of its own, inside the sandbox's namespaces and limits. File descriptors: 0 the job (one JSON
line: the program and the mode), 3 the tester's requests, 4 the replies; stdout and stderr lead
to /dev/null. Nothing here is trusted: the program can replace any of it, and can only spoil its
own replies (the tester checks them, and only the tester can report a pass).

Modes: "function" calls a function of the program (else a method of `Solution()`) with the
arguments each request carries; "calls" (LeetCode style: LiveCodeBench's functional problems)
calls the method of `Solution()` whenever the program defines `Solution`, as LiveCodeBench does,
never a module-level name that happens to match (a star import of the prelude, the model's own
import or helper), else the function; "stdio" runs the whole program once per request with the
request's text on standard input (a forked child, so `open(0)` and `sys.exit` work) and replies
with what it printed.
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

OUTPUT_LIMIT = 16 << 20


def _main():
    jobs = LineReader(0)
    job = jobs.read()
    os.close(0)
    os.open(os.devnull, os.O_RDONLY)  # fd 0 again: reads see end of file
    requests = LineReader(3)
    program = job["program"]
    module = {"__name__": "__main__" if job["mode"] == "stdio" else "solution",
              "__builtins__": __builtins__}
    try:
        code = compile(program, "solution.py", "exec")
        if job["mode"] != "stdio":
            exec(code, module)
        loaded = {"loaded": True}
    except SystemExit:
        loaded = {"loaded": False, "error": "the program called exit while loading"}
    except BaseException as exc:  # noqa: BLE001 - any failure of the program is its own
        loaded = {"loaded": False, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    write_message(4, loaded)
    if not loaded["loaded"]:
        return
    while True:
        try:
            request = requests.read()
        except EOFError:
            return
        if job["mode"] == "stdio":
            reply = _run_stdio(code, request.get("stdin", ""))
        else:
            reply = _call(module, job.get("entry_point"), request, job["mode"] == "calls")
        try:
            write_message(4, reply)
        except CodecError as exc:
            write_message(4, {"raise": "TypeError", "message": str(exc)})


def _target(module, entry_point, leetcode):
    """LeetCode style: `Solution().<entry_point>` if the program defines `Solution` at all (a
    missing method is then an AttributeError, never another callable of that name), else the
    module's name. Function style: the module's name, else the method of `Solution()`."""
    if leetcode and "Solution" in module:
        return getattr(module["Solution"](), entry_point)
    target = module.get(entry_point)
    if target is None and "Solution" in module:
        target = getattr(module["Solution"](), entry_point)
    return target


def _call(module, entry_point, request, leetcode=False):
    try:
        target = _target(module, entry_point, leetcode)
        if target is None:
            return {"raise": "NameError", "message": f"the program defines no {entry_point}"}
        args = decode(request["args"])
        kwargs = decode(request.get("kwargs", {"d": []}))
        result = target(*args, **kwargs)
        return {"ok": encode(result)}
    except SystemExit:
        return {"raise": "SystemExit", "message": "exit called"}
    except RecursionError:
        return {"raise": "RecursionError", "message": "maximum recursion depth exceeded"}
    except BaseException as exc:  # noqa: BLE001
        return {"raise": type(exc).__name__, "message": str(exc)[:300]}


def _run_stdio(code, stdin_text):
    import select

    data = stdin_text.encode() if isinstance(stdin_text, str) else b""
    in_path = os.path.join(os.getcwd(), ".stdin")
    with open(in_path, "wb") as handle:
        handle.write(data)
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            fd = os.open(in_path, os.O_RDONLY)
            os.dup2(fd, 0)
            os.dup2(out_w, 1)
            os.closerange(3, 1 << 16)
            sys.stdin = open(0, closefd=False)
            sys.stdout = open(1, "w", closefd=False)
            status = 0
            try:
                exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:  # noqa: BLE001
                status = 1
            try:
                sys.stdout.flush()
            except BaseException:  # noqa: BLE001
                status = 1
        finally:
            os._exit(status if isinstance(status, int) else 1)
    os.close(out_w)
    chunks, size = [], 0
    while True:
        select.select([out_r], [], [])
        chunk = os.read(out_r, 1 << 16)
        if not chunk:
            break
        size += len(chunk)
        if size > OUTPUT_LIMIT:
            os.kill(pid, 9)
            os.close(out_r)
            os.waitpid(pid, 0)
            return {"raise": "OutputLimit", "message": f"printed more than {OUTPUT_LIMIT} bytes"}
        chunks.append(chunk)
    os.close(out_r)
    _, status = os.waitpid(pid, 0)
    output = b"".join(chunks).decode("utf-8", "replace")
    if os.WIFSIGNALED(status):
        return {"raise": "Killed", "message": f"signal {os.WTERMSIG(status)}"}
    return {"ok": encode(output), "status": os.WEXITSTATUS(status)}


if __name__ == "__main__":
    _main()
