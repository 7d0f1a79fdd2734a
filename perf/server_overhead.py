"""The suite's overhead over an OpenAI-compatible server: the same prompts, seeds and sampling
settings sent by (a) the whole suite (`pytest --engine openai`, a subprocess: start, collection,
sampling, grading, reports) and (b) a plain asyncio client loop (httpx, the same concurrency, one
request per sample with the suite's per-sample seed), against one vLLM server started once.

    python perf/server_overhead.py --sizes 20x4,60x4 --max-tokens 64 --concurrency 16 --repeats 2

Prints one row per run and the ratio suite/plain per size, twice: the suite's whole wall time
(pytest start to exit), and its sampling phase alone (from its own log line
`capability-tests: N samples, T tokens in S s`). The server's start is excluded from both sides.
Problems: GSM8K from ../shared/benchmarks (`--data-dir`), prompts rendered by `qwen-boxed`.
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
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2):
                return process
        except OSError:
            time.sleep(1)
    raise SystemExit("server did not start")


def plain_client(url: str, prompts: list[tuple[str, list[int]]], max_tokens: int,
                 concurrency: int) -> tuple[float, int]:
    """A direct asyncio loop: `concurrency` requests in flight, one per sample."""
    import httpx

    jobs = [(prompt, seed) for prompt, seeds in prompts for seed in seeds]

    async def run() -> int:
        tokens = 0
        queue = iter(jobs)
        async with httpx.AsyncClient(timeout=3600) as client:
            async def worker() -> None:
                nonlocal tokens
                for prompt, seed in queue:
                    response = await client.post(url + "/completions", json={
                        "model": SERVED, "prompt": prompt, "max_tokens": max_tokens,
                        "temperature": 0.6, "top_p": 0.95, "n": 1, "seed": seed,
                        "stream": False})
                    response.raise_for_status()
                    tokens += response.json()["usage"]["completion_tokens"]
            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return tokens

    start = time.perf_counter()
    tokens = asyncio.run(run())
    return time.perf_counter() - start, tokens


def suite_run(url: str, data_dir: str, problems: int, k: int, max_tokens: int,
              concurrency: int) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as work:
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "capability_tests.plugin", "--pyargs",
             "capability_tests.suite", "--engine=openai", f"--base-url={url}",
             f"--model={SERVED}", "--benchmarks=gsm8k", f"--data-dir={data_dir}",
             f"--limit={problems}", f"--k={k}", f"--max-tokens={max_tokens}",
             f"--concurrency={concurrency}", "--store=none", "--unsolved=xfail", "-q",
             "-p", "no:cacheprovider"], cwd=work, capture_output=True, text=True)
        wall = time.perf_counter() - start
    text = out.stdout + out.stderr
    found = re.search(r"capability-tests: (\d+) samples, (\d+) tokens in ([\d.]+) s", text)
    if out.returncode != 0 or not found:
        raise SystemExit(f"suite run failed ({out.returncode}): {text[-3000:]}")
    return wall, float(found.group(3)), int(found.group(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20x4,60x4", help="PROBLEMSxK, comma-separated")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[1].parent
                                                  / "shared" / "benchmarks"))
    args = parser.parse_args()

    from capability_tests.benchmarks import load_problems
    from capability_tests.models import prepare_model, resolve_model
    from capability_tests.seeds import sample_seeds
    from capability_tests.templates import get_template

    folder = prepare_model(resolve_model(None), progress=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    log = Path(tempfile.mkdtemp()) / "server.log"
    server = start_server(folder, port, log)
    template = get_template("qwen-boxed")
    try:
        print("| size | run | suite wall s | suite sampling s | plain client s | "
              "wall / plain | sampling / plain |")
        print("|---|---|---|---|---|---|---|")
        for size in args.sizes.split(","):
            n, k = (int(x) for x in size.split("x"))
            problems = load_problems("gsm8k", Path(args.data_dir), n)
            prompts = [(template.render(p), list(sample_seeds(0, p.benchmark, p.problem_id,
                                                             range(k)))) for p in problems]
            ratios_wall, ratios_sampling = [], []
            for repeat in range(args.repeats):  # interleaved: drift hits both sides alike
                wall, sampling, tokens = suite_run(url, args.data_dir, n, k, args.max_tokens,
                                                   args.concurrency)
                plain, plain_tokens = plain_client(url, prompts, args.max_tokens,
                                                   args.concurrency)
                ratios_wall.append(wall / plain)
                ratios_sampling.append(sampling / plain)
                print(f"| {n} x k={k} | {repeat + 1} | {wall:.1f} | {sampling:.1f} | "
                      f"{plain:.1f} | {wall / plain:.3f} | {sampling / plain:.3f} |  "
                      f"tokens {tokens} / {plain_tokens}", flush=True)
            print(f"| {n} x k={k} | median | | | | {statistics.median(ratios_wall):.3f} | "
                  f"{statistics.median(ratios_sampling):.3f} |", flush=True)
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


if __name__ == "__main__":
    main()
