"""Any OpenAI-compatible completions server as an engine: `vllm serve` (which itself scales over
GPUs and machines), SGLang, TGI. `--engine openai --base-url URL [--base-url URL2 ...]`.

The suite renders each prompt exactly as for the in-process engines (the study's strings, or the
model's chat template applied here with a local copy of its tokenizer) and sends it to
`/v1/completions`: one request per sample with that sample's seed (`--sampling seeded`), or one
`n = m` request per run of consecutive seeds (`batched`, seeded with the first: vLLM gives child j
seed + j). At most `--concurrency` requests are in flight per URL; every URL's workers pull from
one queue, so a faster server takes more. Timeouts, connection errors, 429 and 5xx are retried
(`--retries` further attempts per request, exponential backoff with jitter per URL, a request
moves to whichever URL is free), and so is a 200 whose choices break the schema. A request that
fails on its own (its retries ran out, a 400 "maximum context length", a prompt found too long
before sending) yields a `RequestFailure` for each of its samples and the others go on; any other
4xx stops the run with the server's message, as do `GIVE_UP_AFTER` requests in a row that ran
out of retries (the servers are down). Each sample is yielded as its response arrives, so the
store keeps everything that finished when a server dies and a rerun asks only for the rest;
after an interrupt `drain()` gives what was received but not yet yielded.

A token comes from `CAPABILITY_TESTS_API_KEY` (else `OPENAI_API_KEY`), sent as a bearer header and
never written anywhere. The store key's model fingerprint comes from what the server reports
(`served_model_identity`); docs/ENGINES.md says what it proves.

Three modules: `openai_server` (what the servers serve), `openai_requests` (requests in flight,
retries, answer checks) and this one (the engine class: prompts, jobs, the consumer side).
"""

from __future__ import annotations

import queue
import time
from typing import Any, Iterator, Mapping, Sequence

from capability_tests.engines.base import (
    Completion,
    EngineCapabilities,
    EngineError,
    EngineIdentity,
    EngineSettings,
    GenerationRequest,
    RequestFailure,
    SamplingSettings,
)
from capability_tests.engines.classes import EngineBase
from capability_tests.engines.openai_requests import DONE, Dispatcher, Job, Runner
from capability_tests.engines.openai_server import (
    ServedModel,
    describe_servers,
    served_model_identity,
    tokenizer_source,
)
from capability_tests.engines.prompt_tokens import PROMPT_TOKENS, over_long, prompt_token_ids
from capability_tests.seeds import consecutive_runs

LOCAL_ARGS = frozenset({"tokenizer"})  # --engine-arg keys read here, never sent to the server
# Fields the suite sets itself; an --engine-arg may not override them.
OWN_FIELDS = frozenset({"model", "prompt", "n", "seed", "temperature", "top_p", "max_tokens",
                        "stream"})
CONSUMER_POLL_S = 0.005  # the consumer's pause when no sample is waiting


def request_fields(engine_args: Mapping[str, Any]) -> dict[str, Any]:
    """The --engine-arg values sent in every request body (e.g. `stop`, `top_k`), all in the store
    key; `tokenizer` stays here."""
    clash = sorted(OWN_FIELDS & set(engine_args))
    if clash:
        raise EngineError(f"--engine-arg {clash[0]}: the suite sets this field itself; use the "
                          "option for it (--k, --temperature, --top-p, --max-tokens, --seed, "
                          "--model)")
    return {k: v for k, v in sorted(engine_args.items()) if k not in LOCAL_ARGS}


