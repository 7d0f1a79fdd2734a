"""The suite's overhead over an OpenAI-compatible server: the same prompts, seeds and sampling
settings sent by (a) a plain asyncio client loop (httpx, the same concurrency, one request per
sample with the suite's per-sample seed) and (b) the whole suite (`pytest --engine openai`, a
subprocess: start, collection, sampling, grading, reports), with the store off and on.

    python perf/server_overhead.py                      # a server that answers at once (default)
    python perf/server_overhead.py --server vllm --sizes 20x4 --max-tokens 64 --concurrency 16

`--server instant` (default) starts perf/instant_server.py in its own process: it answers every
request at once, so the client side (the suite's own per-sample path: receiving, grading,
storing, tallying) is what is measured, as against a fast GPU fleet. `--server vllm` starts one
vLLM server on the embedded model. Per size (GSM8K problems x k, default 500x16, concurrency 32)
and repeat (interleaved: drift hits every side alike) it prints the plain client's seconds and
samples/s, and the suite's sampling phase (its own log line `capability-tests: N samples, T tokens
in S s`) with `--store=none` and with a fresh store, and their ratios to the plain client; then the
medians. The server's start is outside every figure. Problems: GSM8K from ../shared/benchmarks
(`--data-dir`), prompts rendered by `qwen-boxed`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SERVED = "perf-model"


def start_server(model: str, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "VLLM_CPU_OMP_THREADS_BIND": ",".join(
               str(c) for c in sorted(os.sched_getaffinity(0))),
           "VLLM_CPU_NUM_OF_RESERVED_CPU": "0", "VLLM_NO_USAGE_STATS": "1",
           "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen(
        [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
         "--host", "127.0.0.1", "--port", str(port), "--served-model-name", SERVED,
         "--dtype", "float32", "--enforce-eager", "--max-model-len", "2048",
         "--kv-cache-memory-bytes", str(2 << 30), "--max-num-batched-tokens", "65536",
         "--disable-log-stats", "--disable-uvicorn-access-log"],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return wait_serving(process, port, log, limit_s=600, poll_s=1.0)


def wait_serving(process: subprocess.Popen, port: int, log: Path, limit_s: float,
                 poll_s: float) -> subprocess.Popen:
    """`process` once its /v1/models answers; exits with the server's log if it dies first."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2):
                return process
        except OSError:
            time.sleep(poll_s)
    raise SystemExit("server did not start")


