"""Long runs survive single faults (issue 17, the sampling side; docs/RELIABILITY.md): a failed
request or a failed problem is that problem's error and nothing else's, a stop signal stores what
was received and ends the engine, the store takes any text, a regrade never writes onto a row
replaced meanwhile, and a flush is graded all at once."""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
from concurrent.futures import Future

import pytest

from capability_tests.sampling import EXIT_STOPPED
from fixtures.fake_engine import FAKE, SUITE, engine_log, generate_calls

TOO_LONG = "prompt has 9000 tokens; the model's context is 2048 tokens"


def requested(log) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for call in generate_calls(log):
        for key, indices in call["indices"].items():
            out.setdefault(key, []).extend(indices)
    return out


def stored_keys(pytester) -> list[tuple[str, int]]:
    db = sqlite3.connect(str(pytester.path / "reports" / "completions.sqlite"))
    try:
        return sorted(db.execute("SELECT problem, idx FROM samples").fetchall())
    finally:
        db.close()


def summary(pytester) -> dict:
    return json.loads((pytester.path / "reports" / "summary.json").read_text())


def test_a_failed_request_fails_its_problem_only_and_a_rerun_retries_only_it(
        pytester, fake_engine_env, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({"demo/sub": ["\\boxed{27}"]}))
    monkeypatch.setenv("FAKE_ENGINE_FAIL", json.dumps({"demo/add": TOO_LONG}))
    args = [*SUITE, *FAKE, "--benchmarks=demo", "-k", "add or sub", "--k=2"]
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(errors=1, passed=1, deselected=8)
    out = result.stdout.str()
    assert out.count(TOO_LONG) >= 1 and "During handling of the above exception" not in out
    assert stored_keys(pytester) == [("demo/sub", 0), ("demo/sub", 1)]
    assert summary(pytester)["benchmarks"]["demo"]["problems"] == 1

    fake_engine_env.unlink()
    monkeypatch.delenv("FAKE_ENGINE_FAIL")
    pytester.runpytest_subprocess(*args).assert_outcomes(failed=1, passed=1, deselected=8)
    assert requested(fake_engine_env) == {"demo/add": [0, 1]}, "only what failed is retried"


def test_one_message_per_failed_problem(pytester, fake_engine_env, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_FAIL", json.dumps({"demo/add": TOO_LONG}))
    result = pytester.runpytest_subprocess(*SUITE, *FAKE, "--benchmarks=demo", "-k", "add",
                                           "--k=3", "-rE")
    result.assert_outcomes(errors=1, deselected=9)
    # the body's line; pytest's short summary (-rE) repeats it, whole where CI is set
    errors = [line for line in result.outlines if TOO_LONG in line and not line.startswith("ERROR ")]
    assert errors == [f"demo/add: {TOO_LONG}"], errors  # once, no chained second report
    assert "During handling of the above exception" not in result.stdout.str()


def test_an_engine_dying_mid_stream_keeps_the_problems_it_finished(pytester, fake_engine_env,
                                                                  monkeypatch):
    """Problems whose samples all arrived are reported; the rest fail with the engine's message
    and a rerun asks only for them."""
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({"demo/add": ["\\boxed{19}"]}))
    monkeypatch.setenv("FAKE_ENGINE_RAISE", json.dumps({"demo/sub": "engine core died"}))
    args = [*SUITE, *FAKE, "--benchmarks=demo", "-k", "add or sub", "--k=2"]
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(errors=1, passed=1, deselected=8)
    result.stdout.fnmatch_lines(["*demo/sub: sampling failed: RuntimeError: engine core died*"])
    assert stored_keys(pytester) == [("demo/add", 0), ("demo/add", 1)]
    fake_engine_env.unlink()
    monkeypatch.delenv("FAKE_ENGINE_RAISE")
    pytester.runpytest_subprocess(*args).assert_outcomes(failed=1, passed=1, deselected=8)
    assert requested(fake_engine_env) == {"demo/sub": [0, 1]}


