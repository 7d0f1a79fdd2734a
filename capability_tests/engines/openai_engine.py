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
"""

from __future__ import annotations

import asyncio
import collections
import email.utils
import hashlib
import ipaddress
import json
import os
import queue
import random
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence
from urllib.parse import urlsplit

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
from capability_tests.engines.prompt_tokens import PROMPT_TOKENS, over_long, prompt_token_ids
from capability_tests.seeds import consecutive_runs

API_KEY_ENVS = ("CAPABILITY_TESTS_API_KEY", "OPENAI_API_KEY")
CONNECT_TIMEOUT_S = 10.0
DESCRIBE_TIMEOUT_S = 10.0  # /v1/models and /version
BACKOFF_BASE_S = 1.0  # first pause of a failing URL; doubles per consecutive failure
BACKOFF_CAP_S = 30.0
LOCAL_ARGS = frozenset({"tokenizer"})  # --engine-arg keys read here, never sent to the server
# Fields the suite sets itself; an --engine-arg may not override them.
OWN_FIELDS = frozenset({"model", "prompt", "n", "seed", "temperature", "top_p", "max_tokens",
                        "stream"})
RETRY_FINISH_REASONS = frozenset({"abort", "error"})  # vLLM/SGLang dropped or failed it
# finish reasons a sample may end with; TGI's names are mapped to the OpenAI ones
FINISH_REASONS = {"stop": "stop", "length": "length", "content_filter": "content_filter",
                  "eos_token": "stop", "stop_sequence": "stop"}
RETRY_AFTER_CAP_S = 3600.0  # a Retry-After is honoured up to an hour
CONSUMER_POLL_S = 0.005  # the consumer's pause when no sample is waiting
GIVE_UP_AFTER = 3  # requests in a row that ran out of retries with no success between: stop
# A 4xx that concerns one request's prompt, not the run (vLLM, SGLang, TGI, OpenAI wordings).
PROMPT_TOO_LONG = re.compile(
    r"context length|context_length_exceeded|maximum model length|longer than the model|"
    r"max_new_tokens. must be <=|too many tokens|prompt is too long", re.IGNORECASE)


class RetryableError(Exception):
    """A failure worth another attempt (timeout, connection, 429, 5xx, aborted by the server, a
    200 whose choices break the schema)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RequestRefused(Exception):
    """The server refused this request for a reason of its own (its prompt is too long): not
    retried; its samples become `RequestFailure`s and the other requests go on."""


def retry_after_seconds(value: str | None) -> float | None:
    """A `Retry-After` header in seconds: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def api_base(url: str) -> str:
    """`http://host:8000` or `http://host:8000/v1` -> `http://host:8000/v1`."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else url + "/v1"


def server_root(url: str) -> str:
    return api_base(url)[: -len("/v1")]


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_key() -> str | None:
    for name in API_KEY_ENVS:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def _headers() -> dict[str, str]:
    key = api_key()
    return {"Authorization": f"Bearer {key}"} if key else {}


def _httpx():
    try:
        import httpx
    except ImportError as exc:  # a declared dependency; say how to get it anyway
        raise EngineError(f"--engine openai needs httpx (pip install httpx): {exc}") from exc
    return httpx


