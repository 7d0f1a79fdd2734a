"""Hub data that stays the same: pinned revisions reach the loader, what was read is recorded
(summary.json, report.md, JUnit), --data-revision overrides, each unreachable-Hub cause is
named, LiveCodeBench reads parquet release configs, and compare/--baseline name data changes.

The real `datasets` client runs throughout, on local Hub-shaped folders; the causes are raised
by patching the Hub client (`huggingface_hub.HfApi.hf_hub_download`) beneath `datasets`, so the
messages are the ones `datasets` itself builds from the Hub's exceptions."""

from __future__ import annotations

import dataclasses
import json
import re
import warnings
from pathlib import Path

import pytest

from capability_tests.benchmarks import BenchmarkError, HubSource, get_benchmark, load_benchmark
from capability_tests.benchmarks.catalog import BUILTIN_BENCHMARKS
from capability_tests.benchmarks.hub import (
    UnpinnedDataWarning,
    is_commit,
    load_hub_split,
    rows_sha256,
    unreachable_cause,
)
from fixtures.hub_fixtures import lcb_rows, redirect_hub, write_release_layout
from fixtures.paths import TEST_DATA

ROOT = Path(__file__).resolve().parents[1]
COMMIT = "0123456789abcdef0123456789abcdef01234567"
GSM8K_ROWS = [json.loads(line) for line in (TEST_DATA / "hub" / "gsm8k" / "main" / "test.jsonl")
              .read_text().splitlines() if line.strip()]


@pytest.fixture(autouse=True)
def _hf_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


def test_hub_sources_name_a_commit_and_the_docs_say_which():
    """Every built-in Hub source is pinned to a commit, or is one the docs list as unpinned
    (no commit could be checked from here); the docs name each source and its revision."""
    docs = (ROOT / "docs" / "BENCHMARKS.md").read_text()
    for benchmark in BUILTIN_BENCHMARKS:
        if benchmark.hub is None:
            continue
        assert benchmark.hub.repo in docs, benchmark.name
        if benchmark.hub.revision is None:
            assert re.search(rf"{benchmark.name}.*no pinned commit", docs), benchmark.name
        else:
            assert is_commit(benchmark.hub.revision), benchmark.name
            assert benchmark.hub.revision in docs, benchmark.name


def test_the_pinned_revision_is_passed_to_the_loader_and_recorded(monkeypatch):
    calls = redirect_hub(monkeypatch, {"openai/gsm8k": TEST_DATA / "hub" / "gsm8k"})
    pinned = get_benchmark("gsm8k").hub.revision
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnpinnedDataWarning)  # a pinned read warns of nothing
        loaded = load_benchmark("gsm8k")
    assert calls == [{"path": "openai/gsm8k", "name": "main", "revision": pinned}]
    assert loaded.source == f"hub:openai/gsm8k@{pinned}/main:test"
    assert loaded.hub == {
        "hub_id": "openai/gsm8k", "config": "main", "split": "test", "revision": pinned,
        "commit": None, "pinned": True, "loaded_from": "datasets cache", "rows": 2,
        "rows_sha256": rows_sha256(GSM8K_ROWS),
    }
    assert [p.answer for p in loaded.problems] == ["18", "3"]
    assert loaded.problems[0].source == f"hub:openai/gsm8k@{pinned}:test:0"
    assert loaded.fingerprint_source()["hub"] == loaded.hub


@pytest.mark.parametrize(("name", "repo", "config"), [
    ("amc23", "math-ai/amc23", None),
    ("minerva_math", "math-ai/minervamath", None),
    ("olympiadbench", "Hothan/OlympiadBench", "OE_TO_maths_en_COMP"),
])
def test_the_study_sets_once_unpinned_read_their_pinned_commit(name, repo, config, monkeypatch):
    """AMC23, Minerva and OlympiadBench are read from the Hub at their own pinned commit, with
    no --data-revision and no warning (issue 24; docs/BENCHMARKS.md says where each came from)."""
    calls = redirect_hub(monkeypatch, {repo: TEST_DATA / "hub" / name})
    pinned = get_benchmark(name).hub.revision
    assert is_commit(pinned)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnpinnedDataWarning)
        loaded = load_benchmark(name)
    assert calls == [{"path": repo, "name": config, "revision": pinned}]
    assert loaded.hub["hub_id"] == repo and loaded.hub["revision"] == pinned
    assert loaded.hub["pinned"] is True and loaded.hub["rows"] == 2
    assert loaded.source.startswith(f"hub:{repo}@{pinned}")
    assert [p.error for p in loaded.problems] == [None, None]


