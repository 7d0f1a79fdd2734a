"""How the selected problems are split into shards under xdist: the units of work a worker
receives whole and samples in one batch.

One shard per benchmark (the first design) balanced badly: GSM8K (1,319 problems) and AIME (30)
were one unit each, so one worker did nearly everything. Shards of problems balance: there are
`SHARDS_PER_WORKER` shards per worker (fewer when there are fewer problems), and problem j of the
selection (in collection order) goes to shard j mod shards, so every shard holds an even slice
of every benchmark (long AIME answers and short GSM8K ones mix alike) and the shards are of
equal size to within one problem. A worker still samples each shard in one batch (problems / (4
x workers) problems x k samples), and the xdist scheduler hands out shards as workers free up.

Pure and deterministic: the controller's scheduler and every worker compute the same map from
the same collected node ids (xdist requires every worker to collect the same tests) and the
worker count.
"""

from __future__ import annotations

import re
from typing import Iterable

SHARDS_PER_WORKER = 4
_CAPABILITY_ID = re.compile(r"::test_\w+\[(?P<problem>[^/\]]+/.*)\]")


def problem_of(nodeid: str) -> str | None:
    """"aime24/60" for a capability test id (`...::test_math[aime24/60]`, with or without an
    `@group` suffix), else None."""
    base = nodeid.rsplit("@", 1)[0] if nodeid.rfind("@") > nodeid.rfind("]") else nodeid
    match = _CAPABILITY_ID.search(base)
    return match.group("problem") if match else None


def shard_count(problems: int, workers: int) -> int:
    return max(1, min(problems, max(1, workers) * SHARDS_PER_WORKER))


def shard_map(nodeids: Iterable[str], workers: int) -> dict[str, int]:
    """Problem (as in its test id) -> shard number, for the capability tests among `nodeids`."""
    order: dict[str, None] = {}
    for nodeid in nodeids:
        problem = problem_of(nodeid)
        if problem is not None:
            order.setdefault(problem, None)
    shards = shard_count(len(order), workers)
    return {problem: position % shards for position, problem in enumerate(order)}


def shard_name(shard: int) -> str:
    return f"capability-shard-{shard}"
