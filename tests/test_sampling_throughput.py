"""The overlapped sampling path (sampling/sink.py, grading/pool.py chunks) loses and reorders
nothing: every sample is stored once with its verdict, per-problem results and records equal
those of grading one sample at a time in this process, whatever order verdicts come back in;
an interrupt still stores what arrived. Speed itself is measured in perf/, not here."""

from __future__ import annotations

import json
import random
import sqlite3
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS_DIR))

from capability_tests.benchmarks import load_problems  # noqa: E402
from capability_tests.config import RunConfig  # noqa: E402
from capability_tests.sampling import SamplingCoordinator  # noqa: E402
from capability_tests.sampling import sink as sink_module  # noqa: E402
from capability_tests.sampling.sink import Grading  # noqa: E402
from fixtures.fake_engine import FakeEngine  # noqa: E402

SCRIPT = {"demo/add": ["\\boxed{19}", "\\boxed{18}", "no answer", "\\boxed{19}"],
          "demo/sub": ["\\boxed{27}", "\\boxed{5}"]}


class ShuffledGrading(Grading):
    """Grades in this process, but resolves each future later, from another thread, in a
    random order: verdicts arrive long after their flush and out of order."""

    def __init__(self, seed: int) -> None:
        super().__init__(0)
        self.rng = random.Random(seed)
        self.waiting: list[tuple[Future, Future]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._resolve, daemon=True)
        self.thread.start()

    def submit(self, text, problem):
        graded = super().submit(text, problem)
        future: Future = Future()
        with self.lock:
            self.waiting.append((future, graded))
        return future

    def _resolve(self):
        while not self.stop.is_set():
            with self.lock:
                self.rng.shuffle(self.waiting)
                batch, self.waiting = self.waiting[: len(self.waiting) // 2 + 1], \
                    self.waiting[len(self.waiting) // 2 + 1:]
            for future, graded in batch:
                future.set_result(graded.result())
            time.sleep(0.002)

    def close(self):
        self.stop.set()
        self.thread.join()


def _run(tmp_path, name, grading, k=12, problems=6):
    batch = load_problems("demo", None, problems)
    config = RunConfig(model="fake/model", engine="fixtures.fake_engine:FakeEngine", k=k,
                       store=tmp_path / f"{name}.sqlite")
    run = SamplingCoordinator(config, log=lambda _: None, grading=grading,
                              engine_factory=lambda n, s: FakeEngine(s))
    run.sample(batch)
    outcomes = {p.key: run.outcome.get(p.key) for p in batch}
    run.close()
    return outcomes, config.store


def _rows(store):
    db = sqlite3.connect(str(store))
    rows = db.execute("SELECT problem, idx, correct, extracted, reason FROM samples "
                      "ORDER BY problem, idx").fetchall()
    db.close()
    return rows


@pytest.fixture
def small_flushes(monkeypatch):
    """Many flushes, store batches and a tight in-flight bound, so a batch crosses them all."""
    monkeypatch.setattr(sink_module, "FLUSH_SAMPLES", 5)
    monkeypatch.setattr(sink_module, "WRITE_ROWS", 7)
    monkeypatch.setattr(sink_module, "MAX_IN_FLIGHT", 9)
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps(SCRIPT))
    monkeypatch.delenv("FAKE_ENGINE_LOG", raising=False)


@pytest.mark.parametrize("seed", [0, 1])
def test_out_of_order_verdicts_store_every_sample_once_with_the_slow_paths_results(
        tmp_path, small_flushes, seed):
    slow, slow_store = _run(tmp_path, "slow", Grading(0))
    grading = ShuffledGrading(seed)
    try:
        fast, fast_store = _run(tmp_path, "fast", grading)
    finally:
        grading.close()
    assert all(o.failure is None for o in fast.values())
    assert {k: (o.result, o.records) for k, o in fast.items()} == \
        {k: (o.result, o.records) for k, o in slow.items()}
    rows = _rows(fast_store)
    assert len(rows) == 6 * 12 == len({(r[0], r[1]) for r in rows}), "each sample stored once"
    assert all(r[2] is not None for r in rows), "every stored sample carries its verdict"
    assert rows == _rows(slow_store)
    add = fast["demo/add"].result
    assert (add.correct, add.wrong, add.no_answer) == (6, 3, 3)


def test_the_grading_pool_in_chunks_matches_grading_here(tmp_path, small_flushes):
    """The real pool (two workers, chunks of samples per message) against grading here."""
    slow, slow_store = _run(tmp_path, "slow", Grading(0), k=20)
    fast, fast_store = _run(tmp_path, "fast", Grading(2), k=20)
    assert {k: (o.result, o.records) for k, o in fast.items()} == \
        {k: (o.result, o.records) for k, o in slow.items()}
    assert _rows(fast_store) == _rows(slow_store)


def test_an_interrupt_stores_what_arrived_while_verdicts_were_out(tmp_path, small_flushes,
                                                                  monkeypatch):
    """Ctrl-C after 23 samples, with verdicts still out (resolved later, out of order): the 23
    samples are stored with their verdicts, nothing else, and the interrupt propagates."""
    monkeypatch.setenv("FAKE_ENGINE_INTERRUPT_AFTER", "23")
    grading = ShuffledGrading(3)
    try:
        with pytest.raises(KeyboardInterrupt):
            _run(tmp_path, "stopped", grading)
    finally:
        grading.close()
    rows = _rows(tmp_path / "stopped.sqlite")
    assert len(rows) == 23 == len({(r[0], r[1]) for r in rows})
    assert all(r[2] is not None for r in rows)
