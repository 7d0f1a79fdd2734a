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


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf", "-inf", "soon", ""])
def test_timeout_must_be_a_positive_finite_number(data_dir, bad, capsys):
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers())
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["grade", "--data-dir", str(data_dir), "--timeout", bad, "-"])
    assert exc.value.code == 2
    assert "--timeout" in capsys.readouterr().err


def test_timeout_checked_when_run_is_called_directly(data_dir):
    args = argparse.Namespace(data_dir=data_dir, grading_workers=1, timeout=float("nan"), file="-")
    with pytest.raises(SystemExit, match="--timeout"):
        command.run(args)


class _CountingPool:
    """Stands in for GradingPool: records how many completions are in flight at once."""

    in_flight = 0
    most_in_flight = 0

    def __init__(self, workers=None, timeout=None):
        pass

    def submit(self, completion, problem):
        from concurrent.futures import Future

        from capability_tests.grading import grade

        cls = type(self)
        cls.in_flight += 1
        cls.most_in_flight = max(cls.most_in_flight, cls.in_flight)
        future: Future = Future()
        verdict = grade(completion, problem)

        def result(timeout=None, _v=verdict):
            cls.in_flight -= 1
            return _v

        future.result = result  # type: ignore[method-assign]
        return future

    def close(self):
        pass


class _LazyLines(io.TextIOBase):
    """A stdin that makes its lines on demand and remembers how far ahead of the output it got."""

    def __init__(self, n, out):
        self.n, self.read_count, self.out, self.most_ahead = n, 0, out, 0

    def __iter__(self):
        for i in range(self.n):
            self.read_count += 1
            written = self.out.getvalue().count("\n")
            self.most_ahead = max(self.most_ahead, self.read_count - written)
            problem = "61" if i % 2 else "60"
            yield json.dumps({"benchmark": "aime24", "problem_id": problem,
                              "completion": "x" * 1000 + rf" \boxed{{{i % 300}}}"}) + "\n"


def test_grade_streams_in_bounded_batches(data_dir, monkeypatch):
    import capability_tests.grading.pool as pool_module

    monkeypatch.setattr(pool_module, "GradingPool", _CountingPool)
    monkeypatch.setattr(command, "BATCH_LINES", 64)
    out = io.StringIO()
    lines = _LazyLines(5000, out)
    monkeypatch.setattr(sys, "stdin", lines)
    monkeypatch.setattr(sys, "stdout", out)
    args = argparse.Namespace(data_dir=data_dir, grading_workers=1, timeout=3.0, file="-")
    assert command.run(args) == 0
    verdicts = [json.loads(l) for l in out.getvalue().splitlines()]
    assert len(verdicts) == 5000
    assert [int(v["extracted"]) for v in verdicts] == [i % 300 for i in range(5000)]  # in order
    assert all(v["correct"] == (v["extracted"] == ("204" if v["problem_id"] == "60" else "25"))
               for v in verdicts)
    assert sum(v["correct"] for v in verdicts) > 0
    # never more than one batch of completions held, whatever the input size
    assert _CountingPool.most_in_flight <= 64
    assert lines.most_ahead <= 64 + 1