def server_message(response) -> str:
    """The server's own error text (OpenAI error JSON, FastAPI `detail`, or the body), short."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error is not None:
            return str(error)[:500]
    return json.dumps(data)[:500]


# -- what the servers say they serve ---------------------------------------------------------------


@dataclass(frozen=True)
class ServedModel:
    """What the servers report about the model they serve (all URLs must agree)."""

    id: str
    root: str | None
    max_model_len: int | None
    server: str | None  # "vllm 0.32.0": owned_by and /version (or TGI's /info)
    model_sha: str | None = None  # TGI's /info reports the Hub commit it loaded

    def facts(self) -> dict[str, Any]:
        return {"id": self.id, "root": self.root, "max_model_len": self.max_model_len,
                "server": self.server, "model_sha": self.model_sha}


_DESCRIBED: dict[tuple[tuple[str, ...], str], ServedModel] = {}
_DESCRIBE_LOCK = threading.Lock()


def _get_json(client, url: str) -> Any:
    response = client.get(url)
    if response.status_code >= 400:
        raise EngineError(f"{url}: HTTP {response.status_code}: {server_message(response)}")
    return response.json()


def _describe_one(client, url: str, model: str) -> ServedModel:
    httpx = _httpx()
    try:
        listing = _get_json(client, api_base(url) + "/models")
    except httpx.HTTPError as exc:
        raise EngineError(f"--base-url {url}: no OpenAI-compatible server answers "
                          f"({type(exc).__name__}: {exc})") from None
    except ValueError:
        raise EngineError(f"--base-url {url}: {api_base(url)}/models did not return JSON") from None
    entries = [e for e in (listing.get("data") if isinstance(listing, dict) else None) or []
               if isinstance(e, dict) and e.get("id")]
    ids = [str(e["id"]) for e in entries]
    if model:
        chosen = next((e for e in entries if str(e["id"]) == model), None)
        if chosen is None:
            raise EngineError(f"--model {model!r}: the server at {url} serves {ids or 'no model'}; "
                              "pass one of these names (vLLM: --served-model-name)")
    elif len(entries) == 1:
        chosen = entries[0]
    else:
        raise EngineError(f"--engine openai: the server at {url} serves {ids or 'no model'}; name "
                          "the one to test with --model")
    version = sha = None
    owner = chosen.get("owned_by")
    for path, field in (("/version", "version"), ("/info", "version")):
        try:
            data = _get_json(client, server_root(url) + path)
        except (httpx.HTTPError, EngineError, ValueError):
            continue
        if isinstance(data, dict) and data.get(field):
            version = str(data[field])
            sha = data.get("model_sha") if isinstance(data.get("model_sha"), str) else None
            break
    server = " ".join(str(x) for x in (owner, version) if x) or None
    max_len = chosen.get("max_model_len")
    return ServedModel(str(chosen["id"]), str(chosen["root"]) if chosen.get("root") else None,
                       int(max_len) if isinstance(max_len, int) else None, server, sha)


def describe_servers(urls: Sequence[str], model: str) -> ServedModel:
    """Ask every URL what it serves (`/v1/models`, `/version` or `/info`), once per process; all
    must serve the same model under the same name, or samples from two models would mix."""
    if not urls:
        raise EngineError("--engine openai needs --base-url URL (repeatable): the address of an "
                          "OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    cache_key = (tuple(urls), model)
    with _DESCRIBE_LOCK:
        if cache_key in _DESCRIBED:
            return _DESCRIBED[cache_key]
        httpx = _httpx()
        with httpx.Client(timeout=DESCRIBE_TIMEOUT_S, headers=_headers()) as client:
            described = [(url, _describe_one(client, url, model)) for url in urls]
        first_url, first = described[0]
        for url, other in described[1:]:
            if other.facts() != first.facts():
                raise EngineError(
                    f"--base-url: {first_url} and {url} do not serve the same model: "
                    f"{first.facts()} against {other.facts()}")
        _DESCRIBED[cache_key] = first
        return first


def served_model_identity(served: ServedModel, urls: Sequence[str]):
    """The store key's model fingerprint for a served model (`fingerprints.ModelIdentity`).

    - The server loaded a local folder that this process can read, and every URL is on this
      machine (loopback): the folder's whole-content hash, as for `--model=FOLDER` (pinned).
    - The server reports the Hub commit it loaded (TGI's /info `model_sha`): that commit (pinned).
    - Otherwise only names are known (served id, root, max_model_len, server version): the
      fingerprint hashes them and is *unpinned*: new weights behind the same names and version
      would share stored samples. The warning says so.
    """
    from capability_tests.fingerprints import ModelIdentity, folder_fingerprint

    facts = served.facts()
    root = Path(served.root) if served.root else None
    if root is not None and all(is_loopback(u) for u in urls) and root.is_dir():
        digest = folder_fingerprint(root)[:32]
        return ModelIdentity(served.id, "served", f"served:{served.id}:local:{root.name}:{digest}")
    if served.model_sha:
        return ModelIdentity(served.id, "served",
                             f"served:{served.id}:hub:{served.root}@{served.model_sha}",
                             served.model_sha, True)
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]
    return ModelIdentity(
        served.id, "served", f"served:{served.id}:{served.root}:{digest}:unpinned", None, False,
        warning=(
            f"capability-tests: --engine openai: the server reports model {served.id!r} (root "
            f"{served.root!r}, {served.server or 'unknown server'}) but nothing that pins its "
            "weights; its samples are stored and reported as unpinned: other weights served "
            "under the same names would reuse them (use another --store, or --fresh)."),
    )


def tokenizer_source(settings: EngineSettings, served: ServedModel) -> str | None:
    """Where this process reads the model's chat template: `--engine-arg tokenizer=PATH|HUB_ID`,
    else the folder the server loaded when it is on this machine."""
    given = settings.engine_args.get("tokenizer")
    if given:
        return str(given)
    urls = settings.server.base_urls
    if served.root and all(is_loopback(u) for u in urls) and Path(served.root).is_dir():
        return served.root
    return None


# -- the engine ------------------------------------------------------------------------------------


def request_fields(engine_args: Mapping[str, Any]) -> dict[str, Any]:
    """The --engine-arg values sent in every request body (e.g. `stop`, `top_k`), all in the store
    key; `tokenizer` stays here."""
    clash = sorted(OWN_FIELDS & set(engine_args))
    if clash:
        raise EngineError(f"--engine-arg {clash[0]}: the suite sets this field itself; use the "
                          "option for it (--k, --temperature, --top-p, --max-tokens, --seed, "
                          "--model)")
    return {k: v for k, v in sorted(engine_args.items()) if k not in LOCAL_ARGS}


@dataclass
class _Job:
    key: str
    indices: tuple[int, ...]
    body: dict[str, Any]
    attempts: int = 0
    refused: str | None = None  # found unsendable before sending (the prompt is too long)


class _Url:
    """One server: its endpoint and its backoff (consecutive failures, paused until)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.completions = api_base(url) + "/completions"
        self.failures = 0
        self.paused_until = 0.0


_DONE = object()


class _Dispatcher:
    """The asyncio side of one `stream` call, run on its own thread: `concurrency` workers per URL
    pull jobs from one lazy iterator (retried jobs first) and put finished samples, the
    `RequestFailure`s of requests that failed on their own, or the error that stops the run on
    `out`, a thread-safe queue the generator reads."""

    def __init__(self, jobs: Iterator[_Job], urls: Sequence[str], settings: EngineSettings,
                 out: queue.Queue[Any]) -> None:
        self.jobs = jobs
        self.urls = [_Url(u) for u in urls]
        self.server = settings.server
        self.out = out
        self.retry: collections.deque[_Job] = collections.deque()
        self.in_flight = 0
        self.finished = False
        self.exhausted_in_a_row = 0  # requests that ran out of retries since the last success
        # results waiting for the consumer; workers take no new job beyond this (back-pressure)
        self.backlog = 4 * self.server.concurrency * len(self.urls) + 64

    async def main(self) -> None:
        httpx = _httpx()
        self.changed = asyncio.Condition()
        slots = self.server.concurrency * len(self.urls)
        timeout = httpx.Timeout(self.server.request_timeout, connect=CONNECT_TIMEOUT_S)
        limits = httpx.Limits(max_connections=slots, max_keepalive_connections=slots)
        async with httpx.AsyncClient(timeout=timeout, limits=limits, headers=_headers()) as client:
            tasks = [asyncio.ensure_future(self.worker(client, url))
                     for url in self.urls for _ in range(self.server.concurrency)]
            try:
                await asyncio.gather(*tasks)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _next_job(self, url: _Url) -> _Job | None:
        loop = asyncio.get_running_loop()
        while True:
            if self.finished:
                return None
            pause = url.paused_until - loop.time()
            if pause > 0:  # re-read after the sleep: a Retry-After may have lengthened it
                await asyncio.sleep(pause)
                continue
            if self.out.qsize() > self.backlog:
                await asyncio.sleep(0.02)
                continue
            if self.retry:
                return self.retry.popleft()
            job = next(self.jobs, None)
            if job is not None and job.refused is not None:
                self._fail(job, job.refused)
                continue
            if job is not None:
                return job
            if self.in_flight == 0:
                self.finished = True
                await self._notify()
                return None
            async with self.changed:  # wait for a job to finish or come back for a retry
                await self.changed.wait()

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    def _fail(self, job: _Job, message: str) -> None:
        for index in job.indices:
            self.out.put((job.key, index, RequestFailure(message)))

    async def worker(self, client, url: _Url) -> None:
        while True:
            job = await self._next_job(url)
            if job is None:
                return
            self.in_flight += 1
            try:
                samples = await self._attempt(client, url, job)
            except RetryableError as exc:
                self._failed(url, job, exc)
            except RequestRefused as exc:
                self._fail(job, str(exc))
            else:
                url.failures = 0
                self.exhausted_in_a_row = 0
                for sample in samples:
                    self.out.put(sample)
            finally:
                self.in_flight -= 1
                await self._notify()

    def _failed(self, url: _Url, job: _Job, exc: RetryableError) -> None:
        """Back off this URL (exponential in its consecutive failures, half of it jittered; a
        server's Retry-After when later, also when it arrives during a pause already running)
        and put the job back for any URL, or give up on it (its samples fail; the run stops
        once `GIVE_UP_AFTER` requests in a row have given up: the servers are down)."""
        job.attempts += 1
        now = asyncio.get_running_loop().time()
        if now >= url.paused_until:  # one step per pause, not one per request in flight
            url.failures += 1
            step = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (url.failures - 1))
            url.paused_until = now + step / 2 + random.uniform(0, step / 2)
        if exc.retry_after is not None:
            url.paused_until = max(url.paused_until,
                                   now + min(exc.retry_after, RETRY_AFTER_CAP_S))
        if job.attempts <= self.server.retries:
            self.retry.append(job)
            return
        message = (f"--engine openai: {job.key} failed {job.attempts} times (--retries "
                   f"{self.server.retries}); last at {url.completions}: {exc}")
        self.exhausted_in_a_row += 1
        if self.exhausted_in_a_row >= GIVE_UP_AFTER:
            raise EngineError(f"{message}. {self.exhausted_in_a_row} requests in a row ran out "
                              "of retries: the servers cannot go on. The samples that finished "
                              "are stored: rerun to generate the rest")
        self._fail(job, message)

    async def _attempt(self, client, url: _Url, job: _Job) -> list[tuple[str, int, Completion]]:
        httpx = _httpx()
        try:
            response = await client.post(url.completions, json=job.body)
        except httpx.TimeoutException as exc:
            raise RetryableError(f"timeout ({type(exc).__name__}, --request-timeout "
                                 f"{self.server.request_timeout:g} s)") from None
        except httpx.TransportError as exc:
            raise RetryableError(f"{type(exc).__name__}: {exc}") from None
        status = response.status_code
        retry_after = retry_after_seconds(response.headers.get("retry-after"))
        if status == 429 or status >= 500:
            raise RetryableError(f"HTTP {status}: {server_message(response)}", retry_after)
        if status >= 400:
            message = server_message(response)
            if status == 413 or PROMPT_TOO_LONG.search(message):
                raise RequestRefused(f"--engine openai: {url.completions} refused {job.key} with "
                                     f"HTTP {status}: {message}")
            raise EngineError(f"--engine openai: {url.completions} refused {job.key} with HTTP "
                              f"{status}: {message}")
        try:
            return self._samples(job, response)
        except RetryableError as exc:
            raise RetryableError(f"{url.completions} answered HTTP {status} for {job.key} "
                                 f"against the completions schema: {exc}", retry_after) from None

    def _samples(self, job: _Job, response) -> list[tuple[str, int, Completion]]:
        """The samples of a 200 answer, after checking it against the completions schema: as
        many choices as asked for, each an object with a distinct index in 0..n-1 (all given, or
        none: then in order), a string `text` and a known `finish_reason`. Anything else is a
        server fault (retried), never a stored sample."""
        try:
            data = response.json()
        except ValueError:
            raise RetryableError(f"not JSON: {response.text[:200]!r}") from None
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list):
            raise RetryableError(f"no list of choices: {response.text[:200]!r}")
        n = len(job.indices)
        if len(choices) != n:
            raise RetryableError(f"{len(choices)} choices for n={n}")
        bad = next((c for c in choices if not isinstance(c, dict)), _DONE)
        if bad is not _DONE:
            raise RetryableError(f"a choice is not an object: {json.dumps(bad)[:100]}")
        positions = [c.get("index") for c in choices]
        if any(p is not None for p in positions):
            if any(type(p) is not int or not 0 <= p < n for p in positions) or \
                    len(set(positions)) != n:
                raise RetryableError(f"choice indices {positions[:8]} are not 0..{n - 1} once each")
            choices = sorted(choices, key=lambda c: c["index"])
        for choice in choices:
            if not isinstance(choice.get("text"), str):
                raise RetryableError(f"a choice's text is {json.dumps(choice.get('text'))[:60]}, "
                                     "not a string")
        reasons = [choice.get("finish_reason") for choice in choices]
        aborted = [r for r in reasons if r in RETRY_FINISH_REASONS]
        if aborted:  # a partial text is no sample
            raise RetryableError(f"the server ended it with finish_reason {aborted[0]!r}")
        unknown = [r for r in reasons if r not in FINISH_REASONS]
        if unknown:
            raise RetryableError(f"unknown finish_reason {json.dumps(unknown[0])[:60]}")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        total = usage.get("completion_tokens") if isinstance(usage.get("completion_tokens"),
                                                             int) else 0
        out = []
        for position, (index, reason, choice) in enumerate(zip(job.indices, reasons, choices)):
            ids = choice.get("token_ids")
            if isinstance(ids, list):
                tokens = len(ids)
            else:  # usage counts the request; n > 1 shares it out (exact per problem in total)
                share, extra = divmod(total, n)
                tokens = share + (1 if position < extra else 0)
            out.append((job.key, index, Completion(text=choice["text"], tokens=tokens,
                                                   finish_reason=FINISH_REASONS[reason])))
        return out


