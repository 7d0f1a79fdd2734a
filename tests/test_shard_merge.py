"""`--shard I/N` and `capability-tests merge` with the scripted engine: the plan (pure,
property-tested), shards that cover the selection once, a merge equal to one machine's run,
refusals that name what differs, incremental merging, and a rerun on the merged store that
generates nothing. The same with a real engine: tests/test_e2e_shards.py."""

from __future__ import annotations

import json
import sqlite3
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capability_tests.cli import main as cli
from capability_tests.shard_plan import expected_tokens, parse_shard, plan, shard_costs
from fixtures.fake_engine import FAKE, SUITE, generate_calls

SCRIPT = {"demo/add": ["\\boxed{19}", "no"], "demo/sub": ["\\boxed{27}"],
          "demo/mul": ["no", "no", "\\boxed{42}"], "demo/div": ["\\boxed{1}", "\\boxed{2}"]}
RUN = [*SUITE, *FAKE, "--benchmarks=demo", "--k=3", "--unsolved=xfail"]


# -- the plan -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("3/3", "I counts from 0 to N-1"), ("1/0", "N must be at least 1"), ("a/b", "expected I/N"),
    ("1", "expected I/N"), ("-1/2", "expected I/N"),
])
def test_a_bad_shard_is_refused_saying_why(text, message):
    with pytest.raises(ValueError, match=message):
        parse_shard(text)


def test_a_shard_spec_reads_back():
    spec = parse_shard(" 2 / 8 ")
    assert (spec.index, spec.count, str(spec)) == (2, 8, "2/8")


problems_st = st.dictionaries(
    st.text("abcdefgh/0123", min_size=1, max_size=6),
    st.sampled_from(["gsm8k", "aime24", "math500", "demo", "unknown_bench"]), max_size=60)


@settings(max_examples=150, deadline=None)
@given(problems=problems_st, count=st.integers(1, 9), max_tokens=st.integers(1, 5000),
       seed=st.randoms())
def test_the_plan_covers_once_is_order_free_and_balanced(problems, count, max_tokens, seed):
    pairs = list(problems.items())
    assignment = plan(pairs, count, max_tokens)
    assert set(assignment) == set(problems) and all(0 <= s < count for s in assignment.values())
    shuffled = pairs[:]
    seed.shuffle(shuffled)
    assert plan(shuffled, count, max_tokens) == assignment, "every machine computes the same"
    loads = shard_costs(assignment, problems, count, max_tokens)
    biggest = max((expected_tokens(b, max_tokens) for b in problems.values()), default=0)
    assert max(loads) - min(loads) <= biggest, "shards differ by at most one problem's cost"


def test_the_plan_spreads_every_benchmark_over_the_shards():
    pairs = [(f"gsm8k/{i}", "gsm8k") for i in range(30)] + [(f"aime24/{i}", "aime24")
                                                               for i in range(6)]
    assignment = plan(pairs, 3, 4096)
    for bench in ("gsm8k", "aime24"):
        per = [sum(1 for k, s in assignment.items() if s == i and k.startswith(bench))
               for i in range(3)]
        assert max(per) - min(per) <= 1, (bench, per)


# -- shards and merge with the scripted engine --------------------------------------------------

def _run(pytester, *args):
    return pytester.runpytest_subprocess(*RUN, *args)


def _run_dir(report_dir):
    return report_dir / json.loads((report_dir / "summary.json").read_text())["run_id"]


def _texts(path, generation_json):
    db = sqlite3.connect(str(path))
    try:
        (gen,) = db.execute("SELECT id FROM generations WHERE key=?", (generation_json,)).fetchone()
        return {(p, i): (zlib.decompress(t).decode(), c, g) for p, i, t, c, g in db.execute(
            "SELECT prompt, idx, text, correct, grading FROM samples WHERE generation=?", (gen,))}
    finally:
        db.close()


@pytest.fixture
def scripted(fake_engine_env, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps(SCRIPT))
    return fake_engine_env


