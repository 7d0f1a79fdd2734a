"""The completion store: reuse across runs, raised k, kill and resume, concurrent writers,
regrading without an engine, bad store files. Driven through pytester with the scripted fake
engine (fixtures/fake_engine.py), which logs the sample indices every submission asked for."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import Future

import pytest

from capability_tests.seeds import SEED_POLICY, sample_seed
from capability_tests.store import (
    APPLICATION_ID,
    CompletionStore,
    GenerationKey,
    NewSample,
    StoreError,
    verdict_flags,
)
from fixtures.fake_engine import FAKE, SUITE, engine_log, generate_calls, result_of
from fixtures.paths import TESTS_DIR

KEY = GenerationKey("m", "e", None, "{}", "seeded", 0.6, 0.95, 8, 0, SEED_POLICY)
DEMO_IDS = ["add", "sub", "mul", "div", "apples", "pens", "square", "half", "fraction", "linear"]


def requested(path):
    """{problem key: [sample indices]} over every submission in the log."""
    out: dict[str, list[int]] = {}
    for call in generate_calls(path):
        for key, indices in call["indices"].items():
            out.setdefault(key, []).extend(indices)
    return out


def stored_rows(path):
    db = sqlite3.connect(str(path))
    try:
        return db.execute("SELECT problem, idx, seed FROM samples ORDER BY problem, idx").fetchall()
    finally:
        db.close()


# What differs between any two sessions (identity, clock, where the store is, what was generated vs
# read from the store and on which device), not between their results.
SESSION_FIELDS = ("run_id", "started_at", "finished_at", "duration_s", "store", "provenance")


def summary(pytester):
    """The latest summary.json without the fields that name the session rather than its results."""
    document = json.loads((pytester.path / "reports" / "summary.json").read_text())
    for name in SESSION_FIELDS:
        document.pop(name, None)
    return document


def test_raised_k_generates_only_missing_samples(pytester, fake_engine_env, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({"demo/add": ["\\boxed{19}", "no"]}))
    args = [*SUITE, *FAKE, "--benchmarks=demo", "-k", "add or sub or mul"]
    pytester.runpytest(*args, "--k=2").assert_outcomes(passed=1, failed=2, deselected=7)
    first = requested(fake_engine_env)
    assert first == {key: [0, 1] for key in ("demo/add", "demo/sub", "demo/mul")}

    fake_engine_env.unlink()
    pytester.runpytest(*args, "--k=4").assert_outcomes(passed=1, failed=2, deselected=7)
    assert requested(fake_engine_env) == {key: [2, 3] for key in ("demo/add", "demo/sub", "demo/mul")}
    (call,) = generate_calls(fake_engine_env)
    assert call["seeded"] and call["seeds"]["demo/add"] == [
        sample_seed(0, "demo", "add", i) for i in (2, 3)
    ], "sample i has the seed of (run seed, benchmark, problem, i) whatever k is"
    assert summary(pytester)["benchmarks"]["demo"]["n"] == 4
    assert summary(pytester)["benchmarks"]["demo"]["pass_at_k"]["1"] == pytest.approx(2 / 12)

    fake_engine_env.unlink()
    result = pytester.runpytest(*args, "--k=4")
    result.assert_outcomes(passed=1, failed=2, deselected=7)
    assert engine_log(fake_engine_env) == [], "everything stored: the engine is not even started"
    result.stdout.fnmatch_lines(["*3 prompts x 4 samples: 12 stored, 0 to generate*"])

    rows = stored_rows(pytester.path / "reports" / "completions.sqlite")
    assert [(p, i) for p, i, _ in rows if p == "demo/add"] == [("demo/add", i) for i in range(4)]
    assert all(seed == sample_seed(0, *p.split("/"), i) for p, i, seed in rows)


def test_a_different_sampling_setting_is_a_different_store_key(pytester, fake_engine_env):
    args = [*SUITE, *FAKE, "--benchmarks=demo", "-k", "add", "--k=2"]
    pytester.runpytest(*args)
    pytester.runpytest(*args, "--temperature=0.3")
    pytester.runpytest(*args, "--sampling=batched")
    pytester.runpytest(*args, "--seed=1")
    calls = generate_calls(fake_engine_env)
    assert len(calls) == 4 and all(c["indices"] == {"demo/add": [0, 1]} for c in calls)
    assert calls[2]["seeded"] is False and calls[2]["seeds"] == {
        "demo/add": [sample_seed(0, "demo", "add", i) for i in (0, 1)]
    }, "batched requests carry the seeds of the indices they fill"


@pytest.mark.slow
def test_same_report_from_stored_and_fresh_samples(pytester, fake_engine_env, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({
        "demo/add": ["\\boxed{19}", "x", "\\boxed{19}"], "demo/sub": ["x", "\\boxed{-4}"],
    }))
    args = [*SUITE, *FAKE, "--benchmarks=demo", "--k=4", "--junitxml=junit.xml"]
    pytester.runpytest(*args)
    fresh = summary(pytester)
    fresh_junit = (pytester.path / "junit.xml").read_text()
    pytester.runpytest(*args)
    assert len(generate_calls(fake_engine_env)) == 1
    assert summary(pytester) == fresh
    pytester.runpytest(*args, "--regrade")
    assert summary(pytester) == fresh
    pytester.runpytest(*args, "--store=none")
    assert summary(pytester) == fresh and len(generate_calls(fake_engine_env)) == 2

    def properties(xml):
        import re
        found = re.findall(r'<property name="[^"]+" value="[^"]*"\s*/>', xml)
        session = ("capability_run_id", "capability_provenance", "capability_device",
                   "capability_dtype",  # the session's own: a store-only run started no engine
                   "capability_selftest_seconds", "capability_selftest_cached")  # its own timing
        return sorted(p for p in found if not any(f'name="{n}"' in p for n in session))

    assert properties((pytester.path / "junit.xml").read_text()) == properties(fresh_junit)


@pytest.mark.slow
def test_fresh_replaces_and_store_none_writes_nothing(pytester, fake_engine_env):
    args = [*SUITE, *FAKE, "--benchmarks=demo", "-k", "add", "--k=3"]
    pytester.runpytest(*args)
    pytester.runpytest(*args, "--fresh")
    assert requested(fake_engine_env) == {"demo/add": [0, 1, 2, 0, 1, 2]}
    assert len(stored_rows(pytester.path / "reports" / "completions.sqlite")) == 3
    other = pytester.path / "elsewhere"
    pytester.runpytest(*args, "--store=none", "--report-dir=elsewhere")
    assert not (other / "completions.sqlite").exists()
    result = pytester.runpytest(*args, "--fresh", "--regrade")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


@pytest.mark.slow
def test_regrade_without_engine_importable(pytester, fake_engine_env, monkeypatch):
    """--regrade grades and reports from the store alone: a process where `import vllm`,
    `import torch` and `import transformers` raise still runs it."""
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({"demo/add": ["\\boxed{19}", "x"]}))
    args = [*SUITE, *FAKE, "--benchmarks=demo", "-k", "add or sub", "--k=2"]
    pytester.runpytest(*args)
    stored = summary(pytester)
    shim = pytester.mkdir("shim")
    for name in ("vllm", "torch", "transformers"):
        (shim / name).mkdir()
        (shim / name / "__init__.py").write_text(f"raise ImportError('{name} is uninstalled')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(shim), os.environ["PYTHONPATH"]]))
    fake_engine_env.unlink()
    check = pytester.makeconftest(
        "import sys\n"
        "def pytest_sessionfinish():\n"
        "    heavy = sorted(m for m in ('vllm', 'torch', 'transformers') if m in sys.modules)\n"
        "    print('HEAVY MODULES:', heavy)\n"
    )
    assert check.exists()
    result = pytester.runpytest_subprocess(*args, "--regrade", "-s")
    result.assert_outcomes(passed=1, failed=1, deselected=8)
    result.stdout.fnmatch_lines(["*HEAVY MODULES: []*"])
    assert engine_log(fake_engine_env) == [], "no engine in a regrade"
    assert summary(pytester) == stored

    result = pytester.runpytest_subprocess(*SUITE, *FAKE, "--benchmarks=demo", "-k", "add",
                                           "--k=3", "--regrade")
    result.assert_outcomes(errors=1, deselected=9)
    result.stdout.fnmatch_lines(["*--regrade: demo/add has 2 of 3 samples in the completion store*"])


@pytest.mark.slow
def test_regrade_recomputes_every_verdict(pytester, fake_engine_env, monkeypatch):
    """--regrade recomputes even verdicts made under the current grader (and writes them back).
    A changed grader regrades by itself: tests/test_verdicts.py."""
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({"demo/add": ["The answer is 19."]}))
    args = [*SUITE, *FAKE, "--benchmarks=demo", "-k", "add", "--k=2"]
    pytester.runpytest(*args).assert_outcomes(passed=1, deselected=9)
    db = sqlite3.connect(str(pytester.path / "reports" / "completions.sqlite"))
    with db:
        db.execute("UPDATE samples SET correct=0")  # same grader digest, verdict tampered with
    db.close()
    pytester.runpytest(*args).assert_outcomes(failed=1, deselected=9)
    pytester.runpytest(*args, "--regrade").assert_outcomes(passed=1, deselected=9)
    pytester.runpytest(*args).assert_outcomes(passed=1, deselected=9)
    assert len(generate_calls(fake_engine_env)) == 1


@pytest.mark.slow
def test_resume_after_kill_9(pytester, fake_engine_env, monkeypatch):
    """A run killed with SIGKILL mid-stream keeps what it stored; the next run generates only
    what is missing."""
    store = pytester.path / "reports" / "completions.sqlite"
    monkeypatch.setenv("FAKE_ENGINE_DELAY", "0.02")
    args = [sys.executable, "-m", "pytest", *SUITE, *FAKE, "--benchmarks=demo", "--k=30", "-q"]
    proc = subprocess.Popen(args, cwd=pytester.path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=os.environ.copy())
    deadline = time.monotonic() + 60
    count = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if store.exists():
            try:
                count = len(stored_rows(store))
            except sqlite3.OperationalError:
                continue
            if count >= 60:
                break
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = stored_rows(store)
    assert 60 <= len(before) < 300
    have = {(p, i) for p, i, _ in before}

    fake_engine_env.unlink()
    monkeypatch.setenv("FAKE_ENGINE_DELAY", "0")
    result = pytester.runpytest_subprocess(*SUITE, *FAKE, "--benchmarks=demo", "--k=30")
    result.assert_outcomes(passed=0, failed=10)
    asked = {(key, i) for key, indices in requested(fake_engine_env).items() for i in indices}
    everything = {(f"demo/{pid}", i) for pid in DEMO_IDS for i in range(30)}
    assert asked == everything - have, "only the samples the killed run had not stored"
    assert len(stored_rows(store)) == 300
    assert summary(pytester)["benchmarks"]["demo"]["n"] == 30


@pytest.mark.slow
def test_concurrent_workers_share_one_store(pytester, fake_engine_env, small_benchmarks):
    args = [*SUITE, *FAKE, f"--data-dir={small_benchmarks}", "--benchmarks=aime24,amc23,gsm8k",
            "--limit=3", "--k=3"]
    result = pytester.runpytest_subprocess(*args, "-n", "2")
    result.assert_outcomes(failed=9)
    assert {c["worker"] for c in generate_calls(fake_engine_env)} == {"gw0", "gw1"}
    rows = stored_rows(pytester.path / "reports" / "completions.sqlite")
    assert len(rows) == 27
    fake_engine_env.unlink()
    pytester.runpytest_subprocess(*args, "-n", "2", "--k=4").assert_outcomes(failed=9)
    assert sorted(i for ix in requested(fake_engine_env).values() for i in ix) == [3] * 9


def _hammer(path, worker, rounds):
    store = CompletionStore(path)
    gen = store.generation_id(KEY)
    for r in range(rounds):
        store.add(gen, [NewSample(f"p{worker}", "x/y", r * 4 + j, j, "t" * 2000, 1, "stop")
                        for j in range(4)])
    store.close()


def test_parallel_writers_do_not_lock_each_other_out(tmp_path):
    import multiprocessing

    path = tmp_path / "s.sqlite"  # not there yet: the workers race to create it too
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_hammer, args=(path, w, 100)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    store = CompletionStore(path)
    assert store.count() == 1600
    store.close()


# -- bad store files ------------------------------------------------------------------------


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_corrupt_store_is_a_usage_error_naming_the_file(pytester, fake_engine_env):
    bad = pytester.path / "bad.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    before = _digest(bad)
    result = pytester.runpytest(*SUITE, *FAKE, "--benchmarks=demo", f"--store={bad}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"completion store {bad} is not a readable SQLite database" in "\n".join(result.errlines)
    assert _digest(bad) == before and engine_log(fake_engine_env) == []


def test_foreign_and_other_version_stores_are_refused_untouched(tmp_path):
    foreign = tmp_path / "foreign.sqlite"
    db = sqlite3.connect(str(foreign))
    db.execute("CREATE TABLE people (name TEXT)")
    db.execute("INSERT INTO people VALUES ('ada')")
    db.commit()
    db.close()
    before = _digest(foreign)
    with pytest.raises(StoreError, match=f"{foreign} is a SQLite file of another application"):
        CompletionStore(foreign)
    assert _digest(foreign) == before

    old = tmp_path / "old.sqlite"
    CompletionStore(old).close()
    db = sqlite3.connect(str(old))
    db.execute("UPDATE meta SET value='0' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match=f"{old} has schema version 0, this capability-tests "
                       "reads version 1"):
        CompletionStore(old)
    db = sqlite3.connect(str(old))
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    db.close()


def test_full_disk_is_a_clear_error_and_keeps_what_was_stored(tmp_path):
    import random

    path = tmp_path / "full.sqlite"
    store = CompletionStore(path)
    gen = store.generation_id(KEY)
    rng = random.Random(0)
    text = lambda: "".join(rng.choice("abcdefghij \n") for _ in range(20_000))  # noqa: E731
    store.add(gen, [NewSample("p", "x/y", i, i, text(), 5, "stop") for i in range(3)])
    kept = dict(store.texts(gen, "p", range(3)))
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages + 2}")  # the disk fills up now
    with pytest.raises(StoreError, match=f"completion store {path}: writing 8 samples failed "
                       r"\(database or disk is full\); free disk space"):
        store.add(gen, [NewSample("p", "x/y", i, i, text(), 5, "stop") for i in range(3, 11)])
    store.close()
    store = CompletionStore(path)
    assert store.count() == 3 and dict(store.texts(gen, "p", range(3))) == kept
    store.close()


def test_full_disk_fails_the_batch_naming_the_store(pytester, fake_engine_env, monkeypatch):
    pytester.makeconftest(
        "import capability_tests.store as s\n"
        "_init = s.CompletionStore.__init__\n"
        "def init(self, path, **kw):\n"
        "    _init(self, path, max_page_count=12)\n"
        "s.CompletionStore.__init__ = init\n"
    )
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({"demo/add": [os.urandom(20_000).hex()]}))
    result = pytester.runpytest(*SUITE, *FAKE, "--benchmarks=demo", "-k", "add", "--k=4")
    result.assert_outcomes(errors=1, deselected=9)
    result.stdout.fnmatch_lines(["*completion store *completions.sqlite: writing * samples failed "
                                 "(database or disk is full)*"])


def test_batched_only_engine_refuses_seeded_sampling(pytester, fake_engine_env):
    base = [*SUITE, "--engine=fixtures.fake_engine:BatchedOnlyEngine", "--model=fake/model",
            "--benchmarks=demo", "-k", "add", "--k=2"]
    result = pytester.runpytest(*base)
    result.assert_outcomes(errors=1, deselected=9)
    result.stdout.fnmatch_lines(["*does not support per-sample seeds: run it with --sampling batched*"])
    pytester.runpytest(*base, "--sampling=batched").assert_outcomes(failed=1, deselected=9)


@pytest.mark.slow
def test_batched_top_up_is_refused_for_an_engine_without_batched_seeds(pytester, fake_engine_env):
    """An engine that would draw a top-up from the same random stream as the stored samples
    (no `batched_seeds`) cannot add samples to a batched store: the run says what to run."""
    base = [*SUITE, "--engine=fixtures.fake_engine:BatchedOnlyEngine", "--model=fake/model",
            "--benchmarks=demo", "-k", "add", "--sampling=batched"]
    pytester.runpytest(*base, "--k=2").assert_outcomes(failed=1, deselected=9)
    fake_engine_env.unlink()
    result = pytester.runpytest(*base, "--k=4")
    result.assert_outcomes(errors=1, deselected=9)
    result.stdout.fnmatch_lines(["*does not derive batched samples from their indices*"
                                 "run with --fresh to regenerate all k, or with --sampling seeded*"])
    assert generate_calls(fake_engine_env) == []
    pytester.runpytest(*base, "--k=4", "--fresh").assert_outcomes(failed=1, deselected=9)
    assert requested(fake_engine_env) == {"demo/add": [0, 1, 2, 3]}


# -- keys -----------------------------------------------------------------------------------


def test_verdicts_with_timeouts_survive_the_store(tmp_path, monkeypatch):
    """`Grading` is the one grading seam (sampling/sink.py); what it says (timeouts too) is
    stored and comes back unchanged from the store."""
    sys.path.insert(0, str(TESTS_DIR))
    from capability_tests.benchmarks import load_problems
    from capability_tests.config import RunConfig
    from capability_tests.grading import Verdict
    from capability_tests.sampling import SamplingCoordinator
    from capability_tests.sampling.sink import Grading
    from fixtures.fake_engine import FakeEngine

    monkeypatch.delenv("FAKE_ENGINE_LOG", raising=False)

    class TimingOut(Grading):
        def submit(self, text, problem):
            future = Future()
            future.set_result(Verdict(False, None, "timeout", 5.0, timed_out=True))
            return future

    problems = load_problems("demo", None, 2)
    config = RunConfig(model="fake/model", engine="fixtures.fake_engine:FakeEngine", k=2,
                       store=tmp_path / "s.sqlite")
    first = SamplingCoordinator(config, log=lambda _: None, grading=TimingOut(),
                                engine_factory=lambda n, s: FakeEngine(s))
    results = [result_of(first, p, problems) for p in problems]
    first.close()
    assert [r.grading_timeouts for r in results] == [2, 2]

    def no_engine(name, settings):
        raise AssertionError("everything is stored")

    again = SamplingCoordinator(config, log=lambda _: None, engine_factory=no_engine)
    assert [result_of(again, p, problems) for p in problems] == results
    again.close()


def test_regrade_needs_an_existing_store(pytester, fake_engine_env):
    result = pytester.runpytest(*SUITE, *FAKE, "--benchmarks=demo", "--regrade")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--regrade: there is no completion store at" in "\n".join(result.errlines)


class _OldStyleEngine:
    name = "old"

    def __init__(self, settings):
        pass

    def chat_prompt(self, messages):
        return ""

    def generate(self, requests, sampling):
        return iter(())

    def close(self):
        pass


def test_an_engine_class_without_the_contract_gets_a_clear_error_naming_it():
    """Checked when the class is registered or looked up, before anything starts it."""
    from capability_tests.engines import EngineError, register_engine

    with pytest.raises(EngineError, match=r"engine class .*_OldStyleEngine lacks capabilities.*"
                                          r"identity.*stream"):
        register_engine("old")(_OldStyleEngine)


def _open_at_once(path, start, results):
    start.wait()
    try:
        store = CompletionStore(path)
        store.generation_id(KEY)
        store.close()
        results.put("ok")
    except Exception as exc:  # reported to the test
        results.put(repr(exc))


@pytest.mark.slow
def test_workers_creating_a_new_store_at_the_same_moment(tmp_path):
    """SQLite answers "database is locked" at once (no busy wait) to a connection that switches a
    new file to WAL while another creates the schema; opening retries. (Without the retry 6 of
    30 such trials failed here.)"""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    for trial in range(20):
        path = tmp_path / f"s{trial}.sqlite"
        start, results = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_open_at_once, args=(path, start, results)) for _ in range(6)]
        for p in procs:
            p.start()
        start.set()
        for p in procs:
            p.join(60)
        assert [results.get() for _ in procs] == ["ok"] * 6


def test_a_grader_error_verdict_reads_back_as_one(tmp_path):
    """A verifier that raised gives a `grader_error` verdict; the store keeps the flag (a bit of
    the verdict-flags column, beside timed out), so a later run reports it as a grader error,
    not as a wrong answer, and a plain timed-out row of an older store reads as before."""
    from capability_tests.sampling.coordinator import _stored_verdict
    from capability_tests.store import NewSample

    store = CompletionStore(tmp_path / "s.sqlite")
    generation = store.generation_id(KEY)
    store.add(generation, [
        NewSample("p", "demo/a", 0, 1, "\\boxed{1}", 3, "stop", False, "1",
                  "NotImplementedError: no", "g", False, True),
        NewSample("p", "demo/a", 1, 2, "\\boxed{2}", 3, "stop", False, "2", "timeout", "g", True),
        NewSample("p", "demo/a", 2, 3, "\\boxed{3}", 3, "stop", False, "3", "differs", "g"),
    ])
    rows = store.stored(generation, "p")
    assert [(r.grader_error, r.timed_out) for r in map(rows.get, (0, 1, 2))] == [
        (True, False), (False, True), (False, False)]
    assert [_stored_verdict(rows[i]).outcome for i in (0, 1, 2)] == ["grader_error", "timeout", "wrong"]
    store.set_verdicts(generation, "p", [(2, False, "3", "PolynomialError: x", verdict_flags(False, True), "g")])
    assert store.stored(generation, "p")[2].grader_error is True
    store.close()
