"""A benchmark with measured answers: a lab-physics set whose references are rounded
measurements, graded within 2% either side (its grading policy, declared here, never in the
suite's grading code). Registered through the entry point group `capability_tests.benchmarks`."""

from __future__ import annotations

from pathlib import Path

from capability_tests import Benchmark, GradingPolicy, ParsedRow, RowError


def parse_row(row) -> ParsedRow:
    """One JSONL row: `question` and a numeric `answer` (a string, as measured)."""
    try:
        return ParsedRow(question=str(row["question"]), answer=str(row["answer"]))
    except KeyError as exc:
        raise RowError(f"missing field {exc.args[0]!r}") from None


LAB_PHYSICS = Benchmark(
    name="labphys",
    family="math",  # answered in \boxed{} like the study's math sets, graded by the math verifier
    parse_row=parse_row,
    id_fields=("id",),
    description="four measured-answer physics problems (extension example)",
    packaged_file=Path(__file__).with_name("labphys.jsonl"),
    grading_policy=GradingPolicy(tolerance="relative", tolerance_value=0.02),
)