def test_texts_with_lone_surrogates_are_stored_and_graded(pytester, fake_engine_env, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({"demo/add": ["\udc80 \\boxed{19}",
                                                                      "\ud800\\boxed{\udfff}"]}))
    args = [*SUITE, *FAKE, "--benchmarks=demo", "-k", "add", "--k=2"]
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1, deselected=9)
    assert stored_keys(pytester) == [("demo/add", 0), ("demo/add", 1)]
    fake_engine_env.unlink()
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1, deselected=9)
    assert generate_calls(fake_engine_env) == [], "read back from the store"


@pytest.mark.slow
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_stop_signal_while_sampling_stores_what_arrived_and_ends_the_engine(
        pytester, fake_engine_env, monkeypatch, signame):
    """After 5 of 30 samples the process gets the signal: the 5 are graded and stored, the engine
    is closed and its (slow to exit) child process waited for, the incomplete run folder is
    written, and the exit status is 7. The rerun asks only for the 25 others."""
    child_done = pytester.path / "child-exited"
    monkeypatch.setenv("FAKE_ENGINE_SIGNAL_AFTER", f"5:{signame}")
    monkeypatch.setenv("FAKE_ENGINE_CHILD", str(child_done))
    args = [*SUITE, *FAKE, "--benchmarks=demo", "--k=3"]
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == EXIT_STOPPED, result.stdout.str()[-2000:]
    assert child_done.exists(), "the run ended before the engine's process was gone"
    assert [e["event"] for e in engine_log(fake_engine_env)].count("close") == 1
    assert len(stored_keys(pytester)) == 5
    assert summary(pytester)["complete"] is False
    result.stdout.fnmatch_lines([f"*stopped by {signame} while sampling*every sample received "
                                 "is stored*"])

    fake_engine_env.unlink()
    monkeypatch.delenv("FAKE_ENGINE_SIGNAL_AFTER")
    monkeypatch.delenv("FAKE_ENGINE_CHILD")
    pytester.runpytest_subprocess(*args).assert_outcomes(failed=10)
    assert sum(map(len, requested(fake_engine_env).values())) == 25


# -- the store and the sink, without pytest ---------------------------------------------------------


def _store(tmp_path):
    from capability_tests.store import CompletionStore, GenerationKey

    store = CompletionStore(tmp_path / "s.sqlite")
    key = GenerationKey("m", "e", None, "{}", "seeded", 0.6, 0.95, 16, 0, "p")
    return store, store.generation_id(key)


def test_the_store_takes_any_str(tmp_path):
    from capability_tests.store import NewSample

    store, gen = _store(tmp_path)
    text = "a \udc80 b \ud800"
    store.add(gen, [NewSample("p", "x/\udcff", 0, 1, text, 3, "stop", False, "\udc80", "r\ud800")])
    assert dict(store.texts(gen, "p", [0])) == {0: text}
    stored = store.stored(gen, "p")[0]
    assert stored.extracted == "\\udc80" and stored.reason == "r\\ud800"


def test_a_regrade_does_not_write_onto_a_row_replaced_meanwhile(tmp_path):
    """A regrade reads a text (and its row version), grades it; if a --fresh run replaced the row
    meanwhile, the old text's verdict is not written onto the new text."""
    import time

    from capability_tests.store import NewSample

    store, gen = _store(tmp_path)
    store.add(gen, [NewSample("p", "x/y", 0, 1, "old text", 2, "stop", None)])
    [(index, created, text)] = list(store.stamped_texts(gen, "p", [0]))
    time.sleep(0.01)
    store.add(gen, [NewSample("p", "x/y", 0, 1, "new text", 2, "stop", None)], replace=True)
    store.set_verdicts(gen, "p", [(0, True, "old", "equal", False, "g/1", created)])
    assert store.stored(gen, "p")[0].correct is None, "the new text keeps its own (no) verdict"
    [(_, fresh_created, _)] = list(store.stamped_texts(gen, "p", [0]))
    store.set_verdicts(gen, "p", [(0, False, "new", "wrong", False, "g/1", fresh_created)])
    assert store.stored(gen, "p")[0].correct is False