@pytest.mark.slow
def test_three_shards_merge_into_what_one_machine_writes(pytester, scripted):
    single = _run(pytester, "--report-dir=single")
    assert single.ret == 0, single.stdout.str()
    keys = []
    for i in range(3):
        result = _run(pytester, f"--shard={i}/3", f"--report-dir=shard{i}")
        assert result.ret == 0, result.stdout.str()
        record = json.loads((_run_dir(pytester.path / f"shard{i}") / "shard.json").read_text())
        assert record["shard"] == {"index": i, "count": 3}
        keys += record["problems"]
        assert (pytester.path / f"shard{i}" / f"completions-shard-{i}-of-3.sqlite").is_file()
    assert sorted(keys) == sorted(set(keys)) and len(keys) == 10, "the shards cover it once"
    shard1 = json.loads((pytester.path / "shard1" / "summary.json").read_text())
    assert shard1["run"]["shard"] == [1, 3]
    assert shard1["provenance"]["shard"] == {"index": 1, "count": 3}
    assert "| shard | `1/3` |" in (_run_dir(pytester.path / "shard1") / "report.md").read_text()
    out = pytester.path / "merged"
    assert cli(["merge", *(str(pytester.path / f"shard{i}") for i in range(3)),
                "--out", str(out)]) == 0
    a, b = _run_dir(pytester.path / "single"), _run_dir(out)
    sa, sb = (json.loads((p / "summary.json").read_text()) for p in (a, b))
    for name in ("benchmarks", "run", "data", "grader", "complete", "exit_status", "sampling",
                 "versions"):
        assert sa[name] == sb[name], name
    for name in ("problems.jsonl", "samples.jsonl", "pass_at_k.csv"):
        assert (a / name).read_text() == (b / name).read_text(), name
    assert (b / "pass_at_k.png").is_file() and "pass@k report" in (b / "report.md").read_text()
    assert sb["provenance"]["samples"] == {"generated": 30, "from_store": 0}
    assert "shard" not in sb["provenance"] and "shard" not in sa["provenance"]
    assert sb["store"]["generation"] == sa["store"]["generation"]
    assert _texts(out / "completions.sqlite", sb["store"]["generation"]) == \
        _texts(pytester.path / "single" / "completions.sqlite", sa["store"]["generation"])
    # the single-machine command on the merged store generates nothing
    before = len(generate_calls(scripted))
    rerun = _run(pytester, f"--report-dir={out}")
    assert rerun.ret == 0, rerun.stdout.str()
    assert len(generate_calls(scripted)) == before
    again = json.loads((out / "summary.json").read_text())
    assert again["provenance"]["samples"] == {"generated": 0, "from_store": 30}
    assert again["benchmarks"] == sa["benchmarks"]


