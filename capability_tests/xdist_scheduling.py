"""An xdist scheduler that sends each benchmark's tests to one worker whole.

xdist's own `--dist loadgroup` finds a test's group in an `@group` suffix that workers add to node
ids; on pytest >= 9.1 that suffix is no longer applied (node ids became structured), so groups
silently fall apart and every worker would sample every benchmark. This scheduler reads the
benchmark straight from the capability test id (`test_math[aime24/60]`) and still honours an
`@group` suffix where one exists. Imported only under xdist.
"""

from __future__ import annotations

import re

from xdist.scheduler import LoadScopeScheduling

from capability_tests.benchmarks import available_benchmarks

_CAPABILITY_ID = re.compile(r"::test_\w+\[([^\]/]+)/")


class BenchmarkGroupScheduling(LoadScopeScheduling):
    def __init__(self, config, log=None) -> None:
        super().__init__(config, log)
        self._benchmarks = set(available_benchmarks())

    def _split_scope(self, nodeid: str) -> str:
        if nodeid.rfind("@") > nodeid.rfind("]"):
            return nodeid.rsplit("@", 1)[-1]
        match = _CAPABILITY_ID.search(nodeid)
        if match and match.group(1) in self._benchmarks:
            return f"capability:{match.group(1)}"
        return nodeid
