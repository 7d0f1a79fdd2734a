"""The `grade` subcommand: JSONL in, one verdict per line out, bad lines are line errors."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import pytest

from capability_tests.grading import command



@pytest.fixture
def data_dir(tmp_path):
    (tmp_path / "aime24").mkdir()
    rows = [{"id": 60, "problem": "q1", "answer": "204"}, {"id": 61, "problem": "q2", "answer": "25"}]
    (tmp_path / "aime24" / "test.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return tmp_path


def test_grade_command(data_dir, tmp_path, monkeypatch, capsys):
    lines = [
        {"benchmark": "aime24", "problem_id": "60", "completion": r"so \boxed{204}"},
        "not json",
        {"benchmark": "aime24", "problem_id": "999", "completion": "x"},
        {"benchmark": "nosuch", "problem_id": "1", "completion": "x"},
        {"benchmark": "aime24", "problem_id": 61, "completion": "The answer is 24."},
        {"benchmark": "aime24", "problem_id": "61"},
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(l if isinstance(l, str) else json.dumps(l) for l in lines) + "\n")
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["grade", "--data-dir", str(data_dir), str(path)])
    assert command.run(args) == 0
    out = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert len(out) == len(lines)
    assert out[0]["correct"] is True and out[0]["extracted"] == "204"
    assert set(out[0]) >= {"benchmark", "problem_id", "correct", "extracted", "reason", "seconds",
                           "timed_out"}
    assert out[1]["line"] == 2 and out[1]["correct"] is False and "error" in out[1]
    assert "999" in out[2]["error"]
    assert "nosuch" in out[3]["error"]
    assert out[4]["correct"] is False and out[4]["extracted"] == "24"
    assert "completion" in out[5]["error"]


def test_grade_command_stdin(data_dir, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(
        {"benchmark": "aime24", "problem_id": "61", "completion": "Answer: 25"}) + "\n"))
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers())
    assert command.run(parser.parse_args(["grade", "--data-dir", str(data_dir), "-"])) == 0
    assert json.loads(capsys.readouterr().out)["correct"] is True


def test_import_does_not_pull_torch_or_vllm():
    import subprocess

    code = ("import sys, capability_tests.grading, capability_tests.grading.command; "
            "print(any(m.split('.')[0] in ('torch', 'vllm') for m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parent.parent,
                         env={"PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert res.stdout.strip() == "False", res.stderr


def test_console_command_has_grade(data_dir, tmp_path, capsys):
    from capability_tests.cli import main

    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"benchmark": "aime24", "problem_id": "60", "completion": r"\boxed{204}"}) + "\n")
    assert main(["grade", "--data-dir", str(data_dir), str(path)]) == 0
    verdict = json.loads(capsys.readouterr().out.strip())
    assert verdict["correct"] is True and verdict["extracted"] == "204"