def test_the_rows_fingerprint_follows_the_content():
    assert rows_sha256([{"a": 1, "b": "x"}]) == rows_sha256([{"b": "x", "a": 1}])
    assert rows_sha256([{"a": 1}]) != rows_sha256([{"a": 2}])
    assert rows_sha256([{"a": 1}, {"a": 2}]) != rows_sha256([{"a": 2}, {"a": 1}])


def test_a_revision_override_reaches_the_loader_and_main_warns(monkeypatch):
    calls = redirect_hub(monkeypatch, {"openai/gsm8k": TEST_DATA / "hub" / "gsm8k"})
    assert load_benchmark("gsm8k", revision=COMMIT).hub["revision"] == COMMIT
    with pytest.warns(UnpinnedDataWarning, match=r"'gsm8k'.*at 'main', not a commit"):
        loaded = load_benchmark("gsm8k", revision="main")
    assert [c["revision"] for c in calls] == [COMMIT, "main"]
    assert loaded.hub["revision"] == "main" and loaded.hub["pinned"] is False


def test_a_source_without_a_pin_is_refused_unless_a_revision_is_asked_for():
    source = HubSource(str(TEST_DATA / "hub" / "amc23"), split="test")
    with pytest.raises(BenchmarkError, match=r"names no revision.*--data-revision amc23=<commit>"):
        load_hub_split(source, "amc23")
    assert load_hub_split(source, "amc23", COMMIT).provenance["rows"] == 2


# -- LiveCodeBench: parquet files by release ------------------------------------------------------


def test_livecodebench_reads_its_release_from_parquet_files(tmp_path, monkeypatch):
    folder = write_release_layout(tmp_path / "lcb")
    benchmark = get_benchmark("livecodebench")
    assert benchmark.hub.repo == "lighteval/code_generation_lite"
    assert benchmark.hub.config.startswith("release_v") and is_commit(benchmark.hub.revision)
    calls = redirect_hub(monkeypatch, {benchmark.hub.repo: folder})
    loaded = load_benchmark("livecodebench")
    assert calls[0]["name"] == benchmark.hub.config
    assert calls[0]["revision"] == benchmark.hub.revision
    assert [p.problem_id for p in loaded.problems] == ["abc000_a", lcb_rows()[1]["question_id"]]
    assert [p.meta["mode"] for p in loaded.problems] == ["stdio", "calls"]
    assert loaded.hub["config"] == benchmark.hub.config and loaded.hub["rows"] == 2
    assert f"/{benchmark.hub.config}:test" in loaded.source
    v1 = load_hub_split(dataclasses.replace(benchmark.hub, repo=str(folder), config="release_v1"),
                        "livecodebench")
    assert v1.provenance["config"] == "release_v1" and v1.provenance["rows"] == 1
    assert v1.provenance["rows_sha256"] != loaded.hub["rows_sha256"]


# -- each cause of an unreachable Hub -------------------------------------------------------------


def _response(status: int):
    import httpx2

    return httpx2.Response(status, request=httpx2.Request("GET", "https://huggingface.co/x"))


@pytest.fixture
def online(monkeypatch, tmp_path):
    """`datasets` as if online, with the Hub client's downloads answered by `answer(filename)`."""
    import datasets
    import huggingface_hub

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    answers: dict = {}

    def download(self, repo_id, filename, *args, **kwargs):
        answer = answers["answer"](filename)
        if isinstance(answer, BaseException):
            raise answer
        return str(answer)

    monkeypatch.setattr(huggingface_hub.HfApi, "hf_hub_download", download)
    return answers


def _load_error(source: HubSource, name: str = "bench") -> BenchmarkError:
    with pytest.raises(BenchmarkError) as caught:
        load_hub_split(source, name)
    return caught.value


