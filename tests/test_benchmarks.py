"""The six benchmark loaders on the study's files, bad rows, and the Hub loader on Hub-layout
folders."""

from __future__ import annotations

import dataclasses

import pytest

from capability_tests.benchmarks import BenchmarkError, get_benchmark, load_problems
from capability_tests.benchmarks.hub import read_hub_rows
from fixtures.paths import TEST_DATA

# name: (problems, first id, first reference answer)
STUDY_FILES = {
    "aime24": (30, "60", "204"),
    "amc23": (40, "0", "27"),
    "math500": (500, "test/precalculus/807.json", r"\left( 3, \frac{\pi}{2} \right)"),
    "minerva_math": (272, "0", "1.6"),
    "olympiadbench": (675, "1606", "2"),
    "gsm8k": (1319, "0", "18"),
}


@pytest.mark.parametrize("name", sorted(STUDY_FILES))
def test_loads_study_file(shared_benchmarks, name):
    count, first_id, first_answer = STUDY_FILES[name]
    problems = load_problems(name, shared_benchmarks)
    assert len(problems) == count
    assert [p.error for p in problems if p.error] == []
    assert problems[0].problem_id == first_id
    assert problems[0].answer == first_answer
    assert all(p.question.strip() and p.answer.strip() for p in problems)
    assert len({p.problem_id for p in problems}) == count
    assert problems[0].source.endswith(f"{name}/test.jsonl:1")


def test_limit_keeps_first_rows(small_benchmarks):
    problems = load_problems("gsm8k", small_benchmarks, limit=3)
    assert [p.problem_id for p in problems] == ["0", "1", "2"]


def test_schema_specifics(shared_benchmarks):
    math500 = load_problems("math500", shared_benchmarks)
    assert math500[0].keywords == ("level2", "precalculus")
    olympiad = {p.problem_id: p for p in load_problems("olympiadbench", shared_benchmarks)}
    multi = [p for p in olympiad.values() if p.meta["is_multiple_answer"]]
    assert len(multi) == 94
    assert all(isinstance(a, str) and not a.startswith("$") for p in multi for a in p.meta["final_answer"])
    amc = load_problems("amc23", shared_benchmarks)
    assert all("." not in p.answer for p in amc), "AMC integer floats lose their .0"
    gsm = load_problems("gsm8k", shared_benchmarks)
    assert all("," not in p.answer and "####" not in p.answer for p in gsm)


def test_bad_rows_become_errored_problems_with_file_and_line():
    problems = load_problems("aime24", TEST_DATA / "benchmarks" / "broken")
    by_line = {p.source.rsplit(":", 1)[-1]: p for p in problems}
    assert by_line["1"].error is None and by_line["1"].answer == "2"
    assert "not valid JSON" in by_line["2"].error and "aime24.jsonl:2" in by_line["2"].error
    assert "no reference answer" in by_line["3"].error and "aime24.jsonl:3" in by_line["3"].error
    assert "4" not in by_line, "a blank line is not a problem"
    assert "not a JSON object" in by_line["5"].error
    assert by_line["6"].error is None and by_line["6"].problem_id == "6"
    assert "duplicate problem id '1'" in by_line["7"].error
    # rows without a readable id are named after their line
    assert by_line["2"].problem_id == "line2" and by_line["5"].problem_id == "line5"


def test_missing_file_names_benchmark_and_paths(tmp_path):
    with pytest.raises(BenchmarkError, match=r"benchmark 'gsm8k'.*gsm8k/test\.jsonl"):
        load_problems("gsm8k", tmp_path)


def test_unknown_benchmark_lists_known():
    with pytest.raises(BenchmarkError, match="unknown benchmark 'aime25'.*aime24"):
        get_benchmark("aime25")


def test_demo_benchmark_is_packaged():
    problems = load_problems("demo")
    assert len(problems) == 10 and problems[0].answer == "19"


# name: (first id, first answer, second answer)
HUB_SAMPLES = {
    "aime24": ("60", "204", "113"),
    "amc23": ("0", "27", "36"),
    "math500": ("test/precalculus/807.json", r"\left( 3, \frac{\pi}{2} \right)", "p - q"),
    "minerva_math": ("0", "1.6", "4.5e33"),
    "olympiadbench": ("1606", "2", "1, 2"),
    "gsm8k": ("0", "18", "3"),
}


@pytest.mark.parametrize("name", sorted(HUB_SAMPLES))
def test_hub_loader_reads_hub_layout(name, tmp_path, monkeypatch):
    """The real `datasets.load_dataset` call, pointed at a local folder laid out like the Hub
    repository (same config and split names, the Hub's field names)."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    benchmark = get_benchmark(name)
    local = dataclasses.replace(benchmark.hub, repo=str(TEST_DATA / "hub" / name))
    # a source with no pinned commit (docs/BENCHMARKS.md) is read at a revision asked for
    revision = None if benchmark.hub.revision else "0" * 40
    problems = list(benchmark.problems_from_rows(read_hub_rows(local, name, revision)))
    first_id, first, second = HUB_SAMPLES[name]
    assert [p.error for p in problems] == [None, None]
    assert problems[0].problem_id == first_id
    assert [p.answer for p in problems] == [first, second]
    assert problems[0].source.startswith("hub:")


def test_hub_failure_says_how_to_work_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    benchmark = get_benchmark("aime24")
    missing = dataclasses.replace(benchmark.hub, repo="no-such-org/no-such-dataset")
    with pytest.raises(BenchmarkError, match=r"offline \(ConnectionError.*--data-dir"):
        list(read_hub_rows(missing, "aime24"))
