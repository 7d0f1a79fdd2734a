"""Code benchmarks: HumanEval offline, the Hub-layout loaders, prompts and extraction, fair time
limits, the grade command, and all 164 HumanEval reference solutions through the sandbox."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest

from capability_tests.benchmarks import get_benchmark, load_problems
from capability_tests.benchmarks.hub import read_hub_rows
from capability_tests.code import timing
from capability_tests.code.extract import STOP_SEQUENCES, extract_program
from capability_tests.code.verifier import problem_limit, verify_code
from capability_tests.engines.base import Completion
from capability_tests.engines.transformers_engine import _stopped
from capability_tests.grading.pool import GradingPool
from capability_tests.problems import Problem
from capability_tests.templates import get_template

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def humaneval() -> list[Problem]:
    return load_problems("humaneval")


def test_humaneval_loads_offline_from_the_installed_package(humaneval):
    benchmark = get_benchmark("humaneval")
    assert benchmark.family == "code" and benchmark.verifier == "code"
    assert benchmark.packaged_file is not None and benchmark.packaged_file.name == "HumanEval.jsonl.gz"
    assert len(humaneval) == 164 and all(p.error is None for p in humaneval)
    first = humaneval[0]
    assert first.key == "humaneval/HumanEval/0" and first.verifier == "code"
    assert first.meta["entry_point"] == "has_close_elements" and "def check" in first.meta["test"]
    assert first.answer.startswith(first.question)  # the reference program: prompt + solution


@pytest.mark.slow
def test_every_reference_solution_passes_and_every_empty_body_fails(humaneval):
    """All 164 problems both ways, on a pool of two sandboxed graders (about a minute on CI's two
    cores when the reference times are not cached yet, half that when they are)."""
    pairs = [(f"```python\n{p.answer}\n```", p) for p in humaneval]
    pairs += [("    pass\n", p) for p in humaneval]
    with GradingPool(workers=2) as pool:
        verdicts = pool.map(pairs)
    right, empty = verdicts[:164], verdicts[164:]
    assert [p.key for p, v in zip(humaneval, right) if not v.correct] == []
    assert [p.key for p, v in zip(humaneval, empty) if v.correct or v.error] == []
    assert all(v.reason.startswith("passed (fenced block)") for v in right)


HUB = {  # benchmark: (first id, a right program per problem, the mode)
    "humaneval_plus": ("HumanEval/2", None, "function"),
    "mbpp_plus": ("3", None, "function"),
    "livecodebench": ("abc000_a", [
        "a, b = map(int, input().split())\nprint(a + b)",
        "class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
        "        seen = {}\n        for i, x in enumerate(nums):\n"
        "            if target - x in seen:\n                return [seen[target - x], i]\n"
        "            seen[x] = i\n"], None),
}


@pytest.mark.parametrize("name", sorted(HUB))
def test_hub_layout_loaders_and_their_tests_run(name, tmp_path, monkeypatch):
    """The real `datasets.load_dataset` on a local folder laid out like the Hub repository; each
    problem's tests then accept a right program and reject a wrong one in the sandbox."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("CAPABILITY_TESTS_CACHE", str(tmp_path / "cache"))
    benchmark = get_benchmark(name)
    folder = DATA / "hub" / name
    if name == "livecodebench":  # parquet files by release, as its Hub copy ships them
        from fixtures.hub_fixtures import write_release_layout

        folder = write_release_layout(tmp_path / "lcb")
    local = dataclasses.replace(benchmark.hub, repo=str(folder))
    problems = list(benchmark.problems_from_rows(read_hub_rows(local, name)))
    first_id, programs, _ = HUB[name]
    assert [p.error for p in problems] == [None, None]
    assert problems[0].problem_id == first_id and problems[0].verifier == "code"
    programs = programs or [p.answer for p in problems]
    for problem, program in zip(problems, programs):
        right = verify_code(f"```python\n{program}\n```", problem)
        wrong = verify_code("```python\nimport sys\nprint(0)\n```" if problem.meta["mode"] == "stdio"
                            else f"```python\ndef {problem.meta['entry_point']}(*a):\n    return 0\n```",
                            problem)
        assert right.correct, (problem.key, right.reason)
        assert not wrong.correct and not wrong.error, (problem.key, wrong.reason)