def test_network_failure_is_named(online):
    from huggingface_hub.utils import httpx

    online["answer"] = lambda filename: httpx.ConnectError("[Errno 111] Connection refused")
    message = str(_load_error(HubSource("ct-fixture/net", "test", revision=COMMIT)))
    assert "cannot load ct-fixture/net split 'test' at revision " + COMMIT in message
    assert "network (ConnectionError: Couldn't reach 'ct-fixture/net'" in message
    assert "check the connection" in message and "--data-dir" in message


def test_gated_dataset_is_named(online):
    from huggingface_hub.errors import GatedRepoError

    online["answer"] = lambda filename: GatedRepoError("gated", response=_response(401))
    message = str(_load_error(HubSource("ct-fixture/gated", "test", revision=COMMIT)))
    assert "gated (DatasetNotFoundError: Dataset 'ct-fixture/gated' is a gated dataset" in message
    assert "accept its terms at https://huggingface.co/datasets/ct-fixture/gated" in message
    assert "offline" not in message


def test_missing_revision_and_repository_are_named(online):
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    online["answer"] = lambda filename: RevisionNotFoundError("no rev", response=_response(404))
    message = str(_load_error(HubSource("ct-fixture/rev", "test", revision=COMMIT), "gsm8k"))
    assert f"revision (DatasetNotFoundError: Revision '{COMMIT}' doesn't exist" in message
    assert "check --data-revision gsm8k=REV" in message
    online["answer"] = lambda filename: RepositoryNotFoundError("no repo", response=_response(404))
    message = str(_load_error(HubSource("ct-fixture/none", "test", revision=COMMIT)))
    assert "repository (DatasetNotFoundError: Dataset 'ct-fixture/none' doesn't exist" in message


def test_script_based_repository_is_named(online, tmp_path):
    """The repository ships a loading script: `datasets` finds the .py file and refuses it."""
    snapshot = tmp_path / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "README.md").write_text("---\n---\n")
    (snapshot / "code_generation_lite.py").write_text("# a loading script\n")
    online["answer"] = lambda filename: snapshot / filename
    message = str(_load_error(HubSource("ct-fixture/code_generation_lite", "test",
                                        config="release_v5", revision=COMMIT), "livecodebench"))
    assert "script (RuntimeError: Dataset scripts are no longer supported" in message
    assert "ships a loading script (code_generation_lite.py)" in message
    assert "parquet" in message and "offline, or not cached" not in message


