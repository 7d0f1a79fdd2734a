"""Copying the shards' samples into the merged store, through `CompletionStore`'s public API.

What is copied: every stored index of every prompt a shard's run reported (its `samples.jsonl`
names each sample's prompt digest; the run's `store.generation` names the generation), with its
text, seed, token count, finish reason and verdict, under the same generation key. Incremental:
a prompt's indices the merged store already holds are skipped before any text is read, so
merging again when a missing shard arrives copies that shard only.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from capability_tests.merge.runs import MergeError, ShardRun
from capability_tests.reporting.samples import SAMPLES, read_samples
from capability_tests.store import CompletionStore, GenerationKey, NewSample, StoreError


@dataclass
class CopyCount:
    copied: int = 0
    present: int = 0  # already in the merged store (an earlier merge, or a shared store)


def prompts_of(shard: ShardRun) -> Iterator[tuple[str, str]]:
    """(problem key, prompt digest) of every problem the shard's run reported, in file order."""
    path = shard.run.path / SAMPLES
    if not path.is_file():
        raise MergeError(f"{shard.run.path}: no {SAMPLES}; without it the merge cannot find the "
                         "run's samples in its store")
    last = None
    for record in read_samples(path):
        pair = (f"{record['benchmark']}/{record['problem_id']}", record.get("prompt"))
        if pair != last:
            if not pair[1]:
                raise MergeError(f"{path}: {pair[0]} has no prompt digest")
            last = pair
            yield pair


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def copy_samples(shard: ShardRun, target: CompletionStore) -> CopyCount:
    """Copy one shard's samples into `target` (one transaction per prompt)."""
    key_json = shard.generation
    if not key_json:
        raise MergeError(f"{shard.run.path}: summary.json records no store generation")
    count = CopyCount()
    if _same_file(shard.store, target.path):
        for _problem, prompt in prompts_of(shard):  # nothing to copy: count what is there
            generation = target.find_generation(key_json)
            count.present += len(target.stored(generation, prompt)) if generation else 0
        return count
    try:
        source = CompletionStore(shard.store)
    except StoreError as exc:
        raise MergeError(f"{shard.label}: {exc}") from None
    try:
        generation = source.find_generation(key_json)
        if generation is None:
            raise MergeError(f"{shard.label}: its store {shard.store} holds no samples of the "
                             "run's generation (another store?)")
        into = target.generation_id(GenerationKey(**json.loads(key_json)))
        for problem, prompt in prompts_of(shard):
            stored = source.stored(generation, prompt)
            have = target.stored(into, prompt)
            wanted = sorted(set(stored) - set(have))
            count.present += len(stored) - len(wanted)
            if not wanted:
                continue
            rows = []
            for index, text in source.texts(generation, prompt, wanted):
                s = stored[index]
                rows.append(NewSample(prompt=prompt, problem=problem, index=index, seed=s.seed,
                                      text=text, tokens=s.tokens, finish_reason=s.finish_reason,
                                      correct=s.correct, extracted=s.extracted, reason=s.reason,
                                      grading=s.grading, timed_out=s.timed_out))
            target.add(into, rows)
            count.copied += len(rows)
    except StoreError as exc:
        raise MergeError(f"{shard.label}: {exc}") from None
    finally:
        source.close()
    return count


def merged_store(path: Path) -> CompletionStore:
    try:
        return CompletionStore(path)
    except StoreError as exc:
        raise MergeError(str(exc)) from None
