"""The completions requests of one `stream` call, in flight: an asyncio dispatcher on its own
thread (`Runner`) with `concurrency` workers per URL, retries with per-URL back-off (and the
server's Retry-After), and the check of every 200 answer against the completions schema before
anything becomes a sample. The engine class (`openai_engine`) builds the jobs and reads the
queue this fills."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import email.utils
import json
import queue
import random
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from capability_tests.engines.base import Completion, EngineError, EngineSettings, RequestFailure
from capability_tests.engines.openai_server import (
    api_base,
    auth_headers,
    httpx_module,
    server_message,
)

CONNECT_TIMEOUT_S = 10.0
BACKOFF_BASE_S = 1.0  # first pause of a failing URL; doubles per consecutive failure
BACKOFF_CAP_S = 30.0
RETRY_FINISH_REASONS = frozenset({"abort", "error"})  # vLLM/SGLang dropped or failed it
# finish reasons a sample may end with; TGI's names are mapped to the OpenAI ones
FINISH_REASONS = {"stop": "stop", "length": "length", "content_filter": "content_filter",
                  "eos_token": "stop", "stop_sequence": "stop"}
RETRY_AFTER_CAP_S = 3600.0  # a Retry-After is honoured up to an hour
POOL_SIZE = 4  # connections per HTTP client (see Dispatcher.main; perf/http_pool_size.py)
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


@dataclass
class Job:
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


DONE = object()


class Dispatcher:
    """The asyncio side of one `stream` call, run on its own thread: `concurrency` workers per URL
    pull jobs from one lazy iterator (retried jobs first) and put finished samples, the
    `RequestFailure`s of requests that failed on their own, or the error that stops the run on
    `out`, a thread-safe queue the generator reads."""

    def __init__(self, jobs: Iterator[Job], urls: Sequence[str], settings: EngineSettings,
                 out: queue.Queue[Any]) -> None:
        self.jobs = jobs
        self.urls = [_Url(u) for u in urls]
        self.server = settings.server
        self.out = out
        self.retry: collections.deque[Job] = collections.deque()
        self.in_flight = 0
        self.finished = False
        self.exhausted_in_a_row = 0  # requests that ran out of retries since the last success
        # results waiting for the consumer; workers take no new job beyond this (back-pressure)
        self.backlog = 4 * self.server.concurrency * len(self.urls) + 64

    async def main(self) -> None:
        httpx = httpx_module()
        self.changed = asyncio.Condition()
        timeout = httpx.Timeout(self.server.request_timeout, connect=CONNECT_TIMEOUT_S)
        workers = [url for url in self.urls for _ in range(self.server.concurrency)]
        async with contextlib.AsyncExitStack() as stack:
            # httpcore scans every connection of a pool on each request (expiry checks, a
            # socket poll each): pools of POOL_SIZE connections keep that scan short
            tasks = []
            for start in range(0, len(workers), POOL_SIZE):
                group = workers[start:start + POOL_SIZE]
                limits = httpx.Limits(max_connections=len(group),
                                      max_keepalive_connections=len(group))
                client = await stack.enter_async_context(httpx.AsyncClient(
                    timeout=timeout, limits=limits, headers=auth_headers()))
                tasks += [asyncio.ensure_future(self.worker(client, url)) for url in group]
            try:
                await asyncio.gather(*tasks)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _next_job(self, url: _Url) -> Job | None:
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

    def _fail(self, job: Job, message: str) -> None:
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

    def _failed(self, url: _Url, job: Job, exc: RetryableError) -> None:
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

    async def _attempt(self, client, url: _Url, job: Job) -> list[tuple[str, int, Completion]]:
        httpx = httpx_module()
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

    def _samples(self, job: Job, response) -> list[tuple[str, int, Completion]]:
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
        bad = next((c for c in choices if not isinstance(c, dict)), DONE)
        if bad is not DONE:
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


class Runner(threading.Thread):
    """Runs one `Dispatcher` on its own event loop; `stop` cancels it from the consumer."""

    def __init__(self, dispatcher: Dispatcher) -> None:
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
            out.put(DONE)
        except asyncio.CancelledError:
            out.put(DONE)
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
