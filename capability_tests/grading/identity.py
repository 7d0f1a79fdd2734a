"""The grader identity: a digest of the code and settings that decide verdicts.

A stored verdict is reused only when it was made under the identity of the grader running now
(see `store.grading_digest`); anything else is regraded from the stored text. The identity is
computed, not declared, so no version number has to be remembered:

- the source bytes of every module of `capability_tests.grading` (except `command.py`, the
  `grade` subcommand, which feeds the grader and decides nothing) and of every project module
  they import, found by following their `import` statements (today `capability_tests.latex` and
  `capability_tests.problems`), and of every verifier in the registry (`verifiers.py`) with
  what it imports;
- the grading time limit in force (a verdict can be "timeout" under one limit and "equal" under
  another);
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

from capability_tests.grading.timeouts import DEFAULT_TIMEOUT_S
from capability_tests.grading.verifiers import verifier_targets

PACKAGE = "capability_tests"
ROOT = "capability_tests.grading"
NOT_GRADING = frozenset({"capability_tests.grading.command"})
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
    package = _source(ROOT)
    if package is None:
        raise RuntimeError(f"cannot find the source of {ROOT}")
    todo = [f"{ROOT}.{p.stem}" if p.name != "__init__.py" else ROOT
            for p in sorted(package.parent.glob("*.py"))]
    todo = [m for m in todo if m not in NOT_GRADING]
    # every registered verifier's module, wherever it lives (code verifiers, third-party ones)
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
    h.update(f"timeout={float(timeout)!r}\0sympy={sympy_version}".encode())
    return PREFIX + h.hexdigest()[:16]