def test_livecodebench_modes_and_packed_cases():
    rows = [json.loads(line) for line in (DATA / "hub" / "livecodebench" / "data" / "test.jsonl").open()]
    stdio, calls = (get_benchmark("livecodebench").parse_row(r) for r in rows)
    assert stdio.meta["mode"] == "stdio" and len(stdio.meta["cases"]) == 3  # 1 public + 2 packed
    assert calls.meta["mode"] == "calls" and calls.meta["entry_point"] == "twoSum"
    assert calls.meta["cases"][1] == {"args": [[3, 2, 4], 6], "expected": [1, 2]}


class _Evil:
    def __reduce__(self):
        import os

        return (os.getcwd, ())  # harmless here; a real attack would name os.system


def test_packed_cases_never_unpickle_objects():
    import base64
    import pickle
    import zlib

    from capability_tests.benchmarks.base import RowError
    from capability_tests.benchmarks.code import decode_cases

    evil = base64.b64encode(zlib.compress(pickle.dumps(_Evil()))).decode()
    with pytest.raises(RowError, match="cannot decode"):
        decode_cases(evil)


def test_a_data_dir_copy_is_used_before_the_package(tmp_path, humaneval):
    (tmp_path / "humaneval").mkdir()
    row = {"task_id": "X/1", "prompt": "def f():\n", "canonical_solution": "    return 1\n",
           "test": "def check(candidate):\n    assert candidate() == 1\n", "entry_point": "f"}
    (tmp_path / "humaneval" / "test.jsonl").write_text(json.dumps(row) + "\n")
    assert [p.key for p in load_problems("humaneval", tmp_path)] == ["humaneval/X/1"]
    (tmp_path / "other").mkdir()  # a data folder without HumanEval: the package's copy
    assert len(load_problems("humaneval", tmp_path / "other")) == 164


# -- prompts, stop sequences, extraction ---------------------------------------------------------


def test_instruct_templates_ask_for_a_fenced_block_and_base_templates_continue(humaneval):
    problem = humaneval[0]
    chatml = get_template("qwen-boxed").render(problem)
    assert "```python" in chatml and problem.question.strip() in chatml
    assert chatml.startswith("<|im_start|>system") and get_template("qwen-boxed").stop_for(problem) == ()
    message = get_template("chat").messages(problem)[0]["content"]
    assert "```python" in message
    base = get_template("completion")
    assert base.render(problem) == problem.question and base.stop_for(problem) == STOP_SEQUENCES
    math = Problem("demo", "1", "What is 1+1?", "2", "x")
    assert get_template("completion").stop_for(math) == ()
    assert get_template("qwen-boxed").render(math).count("\\boxed{}") == 1


def test_the_program_comes_from_a_block_or_the_continuation(humaneval):
    problem = humaneval[0]
    entry = "has_close_elements"
    chat = f"Sure!\n```python\ndef {entry}(numbers, threshold):\n    return True\n```\nDone."
    program = extract_program(chat, problem.question, entry)
    assert program.how == "fenced block" and program.source.startswith(problem.question)
    assert program.code.startswith(f"def {entry}") and "Done." not in program.source
    cont = "    return False\n\n\ndef test():\n    pass\nif __name__ == '__main__':\n    test()\n"
    program = extract_program(cont, problem.question, entry)
    assert program.how == "continuation of the prompt" and program.code == "    return False\n\n"
    bare = f"def {entry}(numbers, threshold):\n    return 1\n\nprint(3)\n"
    program = extract_program(bare, problem.question, entry)
    assert program.how == "function in the completion" and "print(3)" not in program.code
    unclosed = f"```python\ndef {entry}(a, b):\n    return 2"  # hit --max-tokens inside the block
    assert extract_program(unclosed, problem.question, entry).code.endswith("return 2")
    assert extract_program("  \n", problem.question, entry) is None
    verdict = verify_code("", problem)
    assert verdict.outcome == "no_answer" and not verdict.correct


