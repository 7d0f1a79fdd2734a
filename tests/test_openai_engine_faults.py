"""Faults of a long run against OpenAI-compatible servers (the scripted server, no vLLM): a request
that fails on its own fails only its samples, malformed 200 answers are retried and never stored,
Retry-After is honoured, received samples survive an interrupt, prompts go as the one
tokenization (token ids) and are checked against the served context before sending."""

from __future__ import annotations

import json
import threading
import time

import pytest

from capability_tests.engines import EngineError, EngineSettings, ServerSettings, openai_requests, openai_server
from capability_tests.engines.base import Completion, GenerationRequest, RequestFailure, SamplingSettings
from capability_tests.engines.openai_engine import OpenAIEngine
from capability_tests.engines.openai_requests import retry_after_seconds
from fixtures.fake_openai_server import FakeOpenAIServer


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(openai_requests, "BACKOFF_BASE_S", 0.01)
    monkeypatch.setattr(openai_requests, "BACKOFF_CAP_S", 0.05)
    monkeypatch.setattr(openai_server, "_DESCRIBED", {})
    for name in openai_server.API_KEY_ENVS:
        monkeypatch.delenv(name, raising=False)


def engine(*urls, concurrency=4, retries=3, args=None):
    return OpenAIEngine(EngineSettings("served-model", 0, args or {},
                                       server=ServerSettings(tuple(urls), concurrency, 30.0,
                                                             retries)))


def sampling(n=2):
    return SamplingSettings(n=n, temperature=0.6, top_p=0.95, max_tokens=16, seed=0, seeded=True)


def requests(count, n=2, words=None):
    return [GenerationRequest(f"demo/p{i}", (words or "prompt {i}").format(i=i), tuple(range(n)),
                              tuple(1000 * i + j for j in range(n))) for i in range(count)]


def split(got):
    got = list(got)
    done = {(k, i): c for k, i, c in got if isinstance(c, Completion)}
    failed = {(k, i): c for k, i, c in got if isinstance(c, RequestFailure)}
    assert len(done) + len(failed) == len(got), "one answer per sample"
    return done, failed


# -- a request that fails on its own -----------------------------------------------------------------

def test_a_context_length_refusal_fails_only_its_own_request():
    message = "This model's maximum context length is 2048 tokens. However, you requested 5000"
    script = lambda body, attempt: (  # noqa: E731
        (400, {"error": {"message": message}}) if body["prompt"] == "prompt 1" else None)
    with FakeOpenAIServer(script=script) as server:
        done, failed = split(engine(server.url).stream(requests(3), sampling()))
    assert sorted(done) == [("demo/p0", 0), ("demo/p0", 1), ("demo/p2", 0), ("demo/p2", 1)]
    assert sorted(failed) == [("demo/p1", 0), ("demo/p1", 1)]
    for failure in failed.values():
        assert f"{server.url}/v1/completions" in failure.message
        assert "HTTP 400: This model's maximum context length is 2048" in failure.message
    assert server.attempts[("prompt 1", 1000)] == 1, "not retried"


def test_retries_running_out_fail_only_that_request_naming_url_and_status():
    script = lambda body, attempt: (  # noqa: E731
        (502, {"detail": "bad gateway"}) if body["prompt"] == "prompt 1" else None)
    with FakeOpenAIServer(script=script) as server:
        done, failed = split(engine(server.url, retries=2).stream(requests(3, 1), sampling(1)))
    assert sorted(done) == [("demo/p0", 0), ("demo/p2", 0)]
    (failure,) = failed.values()
    assert f"{server.url}/v1/completions" in failure.message
    assert "failed 3 times (--retries 2)" in failure.message
    assert "HTTP 502: bad gateway" in failure.message


def test_servers_that_fail_every_request_stop_the_run():
    """Main copes: a server down for every request stops the run (kept: the give-up bound)."""
    with FakeOpenAIServer(script=lambda body, attempt: (500, {"detail": "down"})) as server:
        with pytest.raises(EngineError, match=r"failed 2 times \(--retries 1\)"):
            list(engine(server.url, retries=1, concurrency=2).stream(requests(5, 1), sampling(1)))
    assert len(server.requests) <= 2 * (openai_requests.GIVE_UP_AFTER + 2)


def test_a_client_error_about_the_run_still_stops_it():
    """Main copes: an unknown model or a rejected field concerns every request."""
    with FakeOpenAIServer(script=lambda body, attempt: (400, {"error": {
            "message": "unknown field top_k"}})) as server:
        with pytest.raises(EngineError, match="HTTP 400: unknown field top_k"):
            list(engine(server.url, concurrency=1).stream(requests(3), sampling()))


