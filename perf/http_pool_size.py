"""Client CPU per request against the instant server by httpx connection-pool size: why the
openai engine's workers share clients of `POOL_SIZE` connections instead of one pool.

    python perf/http_pool_size.py [--requests 4000] [--concurrency 32] [--sizes 32,8,4,2,1]

httpcore scans every connection of a pool on each request (expiry checks that poll each
socket), so one pool of 32 costs about twice the CPU per request of pools of 4. Per repeat and
pool size (interleaved) it prints the wall time and this process's CPU seconds; CPU is the
figure that load on a shared machine disturbs least.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_overhead import start_instant  # noqa: E402


def run(url: str, pool: int, requests: int, concurrency: int) -> tuple[float, float]:
    import httpx

    async def main() -> None:
        jobs = iter(range(requests))
        async with contextlib.AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(httpx.AsyncClient(
                timeout=3600, limits=httpx.Limits(max_connections=pool,
                                                  max_keepalive_connections=pool)))
                       for _ in range(0, concurrency, pool)]

            async def worker(client) -> None:
                for seed in jobs:
                    response = await client.post(url + "/completions", json={
                        "model": "perf-model", "prompt": "Question: " + "x" * 300,
                        "max_tokens": 64, "n": 1, "seed": seed})
                    response.raise_for_status()
                    response.json()

            await asyncio.gather(*(worker(clients[w // pool]) for w in range(concurrency)))

    wall, cpu = time.perf_counter(), time.process_time()
    asyncio.run(main())
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--sizes", default="32,8,4,2,1")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = Path(f"/tmp/http_pool_size_{port}.log")
    server = start_instant(port, log)
    cpu: dict[int, list[float]] = {size: [] for size in sizes}
    try:
        print("| pool size | repeat | wall s | client CPU s | CPU us per request |")
        print("|---:|---:|---:|---:|---:|")
        for repeat in range(1, args.repeats + 1):
            for size in sizes:
                wall, used = run(f"http://127.0.0.1:{port}/v1", size, args.requests,
                                 args.concurrency)
                cpu[size].append(used)
                print(f"| {size} | {repeat} | {wall:.2f} | {used:.2f} | "
                      f"{1e6 * used / args.requests:.0f} |", flush=True)
        for size in sizes:
            print(f"| {size} | median | | {statistics.median(cpu[size]):.2f} | "
                  f"{1e6 * statistics.median(cpu[size]) / args.requests:.0f} |")
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(5)


if __name__ == "__main__":
    main()