def test_transformers_cuts_at_stop_sequences_like_vllm():
    done = _stopped(Completion("    return 1\ndef g():\n", 9, "length"), ("\ndef",))
    assert done == Completion("    return 1", 9, "stop")
    assert _stopped(Completion("abc", 1, "length"), ("\ndef",)).finish_reason == "length"


# -- fair time limits -----------------------------------------------------------------------------


def test_limits_scale_with_the_reference_and_are_recorded_once(tmp_path, monkeypatch, humaneval):
    monkeypatch.setenv("CAPABILITY_TESTS_CACHE", str(tmp_path))
    assert timing.limit_for(None) == timing.DEFAULT_S
    assert timing.limit_for(0.0) == timing.MIN_S and timing.limit_for(1e6) == timing.MAX_S
    assert timing.limit_for(2.0) > timing.limit_for(1.0)
    import capability_tests.code.verifier as verifier

    runs = []
    original = verifier.run_tests
    monkeypatch.setattr(verifier, "run_tests",
                        lambda *a, **k: runs.append(a[0]) or original(*a, **k))
    problem = humaneval[1]
    first = problem_limit(problem)
    # measured: the reference ran REFERENCE_REPEATS times (its time is the minimum)
    assert runs == [problem.answer] * timing.REFERENCE_REPEATS
    assert problem_limit(problem) == first and len(runs) == timing.REFERENCE_REPEATS  # recorded
    recorded = list((tmp_path / "code-reference-times" / timing.machine_key()).glob("*.json"))
    assert len(recorded) == 1 and json.loads(recorded[0].read_text())["problem"] == problem.key


def test_a_code_verdict_stands_only_under_the_effective_limit_it_was_made_under(
        tmp_path, monkeypatch, humaneval):
    """Issue 17: a stored code verdict made under limit A is regraded when this machine's limit
    for the problem is B (a reference re-measured on another machine, a changed factor): the
    effective limits are part of the verdict key. Jitter in the reference within a bucket moves
    neither the limit nor the key, so a re-measurement does not regrade everything."""
    from capability_tests.code.verifier import _reference_key
    from capability_tests.sampling.identity import RunIdentity
    from capability_tests.sampling.plan import PlanRules, plan_problem
    from capability_tests.store import StoredSample

    monkeypatch.setenv("CAPABILITY_TESTS_CACHE", str(tmp_path))
    problem = humaneval[0]
    key = _reference_key(problem)

    def verdict_key(reference_seconds: float) -> str:
        timing.record(key, reference_seconds, problem.key)
        return RunIdentity.grading_key(problem, "grader-x")

    under_a = verdict_key(0.40)
    under_b = verdict_key(2.0)  # a machine 5x slower: a limit more than twice as long
    assert problem_limit(problem) == timing.limit_for(2.0) > timing.limit_for(0.40)
    assert under_a != under_b
    stored = {0: StoredSample(0, None, 9, "stop", False, "x", "timeout: over 4.6 s", under_a,
                              timed_out=True)}
    plan = plan_problem(problem.key, stored, under_b, "grader-x", PlanRules(k=1))
    assert plan.regrade == (0,) and plan.keep == (), "a verdict made under limit A was reused"
    # 2.5% jitter in a re-measured reference: same limit, same key, nothing regraded
    assert timing.limit_for(0.41) == timing.limit_for(0.40)
    assert verdict_key(0.41) == under_a
    # math verdicts carry no per-problem limit: their key is unchanged by this
    math = load_problems("demo")[0]
    assert RunIdentity.grading_key(math, "grader-x") == RunIdentity.grading_key(math, "grader-x")


