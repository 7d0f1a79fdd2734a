"""A scripted OpenAI-compatible server (stdlib `http.server` on a thread) for the server engine's
tests: it answers /v1/models, /version and /v1/completions, records every completions request
(body and headers) and how many were in flight at once, and fails on demand.

`script(body, attempt)` decides each completions answer: return None for a normal answer, or
(status, payload) to fail, or ("sleep", seconds) to answer late (a timeout for a short client
timeout), or a raw 200 payload as (200, payload) to answer malformed choices. `attempt` counts
the requests seen so far for the same (prompt, seed); a prompt sent as token ids counts as the
tuple of its ids. `/v1/models` reports `max_model_len`.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


class FakeOpenAIServer:
    def __init__(self, model: str = "served-model", root: str | None = "org/model",
                 version: str | None = "0.0.1", delay: float = 0.0,
                 script: Callable[[dict, int], Any] | None = None,
                 max_model_len: int = 2048) -> None:
        self.model, self.root, self.version, self.delay = model, root, version, delay
        self.max_model_len = max_model_len
        self.script = script
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.attempts: dict[tuple, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, payload: Any, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self):
                if self.path == "/v1/models":
                    self._send(200, {"object": "list", "data": [
                        {"id": server.model, "object": "model", "owned_by": "fake",
                         "root": server.root, "max_model_len": server.max_model_len}]})
                elif self.path == "/version" and server.version:
                    self._send(200, {"version": server.version})
                else:
                    self._send(404, {"detail": "Not Found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                if self.path != "/v1/completions":
                    self._send(404, {"detail": "Not Found"})
                    return
                with server.lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    prompt = body.get("prompt")
                    ident = (tuple(prompt) if isinstance(prompt, list) else prompt,
                             body.get("seed"))
                    attempt = server.attempts[ident] = server.attempts.get(ident, 0) + 1
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    action = server.script(body, attempt) if server.script else None
                    if server.delay:
                        time.sleep(server.delay)
                    if action is not None and action[0] == "sleep":
                        time.sleep(action[1])
                        action = None
                    if action is not None:
                        status, payload = action[0], action[1]
                        headers = action[2] if len(action) > 2 else None
                        self._send(status, payload, headers)
                        return
                    n = int(body.get("n", 1))
                    choices = [{"index": j, "text": f"{str(body['prompt'])[:12]}|seed={body.get('seed')}"
                                f"|j={j} \\boxed{{4}}", "finish_reason": "length", "logprobs": None}
                               for j in range(n)]
                    self._send(200, {"id": "cmpl-1", "object": "text_completion",
                                     "model": body.get("model"), "choices": choices,
                                     "usage": {"prompt_tokens": 5, "completion_tokens": 7 * n,
                                               "total_tokens": 5 + 7 * n}})
                finally:
                    with server.lock:
                        server.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> "FakeOpenAIServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

