"""The OpenAI-compatible server engine against a scripted local server (no vLLM): requests and
seeds, retries with backoff, errors that stop the run, bounded concurrency per URL, two URLs, the
token, the served model's fingerprint."""

from __future__ import annotations

import json
import re
import socket
import threading
import time

import pytest

from capability_tests.engines import (
    EngineError,
    EngineSettings,
    ServerSettings,
    openai_engine,
    openai_requests,
    openai_server,
)
from capability_tests.engines.base import GenerationRequest, RequestFailure, SamplingSettings
from capability_tests.engines.openai_engine import OpenAIEngine
from capability_tests.engines.prompt_tokens import PROMPT_TOKENS
from fixtures.fake_openai_server import FakeOpenAIServer


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(openai_requests, "BACKOFF_BASE_S", 0.01)
    monkeypatch.setattr(openai_requests, "BACKOFF_CAP_S", 0.05)
    monkeypatch.setattr(openai_server, "_DESCRIBED", {})
    for name in openai_server.API_KEY_ENVS:
        monkeypatch.delenv(name, raising=False)


def engine(*urls, model="served-model", concurrency=4, timeout=30.0, retries=3, args=None):
    return OpenAIEngine(EngineSettings(
        model, 0, args or {},
        server=ServerSettings(tuple(urls), concurrency, timeout, retries)))


def sampling(n=2, seeded=True):
    return SamplingSettings(n=n, temperature=0.6, top_p=0.95, max_tokens=16, seed=0, seeded=seeded)


def requests(count, n=2):
    return [GenerationRequest(f"demo/p{i}", f"prompt {i}", tuple(range(n)),
                              tuple(1000 * i + j for j in range(n))) for i in range(count)]


def free_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_seeded_sends_one_request_per_sample_with_its_seed():
    with FakeOpenAIServer() as server:
        got = list(engine(server.url).stream(requests(3), sampling()))
    assert sorted((k, i) for k, i, _ in got) == [(f"demo/p{p}", j) for p in range(3)
                                                 for j in range(2)]
    bodies = sorted(server.requests, key=lambda b: b["seed"])
    assert [(b["prompt"], b["seed"], b["n"]) for b in bodies] == [
        (f"prompt {p}", 1000 * p + j, 1) for p in range(3) for j in range(2)]
    assert all(b["model"] == "served-model" and b["temperature"] == 0.6 and b["top_p"] == 0.95
               and b["max_tokens"] == 16 for b in bodies)
    for key, index, completion in got:
        assert completion.text.endswith(f"seed={1000 * int(key[-1]) + index}|j=0 \\boxed{{4}}")
        assert completion.tokens == 7 and completion.finish_reason == "length"


def test_batched_sends_one_n_request_per_run_of_seeds():
    request = GenerationRequest("demo/a", "prompt a", (0, 1, 2, 5), (10, 11, 12, 15))
    with FakeOpenAIServer() as server:
        got = list(engine(server.url).stream([request], sampling(n=6, seeded=False)))
    assert sorted((b["seed"], b["n"]) for b in server.requests) == [(10, 3), (15, 1)]
    by_index = {i: c for _, i, c in got}
    assert sorted(by_index) == [0, 1, 2, 5]
    assert by_index[2].text.startswith("prompt a|seed=10|j=2") and by_index[2].tokens == 7
    assert by_index[5].text.startswith("prompt a|seed=15|j=0")


def test_a_problem_s_stop_sequences_are_sent_with_its_requests():
    coded = GenerationRequest("humaneval/0", "def f():\n", (0,), (7,), stop=("\ndef ", "\nclass "))
    with FakeOpenAIServer() as server:
        list(engine(server.url, args={"stop": ["\n\n\n"]}).stream(
            [coded, *requests(1, 1)], sampling(1)))
    by_prompt = {b["prompt"]: b for b in server.requests}
    assert by_prompt["def f():\n"]["stop"] == ["\ndef ", "\nclass ", "\n\n\n"]
    assert by_prompt["prompt 0"]["stop"] == ["\n\n\n"]