def test_a_verdict_whose_limits_cannot_be_found_is_not_kept_by_the_next_run(monkeypatch,
                                                                           humaneval):
    """Limits that cannot be found (a verifier's `verdict_limits` raised) key the verdict so that
    no later run matches it: it is graded again, never kept under unknown limits."""
    from capability_tests.code import verifier
    from capability_tests.sampling.identity import RunIdentity

    def broken(problem):
        raise OSError("no cache")

    monkeypatch.setattr(verifier, "verdict_limits", broken)
    first = RunIdentity.grading_key(humaneval[0], "grader-x")
    assert first != RunIdentity.grading_key(humaneval[0], "grader-x")


def test_the_run_regrades_code_verdicts_when_the_limit_changes(pytester, fake_engine_env,
                                                                monkeypatch, humaneval, tmp_path):
    """The whole path: a stored HumanEval verdict is kept by the next run on the same machine,
    regraded (no engine) once the problem's recorded reference time gives another limit, and the
    run says so."""
    from fixtures.fake_engine import FAKE, SUITE, generate_calls

    cache = tmp_path / "cache"
    monkeypatch.setenv("CAPABILITY_TESTS_CACHE", str(cache))
    right = f"```python\n{humaneval[0].answer}\n```"
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({"humaneval/HumanEval/0": [right]}))
    args = [*SUITE, *FAKE, "-k", "humaneval", "--limit=1", "--k=1", "--unsolved=xfail"]
    pytester.runpytest(*args).assert_outcomes(passed=1)
    kept = pytester.runpytest(*args)
    kept.assert_outcomes(passed=1)
    assert "regraded from the store" not in kept.stdout.str()
    records = [path for path in (cache / "code-reference-times").rglob("*.json")
               if json.loads(path.read_text())["problem"] == humaneval[0].key]
    assert len(records) == 1  # (the self-test's known-answer problems have theirs)
    data = json.loads(records[0].read_text())
    data["seconds"] = 5.0  # as measured on a much slower machine: a longer limit
    records[0].write_text(json.dumps(data))
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*regraded from the store, no generation:*1 verdicts made "
                                 "under another grading key*"])
    data["seconds"] = 5.05  # re-measured with jitter: the same step of the limit grid
    records[0].write_text(json.dumps(data))
    again = pytester.runpytest(*args)
    again.assert_outcomes(passed=1)
    assert "regraded from the store" not in again.stdout.str(), "written back, and jitter kept"
    assert len(generate_calls(fake_engine_env)) == 1


def _slow_problem() -> Problem:
    return Problem("sandboxtest", "slow", "", "", "tests", verifier="code", meta={
        "mode": "function", "entry_point": "f",
        "test": "def check(candidate):\n    assert candidate() == 1\n"})


def test_the_pool_waits_for_a_program_within_its_own_limit():
    """The pool's math limit (here 0.5 s + 0.5 s slack) does not cut a program that runs 2 s
    within its own limit: the pool asks the verifier for its budget."""
    slow = "```python\nimport time\ndef f():\n    time.sleep(2)\n    return 1\n```"
    with GradingPool(workers=1, timeout=0.5, slack=0.5) as pool:
        verdict = pool.submit(slow, _slow_problem()).result()
        assert pool.killed == 0
    assert verdict.correct, verdict.reason


def test_a_code_timeout_is_rechecked_alone_under_the_limits_its_key_names():
    """A program that never stops times out; the pool rechecks it once, alone in an idle pool,
    under the same CPU limit (the one in its verdict key, not the pool's math limit x 4), and
    the verdict's reason says so instead of naming a limit that was never applied."""
    loop = "```python\ndef f():\n    while True:\n        pass\n```"
    problem = _slow_problem()
    with GradingPool(workers=1, timeout=0.5, slack=0.5) as pool:
        verdict = pool.submit(loop, problem).result()
        assert pool.rechecked == 1
    assert verdict.timed_out and not verdict.correct and not verdict.error
    # its CPU limit, or the wall-clock backstop where other jobs starve it of CPU
    assert verdict.reason.startswith("timeout: over "), verdict.reason
    assert "also with" not in verdict.reason, verdict.reason
    assert verdict.reason.endswith("(again when rechecked alone in an idle pool)"), verdict.reason