class _GatedGrading:
    """Futures resolved only once `expected` samples were submitted (or after 5 s): a sink that
    waited on one problem before submitting the next would see them resolved late, flagged."""

    def __init__(self, expected):
        from capability_tests.grading import Verdict

        self.expected, self.futures, self.all_at_once = expected, [], None
        self.verdict = Verdict(False, None, "wrong", 0.0)
        self.ready = threading.Event()
        threading.Thread(target=self._resolve, daemon=True).start()

    def submit(self, text, problem):
        future = Future()
        self.futures.append(future)
        if len(self.futures) == self.expected:
            self.ready.set()
        return future

    def _resolve(self):
        self.all_at_once = self.ready.wait(5)
        for f in list(reversed(self.futures)):
            f.set_result(self.verdict)
        while not self.ready.is_set():  # a sink going one problem at a time: let it finish
            for f in list(self.futures):
                if not f.done():
                    f.set_result(self.verdict)
            self.ready.wait(0.01)

    grade_all = None  # set below from the real class

    def close(self):
        self.ready.set()


def test_a_flush_submits_every_problem_at_once(tmp_path):
    from capability_tests.benchmarks import load_problems
    from capability_tests.engines import Completion
    from capability_tests.sampling.outcome import ProblemTally
    from capability_tests.sampling.sink import Grading, SampleSink

    _GatedGrading.grade_all = Grading.grade_all
    problems = load_problems("demo", None, 3)
    grading = _GatedGrading(expected=6)
    tallies = {p.key: ProblemTally(p, 2, p.key, "g/1", "g") for p in problems}
    store, gen = _store(tmp_path)
    sink = SampleSink(grading, store, gen, tallies, run_seed=0, seeded=True)
    for p in problems:
        for i in range(2):
            sink.receive(p.key, i, Completion("x", 1, "stop"))
    sink.flush()
    grading.close()
    assert grading.all_at_once is True
    assert all(t.complete for t in tallies.values()) and store.count() == 6


@pytest.mark.e2e
def test_sigterm_with_the_real_vllm_engine_leaves_no_process(pytester, tmp_path):
    """The real vLLM engine, tiny k and --max-tokens: SIGTERM once sampling has begun. The run
    exits 7 with an incomplete run folder, and every process it had started (the engine core and
    its workers) is gone when it exits."""
    import os
    import signal
    import subprocess
    import time

    import psutil

    args = [sys.executable, "-m", "pytest", *SUITE, "--benchmarks=demo", "--k=4",
            "--max-tokens=64", "-p", "no:cacheprovider", "--engine-arg=max_num_seqs=2"]
    log = tmp_path / "out.txt"
    with open(log, "w") as out:
        proc = subprocess.Popen(args, cwd=pytester.path, stdout=out, stderr=subprocess.STDOUT,
                                env=os.environ.copy())
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline and proc.poll() is None:
            if "in one submission" in log.read_text(errors="replace"):
                break
            time.sleep(0.5)
        assert proc.poll() is None, log.read_text()[-3000:]
        time.sleep(3)  # some samples arrive
        started = psutil.Process(proc.pid).children(recursive=True)
        assert started, "the engine runs in processes of its own"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == EXIT_STOPPED, log.read_text()[-3000:]
    # the engine's processes are waited for before exit; helpers of the grading pool (forkserver,
    # resource tracker) end when their pipe to the gone parent closes: allow them a moment
    _, alive = psutil.wait_procs([p for p in started if p.is_running()], timeout=15)
    alive = [f"{p.pid} {p.name()}" for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"processes left behind: {alive}"
    assert summary(pytester)["complete"] is False