def test_engine_args_are_sent_but_not_the_own_fields():
    with FakeOpenAIServer() as server:
        list(engine(server.url, args={"stop": ["\n\n"], "top_k": 20}).stream(requests(1, 1),
                                                                              sampling(1)))
    assert server.requests[0]["stop"] == ["\n\n"] and server.requests[0]["top_k"] == 20
    with pytest.raises(EngineError, match="--engine-arg seed: the suite sets this field"):
        openai_engine.request_fields({"seed": 3})


@pytest.mark.parametrize("failure", [
    (429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}),
    (500, {"error": {"message": "boom"}}),
    (503, {"detail": "overloaded"}),
    (200, {"choices": [{"index": 0, "text": "partial", "finish_reason": "abort"}]}),
])
def test_retryable_failures_are_retried_then_succeed(failure):
    with FakeOpenAIServer(script=lambda body, attempt: failure if attempt <= 2 else None) as server:
        got = list(engine(server.url, retries=2).stream(requests(2), sampling()))
    assert len(got) == 4 and not any("partial" in c.text for _, _, c in got)
    assert sorted(server.attempts.values()) == [3, 3, 3, 3]


def test_a_timeout_is_retried():
    script = lambda body, attempt: ("sleep", 1.0) if attempt == 1 else None  # noqa: E731
    with FakeOpenAIServer(script=script) as server:
        got = list(engine(server.url, timeout=0.3).stream(requests(1, 1), sampling(1)))
    # a second attempt proves the timeout fired: the late answer would have been accepted
    assert len(got) == 1 and server.attempts[("prompt 0", 0)] == 2


def test_retries_are_bounded_and_the_failure_says_so():
    with FakeOpenAIServer(script=lambda body, attempt: (500, {"detail": "down"})) as server:
        ((key, index, failure),) = engine(server.url, retries=2, concurrency=1).stream(
            requests(1, 1), sampling(1))
    assert (key, index) == ("demo/p0", 0) and isinstance(failure, RequestFailure)
    assert re.search(r"failed 3 times \(--retries 2\); last at http://.*HTTP 500: down",
                     failure.message), failure.message
    assert server.attempts[("prompt 0", 0)] == 3


def test_backoff_grows_between_attempts(monkeypatch):
    monkeypatch.setattr(openai_requests, "BACKOFF_BASE_S", 0.1)
    monkeypatch.setattr(openai_requests, "BACKOFF_CAP_S", 10.0)
    times = []
    script = lambda body, attempt: times.append(time.monotonic()) or (  # noqa: E731
        (500, {"detail": "x"}) if attempt <= 3 else None)
    with FakeOpenAIServer(script=script) as server:
        list(engine(server.url, retries=3, concurrency=1).stream(requests(1, 1), sampling(1)))
    gaps = [b - a for a, b in zip(times, times[1:])]
    # pauses of 0.1, 0.2, 0.4 s, each at least half of its step (the other half is jitter)
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2, gaps


def test_a_client_error_stops_the_run_with_the_servers_message():
    message = "The model `other` does not exist."
    with FakeOpenAIServer(script=lambda body, attempt: (400, {"error": {"message": message}})
                          ) as server:
        with pytest.raises(EngineError, match="HTTP 400: The model `other` does not exist"):
            list(engine(server.url, concurrency=1).stream(requests(3), sampling()))
    assert len(server.requests) == 1, "a 4xx is not retried and nothing more is sent"


def test_concurrency_is_bounded_per_url_and_reached():
    with FakeOpenAIServer(delay=0.05) as server:
        got = list(engine(server.url, concurrency=3).stream(requests(10), sampling()))
    assert len(got) == 20 and server.max_in_flight == 3


