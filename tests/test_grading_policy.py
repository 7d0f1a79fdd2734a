"""Benchmarks declare their grading policy; grading code names no benchmark; the policy is part of
the verdict key; the grader identity is what grades (not the pool, not test data)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from capability_tests.benchmarks.base import Benchmark, GradingPolicy, ParsedRow
from capability_tests.benchmarks.catalog import BUILTIN_BENCHMARKS
from capability_tests.grading import grade
from capability_tests.grading.identity import grading_modules
from capability_tests.grading.policy import PolicyError
from capability_tests.store import grading_digest

REPO = Path(__file__).resolve().parent.parent


def _row(row):
    return ParsedRow(question=row["q"], answer=row["a"])


def _problems(benchmark: Benchmark, answer: str):
    row = {"q": "g?", "a": answer, "problem": "g?", "question": "g?", "answer": answer}
    return list(benchmark.problems_from_rows([("physics.jsonl:1", 0, row)]))


# a benchmark from another package: measured answers, 2% either side
PHYSICS = Benchmark(name="physics_lab", family="math", parse_row=_row,
                    grading_policy=GradingPolicy(tolerance="relative", tolerance_value=0.02))


@pytest.mark.parametrize("completion,correct", [
    (r"The period is therefore $T \approx \boxed{2.03}$ s.", True),   # 1.5% off
    ("Final Answer: The final answer is $1.97$. I hope it is correct.", True),  # 1.5% under
    ("So the answer is 2.05.", False),  # 2.5% off
    (r"\boxed{1.95}", False),
    (r"\boxed{-2.0}", False),
])
def test_a_benchmark_of_another_package_gets_the_tolerance_it_declares(completion, correct):
    (problem,) = _problems(PHYSICS, "2.0")
    assert problem.policy.tolerance_value == 0.02
    assert grade(completion, problem).correct is correct


def test_no_tolerance_is_keyed_by_name():
    # a package's own "minerva_math" without a policy is graded exactly: the name gives nothing
    plain = Benchmark(name="minerva_math", family="math", parse_row=_row)
    (problem,) = _problems(plain, "4.5e33")
    assert not grade(r"\boxed{4.52e33}", problem).correct
    # the catalog's Minerva declares written precision: 4.52e33 rounds to 4.5e33
    (minerva,) = _problems(next(b for b in BUILTIN_BENCHMARKS if b.name == "minerva_math"), "4.5e33")
    assert grade(r"\boxed{4.52e33}", minerva).correct
    assert not grade(r"\boxed{4.6e33}", minerva).correct


def test_extraction_mode_and_list_semantics_are_declared():
    text = "She has 12 apples.\n#### 12\nAnswer: 13"
    hashes = Benchmark(name="mine", family="math", parse_row=_row,
                       grading_policy=GradingPolicy(extraction="hashes_first"))
    standard = Benchmark(name="gsm8k", family="math", parse_row=_row)  # the name alone: standard
    assert grade(text, _problems(hashes, "12")[0]).correct
    assert not grade(text, _problems(standard, "12")[0]).correct
    ordered = Benchmark(name="ranks", family="math", parse_row=_row,
                        grading_policy=GradingPolicy(lists="ordered"))
    unordered = Benchmark(name="roots", family="math", parse_row=_row)
    assert grade(r"\boxed{1, -2}", _problems(ordered, "1, -2")[0]).correct
    assert not grade(r"\boxed{-2, 1}", _problems(ordered, "1, -2")[0]).correct
    assert grade(r"\boxed{-2, 1}", _problems(unordered, "1, -2")[0]).correct


def test_absolute_tolerance():
    bench = Benchmark(name="angles", family="math", parse_row=_row,
                      grading_policy=GradingPolicy(tolerance="absolute", tolerance_value=0.5))
    (problem,) = _problems(bench, "0")
    assert grade(r"\boxed{0.4}", problem).correct
    assert not grade(r"\boxed{0.6}", problem).correct


@pytest.mark.parametrize("kwargs", [
    dict(tolerance="percent", tolerance_value=1), dict(tolerance="relative"),
    dict(tolerance="relative", tolerance_value=-0.1), dict(tolerance="none", tolerance_value=0.1),
    dict(tolerance="absolute", tolerance_value=float("nan")), dict(extraction="last_number"),
    dict(lists="sorted"), dict(answer_range=(10, 1)),
])
def test_a_policy_that_cannot_apply_is_refused_naming_the_field(kwargs):
    with pytest.raises(PolicyError) as info:
        GradingPolicy(**kwargs)
    assert next(iter(kwargs)) in str(info.value) or "tolerance" in str(info.value)


def test_answer_range_is_one_setting():
    aime = next(b for b in BUILTIN_BENCHMARKS if b.name == "aime24")
    assert aime.grading_policy.answer_range == (0, 999) == aime.answer_range
    declared = Benchmark(name="x", family="math", parse_row=_row,
                         grading_policy=GradingPolicy(answer_range=(1, 6)))
    assert declared.answer_range == (1, 6)
    with pytest.raises(ValueError, match="differ"):
        Benchmark(name="x", family="math", parse_row=_row, answer_range=(0, 9),
                  grading_policy=GradingPolicy(answer_range=(1, 6)))


def test_the_policy_is_part_of_the_verdict_key():
    strict, loose = GradingPolicy(), GradingPolicy(tolerance="relative", tolerance_value=0.02)
    keys = {grading_digest("math", "2.0", {}, benchmark="b", grader="grader-x", policy=p)
            for p in (strict, loose, GradingPolicy(extraction="hashes_first"))}
    assert len(keys) == 3
    assert (grading_digest("math", "2.0", {}, benchmark="b", grader="grader-x", policy=strict)
            == grading_digest("math", "2.0", {}, benchmark="b", grader="grader-x",
                              policy=GradingPolicy()))


def _names_in_code(path: Path) -> set[str]:
    """String constants of a module that are not docstrings."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return {n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings}