# -- the grade command ----------------------------------------------------------------------------


def test_grade_command_grades_humaneval_without_a_data_dir(humaneval, monkeypatch, capsys):
    from capability_tests import cli

    rows = [
        {"benchmark": "humaneval", "problem_id": "HumanEval/0",
         "completion": f"Here it is:\n```python\n{humaneval[0].answer}\n```"},
        {"benchmark": "humaneval", "problem_id": "HumanEval/0", "completion": "    return True\n"},
        {"benchmark": "humaneval", "problem_id": "HumanEval/999", "completion": "x"},
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(json.dumps(r) + "\n" for r in rows)))
    assert cli.main(["grade", "--workers", "2", "-"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["correct"] for o in out] == [True, False, False]
    assert out[0]["reason"].startswith("passed") and "unknown problem id" in out[2]["error"]


def test_the_grader_identity_covers_the_code_verifier_and_the_sandbox():
    """An edit to the sandbox or the code verifier regrades stored code verdicts."""
    from capability_tests.grading.identity import grading_modules

    modules = grading_modules()
    for name in ("capability_tests.code.verifier", "capability_tests.code.extract",
                 "capability_tests.code.timing", "capability_tests.sandbox.launcher",
                 "capability_tests.sandbox.tester", "capability_tests.sandbox.candidate",
                 "capability_tests.sandbox.codec"):
        assert name in modules


@pytest.mark.slow
def test_the_suite_runs_humaneval_through_the_code_verifier(pytester, fake_engine_env,
                                                           monkeypatch, humaneval):
    """The whole path without a real engine: -k humaneval loads HumanEval alone, the scripted
    engine answers, the code verifier runs each program, pass@k lands in the reports; a base
    model template sends the stop sequences with each request and an instruct one none."""
    from fixtures.fake_engine import FAKE, SUITE, generate_calls

    right = f"```python\n{humaneval[0].answer}\n```"
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({
        "humaneval/HumanEval/0": [right], "humaneval/HumanEval/1": ["    return []\n"]}))
    result = pytester.runpytest(*SUITE, *FAKE, "-k", "humaneval", "--limit=2", "--k=1",
                                "--template=completion", "--unsolved=xfail")
    result.assert_outcomes(passed=1, xfailed=1)
    summary = json.loads((pytester.path / "reports" / "summary.json").read_text())
    assert list(summary["benchmarks"]) == ["humaneval"]
    assert summary["benchmarks"]["humaneval"]["pass_at_k"]["1"] == pytest.approx(0.5)
    (call,) = generate_calls(fake_engine_env)
    assert call["stops"] == {"humaneval/HumanEval/0": list(STOP_SEQUENCES),
                             "humaneval/HumanEval/1": list(STOP_SEQUENCES)}
    assert call["prompts"][0] == humaneval[0].question
    result = pytester.runpytest(*SUITE, *FAKE, "-m", "humaneval", "--limit=1", "--k=1",
                                "--unsolved=xfail")
    result.assert_outcomes(passed=1)
    assert generate_calls(fake_engine_env)[-1]["stops"] == {"humaneval/HumanEval/0": []}


# -- the harnesses' own comparison rules (issue 19, item 2) ------------------------------------
# Cases follow EvalPlus's `unsafe_execute` (type, then length, then np.allclose with rtol 1e-7
# and atol 1e-6 for float results) and LiveCodeBench's `grade_stdio` / `grade_call_based`.

