"""What `VLLMEngine` asks vLLM for, against a stand-in `vllm` module (no engine starts): batched
requests are seeded so that vLLM's child seeds (seed + j) are the samples' own seeds, and
--batch-invariant turns on VLLM_BATCH_INVARIANT for the engine processes."""

from __future__ import annotations

import os
import sys
import types
from types import SimpleNamespace

import pytest

from capability_tests.engines import EngineError, EngineSettings, GenerationRequest, SamplingSettings
from capability_tests.engines import lifetime, vllm_engine
from capability_tests.seeds import sample_seeds


class _FakeLLM:
    """Answers each request with texts naming the seed vLLM would give each child."""

    started_with_env: dict = {}

    def __init__(self, model, **args):
        _FakeLLM.started_with_env = {"VLLM_BATCH_INVARIANT": os.environ.get("VLLM_BATCH_INVARIANT")}
        self.args, self.llm_engine, self.params = args, self, []

    def enqueue(self, prompts, params, use_tqdm=False):
        self.params = list(params)
        self.pending = {str(i): p for i, p in enumerate(params)}
        return [f"{i}-x" for i in self.pending]

    def has_unfinished_requests(self):
        return bool(self.pending)

    def step(self):
        rid, p = self.pending.popitem()
        outs = [SimpleNamespace(index=j, text=str(p.seed + j), token_ids=[1], finish_reason="stop")
                for j in range(p.n)]
        return [SimpleNamespace(request_id=rid, finished=True, outputs=outs)]


@pytest.fixture
def fake_vllm(monkeypatch):
    module = types.ModuleType("vllm")
    module.LLM = _FakeLLM
    module.SamplingParams = lambda **kw: SimpleNamespace(**kw)
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setattr(vllm_engine, "is_cpu_build", lambda: False)
    monkeypatch.setattr(lifetime, "_wrap_vllm_engine_core", lambda: None)  # no engine core here
    monkeypatch.delenv("VLLM_BATCH_INVARIANT", raising=False)
    return module


def test_a_batched_top_up_gets_the_seeds_of_the_indices_it_fills(fake_vllm):
    engine = vllm_engine.VLLMEngine(EngineSettings("m", 0, {}))
    seeds = sample_seeds(0, "demo", "add", (2, 3, 4, 5))
    gap = sample_seeds(0, "demo", "sub", (0, 3))
    requests = [GenerationRequest("demo/add", "p", (2, 3, 4, 5), seeds),
                GenerationRequest("demo/sub", "q", (0, 3), gap)]
    out = list(engine.stream(requests, SamplingSettings(4, 0.6, 0.95, 8, 0, seeded=False)))
    asked = sorted((p.n, p.seed) for p in engine._llm.params)
    assert asked == sorted([(4, seeds[0]), (1, gap[0]), (1, gap[1])])
    texts = {(key, index): c.text for key, index, c in out}
    assert texts == {**{("demo/add", i): str(s) for i, s in zip((2, 3, 4, 5), seeds)},
                     **{("demo/sub", i): str(s) for i, s in zip((0, 3), gap)}}


def test_a_request_without_seeds_is_refused(fake_vllm):
    engine = vllm_engine.VLLMEngine(EngineSettings("m", 0, {}))
    with pytest.raises(EngineError, match="one seed per wanted sample"):
        list(engine.stream([GenerationRequest("demo/add", "p", (0, 1))],
                           SamplingSettings(2, 0.6, 0.95, 8, 0)))


def test_batch_invariant_sets_vllms_mode_for_the_engine(fake_vllm, monkeypatch):
    monkeypatch.setenv("VLLM_BATCH_INVARIANT", "0")  # restored after the test
    vllm_engine.VLLMEngine(EngineSettings("m", 0, {}))
    assert _FakeLLM.started_with_env == {"VLLM_BATCH_INVARIANT": "0"}
    monkeypatch.setattr(vllm_engine, "batch_invariant_support", lambda: None)
    vllm_engine.VLLMEngine(EngineSettings("m", 0, {}, batch_invariant=True))
    assert _FakeLLM.started_with_env == {"VLLM_BATCH_INVARIANT": "1"}
    monkeypatch.setattr(vllm_engine, "batch_invariant_support", lambda: "not here")
    with pytest.raises(EngineError, match="--batch-invariant: not here"):
        vllm_engine.VLLMEngine(EngineSettings("m", 0, {}, batch_invariant=True))