def plain_client(url: str, prompts: list[tuple[str, list[int]]], max_tokens: int,
                 concurrency: int, pool: int = 0) -> tuple[float, int]:
    """A direct asyncio loop: `concurrency` requests in flight, one per sample, through one
    httpx client with its default limits, or (`pool` > 0) clients of `pool` connections each,
    as the suite's openai engine uses."""
    import contextlib

    import httpx

    jobs = [(prompt, seed) for prompt, seeds in prompts for seed in seeds]

    async def run() -> int:
        tokens = 0
        queue = iter(jobs)
        async with contextlib.AsyncExitStack() as stack:
            size = pool or concurrency
            limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool) \
                if pool else httpx.Limits()
            clients = [await stack.enter_async_context(httpx.AsyncClient(timeout=3600,
                                                                         limits=limits))
                       for _ in range(0, concurrency, size)]

            async def worker(client) -> None:
                nonlocal tokens
                for prompt, seed in queue:
                    response = await client.post(url + "/completions", json={
                        "model": SERVED, "prompt": prompt, "max_tokens": max_tokens,
                        "temperature": 0.6, "top_p": 0.95, "n": 1, "seed": seed,
                        "stream": False})
                    response.raise_for_status()
                    tokens += response.json()["usage"]["completion_tokens"]
            await asyncio.gather(*(worker(clients[w // size]) for w in range(concurrency)))
        return tokens

    start = time.perf_counter()
    tokens = asyncio.run(run())
    return time.perf_counter() - start, tokens


def suite_run(url: str, data_dir: str, problems: int, k: int, max_tokens: int,
              concurrency: int, store: bool) -> tuple[float, float, int, int]:
    """The whole suite as a subprocess: (wall s, sampling-phase s, samples, tokens)."""
    with tempfile.TemporaryDirectory() as work:
        where = f"--store={work}/completions.sqlite" if store else "--store=none"
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "capability_tests.plugin", "--pyargs",
             "capability_tests.suite", "--engine=openai", f"--base-url={url}",
             f"--model={SERVED}", "--benchmarks=gsm8k", f"--data-dir={data_dir}",
             f"--limit={problems}", f"--k={k}", f"--max-tokens={max_tokens}",
             f"--concurrency={concurrency}", where, "--unsolved=xfail", "-q",
             f"--report-dir={work}/reports", "-p", "no:cacheprovider"],
            cwd=work, capture_output=True, text=True)
        wall = time.perf_counter() - start
    samples, tokens, seconds = sampling_phase(out, problems * k)
    return wall, seconds, samples, tokens


def sampling_phase(out: subprocess.CompletedProcess, expected: int) -> tuple[int, int, float]:
    """(samples, tokens, seconds) of a suite run's sampling phase, from its own log line; exits
    with the run's output when it failed or sampled other than `expected` samples."""
    text = out.stdout + out.stderr
    found = re.search(r"capability-tests: (\d+) samples, (\d+) tokens in ([\d.]+) s", text)
    if out.returncode not in (0, 1) or not found:
        raise SystemExit(f"suite run failed ({out.returncode}): {text[-3000:]}")
    if int(found.group(1)) != expected:
        raise SystemExit(f"suite sampled {found.group(1)} of {expected}: {text[-3000:]}")
    return int(found.group(1)), int(found.group(2)), float(found.group(3))


def start_instant(port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("instant_server.py")), "--port", str(port)],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    return wait_serving(process, port, log, limit_s=60, poll_s=0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=("instant", "vllm"), default="instant")
    parser.add_argument("--sizes", default="500x16", help="PROBLEMSxK, comma-separated")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--plain-pool", type=int, default=0,
                        help="the plain client's connections per httpx client (0: one client "
                             "with httpx's default limits; 4: as the suite's openai engine)")
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[1].parent
                                                  / "shared" / "benchmarks"))
    args = parser.parse_args()

    from capability_tests.benchmarks import load_problems
    from capability_tests.seeds import sample_seeds
    from capability_tests.templates import get_template

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    log = Path(tempfile.mkdtemp()) / "server.log"
    if args.server == "vllm":
        from capability_tests.models import prepare_model, resolve_model

        server = start_server(prepare_model(resolve_model(None), progress=False), port, log)
    else:
        server = start_instant(port, log)
    template = get_template("qwen-boxed")
    print(f"load average at start: {os.getloadavg()[0]:.1f}", flush=True)
    try:
        print("| size | run | plain s | plain samples/s | suite, no store s | suite, store s | "
              "no store / plain | store / plain |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for size in args.sizes.split(","):
            n, k = (int(x) for x in size.split("x"))
            problems = load_problems("gsm8k", Path(args.data_dir), n)
            prompts = [(template.render(p), list(sample_seeds(0, p.benchmark, p.problem_id,
                                                             range(k)))) for p in problems]
            rows = []
            for repeat in range(args.repeats):  # interleaved: drift hits every side alike
                plain, _ = plain_client(url, prompts, args.max_tokens, args.concurrency,
                                        args.plain_pool)
                _, bare, samples, _ = suite_run(url, args.data_dir, n, k, args.max_tokens,
                                                args.concurrency, store=False)
                _, stored, _, _ = suite_run(url, args.data_dir, n, k, args.max_tokens,
                                            args.concurrency, store=True)
                rows.append((plain, bare, stored))
                print(f"| {n} x k={k} | {repeat + 1} | {plain:.2f} | {samples / plain:.0f} | "
                      f"{bare:.2f} | {stored:.2f} | {bare / plain:.3f} | {stored / plain:.3f} |",
                      flush=True)
            med = [statistics.median(col) for col in zip(*rows)]
            ratios = [statistics.median(r[i] / r[0] for r in rows) for i in (1, 2)]
            print(f"| {n} x k={k} | median | {med[0]:.2f} | {n * k / med[0]:.0f} | {med[1]:.2f} "
                  f"({n * k / med[1]:.0f}/s) | {med[2]:.2f} ({n * k / med[2]:.0f}/s) | "
                  f"{ratios[0]:.3f} | {ratios[1]:.3f} |", flush=True)
        print(f"load average at end: {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


if __name__ == "__main__":
    main()
