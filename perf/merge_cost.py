"""What `capability-tests merge` costs: samples copied per second from shard stores into the
merged store (docs/SCALING.md, "Cost model"). Synthetic shard runs: SHARDS stores of PROMPTS
prompts x K samples of TEXT_KB kilobytes each, with the samples.jsonl the merge reads.

    PYTHONPATH=. python perf/merge_cost.py [SHARDS PROMPTS K TEXT_KB]
"""

from __future__ import annotations

import json
import random
import string
import sys
import tempfile
import time
from pathlib import Path

from capability_tests.merge.runs import ShardRun
from capability_tests.merge.stores import copy_samples, merged_store
from capability_tests.reporting.recorded_runs import RecordedRun
from capability_tests.store import CompletionStore, GenerationKey, NewSample


def main(shards: int = 3, prompts: int = 20, k: int = 64, text_kb: int = 8) -> None:
    key = GenerationKey("sha256:synthetic", "synthetic", "0", "{}", "seeded", 0.6, 0.95, 4096, 0,
                        "base63+index")
    rng = random.Random(0)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(2000)]
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        for s in range(shards):
            folder = Path(tmp) / f"shard{s}" / "run"
            folder.mkdir(parents=True)
            store = CompletionStore(folder.parent / "store.sqlite")
            gen = store.generation_id(key)
            lines = []
            for p in range(prompts):
                digest = f"{s:04d}{p:060d}"
                rows = []
                for i in range(k):
                    text = " ".join(rng.choices(words, k=text_kb * 170))
                    rows.append(NewSample(digest, f"bench/{s}-{p}", i, i, text, len(text) // 4,
                                          "stop", False, "1", "wrong", "g/x"))
                    lines.append(json.dumps({"benchmark": "bench", "problem_id": f"{s}-{p}",
                                             "index": i, "prompt": digest}))
                store.add(gen, rows)
            store.close()
            (folder / "samples.jsonl").write_text("\n".join(lines) + "\n")
            run = RecordedRun(folder, {"store": {"generation": key.as_json()}})
            runs.append(ShardRun(run, {"shard": {"index": s, "count": shards}},
                                 folder.parent / "store.sqlite"))
        target = merged_store(Path(tmp) / "merged.sqlite")
        start = time.perf_counter()
        copied = sum(copy_samples(r, target).copied for r in runs)
        first = time.perf_counter() - start
        start = time.perf_counter()
        again = sum(copy_samples(r, target).present for r in runs)
        second = time.perf_counter() - start
        target.close()
        mb = copied * text_kb / 1024
        print(f"{shards} shards x {prompts} prompts x k={k}, {text_kb} KB texts: copied {copied} "
              f"samples ({mb:.0f} MB of text) in {first:.1f} s = {copied / first:.0f} samples/s, "
              f"{mb / first:.1f} MB/s; merging again (nothing to copy): {again} samples checked "
              f"in {second:.2f} s")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