@pytest.mark.parametrize("out, exp, atol, close", [
    ([], 0.5, 1e-6, False),                      # an empty container is not a float
    ((), 0.5, 1e-6, False),
    ([0.5], 0.5, 1e-6, False),                   # a list is not a float either
    (2, 2.0000001, 1e-6, False),                 # int vs float: type first
    ((1.0,), [1.0], 1e-6, False),                # tuple vs list
    ([1.0], [1.0, 2.0], 1e-6, False),            # length
    ([1.0, 2.0000001], [1.0, 2.0], 1e-6, True),  # within atol
    ([1.0, 2.00001], [1.0, 2.0], 1e-6, False),
    (1e9 + 50, 1e9, 1e-6, True),                 # rtol 1e-7 of 1e9 is 100
    (1e9 + 200, 1e9, 1e-6, False),
    (float("nan"), float("nan"), 1e-6, False),   # equal_nan is False in np.allclose
    (float("inf"), float("inf"), 1e-6, True),
    ([[1.0, 2.0]], [[1.0, 2.0000001]], 1e-6, True),
    ([[1.0]], [[1.0, 2.0]], 1e-6, False),        # ragged: numpy cannot broadcast
    ("0.5", 0.5, 1e-6, False),
])
def test_evalplus_allclose_checks_type_and_length_first(out, exp, atol, close):
    from capability_tests.sandbox.tester import evalplus_allclose

    assert evalplus_allclose(out, exp, rtol=1e-07, atol=atol) is close


@pytest.mark.parametrize("prediction, expected, same", [
    ("1 2\n", "1 2", True),                # surrounding white space of the whole text
    ("  1   2  ", "1 2", True),            # not equal as text, equal as Decimals
    ("1.0\n", "1", True),                  # Decimal("1.0") == Decimal("1")
    ("1e0", "1", True),
    ("1.00001", "1", False),
    ("YES", "yes", False),                 # no case folding
    ("a\n\nb", "a\nb", False),             # an empty line is a line
    ("a  b", "a b", False),                # words are compared as text, not split
    ("1 2", "1 2 3", False),
    ("3\n4\r", "3\n4", True),              # each line stripped
    ("", "", True),
    ("nan", "nan", True),                  # equal as text before any Decimal
])
def test_livecodebench_stdout_lines(prediction, expected, same):
    from capability_tests.sandbox.tester import stdio_output_matches

    assert stdio_output_matches(prediction, expected) is same


@pytest.mark.parametrize("prediction, expected, same", [
    ((1, 2), [1, 2], True),               # a returned tuple compares as a list
    ([(1, 2)], [[1, 2]], False),          # only the top level is converted
    (1, 1.0, True),                       # Python's ==
    ([1, 2], [2, 1], False),
    ("a", "a", True),
])
def test_livecodebench_call_results(prediction, expected, same):
    from capability_tests.sandbox.tester import call_result_matches

    assert call_result_matches(prediction, expected) is same


def test_an_empty_list_fails_every_float_problem_of_the_hub_layouts(tmp_path, monkeypatch):
    """HumanEval+ and MBPP+ rows laid out like the Hub: `return []` passes none of them."""
    monkeypatch.setenv("CAPABILITY_TESTS_CACHE", str(tmp_path / "cache"))
    for name in ("humaneval_plus", "mbpp_plus"):
        benchmark = get_benchmark(name)
        local = dataclasses.replace(benchmark.hub, repo=str(DATA / "hub" / name))
        for problem in benchmark.problems_from_rows(read_hub_rows(local, name)):
            for empty in ("[]", "()"):
                verdict = verify_code(
                    f"```python\ndef {problem.meta['entry_point']}(*a):\n    return {empty}\n```",
                    problem)
                assert not verdict.correct and not verdict.error, (problem.key, verdict)


# -- LeetCode-style calls: `Solution().<method>`, not a module-level name of the same name -------


def _leetcode_problem(func: str, starter: str, calls: list[tuple[list, object]]) -> Problem:
    """A LiveCodeBench functional (LeetCode) problem, through the real row parser."""
    cases = [{"input": "\n".join(json.dumps(a) for a in args), "output": json.dumps(expected),
              "testtype": "functional"} for args, expected in calls]
    row = {"question_content": f"Implement Solution.{func}.", "starter_code": starter,
           "platform": "leetcode", "difficulty": "easy", "public_test_cases": json.dumps(cases),
           "metadata": json.dumps({"func_name": func})}
    (problem,) = get_benchmark("livecodebench").problems_from_rows([("lcb:0", 0, row)])
    assert problem.error is None and problem.meta["mode"] == "calls"
    return problem


