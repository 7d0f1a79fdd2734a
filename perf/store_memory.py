"""Peak memory of the suite's process at large k, and the store's size and write throughput.

Runs the real suite (pytest, the plugin, the store, the grader) in a child process with the
synthetic engine (perf/synthetic_engine.py: ~64 KB of varied text per sample, generated
in-process and cheaply), on the first N problems of MATH-500, and reads the child's peak RSS.

    CAPABILITY_TESTS_CACHE=/tmp/ctcache PYTHONPATH=. python perf/store_memory.py \
        --problems 500 --k 128 --out /tmp/storebench

The engine runs inside the measured process here (a real vLLM engine runs in its own process);
what it holds at any time is one completion.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problems", type=int, default=500)
    parser.add_argument("--k", type=int, default=1024)
    parser.add_argument("--out", default="/tmp/storebench")
    parser.add_argument("--data-dir", default=str(HERE.parents[1] / "shared" / "benchmarks"))
    parser.add_argument("--rerun", action="store_true",
                        help="also time a second run that reads everything from the store, and "
                        "a third with --regrade (reads and grades every stored text again)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    store = out / f"completions-{args.problems}x{args.k}.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(str(store) + suffix).unlink(missing_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    cmd = [
        sys.executable, "-m", "pytest", "--pyargs", "capability_tests.suite", "-q",
        "-p", "no:cacheprovider", "--engine=synthetic_engine:SyntheticEngine",
        "--model=synthetic/model", f"--data-dir={args.data_dir}", "--benchmarks=math500",
        f"--limit={args.problems}", f"--k={args.k}", f"--store={store}",
        f"--report-dir={out / 'reports'}", "--unsolved=xfail", "--max-tokens=16384",
    ]
    figures = {"problems": args.problems, "k": args.k}
    phases = {"generate": [], "from_store": [], "regrade": ["--regrade"]}
    for name in phases if args.rerun else ("generate",):
        start = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        proc = subprocess.run(cmd + phases[name], env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if proc.returncode not in (0, 1):
            print(proc.stdout[-3000:], proc.stderr[-3000:])
            raise SystemExit(f"suite failed with {proc.returncode}")
        figures[name] = {"seconds": round(seconds, 1),
                         "peak_rss_mb": round(peak_kib / 1024, 1) if peak_kib > before else
                         "not above the previous run's peak"}
        print(proc.stdout.strip().splitlines()[-1])
    samples = args.problems * args.k
    size = sum(Path(str(store) + s).stat().st_size for s in ("", "-wal") if Path(str(store) + s).exists())
    text_mb = samples * (16 * 4097 + 30) / 1e6
    gen = figures["generate"]["seconds"]
    figures.update({
        "samples": samples,
        "text_mb": round(text_mb, 1),
        "store_mb": round(size / 1e6, 1),
        "end_to_end_samples_per_s": round(samples / gen, 1),
        "end_to_end_text_mb_per_s": round(text_mb / gen, 1),
    })
    figures["store_write"] = write_throughput(out)
    print(json.dumps(figures, indent=2))
    (out / f"figures-{args.problems}x{args.k}.json").write_text(json.dumps(figures, indent=2))


def write_throughput(out: Path, samples: int = 4096) -> dict:
    """The store alone: `CompletionStore.add` of 64-sample batches of ~64 KB varied texts."""
    sys.path.insert(0, str(HERE))
    from synthetic_engine import SyntheticEngine

    from capability_tests.engines import EngineSettings, GenerationRequest, SamplingSettings
    from capability_tests.seeds import SEED_POLICY
    from capability_tests.store import CompletionStore, GenerationKey, NewSample

    path = out / "write-throughput.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    engine = SyntheticEngine(EngineSettings("m", 0, {}))
    req = [GenerationRequest("p", "p", tuple(range(samples)), tuple(range(samples)))]
    texts = [c.text for _, _, c in engine.stream(req, SamplingSettings(samples, 0.6, 0.95, 1, 0, True))]
    store = CompletionStore(path)
    gen = store.generation_id(GenerationKey("m", "e", None, "{}", "seeded", 0.6, 0.95, 1, 0, SEED_POLICY))
    start = time.perf_counter()
    for b in range(0, samples, 64):
        store.add(gen, [NewSample("p", "x/y", i, i, texts[i], 16384, "length")
                        for i in range(b, b + 64)])
    seconds = time.perf_counter() - start
    store.close()
    mb = sum(len(t) for t in texts) / 1e6
    return {"samples": samples, "seconds": round(seconds, 2),
            "samples_per_s": round(samples / seconds, 1), "text_mb_per_s": round(mb / seconds, 1),
            "compression": round(mb * 1e6 / path.stat().st_size, 2)}


if __name__ == "__main__":
    main()
