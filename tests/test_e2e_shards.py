"""Beyond one machine with a real engine: three `--shard I/3` runs of vLLM (the embedded model,
the demo problems), merged, against one run of the whole selection: equal pass@k, equal stored
texts, and the single-machine command on the merged store generates nothing. Start under
`flock /tmp/engine.lock` on shared machines (each run starts a vLLM engine)."""

from __future__ import annotations

import json
import sqlite3
import zlib

import pytest

from capability_tests.cli import main as cli

pytestmark = pytest.mark.e2e

SUITE = ["-p", "capability_tests.plugin", "--pyargs", "capability_tests.suite"]
ARGS = [*SUITE, "--model=smollm2-135m", "--benchmarks=demo", "--limit=6", "--k=2",
        "--max-tokens=24", "--unsolved=xfail", "-p", "no:cacheprovider"]


def _summary(folder):
    return json.loads((folder / "summary.json").read_text())


def _texts(path, generation):
    db = sqlite3.connect(str(path))
    try:
        (gen,) = db.execute("SELECT id FROM generations WHERE key=?", (generation,)).fetchone()
        return {(p, i): zlib.decompress(t).decode() for p, i, t in db.execute(
            "SELECT prompt, idx, text FROM samples WHERE generation=?", (gen,))}
    finally:
        db.close()


def test_three_vllm_shards_merge_into_the_single_run(pytester):
    single = pytester.runpytest_subprocess(*ARGS, "--report-dir=single", timeout=900)
    assert single.ret == 0, single.stdout.str()
    for i in range(3):
        shard = pytester.runpytest_subprocess(*ARGS, f"--shard={i}/3", f"--report-dir=shard{i}",
                                              timeout=900)
        assert shard.ret == 0, shard.stdout.str()
        assert "starting vllm engine" in "\n".join(shard.outlines)
    out = pytester.path / "merged"
    assert cli(["merge", *(str(pytester.path / f"shard{i}") for i in range(3)),
                "--out", str(out)]) == 0
    one, merged = _summary(pytester.path / "single"), _summary(out)
    assert merged["complete"] is True and merged["run"] == one["run"]
    assert merged["benchmarks"]["demo"]["problems"] == 6
    assert merged["benchmarks"]["demo"]["pass_at_k"] == one["benchmarks"]["demo"]["pass_at_k"]
    assert merged["benchmarks"] == one["benchmarks"]
    a = pytester.path / "single" / one["run_id"]
    b = out / merged["run_id"]
    for name in ("problems.jsonl", "samples.jsonl", "pass_at_k.csv"):
        assert (a / name).read_text() == (b / name).read_text(), name
    assert merged["store"]["generation"] == one["store"]["generation"]
    texts = _texts(out / "completions.sqlite", merged["store"]["generation"])
    assert len(texts) == 12
    assert texts == _texts(pytester.path / "single" / "completions.sqlite",
                           one["store"]["generation"])
    rerun = pytester.runpytest_subprocess(*ARGS, f"--report-dir={out}", timeout=900)
    assert rerun.ret == 0, rerun.stdout.str()
    assert "starting vllm engine" not in "\n".join(rerun.outlines)
    again = _summary(out)
    assert again["provenance"]["samples"] == {"generated": 0, "from_store": 12}
    assert again["benchmarks"] == one["benchmarks"]
