"""The figure in docs/ANALYSES.md ("Perplexity under another model"): vLLM's prompt log-probabilities against the
transformers fallback on the same sequences (the embedded model, 4 short completions), and the
time of a scoring call after start.

    CAPABILITY_TESTS_CACHE=... HF_HUB_OFFLINE=1 python perf/perplexity_engines.py

Run one engine at a time (each is started, measured, closed); prints the log-probability sums.
"""

from __future__ import annotations

import time

from capability_tests.engines import EngineSettings, create_engine
from capability_tests.models import prepare_model, resolve_model

PROMPT = "<|im_start|>user\nWhat is 12 + 7?<|im_end|>\n<|im_start|>assistant\n"
COMPLETION = "12 + 7 = 19. So the answer is \\boxed{19}."


def measure(engine_name: str, path: str) -> list[float]:
    start = time.perf_counter()
    engine = create_engine(engine_name, EngineSettings(model=path, seed=0, engine_args={}))
    print(f"{engine_name}: start {time.perf_counter() - start:.1f} s")
    try:
        sequences = [engine.token_ids(PROMPT, COMPLETION + str(i)) for i in range(4)]
        for _ in range(3):
            start = time.perf_counter()
            sums = [sum(lp) for lp in engine.completion_logprobs(sequences)]
            print(f"{engine_name}: scored 4 sequences in {time.perf_counter() - start:.2f} s: "
                  f"{[round(s, 4) for s in sums]}")
        return sums
    finally:
        engine.close()


if __name__ == "__main__":
    model_path = prepare_model(resolve_model("smollm2-135m"), progress=False)
    vllm_sums = measure("vllm", model_path)
    hf_sums = measure("transformers", model_path)
    print("largest difference of a log-probability sum:",
          max(abs(a - b) for a, b in zip(vllm_sums, hf_sums)))