def test_concurrency_over_several_connection_pools_is_bounded_and_reached():
    """The workers share HTTP clients of `POOL_SIZE` connections each (httpcore scans a whole
    pool per request): 10 workers are 4 + 4 + 2 connections, all used, never more."""
    assert openai_requests.POOL_SIZE < 10
    with FakeOpenAIServer(delay=0.1) as server:
        got = list(engine(server.url, concurrency=10).stream(requests(30), sampling()))
    assert len(got) == 60
    assert len({(key, index) for key, index, _ in got}) == 60
    assert server.max_in_flight == 10


def test_work_spreads_over_two_urls_each_bounded():
    with FakeOpenAIServer(delay=0.05) as a, FakeOpenAIServer(delay=0.05) as b:
        got = list(engine(a.url, b.url, concurrency=2).stream(requests(10), sampling()))
    assert len(got) == 20
    assert len(a.requests) >= 5 and len(b.requests) >= 5
    assert a.max_in_flight <= 2 and b.max_in_flight <= 2


def test_work_moves_off_a_url_that_stops_answering():
    with FakeOpenAIServer() as live, FakeOpenAIServer() as dying:
        e = engine(live.url, dying.url, concurrency=2, retries=4)
        dying.__exit__()  # the server dies after the engine started
        got = list(e.stream(requests(5), sampling()))
    assert len(got) == 10 and len(live.requests) == 10


def test_samples_arrive_while_others_are_in_flight_and_closing_cancels():
    """Seed 1's request is answered only after a minute: sample 0 arrives while it is still in
    flight, and closing the stream cancels it instead of waiting for the answer."""
    with FakeOpenAIServer(script=lambda body, attempt: ("sleep", 60) if body["seed"] else None
                          ) as server:
        stream = engine(server.url, concurrency=2).stream(requests(1), sampling())
        key, index, _ = next(stream)
        assert index == 0 and server.in_flight >= 1, "the other sample is still being answered"
        start = time.monotonic()
        stream.close()
        # a correctness bound, not a speed figure: waiting for the answer takes 60 s (or the
        # runner's 30 s join timeout)
        assert time.monotonic() - start < 20
    assert not [t for t in threading.enumerate() if t.name == "capability-tests-openai"]


def test_the_token_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("CAPABILITY_TESTS_API_KEY", "sk-secret-123")
    with FakeOpenAIServer() as server:
        list(engine(server.url).stream(requests(1, 1), sampling(1)))
    assert server.headers[0]["Authorization"] == "Bearer sk-secret-123"


def test_model_choice_and_unreachable_server():
    with FakeOpenAIServer(model="m1") as server:
        assert OpenAIEngine.served(EngineSettings("", 0, {}, server=ServerSettings(
            (server.url + "/v1",)))).id == "m1"
        with pytest.raises(EngineError, match=r"--model 'other'.*serves \['m1'\]"):
            engine(server.url, model="other")
    with pytest.raises(EngineError, match="no OpenAI-compatible server answers"):
        engine(free_port_url())
    with pytest.raises(EngineError, match="needs --base-url"):
        engine()


def test_urls_serving_different_models_are_refused():
    with FakeOpenAIServer(root="org/a") as a, FakeOpenAIServer(root="org/b") as b:
        with pytest.raises(EngineError, match="do not serve the same model"):
            engine(a.url, b.url)


def test_identity_and_fingerprint_from_what_the_server_reports(tmp_path):
    with FakeOpenAIServer(version="0.32.0") as server:
        settings = EngineSettings("served-model", 0, {"stop": ["x"]},
                                  server=ServerSettings((server.url,)))
        identity = OpenAIEngine.identity(settings)
        model = OpenAIEngine.model_identity(settings)
    assert identity.name == "openai" and identity.version == "fake 0.32.0"
    assert identity.key_settings() == {"api": "completions", "prompt_tokens": PROMPT_TOKENS, "stop": ["x"]}
    assert model.pinned is False and "unpinned" in model.fingerprint and model.warning
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"1234")
    openai_server._DESCRIBED.clear()
    with FakeOpenAIServer(root=str(folder)) as server:
        settings = EngineSettings("served-model", 0, {}, server=ServerSettings((server.url,)))
        first = OpenAIEngine.model_identity(settings)
        (folder / "model.safetensors").write_bytes(b"5678")
        second = OpenAIEngine.model_identity(settings)
    assert first.pinned and first.warning is None and "local:weights:" in first.fingerprint
    assert second.fingerprint != first.fingerprint, "new weights, new fingerprint"


