"""The engine session: starts the run's engine when something must be generated (never for a run
the store already holds), checks before start that the engine class can do what the run asks
(`EngineCapabilities`), and ends it, waiting until the processes the engine started are gone
(so an immediate rerun on the same machine finds its memory free)."""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import Callable, ContextManager

from capability_tests.engines import Engine, EngineError, EngineSettings, create_engine
from capability_tests.sampling.identity import RunIdentity

PROCESS_EXIT_S = 30.0  # how long close waits for the engine's processes before killing them


@contextlib.contextmanager
def _quiet_child_warnings():
    """Engine processes spawned now inherit PYTHONWARNINGS: keep their deprecation chatter out of
    the user's terminal (unless the user set PYTHONWARNINGS)."""
    if "PYTHONWARNINGS" in os.environ:
        yield
        return
    os.environ["PYTHONWARNINGS"] = "ignore::DeprecationWarning,ignore::FutureWarning"
    try:
        yield
    finally:
        os.environ.pop("PYTHONWARNINGS", None)


def _children() -> dict[int, object]:
    try:
        import psutil  # a vLLM dependency; without it close does not wait for processes
    except ImportError:
        return {}
    try:
        return {p.pid: p for p in psutil.Process().children(recursive=True)}
    except psutil.Error:
        return {}


class EngineSession:
    """Owns the engine of one process. `factory(name, settings)` constructs it (default:
    `create_engine`); `log` and `live_output` as in the coordinator."""

    def __init__(self, identity: RunIdentity, *, log: Callable[[str], None] = print,
                 live_output: Callable[[], ContextManager[None]] = contextlib.nullcontext,
                 factory: Callable[[str, EngineSettings], Engine] = create_engine) -> None:
        self.identity = identity
        self.log = log
        self.live_output = live_output
        self.factory = factory
        self.engine: Engine | None = None
        self.error: str | None = None  # a failed start is not retried for every batch
        self.runtime: dict | None = None  # the started engine's runtime(); None: never started
        self._processes: dict[int, object] = {}

    def check(self) -> None:
        """What the run asks of the engine class, before anything is loaded."""
        config = self.identity.config
        caps = self.identity.engine_class.capabilities
        if self.identity.seeded and not caps.seeded_sampling:
            raise EngineError(f"engine {config.engine!r} does not support per-sample seeds: "
                              "run it with --sampling batched")

    def start(self) -> Engine:
        if self.error is not None:
            raise EngineError(self.error)
        if self.engine is not None:
            return self.engine
        try:
            self.check()
            cls = self.identity.engine_class
            self.identity.model_identity()  # resolve the revision before the engine loads it
            settings = self.identity.engine_settings()
            self.log(f"capability-tests: {cls.describe(settings)}")
            before = _children()
            with self.live_output(), warnings.catch_warnings():
                # Deprecation chatter from torch/vLLM internals is not the user's business.
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", FutureWarning)
                settings = cls.prepare(settings, progress=self.identity.progress)
                with _quiet_child_warnings():
                    engine = self.factory(self.identity.config.engine, settings)
            self._processes = {pid: p for pid, p in _children().items() if pid not in before}
            self.engine = engine
            try:
                self.runtime = dict(engine.runtime())
            except Exception as exc:  # a report detail never stops sampling
                self.runtime = {"error": f"{type(exc).__name__}: {exc}"}
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            raise
        return self.engine

    def close(self) -> None:
        """End the engine and wait until the processes it started are gone (killed after
        PROCESS_EXIT_S)."""
        engine, self.engine = self.engine, None
        processes, self._processes = self._processes, {}
        try:
            if engine is not None:
                engine.close()
        finally:
            if processes:
                import psutil

                alive = [p for p in processes.values() if p.is_running()]
                _, alive = psutil.wait_procs(alive, timeout=PROCESS_EXIT_S)
                for p in alive:
                    with contextlib.suppress(psutil.Error):
                        p.kill()
                psutil.wait_procs(alive, timeout=5)
