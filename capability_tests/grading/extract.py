r"""Find the final answer a completion commits to.

Order (the first rule that finds something wins):

1. GSM8K only: the last `#### <answer>` line (the GSM8K few-shot format).
2. The last `\boxed{...}` / `\fbox{...}` (nested braces respected). If the last one is unclosed the
   sample was cut off: no answer ("truncated").
3. The last `Answer: ...` line (the `abel` template).
4. Other benchmarks: the last `#### <answer>`.
5. The last "final answer is ..." then the last "the answer is ...": the answer runs to the end of
   the sentence: a period followed by a space or the end of the text, so "0.75." gives `0.75`.

None means "no final answer"; `Extraction.reason` says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from capability_tests.latex import last_boxed_span

MAX_ANSWER_CHARS = 4000


@dataclass(frozen=True)
class Extraction:
    answer: str | None
    how: str  # "boxed", "answer line", "####", "answer is", or why none was found


_ANSWER_LINE = re.compile(r"(?im)^[ \t*#>_-]*(?:final\s+)?answer\s*[:：]\s*(.+?)\s*$")
_HASHES = re.compile(r"####\s*([^\n]+)")
_ANSWER_IS = re.compile(
    r"(?is)\banswer\s+is\s*[:：]?\s*(.+?)(?=\.\s|\.$|\n|$)"
)
_FINAL_ANSWER_IS = re.compile(
    r"(?is)\bfinal\s+answer\s+is\s*[:：]?\s*(.+?)(?=\.\s|\.$|\n|$)"
)


def _clean(answer: str) -> str:
    answer = answer.strip().strip("*").strip()
    inner, _ = last_boxed_span(answer)
    if inner is not None:
        answer = inner
    answer = answer.strip()
    # "$x$" / "\( x \)" / "\[ x \]"
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if answer.startswith(left) and answer.endswith(right) and len(answer) >= len(left) + len(right):
            answer = answer[len(left) : len(answer) - len(right)].strip()
    answer = answer.strip("*").strip()
    return answer


def extract_answer(text: str, benchmark: str = "") -> Extraction:
    if not text or not text.strip():
        return Extraction(None, "empty completion")
    if benchmark == "gsm8k":
        hits = _HASHES.findall(text[-20_000:])
        if hits:
            return _done(hits[-1], "####")
    boxed, unclosed = last_boxed_span(text)
    if unclosed:
        return Extraction(None, "truncated: the last \\boxed{ is never closed")
    if boxed is not None:
        return _done(boxed, "boxed")
    tail = text[-20_000:]
    hits = _ANSWER_LINE.findall(tail)
    if hits:
        line = hits[-1]
        # Minerva's template: "Final Answer: The final answer is X. I hope it is correct."
        inner = _FINAL_ANSWER_IS.findall(line) or _ANSWER_IS.findall(line)
        return _done(inner[-1] if inner else line, "answer line")
    hits = _HASHES.findall(tail)
    if hits:
        return _done(hits[-1], "####")
    for pattern, how in ((_FINAL_ANSWER_IS, "final answer is"), (_ANSWER_IS, "answer is")):
        hits = pattern.findall(tail)
        if hits:
            return _done(hits[-1], how)
    return Extraction(None, "no final answer (no \\boxed{}, 'Answer:' or 'the answer is'; truncated?)")


def _done(raw: str, how: str) -> Extraction:
    answer = _clean(raw)
    if not answer:
        return Extraction(None, f"empty answer after {how}")
    if len(answer) > MAX_ANSWER_CHARS:
        return Extraction(None, f"answer after {how} longer than {MAX_ANSWER_CHARS} characters")
    return Extraction(answer, how)