def test_grading_code_names_no_benchmark():
    names = {b.name for b in BUILTIN_BENCHMARKS}
    for module, path in grading_modules().items():
        found = {s for s in _names_in_code(path) if s.strip().lower() in names}
        assert not found, f"{module} names benchmark(s) {found}"


def test_the_identity_covers_verifiers_not_dispatch_or_test_data():
    modules = grading_modules()
    for wanted in ("grader", "extract", "normalise", "equivalence", "latex_parse", "policy"):
        assert f"capability_tests.grading.{wanted}" in modules
    for dispatch in ("pool", "worker", "worker_handle", "command", "identity"):
        assert f"capability_tests.grading.{dispatch}" not in modules
    assert not any("near_miss" in m for m in modules)
    assert not (REPO / "capability_tests" / "grading" / "near_miss.py").exists()


def _identity_of(tree: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", "import capability_tests, sys; "
         "assert capability_tests.__file__.startswith(sys.argv[1]), capability_tests.__file__; "
         "from capability_tests.grading.identity import grader_identity; print(grader_identity())",
         str(tree)],
        env=env, cwd=tree, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_editing_the_pool_changes_no_identity_and_editing_extraction_does(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(REPO / "capability_tests", tree / "capability_tests",
                    ignore=shutil.ignore_patterns("__pycache__"))
    before = _identity_of(tree)
    for name in ("pool.py", "worker.py", "command.py"):
        with (tree / "capability_tests" / "grading" / name).open("a") as f:
            f.write("\n# a scheduling change\n")
    assert _identity_of(tree) == before
    with (tree / "capability_tests" / "grading" / "extract.py").open("a") as f:
        f.write("\n# an extraction change\n")
    after = _identity_of(tree)
    assert after != before and after.startswith("grader-")
