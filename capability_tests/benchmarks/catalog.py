"""The built-in benchmarks: the reference study's six math sets, plus a tiny offline demo set.

Each parser accepts both the schema the study's evaluation code ships (see shared/benchmarks) and
the schema of the benchmark's Hugging Face Hub copy, which names some fields differently.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

from capability_tests.benchmarks.base import (
    Benchmark,
    GradingPolicy,
    HubSource,
    ParsedRow,
    RowError,
)
from capability_tests.latex import last_boxed


def _text(row: Mapping[str, Any], *names: str) -> str:
    for name in names:
        value = row.get(name)
        if isinstance(value, str) and value.strip():
            return value
    raise RowError(f"no question (expected a non-empty field: {', '.join(names)})")


def _answer_text(value: Any) -> str | None:
    """A reference answer as text; floats that are integers lose their `.0` (AMC's `27.0`)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _keyword(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


def _answer_field(row: Mapping[str, Any], *names: str) -> str:
    for name in names:
        answer = _answer_text(row.get(name))
        if answer is not None:
            return answer
    raise RowError(f"no reference answer (expected a field: {', '.join(names)})")


def parse_aime_amc(row: Mapping[str, Any]) -> ParsedRow:
    return ParsedRow(question=_text(row, "problem", "question"), answer=_answer_field(row, "answer"))


def parse_math500(row: Mapping[str, Any]) -> ParsedRow:
    question = _text(row, "problem", "question")
    answer = _answer_text(row.get("answer"))
    if answer is None and isinstance(row.get("solution"), str):
        answer = last_boxed(row["solution"])
    if not answer:
        raise RowError("no reference answer (no `answer` field and no \\boxed{} in `solution`)")
    keywords = []
    meta: dict[str, Any] = {}
    if row.get("level") is not None:
        meta["level"] = row["level"]
        keywords.append(f"level{row['level']}")
    if isinstance(row.get("subject"), str):
        meta["subject"] = row["subject"]
        keywords.append(_keyword(row["subject"]))
    return ParsedRow(question=question, answer=answer, meta=meta, keywords=tuple(keywords))


def parse_minerva(row: Mapping[str, Any]) -> ParsedRow:
    question = _text(row, "problem", "question")
    answer = None
    if isinstance(row.get("solution"), str):
        answer = last_boxed(row["solution"])
    if answer is None:
        answer = _answer_text(row.get("answer"))
    if not answer:
        raise RowError("no reference answer (no \\boxed{} in `solution` and no `answer` field)")
    meta = {"type": row["type"]} if isinstance(row.get("type"), str) else {}
    return ParsedRow(question=question, answer=answer, meta=meta)


def parse_olympiadbench(row: Mapping[str, Any]) -> ParsedRow:
    question = _text(row, "question", "problem")
    if isinstance(row.get("context"), str) and row["context"].strip():
        question = f"{row['context'].strip()}\n\n{question}"
    final = row.get("final_answer")
    if isinstance(final, str):
        final = [final]
    if not isinstance(final, list) or not final or not all(isinstance(a, str) for a in final):
        raise RowError("no reference answer (`final_answer` must be a non-empty list of strings)")
    # Answers are written "$...$" in the Hub copy; strip the math delimiters.
    answers = [a.replace("$", "").strip() for a in final]
    meta = {
        "final_answer": answers,
        "is_multiple_answer": bool(row.get("is_multiple_answer")),
        "unit": row.get("unit") if isinstance(row.get("unit"), str) else None,
        "answer_type": row.get("answer_type"),
    }
    keywords = (_keyword(row["subfield"]),) if isinstance(row.get("subfield"), str) else ()
    return ParsedRow(question=question, answer=", ".join(answers), meta=meta, keywords=keywords)


_GSM8K_FINAL = re.compile(r"####\s*(.+?)\s*$", re.S)


def parse_gsm8k(row: Mapping[str, Any]) -> ParsedRow:
    question = _text(row, "question", "problem")
    raw = row.get("answer")
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return ParsedRow(question=question, answer=_answer_text(raw) or "")
    if not isinstance(raw, str):
        raise RowError("no reference answer (`answer` missing)")
    match = _GSM8K_FINAL.search(raw)
    answer = match.group(1) if match else raw.strip()
    if not answer or (match is None and "\n" in answer):
        raise RowError("no reference answer (no `#### <number>` at the end of `answer`)")
    return ParsedRow(question=question, answer=answer.replace(",", ""))


BUILTIN_BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        name="aime24",
        family="math",
        parse_row=parse_aime_amc,
        id_fields=("id",),
        hub=HubSource("HuggingFaceH4/aime_2024", split="train",
                      revision="2fe88a2f1091d5048c0f36abc874fb997b3dd99a"),
        description="AIME 2024 I and II, 30 problems, integer answers",
        answer_range=(0, 999),
    ),
    Benchmark(
        name="amc23",
        family="math",
        parse_row=parse_aime_amc,
        id_fields=("id",),
        hub=HubSource("math-ai/amc23", split="test",
                      revision="80815d37005feb82cd7f8fbc6901d5d3eff43057"),
        description="AMC 12 2023, 40 problems",
    ),
    Benchmark(
        name="math500",
        family="math",
        parse_row=parse_math500,
        id_fields=("unique_id",),
        hub=HubSource("HuggingFaceH4/MATH-500", split="test",
                      revision="6e4ed1a2a79af7d8630a6b768ec859cb5af4d3be"),
        description="MATH-500 (PRM800K's test subset of MATH), LaTeX answers",
    ),
    Benchmark(
        name="minerva_math",
        family="math",
        parse_row=parse_minerva,
        id_fields=("idx",),
        hub=HubSource("math-ai/minervamath", split="test",
                      revision="ee46ddc498933b1977577953250ca5c66be64f96"),
        description="Minerva's MIT OCW problems, 272, answers with units and tolerances",
        # measured quantities rounded to 2-4 significant figures: what rounds to the reference
        # at its written precision, within [0.1%, 2%] (docs/GRADING.md, "Tolerances")
        grading_policy=GradingPolicy(tolerance="relative", tolerance_value=0.001,
                                     written_precision="numbers", written_precision_cap=0.02),
    ),
    Benchmark(
        name="olympiadbench",
        family="math",
        parse_row=parse_olympiadbench,
        id_fields=("id",),
        hub=HubSource("Hothan/OlympiadBench", split="train", config="OE_TO_maths_en_COMP",
                      revision="91184b52131e7fc9455fef848035173aea8cc01a"),
        description="OlympiadBench, English text-only open-ended math, 675",
        # the OlympiadBench judge's own 1e-8; a decimal reference: half its last digit, <= 1%
        grading_policy=GradingPolicy(tolerance="relative", tolerance_value=1e-8,
                                     written_precision="decimals", written_precision_cap=0.01,
                                     reference_list_field="final_answer",
                                     multiple_answer_field="is_multiple_answer",
                                     unit_field="unit"),
    ),
    Benchmark(
        name="gsm8k",
        family="math",
        parse_row=parse_gsm8k,
        id_fields=("idx",),
        hub=HubSource("openai/gsm8k", split="test", config="main",
                      revision="740312add88f781978c0658806c59bc2815b9866"),
        description="GSM8K test split, 1319 grade-school word problems",
        grading_policy=GradingPolicy(extraction="hashes_first"),  # its few-shot "#### 42" format
    ),
)

DEMO = Benchmark(
    name="demo",
    family="math",
    parse_row=parse_aime_amc,
    id_fields=("id",),
    packaged_file=Path(__file__).resolve().parent.parent / "data" / "demo" / "test.jsonl",
    description="10 easy arithmetic problems shipped with the package, for offline smoke runs",
)

# The six benchmarks of the reference study, run when none is named.
STUDY_BENCHMARKS: tuple[str, ...] = tuple(b.name for b in BUILTIN_BENCHMARKS)
BUILTIN_BENCHMARKS += (DEMO,)

from capability_tests.benchmarks.code import CODE_BENCHMARKS  # noqa: E402 (after the math sets)

BUILTIN_BENCHMARKS += CODE_BENCHMARKS
