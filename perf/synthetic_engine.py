"""A synthetic engine for the memory benchmark: ~16k-token completions (~64 KB of varied text
each), made cheaply by joining pre-generated 4 KB blocks picked per (prompt, sample index).

Use: --engine=synthetic_engine:SyntheticEngine with this folder on PYTHONPATH.
Environment: SYNTHETIC_BLOCKS (blocks per completion, default 16 -> ~64 KB).
"""

from __future__ import annotations

import os
import random
from typing import Iterator, Mapping, Sequence

from capability_tests.engines import (
    Completion,
    EngineCapabilities,
    EngineSettings,
    GenerationRequest,
    LocalEngine,
    SamplingSettings,
)

_WORDS = ("the of and to in is that for it as with was on be by this are which from or an "
          "have not at but we their sum let number therefore so then since equation value "
          "triangle prime integer solve answer because x y z n k 0 1 2 3 4 5 6 7 8 9 + - = "
          "\\frac{1}{2} \\sqrt{3} ( ) , .").split()


class SyntheticEngine(LocalEngine):
    name = "synthetic"
    capabilities = EngineCapabilities(seeded_sampling=True, batched_seeds=False)

    def __init__(self, settings: EngineSettings) -> None:
        rng = random.Random(1234)
        self.blocks = []
        for _ in range(256):
            words, size = [], 0
            while size < 4096:
                w = rng.choice(_WORDS)
                words.append(w)
                size += len(w) + 1
            self.blocks.append(" ".join(words)[:4096])
        self.per = int(os.environ.get("SYNTHETIC_BLOCKS", "16"))

    def chat_prompt(self, messages: Sequence[Mapping[str, str]]) -> str:
        return "".join(m["content"] for m in messages)

    def stream(
        self, requests: Sequence[GenerationRequest], sampling: SamplingSettings
    ) -> Iterator[tuple[str, int, Completion]]:
        for r in requests:
            seeds = r.seeds or r.wanted(sampling.n)
            for index, seed in zip(r.wanted(sampling.n), seeds):
                rng = random.Random(seed)
                body = "\n".join(self.blocks[rng.randrange(256)] for _ in range(self.per))
                text = f"{body}\nSo the answer is \\boxed{{{rng.randrange(100)}}}."
                yield r.key, index, Completion(text, len(text) // 4, "length")

    def close(self) -> None:
        pass
