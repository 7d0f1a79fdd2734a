"""What `VLLMEngine` asks vLLM for, against a stand-in `vllm` module (no engine starts): batched
requests are seeded so that vLLM's child seeds (seed + j) are the samples' own seeds, and
--batch-invariant turns on VLLM_BATCH_INVARIANT for the engine processes."""

from __future__ import annotations

import os
import sys
import types
from types import SimpleNamespace

import pytest

from capability_tests.engines import (
    EngineError,
    EngineSettings,
    GenerationRequest,
    SamplingSettings,
    lifetime,
    vllm_engine,
)
from capability_tests.engines.base import RequestFailure
from capability_tests.seeds import sample_seeds


class _WordTokenizer:
    """Whitespace words; adds the BOS "<s>" (id 0) like Llama's tokenizer."""

    bos_token, bos_token_id = "<s>", 0

    def encode(self, text, add_special_tokens=True):
        ids = [0 if w == "<s>" else 1 + len(w) for w in text.split()]
        return [0, *ids] if add_special_tokens else ids


class _FakeLLM:
    """Answers each request with texts naming the seed vLLM would give each child; finishes the
    oldest request first and records the most sequences it ever held. A prompt holding the
    token id `refuse_token` is refused at enqueue; a sample whose seed is in `error_seeds` ends
    with finish reason "error"; the context is `max_model_len` tokens."""

    started_with_env: dict = {}
    max_num_seqs = 256
    max_model_len = 4096
    error_seeds: set = set()
    refuse_token = None  # a prompt holding this token id is refused at enqueue

    def __init__(self, model, **args):
        _FakeLLM.started_with_env = {"VLLM_BATCH_INVARIANT": os.environ.get("VLLM_BATCH_INVARIANT")}
        self.args, self.llm_engine, self.params = args, self, []
        self.vllm_config = SimpleNamespace(
            scheduler_config=SimpleNamespace(max_num_seqs=_FakeLLM.max_num_seqs),
            model_config=SimpleNamespace(max_model_len=_FakeLLM.max_model_len))
        self.pending, self.counter, self.most_in_flight = {}, 0, 0
        self.prompts = []

    def get_tokenizer(self):
        return _WordTokenizer()

    def enqueue(self, prompts, params, use_tqdm=False):
        if any(self.refuse_token in p["prompt_token_ids"] for p in prompts):
            raise ValueError("this prompt upsets the engine")
        ids = []
        self.prompts.extend(prompts)
        for p in params:
            self.params.append(p)
            self.pending[str(self.counter)] = p
            ids.append(f"{self.counter}-x")
            self.counter += 1
        self.most_in_flight = max(self.most_in_flight, sum(p.n for p in self.pending.values()))
        return ids

    def has_unfinished_requests(self):
        return bool(self.pending)

    def step(self):
        rid = next(iter(self.pending))
        p = self.pending.pop(rid)
        outs = [SimpleNamespace(index=j, text=str(p.seed + j), token_ids=[1],
                                finish_reason="error" if p.seed + j in self.error_seeds else "stop")
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


def test_stop_sequences_reach_vllm_per_request(fake_vllm):
    engine = vllm_engine.VLLMEngine(EngineSettings("m", 0, {}))
    seeds = sample_seeds(0, "humaneval", "0", (0, 1))
    requests = [GenerationRequest("humaneval/0", "def f():\n", (0, 1), seeds, ("\ndef", "\nif")),
                GenerationRequest("demo/add", "q", (0,), seeds[:1])]
    list(engine.stream(requests, SamplingSettings(2, 0.6, 0.95, 8, 0, seeded=True)))
    stops = sorted(getattr(p, "stop", None) or [] for p in engine._llm.params)
    assert stops == [[], ["\ndef", "\nif"], ["\ndef", "\nif"]]


@pytest.mark.parametrize("seeded", [True, False])
def test_submission_is_bounded_and_every_sample_keeps_its_seed(fake_vllm, monkeypatch, seeded):
    """At most IN_FLIGHT_BATCHES x max_num_seqs sequences are in the engine at once, however many
    samples are asked for; each sample still comes back once, with its own index's seed."""
    monkeypatch.setattr(_FakeLLM, "max_num_seqs", 3)
    engine = vllm_engine.VLLMEngine(EngineSettings("m", 0, {}))
    assert engine.in_flight_limit() == vllm_engine.IN_FLIGHT_BATCHES * 3
    k = 4
    requests = [GenerationRequest(f"demo/p{i}", f"prompt {i}", tuple(range(k)),
                                  sample_seeds(0, "demo", f"p{i}", range(k))) for i in range(25)]
    out = list(engine.stream(requests, SamplingSettings(k, 0.6, 0.95, 8, 0, seeded=seeded)))
    assert engine._llm.most_in_flight <= engine.in_flight_limit()
    assert len(engine._llm.params) == (100 if seeded else 25)
    texts = {(key, index): c.text for key, index, c in out}
    assert len(out) == len(texts) == 100
    assert texts == {(r.key, i): str(s) for r in requests for i, s in zip(r.indices, r.seeds)}


def test_a_request_larger_than_the_limit_goes_in_alone(fake_vllm, monkeypatch):
    monkeypatch.setattr(_FakeLLM, "max_num_seqs", 1)
    engine = vllm_engine.VLLMEngine(EngineSettings("m", 0, {}))
    requests = [GenerationRequest(f"demo/p{i}", "p", tuple(range(5)),
                                  sample_seeds(0, "demo", f"p{i}", range(5))) for i in range(3)]
    out = list(engine.stream(requests, SamplingSettings(5, 0.6, 0.95, 8, 0, seeded=False)))
    assert len(out) == 15 and engine._llm.most_in_flight == 5


# -- faults that stay with their own request ------------------------------------------------------

def _requests(prompts, k=2):
    return [GenerationRequest(f"demo/p{i}", prompt, tuple(range(k)),
                              sample_seeds(0, "demo", f"p{i}", range(k)))
            for i, prompt in enumerate(prompts)]


def _split(out):
    out = list(out)
    done = {(k, i): c for k, i, c in out if not isinstance(c, RequestFailure)}
    failed = {(k, i): c for k, i, c in out if isinstance(c, RequestFailure)}
    return done, failed


@pytest.mark.parametrize("seeded", [True, False])
def test_an_over_long_prompt_fails_alone_before_submission(fake_vllm, monkeypatch, seeded):
    monkeypatch.setattr(_FakeLLM, "max_model_len", 6)
    engine = vllm_engine.VLLMEngine(EngineSettings("m", 0, {}))
    requests = _requests(["a b c d", "a b c d e", "a b"])  # 5, 6 and 3 tokens with the BOS
    done, failed = _split(engine.stream(requests, SamplingSettings(2, 0.6, 0.95, 8, 0,
                                                                   seeded=seeded)))
    assert sorted(done) == [("demo/p0", 0), ("demo/p0", 1), ("demo/p2", 0), ("demo/p2", 1)]
    assert sorted(failed) == [("demo/p1", 0), ("demo/p1", 1)]
    message = failed[("demo/p1", 0)].message
    assert "6 tokens" in message and "context is 6 tokens" in message and "max_model_len" in message
    assert all(len(p["prompt_token_ids"]) < 6 for p in engine._llm.prompts), "never submitted"


def test_a_request_vllm_refuses_at_enqueue_fails_alone(fake_vllm, monkeypatch):
    monkeypatch.setattr(_FakeLLM, "refuse_token", 7)  # the word "poison"
    engine = vllm_engine.VLLMEngine(EngineSettings("m", 0, {}))
    requests = _requests(["a b", "a poison", "c d"])
    done, failed = _split(engine.stream(requests, SamplingSettings(2, 0.6, 0.95, 8, 0, True)))
    assert sorted(done) == [("demo/p0", 0), ("demo/p0", 1), ("demo/p2", 0), ("demo/p2", 1)]
    assert sorted(failed) == [("demo/p1", 0), ("demo/p1", 1)]
    assert "ValueError: this prompt upsets the engine" in failed[("demo/p1", 0)].message


def test_a_sequence_that_ends_in_an_error_fails_alone(fake_vllm, monkeypatch):
    requests = _requests(["a b", "c d"], k=3)
    monkeypatch.setattr(_FakeLLM, "error_seeds", {requests[1].seeds[1]})
    engine = vllm_engine.VLLMEngine(EngineSettings("m", 0, {}))
    for seeded in (True, False):
        done, failed = _split(engine.stream(requests, SamplingSettings(3, 0.6, 0.95, 8, 0,
                                                                       seeded=seeded)))
        assert len(done) == 5 and list(failed) == [("demo/p1", 1)]
        assert "finish reason 'error'" in failed[("demo/p1", 1)].message


def test_a_failing_engine_step_stops_the_run(fake_vllm, monkeypatch):
    def dead(self):
        raise RuntimeError("engine core died")

    engine = vllm_engine.VLLMEngine(EngineSettings("m", 0, {}))
    monkeypatch.setattr(_FakeLLM, "step", dead)
    with pytest.raises(EngineError, match="engine failed while generating: RuntimeError"):
        list(engine.stream(_requests(["a"]), SamplingSettings(2, 0.6, 0.95, 8, 0, True)))


def test_prompts_go_in_as_token_ids_with_one_bos(fake_vllm):
    engine = vllm_engine.VLLMEngine(EngineSettings("m", 0, {}))
    requests = _requests(["<s> a bb", "a bb"], k=1)
    list(engine.stream(requests, SamplingSettings(1, 0.6, 0.95, 8, 0, True)))
    assert [p["prompt_token_ids"] for p in engine._llm.prompts] == [[0, 2, 3], [0, 2, 3]]
    assert engine.token_ids("<s> a", "bb") == ([0, 2], [3])
