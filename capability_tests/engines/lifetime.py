"""Engine processes that end with the process that started them.

vLLM runs its engine core in a child process (`EngineCoreProc.run_engine_core`, spawned), which
starts the model workers. The core talks to its parent over ZMQ sockets and never learns that the
parent died: after `kill -9` of pytest (or of an xdist worker) it kept running as an orphan, busy
and holding its memory (12 GB here; a GPU's memory there, which the resumed run needs). vLLM's
workers already end when their engine core ends (a pipe that closes with it); the core itself
has no such link to its parent. This module gives it one.

`engine_processes_end_with_this_process()` wraps the core's entry point for the engine started
inside it: first thing in the child, a daemon thread polls `os.getppid()`; once the parent is
gone it sends the core SIGTERM (vLLM's own orderly shutdown, which stops the workers and frees
their shared memory) and, if the core is still there `GRACE_S` later (a SIGTERM during model load
only sets a flag), kills the core's descendants and the core.

Why not `prctl(PR_SET_PDEATHSIG)`: the kernel sends that signal when the *thread* that forked the
child exits, not the process; an engine started from a thread that ends (an embedding
application, a helper thread) would be killed while still in use. Polling the parent process
every `POLL_S` costs nothing measurable and follows the process. Why not a watchdog process
beside the engine: it would have to find the engine's processes by scanning and could be killed
with its parent; inside the core, the watch ends exactly the processes this run started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import warnings
from typing import Any, Callable, Iterator

PARENT_ENV = "CAPABILITY_TESTS_ENGINE_PARENT"  # the pid the engine core must outlive no longer
POLL_S = 0.5
GRACE_S = 3.0

_original: Callable[..., Any] | None = None  # vLLM's run_engine_core (set where it is wrapped)


def watch_parent(parent: int, poll_s: float = POLL_S, grace_s: float = GRACE_S) -> threading.Thread:
    """Start a daemon thread that ends this process (SIGTERM, then SIGKILL of its descendants
    and itself after `grace_s`) once its parent process is no longer `parent`."""
    thread = threading.Thread(target=_watch, args=(parent, poll_s, grace_s),
                              name="capability-tests-parent-watch", daemon=True)
    thread.start()
    return thread


def _watch(parent: int, poll_s: float, grace_s: float) -> None:
    while os.getppid() == parent:
        time.sleep(poll_s)
    end_this_process(grace_s)


def end_this_process(grace_s: float = GRACE_S) -> None:
    """SIGTERM to this process (its own handlers shut down in order); if it is still alive after
    `grace_s`, SIGKILL its descendants (all but multiprocessing's resource tracker, which ends by
    itself once its users are gone and then removes their shared memory) and itself."""
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(grace_s)  # the process normally ends meanwhile, and this thread with it
    for pid in _descendants(os.getpid()):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    try:
        import psutil  # a vLLM dependency, so present wherever an engine core runs
    except ImportError:  # the workers still end through vLLM's death pipe when the core dies
        return []
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
    keep = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            if "resource_tracker" in " ".join(child.cmdline()):
                continue
        keep.append(child.pid)
    return keep


def run_engine_core(*args: Any, **kwargs: Any) -> Any:
    """vLLM's engine core entry point, with the parent watch started first (runs in the child).

    Module level, so that a spawned child unpickles it by name and imports this module."""
    parent = os.environ.get(PARENT_ENV)
    if parent and parent.isdigit():
        if os.getppid() != int(parent):  # the parent died before this process got here
            os._exit(1)
        watch_parent(int(parent))
    original = _original
    if original is None:  # spawned: a fresh interpreter, where vLLM's class is unwrapped
        from vllm.v1.engine.core import EngineCoreProc

        original = EngineCoreProc.run_engine_core
    return original(*args, **kwargs)


def _wrap_vllm_engine_core() -> str | None:
    """Point `EngineCoreProc.run_engine_core` at `run_engine_core` (once); None when done, else
    why it cannot be (another vLLM layout)."""
    global _original
    try:
        from vllm.v1.engine.core import EngineCoreProc
    except ImportError as exc:
        return f"vllm.v1.engine.core.EngineCoreProc cannot be imported ({exc})"
    current = EngineCoreProc.__dict__.get("run_engine_core")
    target = getattr(current, "__func__", current)
    if target is run_engine_core:
        return None
    if not callable(target):
        return "vllm.v1.engine.core.EngineCoreProc has no run_engine_core"
    _original = target
    EngineCoreProc.run_engine_core = staticmethod(run_engine_core)
    return None


@contextlib.contextmanager
def engine_processes_end_with_this_process() -> Iterator[None]:
    """Around the start of a `vllm.LLM`: the engine core started inside ends when this process
    ends, however it ends. Warns (and starts the engine anyway) where the installed vLLM has
    another layout."""
    problem = _wrap_vllm_engine_core()
    if problem is not None:
        warnings.warn(f"capability-tests: vLLM's engine core may outlive a killed run: {problem}",
                      RuntimeWarning, stacklevel=3)
    previous = os.environ.get(PARENT_ENV)
    os.environ[PARENT_ENV] = str(os.getpid())  # read by the core, which vLLM starts in here
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(PARENT_ENV, None)
        else:
            os.environ[PARENT_ENV] = previous