def test_chat_template_needs_the_tokenizer_here():
    with FakeOpenAIServer() as server:
        e = engine(server.url)
        assert OpenAIEngine.chat_template_source(e._settings) is None
        with pytest.raises(EngineError, match="--engine-arg tokenizer=PATH_OR_HUB_ID"):
            e.chat_prompt([{"role": "user", "content": "hi"}])


# -- through the suite: options, reports, resume (the scripted server on a thread) -------------------

SUITE = ["-p", "capability_tests.plugin", "--pyargs", "capability_tests.suite"]


@pytest.mark.parametrize("args, message", [
    (["--engine=openai"], "--engine openai needs --base-url"),
    (["--engine=openai", "--base-url=ftp://h"], "argument --base-url: expected http(s)://"),
    (["--engine=openai", "--base-url=http://me:sk-1@h:8000"],
     "argument --base-url: give the bare server address"),
    (["--base-url=http://127.0.0.1:8000"], "--base-url is for an engine that reaches servers"),
    (["--engine=openai", "--base-url=http://h", "--concurrency=0"],
     "argument --concurrency: must be at least 1"),
    (["--engine=openai", "--base-url=http://h", "--request-timeout=0"],
     "argument --request-timeout: must be more than 0 seconds"),
    (["--engine=openai", "--base-url=http://h", "--retries=-1"],
     "argument --retries: must not be negative"),
])
def test_server_options_are_checked(pytester, args, message):
    result = pytester.runpytest(*SUITE, "--benchmarks=demo", *args)
    text = "\n".join(result.errlines + result.outlines)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, text
    assert message in text and "Traceback" not in text


@pytest.mark.slow
def test_suite_run_against_a_server_keeps_the_token_out_and_resumes(pytester, monkeypatch):
    monkeypatch.setenv("CAPABILITY_TESTS_API_KEY", "sk-secret-456")
    args = [*SUITE, "--engine=openai", "--model=served-model", "--benchmarks=demo", "--limit=2",
            "--k=3", "--max-tokens=8", "--unsolved=xfail", "--retries=0", "--concurrency=1",
            "-p", "no:cacheprovider"]
    # the first server fails problem "sub" with a 5xx; one request at a time, "add" came first
    with FakeOpenAIServer(script=lambda body, attempt: (500, {"detail": "dead GPU"})
                          if "45 - 18" in body["prompt"] else None
                          ) as server:
        first = pytester.runpytest_subprocess(*args, f"--base-url={server.url}")
    with FakeOpenAIServer() as server:
        second = pytester.runpytest_subprocess(*args, f"--base-url={server.url}/v1/")
    first_text = "\n".join(first.outlines + first.errlines)
    second_text = "\n".join(second.outlines + second.errlines)
    assert first.ret == pytest.ExitCode.TESTS_FAILED, first_text
    assert "HTTP 500: dead GPU" in first_text
    assert "2 prompts x 3 samples: 3 stored, 3 to generate" in second_text, second_text
    assert second.ret == 0, second_text
    assert all(b["model"] == "served-model" for b in server.requests) and len(server.requests) == 3
    for path in pytester.path.rglob("*"):
        if path.is_file():
            assert b"sk-secret-456" not in path.read_bytes(), path
    summary = json.loads((pytester.path / "reports" / "summary.json").read_text())
    assert summary["provenance"]["engine"]["name"] == "openai"
    assert summary["provenance"]["samples"] == {"generated": 3, "from_store": 3}
    assert summary["provenance"]["model"]["pinned"] is False  # the fake reports no folder here
    assert "sk-secret" not in json.dumps(summary)