ADD_STARTER = ("class Solution:\n"
               "    def add(self, nums1: List[int], nums2: List[int]) -> List[int]:\n        ")
ADD_LISTS = _leetcode_problem("add", ADD_STARTER, [([[1, 2], [3, 4]], [4, 6]),
                                                    ([[0, -5, 9], [7, 5, 1]], [7, 0, 10])])
SUM_INTS = _leetcode_problem("add", "class Solution:\n    def add(self, a: int, b: int) -> int:\n",
                             [([2, 3], 5), ([-4, 4], 0)])
# LeetCode 2176: the model also wrote a one-argument module-level helper of the same name
COUNT_PAIRS = _leetcode_problem(
    "countPairs", "class Solution:\n    def countPairs(self, nums: List[int], k: int) -> int:\n",
    [([[3, 1, 2, 2, 2, 1, 3], 2], 4), ([[1, 2, 3, 4], 1], 0)])


@pytest.mark.parametrize(("problem", "completion", "correct"), [
    # the prelude's `from operator import *` defines `add`: concatenation is not the sum
    (ADD_LISTS, "class Solution:\n    def add(self, nums1, nums2):\n"
                "        return [a + b for a, b in zip(nums1, nums2)]\n", True),
    # ... and a wrong method must not pass because operator.add happens to be right
    (SUM_INTS, "class Solution:\n    def add(self, a, b):\n        return a - b\n", False),
    (SUM_INTS, "from operator import add\n\nclass Solution:\n    def add(self, a, b):\n"
               "        return add(a, b)\n", True),
    (COUNT_PAIRS, "def countPairs(nums):\n    return sum(nums.count(x) - 1 for x in nums) // 2\n\n"
                  "class Solution:\n    def countPairs(self, nums, k):\n"
                  "        n = len(nums)\n        return sum(1 for i in range(n) for j in range(i + 1, n)\n"
                  "                   if nums[i] == nums[j] and i * j % k == 0)\n", True),
    # a `Solution` without the method is wrong, whatever else is called `add`
    (SUM_INTS, "class Solution:\n    def addTwo(self, a, b):\n        return a + b\n", False),
], ids=["operator-add-right", "operator-add-wrong", "imported-add-delegates", "helper-same-name",
        "method-missing"])
def test_a_leetcode_problem_calls_the_solution_method(problem, completion, correct, tmp_path,
                                                      monkeypatch):
    """LiveCodeBench calls `Solution().<func_name>(...)`; a module-level name that is the same
    (the prelude's star imports, the model's own import or helper) is not the one graded."""
    monkeypatch.setenv("CAPABILITY_TESTS_CACHE", str(tmp_path / "cache"))
    verdict = verify_code(f"```python\n{completion}```", problem)
    assert not verdict.error, verdict.reason
    assert verdict.correct is correct, verdict.reason


def test_without_a_solution_class_a_function_is_still_called(tmp_path, monkeypatch):
    """A LeetCode problem answered by a plain function (LiveCodeBench accepts that too), and a
    HumanEval-style problem whose module also has a `Solution.add`: the function is graded."""
    monkeypatch.setenv("CAPABILITY_TESTS_CACHE", str(tmp_path / "cache"))
    plain = verify_code("```python\ndef countPairs(nums, k):\n    n = len(nums)\n"
                        "    return sum(1 for i in range(n) for j in range(i + 1, n)\n"
                        "               if nums[i] == nums[j] and i * j % k == 0)\n```", COUNT_PAIRS)
    assert plain.correct, plain.reason
    function_style = Problem("t", "add", "Add a and b.", "", "t", verifier="code", meta={
        "mode": "function", "entry_point": "add", "prelude": "", "test_prelude": "",
        "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n"})
    both = ("```python\nclass Solution:\n    def add(self, a, b):\n        return a - b\n\n"
            "def add(a, b):\n    return a + b\n```")
    verdict = verify_code(both, function_style)
    assert verdict.correct, verdict.reason
