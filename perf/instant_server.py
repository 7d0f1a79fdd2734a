"""An OpenAI-compatible completions server that answers at once: the stand-in for a fast GPU
fleet in perf/server_overhead.py. Raw asyncio (HTTP/1.1 keep-alive, Content-Length bodies), no
framework, so that the server costs as little CPU as possible and the client side is measured.

    python perf/instant_server.py --port 8123        # serves until killed

/v1/models (model `perf-model`), /version, and /v1/completions: n choices of a short GSM8K-like
answer ending in `\\boxed{N}` (N from the seed), `finish_reason` "stop", usage counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json

SERVED = "perf-model"
MODELS = json.dumps({"object": "list", "data": [
    {"id": SERVED, "object": "model", "owned_by": "instant", "root": "instant/model",
     "max_model_len": 4096}]}).encode()
VERSION = json.dumps({"version": "0.0.1"}).encode()
TEXT = (" Natalia sold 48 clips in April and half as many in May, so 48 / 2 = 24 clips in May. "
        "Altogether 48 + 24 = 72 clips. The answer is \\boxed{%d}.")


def completion(body: bytes) -> bytes:
    request = json.loads(body)
    n = int(request.get("n", 1))
    seed = int(request.get("seed") or 0)
    choices = [{"index": j, "text": TEXT % ((seed + j) % 100), "finish_reason": "stop",
                "logprobs": None} for j in range(n)]
    return json.dumps({"id": "cmpl", "object": "text_completion", "model": SERVED,
                       "choices": choices, "usage": {"prompt_tokens": 40,
                                                     "completion_tokens": 48 * n,
                                                     "total_tokens": 40 + 48 * n}}).encode()


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            method, path, _ = lines[0].split(b" ", 2)
            length = 0
            for line in lines[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
            status = b"200 OK"
            if path == b"/v1/completions" and method == b"POST":
                payload = completion(body)
            elif path == b"/v1/models":
                payload = MODELS
            elif path == b"/version":
                payload = VERSION
            else:
                status, payload = b"404 Not Found", b'{"detail": "Not Found"}'
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8123)
    args = parser.parse_args()
    try:
        import uvloop  # a faster event loop where installed; the asyncio one otherwise
        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
