"""Peak memory of a whole run with the real vLLM engine, at several sizes of work.

Runs the suite (pytest, the plugin, the store, the grading pool) with `--engine vllm` on the
embedded model, with 1-token samples so the CPU reaches 100,000 requests, and samples the RSS of
the whole process tree (the pytest process, vLLM's engine core and worker, the grading
processes) every 0.25 s. Bounded submission (VLLMEngine.stream) should keep it flat; before it,
every request of a batch was added to vLLM before the first step.

    flock /tmp/engine.lock env CAPABILITY_TESTS_CACHE=... HF_HUB_OFFLINE=1 PYTHONPATH=. \\
        python perf/engine_memory.py --problems 10 --ks 100,1000,10000 --out /tmp/enginemem

`--source DIR` runs the capability_tests package found in DIR instead (e.g. an export of an
older commit, for the comparison). RSS summed over processes counts shared pages once per
process (the forked grading workers share most of theirs): an upper bound, and the same bound
at every size.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent


def tree_rss(root: psutil.Process) -> tuple[int, int, int]:
    """(pytest process RSS, RSS of all its descendants, number of descendants), in bytes."""
    own = root.memory_info().rss
    rest, count = 0, 0
    for child in root.children(recursive=True):
        try:
            rest += child.memory_info().rss
            count += 1
        except psutil.Error:
            pass
    return own, rest, count


def measure(cmd: list[str], env: dict, log: Path, interval: float = 0.25,
            stop_after: float | None = None) -> dict:
    start = time.perf_counter()
    with open(log, "w") as out:
        # SIGINT at its default (a background shell starts jobs with it ignored): --stop-after
        # stops the run with a Ctrl-C.
        # cwd: not the repository, whose folder `python -m` would put before PYTHONPATH
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    root = psutil.Process(proc.pid)
    peak = {"total": 0, "pytest": 0, "children": 0, "processes": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                own, rest, count = tree_rss(root)
            except psutil.Error:
                break
            peak["pytest"] = max(peak["pytest"], own)
            peak["children"] = max(peak["children"], rest)
            peak["total"] = max(peak["total"], own + rest)
            peak["processes"] = max(peak["processes"], count + 1)
            time.sleep(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        code = proc.wait(timeout=stop_after)
    except subprocess.TimeoutExpired:  # a truncated run: Ctrl-C, which stores what finished
        proc.send_signal(signal.SIGINT)
        code = f"stopped after {stop_after:.0f} s"
        proc.wait()
    done.set()
    sampler.join()
    return {"exit": code, "seconds": round(time.perf_counter() - start, 1),
            **{f"peak_{k}_mib" if k != "processes" else "processes":
               (round(v / 2**20) if k != "processes" else v) for k, v in peak.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=10, help="first N problems of the benchmark")
    parser.add_argument("--ks", default="100,1000,10000", help="samples per problem, one run each")
    parser.add_argument("--max-tokens", type=int, default=1)
    parser.add_argument("--benchmark", default="demo", help="demo: 10 packaged problems, short prompts")
    parser.add_argument("--data-dir", default=str(HERE.parents[1] / "shared" / "benchmarks"))
    parser.add_argument("--source", help="put this folder first on PYTHONPATH (another version)")
    parser.add_argument("--out", default="/tmp/enginemem")
    parser.add_argument("--stop-after", type=float, default=None, metavar="S",
                        help="stop each run with Ctrl-C after S seconds (the peak of a run too "
                        "large to finish here, e.g. the old unbounded submission at 100,000)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    source = Path(args.source).resolve() if args.source else HERE.parent
    env["PYTHONPATH"] = os.pathsep.join([str(source), env.get("PYTHONPATH", "")])
    rows = []
    for k in (int(x) for x in args.ks.split(",")):
        store = out / f"completions-{args.problems}x{k}.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(str(store) + suffix).unlink(missing_ok=True)
        cmd = [
            sys.executable, "-m", "pytest", "-p", "capability_tests.plugin", "--pyargs",
            "capability_tests.suite", "-q", "-p", "no:cacheprovider", "--engine=vllm",
            "--model=smollm2-135m", f"--data-dir={args.data_dir}",
            f"--benchmarks={args.benchmark}", f"--limit={args.problems}", f"--k={k}",
            f"--max-tokens={args.max_tokens}", f"--store={store}",
            f"--report-dir={out / 'reports'}", "--unsolved=xfail",
        ]
        row = {"problems": args.problems, "k": k, "requests": args.problems * k,
               **measure(cmd, env, out / f"run-{args.problems}x{k}.log",
                         stop_after=args.stop_after)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n| requests | problems x k | peak RSS, whole tree | pytest process | engine + "
          "grading processes | processes | wall |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['requests']:,} | {r['problems']} x {r['k']} | {r['peak_total_mib']:,} MiB | "
              f"{r['peak_pytest_mib']:,} MiB | {r['peak_children_mib']:,} MiB | "
              f"{r['processes']} | {r['seconds']} s |")


if __name__ == "__main__":
    main()