def test_offline_without_a_cached_copy_is_named(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    message = str(_load_error(HubSource("ct-fixture/offline", "test", revision=COMMIT)))
    assert "offline (ConnectionError:" in message and "HF_HUB_OFFLINE" in message
    assert "not in the local `datasets` cache" in message


def test_missing_config_and_split_are_named():
    folder = str(TEST_DATA / "hub" / "olympiadbench")
    message = str(_load_error(HubSource(folder, "train", config="OE_TO_maths_zh_COMP", revision=COMMIT)))
    assert "config (ValueError: BuilderConfig 'OE_TO_maths_zh_COMP' not found. Available: " \
           "['OE_TO_maths_en_COMP'])" in message
    message = str(_load_error(HubSource(folder, "test", config="OE_TO_maths_en_COMP", revision=COMMIT)))
    assert "split (ValueError: Unknown split \"test\". Should be one of ['train'].)" in message
    assert "no split 'test'" in message


def test_causes_are_told_apart_by_the_clients_exception_types():
    from datasets.exceptions import DataFilesNotFoundError, DatasetNotFoundError

    assert unreachable_cause(DataFilesNotFoundError("No (supported) data files found")) == "data files"
    assert unreachable_cause(DatasetNotFoundError("Dataset 'x' doesn't exist")) == "repository"
    assert unreachable_cause(TimeoutError("timed out")) == "network"
    assert unreachable_cause(KeyError("odd")) == "other"


# -- reports: summary.json, report.md, JUnit; compare and --baseline ------------------------------


def _run(pytester, *extra):
    from fixtures.fake_engine import FAKE, SUITE

    return pytester.runpytest(*SUITE, *FAKE, "--benchmarks=gsm8k", "--k=1", "--unsolved=xfail",
                              "--junitxml=junit.xml", *extra)


def test_a_run_records_its_data_in_every_report(pytester, fake_engine_env, monkeypatch):
    redirect_hub(monkeypatch, {"openai/gsm8k": TEST_DATA / "hub" / "gsm8k"})
    pinned = get_benchmark("gsm8k").hub.revision
    _run(pytester).assert_outcomes(xfailed=2)
    summary = json.loads((pytester.path / "reports" / "summary.json").read_text())
    hub = summary["data"]["gsm8k"]["hub"]
    assert (hub["hub_id"], hub["config"], hub["split"], hub["revision"], hub["rows"]) == (
        "openai/gsm8k", "main", "test", pinned, 2)
    assert hub["rows_sha256"] == rows_sha256(GSM8K_ROWS)
    assert summary["provenance"]["data"]["gsm8k"]["hub"] == hub
    report = (pytester.path / "reports" / summary["run_id"] / "report.md").read_text()
    assert "## Data sources" in report and f"`{pinned}`" in report
    assert "| gsm8k | openai/gsm8k | main | test |" in report
    junit = (pytester.path / "junit.xml").read_text()
    assert re.search(rf'name="capability_data_gsm8k" value="hub:openai/gsm8k@{pinned} config=main '
                     rf'split=test commit=not reported rows=2 rows_sha256={hub["rows_sha256"]}"', junit)


def test_data_revision_option_overrides_and_is_checked(pytester, fake_engine_env, monkeypatch):
    calls = redirect_hub(monkeypatch, {"openai/gsm8k": TEST_DATA / "hub" / "gsm8k"})
    first = _run(pytester, f"--data-revision=gsm8k={COMMIT}")
    first.assert_outcomes(xfailed=2)
    assert {c["revision"] for c in calls} == {COMMIT}
    summary = json.loads((pytester.path / "reports" / "summary.json").read_text())
    assert summary["data"]["gsm8k"]["hub"]["revision"] == COMMIT
    assert summary["run"]["data_revisions"] == {"gsm8k": COMMIT}
    result = _run(pytester, "--data-revision=aime25=main")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--data-revision aime25=main: unknown benchmark 'aime25'*"])
    result = _run(pytester, "--data-revision=gsm8k")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*expected BENCH=REV*"])
    result = _run(pytester, "--data-revision=demo=main")
    result.stderr.fnmatch_lines(["*benchmark 'demo' has no Hub source*"])


@pytest.mark.slow
def test_compare_and_baseline_name_a_data_difference(pytester, fake_engine_env, monkeypatch, tmp_path):
    """Two runs of the same model and settings on two revisions whose rows differ: the baseline
    gate notes it, and `compare` names the revision, row count and rows sha256."""
    other = tmp_path / "gsm8k-later"
    (other / "main").mkdir(parents=True)
    (other / "README.md").write_text((TEST_DATA / "hub" / "gsm8k" / "README.md").read_text())
    (other / "main" / "test.jsonl").write_text(json.dumps(GSM8K_ROWS[0]) + "\n")
    folders = {"openai/gsm8k": TEST_DATA / "hub" / "gsm8k"}
    redirect_hub(monkeypatch, folders)
    _run(pytester).assert_outcomes(xfailed=2)
    first = json.loads((pytester.path / "reports" / "summary.json").read_text())["run_id"]
    folders["openai/gsm8k"] = other
    result = _run(pytester, f"--data-revision=gsm8k={COMMIT}", f"--baseline={first}",
                  f"--compare={first}")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines([f"*GATE NOTE: the data differ from baseline {first}: gsm8k: "
                                 f"revision {COMMIT!r} (this run) vs *rows 1 (this run) vs 2 (baseline)*",
                                 "*DATA DIFFERS between A and B*"])
    summary = json.loads((pytester.path / "reports" / "summary.json").read_text())
    note = [g for g in summary["gates"] if g.get("data_differ")]
    assert {d["field"] for d in note[0]["data_differ"]} >= {"revision", "rows", "rows_sha256"}
    compare = json.loads((pytester.path / "reports" / summary["run_id"] / "compare" /
                          "compare.json").read_text())
    fields = {d["field"] for d in compare["setting_differences"][0]["data_differences"]}
    assert {"revision", "rows", "rows_sha256", "problems_sha256"} <= fields
    settings = {d["setting"] for d in compare["setting_differences"][0]["differences"]}
    assert not any(s.startswith("provenance.data") for s in settings)
