"""The grader identity: a digest of the code and settings that decide verdicts.

A stored verdict is reused only when it was made under the identity of the grader running now
(see `store.grading_digest`); anything else is regraded from the stored text. The identity is
computed, not declared, so no version number has to be remembered:

- the source bytes of every registered verifier's module (`verifiers.py`: the math verifier in
  `grader.py`, the code verifier, third-party ones) and of every project module they import,
  followed through their `import` statements (extraction, normalisation, the parser,
  equivalence, `capability_tests.latex`, `capability_tests.problems`, the grading policy, ...),
  but not the modules that only carry samples to a verifier and decide nothing: the pool, its
  worker handle and its worker loop (scheduling), the `grade` subcommand, this module; test
  data generators live outside the package (`fixtures/`). Editing the pool therefore regrades nothing; editing
  extraction regrades everything;
- the effective time limits in force: the grading limit, the recheck's factor and the clock
  they count (a verdict can be "timeout" under one limit and "equal" under another);
- the version of sympy, whose simplification decides equivalence.

Any edit to one of those files, a comment included, gives a new identity: a regrade is cheap
(no engine) and a stale verdict in a published number is not.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path

from capability_tests.grading.timeouts import DEFAULT_TIMEOUT_S, RECHECK_FACTOR
from capability_tests.grading.verifiers import verifier_targets

PACKAGE = "capability_tests"
ROOT = "capability_tests.grading"
# dispatch, not judgement: they hand samples to verifiers (grader.grade reaches the pool through a
# function-level import when called off the main thread) and decide no verdict
NOT_GRADING = frozenset({
    "capability_tests.grading.command",
    "capability_tests.grading.pool",
    "capability_tests.grading.worker",
    "capability_tests.grading.worker_handle",
    "capability_tests.grading.identity",
})
PREFIX = "grader-"


def _source(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _imports(module: str, path: Path) -> set[str]:
    """Project modules `module` imports anywhere in its body (function-level imports too)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            # `from pkg import name` may name a module or an attribute: try both
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(n for n in names if n == PACKAGE or n.startswith(PACKAGE + "."))
    return found


def grading_modules() -> dict[str, Path]:
    """The modules whose source makes up the identity, by name."""
    # the registry (which verifier a problem gets) and every registered verifier's module,
    # wherever it lives (code verifiers, third-party ones)
    todo = [f"{ROOT}.verifiers"]
    todo += [target.partition(":")[0] for target in verifier_targets().values()]
    seen: dict[str, Path] = {}
    while todo:
        module = todo.pop()
        if module in seen or module in NOT_GRADING or module == PACKAGE:
            continue
        path = _source(module)
        if path is None:
            continue  # an attribute named in a `from ... import`, not a module
        seen[module] = path
        todo.extend(_imports(module, path) - seen.keys())
    return dict(sorted(seen.items()))


@lru_cache(maxsize=8)
def grader_identity(timeout: float = DEFAULT_TIMEOUT_S) -> str:
    """`grader-<16 hex>`: SHA-256 over the grading sources, the time limit and sympy's version."""
    from importlib import metadata

    h = hashlib.sha256()
    for module, path in grading_modules().items():
        data = path.read_bytes()
        h.update(f"{module}\0{len(data)}\0".encode())
        h.update(data)
    try:
        sympy_version = metadata.version("sympy")
    except metadata.PackageNotFoundError:
        sympy_version = "absent"
    h.update(f"timeout={float(timeout)!r}\0recheck={RECHECK_FACTOR!r}\0clock=cpu-in-workers\0"
             f"sympy={sympy_version}".encode())
    return PREFIX + h.hexdigest()[:16]