# -- malformed 200 answers -------------------------------------------------------------------------

def _choice(j=0, text="fine", reason="stop"):
    return {"index": j, "text": text, "finish_reason": reason}


MALFORMED = {
    "text null": {"choices": [_choice(text=None)]},
    "text a number": {"choices": [_choice(text=7)]},
    "text a list": {"choices": [_choice(text=["a"])]},
    "unknown finish_reason": {"choices": [_choice(reason="exploded")]},
    "finish_reason null": {"choices": [_choice(reason=None)]},
    "too many choices": {"choices": [_choice(0), _choice(1)]},
    "no choices": {"choices": []},
    "choices not a list": {"choices": {"0": _choice()}},
    "a choice not an object": {"choices": ["just text"]},
    "an index out of range": {"choices": [_choice(3)]},
    "an index not an int": {"choices": [_choice("0")]},
    "the body a list": [_choice()],
}


@pytest.mark.parametrize("payload", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_answer_is_retried_and_never_stored(payload):
    script = lambda body, attempt: (200, payload) if attempt == 1 else None  # noqa: E731
    with FakeOpenAIServer(script=script) as server:
        done, failed = split(engine(server.url).stream(requests(2, 1), sampling(1)))
    assert not failed and sorted(done) == [("demo/p0", 0), ("demo/p1", 0)]
    assert all(c.text.endswith("\\boxed{4}") for c in done.values()), "the retried answer"
    assert sorted(server.attempts.values()) == [2, 2]


@pytest.mark.parametrize("payload", [
    {"choices": [_choice(0), _choice(0)]},           # duplicate indices
    {"choices": [_choice(0), _choice(1, text=None)]},  # one bad text among good ones
], ids=["duplicate indices", "one null text"])
def test_a_malformed_batched_answer_fails_with_the_url_when_it_persists(payload):
    with FakeOpenAIServer(script=lambda body, attempt: (200, payload)) as server:
        sampled = SamplingSettings(2, 0.6, 0.95, 16, 0, seeded=False)
        done, failed = split(engine(server.url, retries=1).stream(requests(1), sampled))
    assert not done and sorted(failed) == [("demo/p0", 0), ("demo/p0", 1)]
    message = next(iter(failed.values())).message
    assert f"{server.url}/v1/completions" in message and "schema" in message


def test_tgi_finish_reasons_are_mapped():
    payload = {"choices": [_choice(reason="eos_token")]}
    with FakeOpenAIServer(script=lambda body, attempt: (200, payload)) as server:
        (got,) = engine(server.url).stream(requests(1, 1), sampling(1))
    assert got[2] == Completion("fine", 0, "stop")


# -- Retry-After -----------------------------------------------------------------------------------

def test_retry_after_arriving_during_a_running_backoff_is_honoured(monkeypatch):
    """p0 fails first (a back-off of 0.25-0.5 s starts); p1's 429 with Retry-After: 2 arrives
    while that pause runs: nothing is sent to the server for 2 s after it."""
    monkeypatch.setattr(openai_requests, "BACKOFF_BASE_S", 0.5)
    monkeypatch.setattr(openai_requests, "BACKOFF_CAP_S", 10.0)
    sent = []

    def script(body, attempt):
        sent.append((time.monotonic(), body["prompt"], attempt))
        if attempt > 1:
            return None
        if body["prompt"] == "prompt 0":
            return (500, {"detail": "hiccup"})
        return (429, {"detail": "busy"}, {"Retry-After": "2"})

    def slow_script(body, attempt):
        action = script(body, attempt)
        if body["prompt"] == "prompt 1" and attempt == 1:
            time.sleep(0.1)  # answers after p0's failure started the back-off
        return action

    with FakeOpenAIServer(script=slow_script) as server:
        done, failed = split(engine(server.url, concurrency=2).stream(requests(2, 1), sampling(1)))
    assert len(done) == 2 and not failed
    first_429 = next(t for t, prompt, attempt in sent if prompt == "prompt 1") + 0.1
    retries = [t for t, _, attempt in sent if attempt > 1]
    assert retries and min(retries) - first_429 >= 1.8, (sent, first_429)


@pytest.mark.parametrize("value, low, high", [
    ("3", 3, 3), ("0", 0, 0), ("-4", 0, 0), ("soon", None, None), ("", None, None)])
def test_retry_after_seconds(value, low, high):
    got = retry_after_seconds(value)
    assert got == low if low is None else low <= got <= high


def test_retry_after_as_an_http_date():
    from email.utils import formatdate

    got = retry_after_seconds(formatdate(time.time() + 30, usegmt=True))
    assert 27 <= got <= 31


# -- nothing received is lost on an interrupt -------------------------------------------------------

def _three_fast_one_slow(body, attempt):
    return ("sleep", 60) if body["seed"] == 3000 else None


@pytest.mark.parametrize("stop", ["close the engine", "close the stream"])
def test_received_samples_survive_an_interrupt(stop):
    """One sample consumed, two more received but not consumed, one still in flight: the stop
    cancels the one in flight at once, and drain() gives the two received ones."""
    with FakeOpenAIServer(script=_three_fast_one_slow) as server:
        e = engine(server.url, concurrency=4)
        stream = e.stream(requests(4, 1, words="prompt {i}"), sampling(1))
        first = next(stream)
        deadline = time.monotonic() + 60  # a wait for an event, generous on a busy machine
        while len(server.requests) < 4 or server.in_flight > 1:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        while e._received.qsize() < 2:  # the two answers reach the engine
            assert time.monotonic() < deadline
            time.sleep(0.02)
        start = time.monotonic()
        if stop == "close the engine":
            e.close()  # the consumer was interrupted: the generator stays suspended
        else:
            stream.close()
        drained = list(e.drain())
        # a correctness bound, not a speed figure: awaiting the slow answer takes 60 s (or
        # the runner's 30 s join timeout)
        assert time.monotonic() - start < 20, "the request in flight is cancelled, not awaited"
        assert server.in_flight == 1, "the slow request was never answered"
    keys = sorted(k for k, _, _ in [first, *drained])
    assert keys == ["demo/p0", "demo/p1", "demo/p2"], keys
    assert all(isinstance(c, Completion) for _, _, c in drained)
    assert list(e.drain()) == [], "drained once"
    assert not [t for t in threading.enumerate() if t.name == "capability-tests-openai"]


# -- one tokenization, checked against the served context -------------------------------------------

@pytest.fixture
def tokenizer_folder(tmp_path):
    """A word-level tokenizer that adds a BOS `<s>` (as Llama's does), saved as a model folder."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<s>": 0, "</s>": 1, "<unk>": 2, **{w: 3 + i for i, w in enumerate(
        "prompt hello a b c d e f g h i j 0 1 2 3 4".split())}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")
    fast.chat_template = "{{ bos_token }}{% for m in messages %}{{ m['content'] }} {% endfor %}"
    folder = tmp_path / "tok"
    fast.save_pretrained(str(folder))
    return folder


@pytest.mark.slow
def test_prompts_go_as_token_ids_with_one_bos(tokenizer_folder):
    with FakeOpenAIServer(root=str(tokenizer_folder)) as server:
        e = engine(server.url)
        chat = e.chat_prompt([{"role": "user", "content": "hello a"}])
        assert chat.startswith("<s>")
        reqs = [GenerationRequest("demo/chat", chat, (0,), (1,)),
                GenerationRequest("demo/plain", "hello a", (0,), (2,))]
        done, failed = split(e.stream(reqs, sampling(1)))
    assert len(done) == 2 and not failed
    prompts = {b["seed"]: b["prompt"] for b in server.requests}
    assert prompts[1] == prompts[2] == [0, 4, 5], prompts  # <s> hello a: one BOS each


def test_an_over_long_prompt_is_refused_before_sending(tokenizer_folder):
    with FakeOpenAIServer(root=str(tokenizer_folder), max_model_len=6) as server:
        reqs = [GenerationRequest("demo/short", "a b c d", (0, 1), (1, 2)),  # 5 tokens with <s>
                GenerationRequest("demo/long", "a b c d e", (0, 1), (3, 4))]  # 6: no room
        done, failed = split(engine(server.url).stream(reqs, sampling(2)))
    assert sorted(done) == [("demo/short", 0), ("demo/short", 1)]
    assert sorted(failed) == [("demo/long", 0), ("demo/long", 1)]
    message = failed[("demo/long", 0)].message
    assert "6 tokens" in message and "context is 6 tokens" in message
    assert sorted(b["seed"] for b in server.requests) == [1, 2], "the long prompt is never sent"


def test_without_a_tokenizer_here_prompts_go_as_text():
    with FakeOpenAIServer() as server:
        list(engine(server.url).stream(requests(1, 1), sampling(1)))
    assert json.loads(json.dumps(server.requests[0]))["prompt"] == "prompt 0"