@pytest.mark.slow
def test_a_missing_shard_is_named_and_merging_it_later_copies_only_it(pytester, scripted,
                                                                       capsys):
    for i in range(3):
        assert _run(pytester, f"--shard={i}/3", f"--report-dir=s{i}").ret == 0
    out = pytester.path / "merged"
    runs = [str(pytester.path / f"s{i}") for i in range(3)]
    assert cli(["merge", runs[0], runs[2], "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "shard 1/3 is missing" in err
    partial = json.loads((out / "summary.json").read_text())
    assert partial["complete"] is False and partial["merge"]["missing"] == ["shard 1/3 is missing"]
    assert cli(["merge", *runs, "--out", str(out)]) == 0
    said = capsys.readouterr().out
    shard1 = sum(1 for _ in open(_run_dir(pytester.path / "s1") / "samples.jsonl"))
    assert f"samples: {shard1} copied" in said and f"{30 - shard1} already there" in said
    final = json.loads((out / "summary.json").read_text())
    assert final["complete"] is True and final["benchmarks"]["demo"]["problems"] == 10
    assert set(json.loads((out / "merge.json").read_text())["runs"]) == {
        json.loads((pytester.path / f"s{i}" / "summary.json").read_text())["run_id"]
        for i in range(3)}


@pytest.mark.parametrize("odd, named", [
    (["--temperature=1.0"], "temperature = 0.6"),
    pytest.param(["--max-tokens=99"], "max_tokens = 4096", marks=pytest.mark.slow),
    pytest.param(["--seed=7"], "seed = 0", marks=pytest.mark.slow),
])
def test_runs_sampled_differently_are_refused_naming_the_setting(pytester, scripted, capsys,
                                                                  odd, named):
    assert _run(pytester, "--shard=0/2", "--report-dir=a").ret == 0
    assert _run(pytester, "--shard=1/2", "--report-dir=b", *odd).ret == 0
    out = pytester.path / "merged"
    assert cli(["merge", str(pytester.path / "a"), str(pytester.path / "b"),
                "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert named in err and "shard 1/2" in err, err
    assert not out.exists(), "nothing written"


@pytest.mark.slow
def test_overlapping_or_repeated_shards_are_refused(pytester, scripted, capsys):
    assert _run(pytester, "--shard=0/2", "--report-dir=a").ret == 0
    assert _run(pytester, "--shard=0/2", "--report-dir=a2").ret == 0
    assert cli(["merge", str(pytester.path / "a"), str(pytester.path / "a2"),
                "--out", str(pytester.path / "m")]) == 2
    assert "shard 0/2 is given twice" in capsys.readouterr().err
    assert _run(pytester, "--shard=1/3", "--report-dir=c").ret == 0
    assert cli(["merge", str(pytester.path / "a"), str(pytester.path / "c"),
                "--out", str(pytester.path / "m")]) == 2
    assert "shard count" in capsys.readouterr().err


@pytest.mark.slow
def test_a_different_selection_is_refused(pytester, scripted, capsys):
    assert _run(pytester, "--shard=0/2", "--report-dir=a").ret == 0
    assert _run(pytester, "--shard=1/2", "--report-dir=b", "-k", "not add").ret == 0
    assert cli(["merge", str(pytester.path / "a"), str(pytester.path / "b"),
                "--out", str(pytester.path / "m")]) == 2
    assert "selected problems = 10" in capsys.readouterr().err


def test_a_bad_shard_option_is_a_usage_error_naming_it(pytester, scripted):
    result = _run(pytester, "--shard=2/2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--shard: I counts from 0 to N-1" in "\n".join(result.errlines)
    assert generate_calls(scripted) == []


@pytest.mark.slow
def test_a_shard_under_xdist_samples_its_slice_and_records_it(pytester, scripted):
    result = _run(pytester, "--shard=1/2", "--report-dir=x", "-n", "2")
    assert result.ret == 0, result.stdout.str()
    record = json.loads((_run_dir(pytester.path / "x") / "shard.json").read_text())
    sampled = sorted(k for c in generate_calls(scripted) for k in c["keys"])
    assert sampled == record["problems"] and len(sampled) == 5


def _fabricated(index, count, keys, selected):
    from pathlib import Path

    from capability_tests.merge.runs import ShardRun
    from capability_tests.reporting.recorded_runs import RecordedRun
    from capability_tests.results import ProblemResult

    results = [ProblemResult(k.split("/")[0], k.split("/")[1], 2, 1) for k in keys]
    record = {"shard": {"index": index, "count": count}, "problems": keys,
              "selection": {"problems": selected}}
    return ShardRun(RecordedRun(Path(f"/runs/{index}"), {"complete": True}, results), record,
                    Path("/stores/x"))


def test_shards_the_plan_leaves_empty_are_not_missing():
    from capability_tests.merge.runs import missing

    assignment = plan([("demo/a", "demo"), ("demo/b", "demo")], 4, 4096)
    assert sorted(assignment.values()) == [0, 1], "fewer problems than shards: the first ones"
    runs = [_fabricated(s, 4, [k for k, v in assignment.items() if v == s], 2) for s in (0, 1)]
    assert missing(runs) == []
    assert missing(runs[:1]) == ["shard 1/4 is missing"]
    short = _fabricated(0, 1, ["demo/a"], 2)
    short.record["problems"] = ["demo/a", "demo/b"]
    assert missing([short]) == ["shard 0/1 (/runs/0) lacks 1 of its problems (first: demo/b)"]