class _Runner(threading.Thread):
    """Runs one `_Dispatcher` on its own event loop; `stop` cancels it from the consumer."""

    def __init__(self, dispatcher: _Dispatcher) -> None:
        super().__init__(name="capability-tests-openai", daemon=True)
        self.dispatcher = dispatcher
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Future | None = None

    def run(self) -> None:
        out = self.dispatcher.out
        loop = self.loop = asyncio.new_event_loop()
        try:
            self.task = loop.create_task(self.dispatcher.main())
            self.ready.set()
            loop.run_until_complete(self.task)
            out.put(_DONE)
        except asyncio.CancelledError:
            out.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            out.put(exc)
        finally:
            self.ready.set()
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def stop(self) -> None:
        self.ready.wait()
        loop, task = self.loop, self.task
        if loop is not None and task is not None and not task.done():
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop closed meanwhile: nothing left to cancel
                pass


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
        self._runner: _Runner | None = None

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
              sampling: SamplingSettings) -> Iterator[_Job]:
        common = {"model": self._served.id, "max_tokens": sampling.max_tokens,
                  "temperature": sampling.temperature, "top_p": sampling.top_p,
                  "stream": False, **self._fields}
        for request in requests:
            indices = request.wanted(sampling.n)
            prompt, refused = self._prompt(request.prompt)
            if refused is not None:
                yield _Job(request.key, tuple(indices), {}, refused=(
                    f"--engine openai: {request.key}: {refused}"))
                continue
            base = {**common, "prompt": prompt}
            if request.stop:  # the problem's stop sequences (code prompts for base models)
                extra = base.get("stop") or []
                extra = [extra] if isinstance(extra, str) else list(extra)
                base["stop"] = list(dict.fromkeys([*request.stop, *extra]))
            if sampling.seeded:
                for index, seed in zip(indices, request.seeds):
                    yield _Job(request.key, (index,), {**base, "n": 1, "seed": seed})
                continue
            for start, length in consecutive_runs(request.seeds):
                yield _Job(request.key, tuple(indices[start: start + length]),
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
        runner = _Runner(_Dispatcher(self._jobs(requests, sampling), self._urls,
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
                if item is _DONE:
                    return
                if isinstance(item, EngineError):
                    raise item
                if isinstance(item, BaseException):
                    raise EngineError(f"--engine openai: {type(item).__name__}: {item}") from None
                yield item
        finally:
            self._stop_runner(runner)

    def _stop_runner(self, runner: _Runner | None) -> None:
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