class OpenAIEngine(EngineBase):
    name = "openai"
    # seeded: one request per sample with its seed; batched_seeds: an n=m request is seeded with
    # its first index's seed (see module doc); remote: --model names the served model
    capabilities = EngineCapabilities(seeded_sampling=True, batched_seeds=True, remote=True,
                                      servers=True)

    @classmethod
    def describe(cls, settings: EngineSettings) -> str:
        return (f"{cls.name} engine: model {settings.model or '(the one served)'} at "
                f"{', '.join(settings.server.base_urls)}")

    @classmethod
    def prepare(cls, settings: EngineSettings, progress: bool = True) -> EngineSettings:
        """Nothing to load here: the servers hold the model."""
        return settings

    @classmethod
    def served(cls, settings: EngineSettings) -> ServedModel:
        return describe_servers(settings.server.base_urls, settings.model)

    @classmethod
    def identity(cls, settings: EngineSettings) -> EngineIdentity:
        """The server's name and version (`owned_by` of the model and `/version`), and what every
        request carries besides prompt and sampling options (the --engine-arg fields). The model
        itself is in the model fingerprint (`model_identity`). Nothing is speed-only: concurrency,
        timeouts and URLs are options outside the store key."""
        served = cls.served(settings)
        args = {"api": "completions", "prompt_tokens": PROMPT_TOKENS,
                **request_fields(settings.engine_args)}
        return EngineIdentity("openai", served.server or "unknown server", args, frozenset())

    @classmethod
    def model_identity(cls, settings: EngineSettings):
        return served_model_identity(cls.served(settings), settings.server.base_urls)

    @classmethod
    def chat_template_source(cls, settings: EngineSettings) -> str | None:
        source = tokenizer_source(settings, cls.served(settings))
        if source is None:
            return None
        from capability_tests.fingerprints import chat_template_source
        from capability_tests.models import ModelError, resolve_model

        try:
            return chat_template_source(resolve_model(source))
        except ModelError as exc:
            raise EngineError(f"--engine-arg tokenizer: {exc}") from None

    @classmethod
    def batch_invariant_problem(cls, settings: EngineSettings) -> str | None:
        return ("--engine openai cannot switch the server's kernels: start the server with "
                "VLLM_BATCH_INVARIANT=1 instead and drop --batch-invariant")

    def __init__(self, settings: EngineSettings) -> None:
        self._settings = settings
        self._served = self.served(settings)
        self._fields = request_fields(settings.engine_args)
        self._urls = tuple(settings.server.base_urls)
        self._tokenizer = None
        self._tokenizer_tried = False
        self._received: queue.Queue[Any] | None = None  # the current stream's, for drain()
        self._runner: Runner | None = None

    def runtime(self) -> dict[str, Any]:
        """The reports' device: the servers (their number and what they run); the server keeps
        its dtype and parallel sizes to itself."""
        return {"dtype": None,
                "device": {"type": "server", "count": len(self._urls),
                           "name": f"{self._served.server or 'unknown server'}: "
                                   f"{self._served.id}"},
                "tensor_parallel_size": None, "data_parallel_size": None,
                "batch_invariant": False}

    def _load_tokenizer(self, required: bool):
        """The model's tokenizer read here (`tokenizer_source`), or None where there is none:
        then prompts go as text and the server tokenizes them. An explicit
        `--engine-arg tokenizer=` that cannot be loaded is an error; so is a missing tokenizer
        when `required` (the chat template is rendered here)."""
        if self._tokenizer is None and not self._tokenizer_tried:
            self._tokenizer_tried = True
            source = tokenizer_source(self._settings, self._served)
            if source is not None:
                try:
                    from transformers import AutoTokenizer

                    self._tokenizer = AutoTokenizer.from_pretrained(source)
                except Exception as exc:
                    if self._settings.engine_args.get("tokenizer") or required:
                        raise EngineError(f"--engine-arg tokenizer={source}: cannot load a "
                                          f"tokenizer ({type(exc).__name__}: {exc})") from exc
        if self._tokenizer is None and required:
            raise EngineError(
                "--template chat with --engine openai renders the model's chat template "
                "here, and the served model's files are not on this machine: pass "
                "--engine-arg tokenizer=PATH_OR_HUB_ID (a copy of its tokenizer), or use "
                "--template qwen-boxed or abel")
        return self._tokenizer

    def chat_prompt(self, messages: Sequence[Mapping[str, str]]) -> str:
        """The model's chat template applied here, as the in-process engines apply it (the
        server's completions endpoint takes the rendered prompt, as token ids)."""
        tokenizer = self._load_tokenizer(required=True)
        return tokenizer.apply_chat_template(list(messages), tokenize=False,
                                             add_generation_prompt=True)

    def _prompt(self, text: str) -> tuple[str | list[int], str | None]:
        """What a request sends as its prompt, and why it cannot be sent (None: it can). With a
        tokenizer here: the token ids of `prompt_token_ids` (the sequence the in-process engines
        feed the model; the server adds nothing to an id prompt), checked against the served
        `max_model_len` before sending. Without: the text (the server tokenizes it)."""
        tokenizer = self._load_tokenizer(required=False)
        if tokenizer is None:
            return text, None
        ids = prompt_token_ids(tokenizer, text)
        return ids, over_long(ids, self._served.max_model_len,
                              "max_model_len reported by the server's /v1/models")

    def _jobs(self, requests: Sequence[GenerationRequest],
              sampling: SamplingSettings) -> Iterator[Job]:
        common = {"model": self._served.id, "max_tokens": sampling.max_tokens,
                  "temperature": sampling.temperature, "top_p": sampling.top_p,
                  "stream": False, **self._fields}
        for request in requests:
            indices = request.wanted(sampling.n)
            prompt, refused = self._prompt(request.prompt)
            if refused is not None:
                yield Job(request.key, tuple(indices), {}, refused=(
                    f"--engine openai: {request.key}: {refused}"))
                continue
            base = {**common, "prompt": prompt}
            if request.stop:  # the problem's stop sequences (code prompts for base models)
                extra = base.get("stop") or []
                extra = [extra] if isinstance(extra, str) else list(extra)
                base["stop"] = list(dict.fromkeys([*request.stop, *extra]))
            if sampling.seeded:
                for index, seed in zip(indices, request.seeds):
                    yield Job(request.key, (index,), {**base, "n": 1, "seed": seed})
                continue
            for start, length in consecutive_runs(request.seeds):
                yield Job(request.key, tuple(indices[start: start + length]),
                           {**base, "n": length, "seed": request.seeds[start]})

    def stream(self, requests: Sequence[GenerationRequest], sampling: SamplingSettings
               ) -> Iterator[tuple[str, int, Completion | RequestFailure]]:
        """Yield each sample as its response arrives (a `RequestFailure` for each sample of a
        request that failed on its own). Closing the generator early, or `close()`, cancels
        what is in flight (the server aborts those requests when their connections close);
        what was received and not yet yielded stays for `drain()`."""
        for request in requests:
            if len(request.seeds) != len(request.wanted(sampling.n)):
                raise EngineError(f"{request.key}: a request needs one seed per wanted sample")
        if not requests:
            return
        out: queue.Queue[Any] = queue.Queue()
        runner = Runner(Dispatcher(self._jobs(requests, sampling), self._urls,
                                     self._settings, out))
        self._received, self._runner = out, runner
        runner.start()
        try:
            while True:
                try:
                    item = out.get_nowait()
                except queue.Empty:  # let samples gather: one wake-up takes many (fewer
                    time.sleep(CONSUMER_POLL_S)  # switches between this thread and the loop's)
                    continue
                if item is DONE:
                    return
                if isinstance(item, EngineError):
                    raise item
                if isinstance(item, BaseException):
                    raise EngineError(f"--engine openai: {type(item).__name__}: {item}") from None
                yield item
        finally:
            self._stop_runner(runner)

    def _stop_runner(self, runner: Runner | None) -> None:
        if runner is not None:
            runner.stop()
            runner.join(timeout=30)

    def drain(self) -> Iterator[tuple[str, int, Completion | RequestFailure]]:
        """After an interrupted `stream` (the caller stopped iterating, e.g. on Ctrl-C or
        SIGTERM): cancel what is still in flight, then yield every sample that had been received
        but not yet yielded, so the caller can store it. Nothing when nothing is left."""
        self._stop_runner(self._runner)
        out, self._received = self._received, None
        while out is not None:
            try:
                item = out.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, tuple):
                yield item

    def close(self) -> None:
        """Cancel requests in flight; samples already received stay for `drain()`."""
        self._stop_runner(self._runner)
        self._tokenizer = None
