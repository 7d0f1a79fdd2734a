r"""Find the final answer a completion commits to.

Order (the first rule that finds something wins):

1. Under the extraction mode "hashes_first" (GSM8K's grading policy): the last `#### <answer>`
   line (the GSM8K few-shot format).
2. A final-answer statement written after the last box wins over the box: Minerva's "Final Answer:
   The final answer is $42$. I hope it is correct." or an `Answer:` line after an intermediate
   `\boxed{}`.
3. The last `\boxed{...}` / `\fbox{...}` (nested braces respected). If the last one is unclosed the
   sample was cut off: no answer ("truncated"). The boxes of the final statement (`$x=\boxed{-3}$
   and $x=\boxed{5}$`) are kept in `Extraction.parts`, for references that are lists.
   For a tuple reference, as many boxes as it has entries are read in order.
4. The last `Answer: ...` label (the `abel` template; also after other text on the line:
   "Thus, Answer: 7", or directly before math: "Answer $9$"). A sentence in it is read for its
   value: "The smallest $n$ is 17." gives 17.
5. Otherwise: the last `#### <answer>`.
6. The last "final answer is ..." then the last "the answer is ...": the answer runs to the end of
   the sentence: a period followed by a space or the end of the text, so "0.75." gives `0.75`.
7. A completion that is only one math expression (`$x \in [-2,7]$`) is its own answer.

None means no answer was found; `Extraction.how` then starts with "no answer" and says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from capability_tests.latex import boxed_spans, last_boxed_span

MAX_ANSWER_CHARS = 4000
MAX_PARTS = 64
TAIL_CHARS = 20_000


@dataclass(frozen=True)
class Extraction:
    answer: str | None
    how: str  # "boxed", "answer line", "####", "answer is", or why none was found
    parts: tuple[str, ...] = ()  # the boxes of the final statement, when it has more than one


# the label ends at a colon, or directly before math: "Answer: 7", "Answer $7$", "Answer \\[7\\]"
_LABEL_END = r"(?:\s*\**\s*[:：]\**|[ \t]+(?=\$|\\\[|\\\())[ \t]*"
_ANSWER_LINE = re.compile(r"(?im)^[ \t*#>_-]*(?:final\s+)?answer" + _LABEL_END)
# "Thus, Answer: 7" / "... so. **Final Answer:** 7": a capitalised label after other text
_ANSWER_LABEL = re.compile(
    r"(?m)(?<![A-Za-z])(?:[Ff]inal\s+[Aa]nswer|FINAL\s+ANSWER|Answer|ANSWER)" + _LABEL_END
)
_NEXT_LINE = re.compile(r"\s{0,200}?(\S[^\n]*)")
_DISPLAY = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))
# the whole completion is one math expression (`$x \in [-2,7]$`, `\[ 9 \]`)
_ONLY_MATH = re.compile(r"(?s)^\s*(?:\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|\$((?:[^$\\]|\\.)+)\$)\s*\.?\s*$")
_HASHES = re.compile(r"####\s*([^\n]+)")
_ANSWER_IS = re.compile(
    r"(?is)\banswer\s+is\s*[:：]?\s*(.+?)(?=\.\s|\.$|\n|$)"
)
_FINAL_ANSWER_IS = re.compile(
    r"(?is)\bfinal\s+answer\s+is\s*[:：]?\s*(.+?)(?=\.\s|\.$|\n|$)"
)
# "The smallest $n$ is 17." inside an answer line: the value after the last "is"/"are"/"equals"
_PROSE = re.compile(r"(?i)^(?:the|so|thus|therefore|hence|it|this|our|my|we|in\s+total)\b")
_SENTENCE = re.compile(r"(?s)^(.+?)(?:\.\s|\.$|$)")
_VERB = re.compile(r"(?i)\b(?:is|are|equals|was|be|gives?|get)\b\s*[:：]?\s*")
_VALUE_START = re.compile(r"[\d$\\(\[{+-]|[A-Za-z](?![A-Za-z])|[A-Z][a-z]*\b|pi\b|sqrt")
# "12 dollars, which is less than 15": the value ends where a new clause starts
_CLAUSE = re.compile(r",\s+(?!and\b|or\b)(?=[A-Za-z]{2,})|\s+(?:which|because|since|so|as)\b")
# chat-template debris a model writes past its answer: the statement ends there
_DEBRIS = re.compile(r"<\|[A-Za-z_]+\|>|</s>|<eos>|<end_of_turn>|<start_of_turn>|\[/?INST\]")
# "42. I hope it is correct.": a value, then a new sentence (a capital, then a lower-case word)
_THEN_SENTENCE = re.compile(r"^(?P<value>.+?)\.\s+(?=(?:[A-Z][a-z]*\s+)?[a-z]{2,})")
# text between two boxes of one statement: short, no paragraph break, no new sentence
_NEW_SENTENCE = re.compile(r"[.!?]\s+[A-Z]|\n\s*\n")


def _clean(answer: str) -> str:
    answer = answer.strip().strip("*").strip()
    for quote in ('\\"', '"', "`", "'"):  # `"$12$ and $13$"`
        if len(answer) > 2 * len(quote) and answer.startswith(quote) and answer.endswith(quote):
            answer = answer[len(quote) : -len(quote)].strip()
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


def _statement_value(line: str) -> str:
    """The answer an `Answer:` line states: Minerva's sentence, a prose sentence, or the line,
    each up to chat-template debris and without a sentence that follows the value."""
    line = _DEBRIS.split(line, maxsplit=1)[0].strip()
    inner = _FINAL_ANSWER_IS.findall(line) or _ANSWER_IS.findall(line)
    if inner:
        return _CLAUSE.split(inner[-1], maxsplit=1)[0]
    then = _THEN_SENTENCE.match(line)
    if then and "\\boxed" not in line and not _PROSE.match(line):
        line = then.group("value")
    if "\\boxed" in line or "\\fbox" in line or not _PROSE.match(line):
        return line
    sentence = _SENTENCE.match(line).group(1)
    verbs = [m for m in _VERB.finditer(sentence) if sentence.count("$", 0, m.start()) % 2 == 0]
    # the last verb followed by a value ("... is 17"), not by words ("... is less than 15")
    for verb in reversed(verbs):
        value = sentence[verb.end():].strip()
        if value and _VALUE_START.match(value):
            return _CLAUSE.split(value, maxsplit=1)[0]
    return line


def _value_after(text: str, pos: int) -> str:
    """What an `Answer:` label at `pos` states: the rest of its line (or the next line when the
    label ends its line), extended to the closing delimiter of a display block that spans lines."""
    end = text.find("\n", pos)
    end = len(text) if end < 0 else end
    line = text[pos:end].strip()
    if not line:
        m = _NEXT_LINE.match(text, end)
        if m is None:
            return ""
        pos, end, line = m.start(1), m.end(1), m.group(1).strip()
    for left, right in _DISPLAY:
        if line.startswith(left) and line.find(right, len(left)) < 0:
            close = text.find(right, pos + text[pos:].find(left) + len(left), pos + 2000)
            if close > 0:
                return text[pos : close + len(right)].strip()
            break
    return line


def _last_statement(tail: str) -> tuple[int, str, str] | None:
    """The last `Answer:` label in `tail`: (position, stated value, how)."""
    best = None
    for pattern in (_ANSWER_LINE, _ANSWER_LABEL):
        for m in pattern.finditer(tail):
            if best is None or m.start() > best[0]:
                value = _value_after(tail, m.end())
                if ":" not in m.group() and "：" not in m.group() and not _ONLY_MATH.match(value):
                    continue  # "Answer $x$ must be positive" is prose, not a label
                best = (m.start(), value)
    if best is None:
        return None
    return best[0], _statement_value(best[1]), "answer line"


def _final_statement_boxes(text: str, spans: list[tuple[int, int, str | None]]) -> tuple[str, ...]:
    """The last box and the boxes just before it in the same statement."""
    group = [spans[-1]]
    for prev in reversed(spans[:-1]):
        gap = text[prev[1] : group[0][0]]
        if len(gap) > 80 or _NEW_SENTENCE.search(gap) or len(group) >= MAX_PARTS:
            break
        group.insert(0, prev)
    return tuple(s[2].strip() for s in group if s[2] and s[2].strip())


def _looks_like_answer(value: str) -> bool:
    """A statement after the last box overrules it only when it states something answer-like
    (math, a number, or a few words), not "Answer: as computed above, the box holds it"."""
    return bool(re.search(r"[\d\\$^=()]", value)) or len(value.split()) <= 3


def _mentions_answer(text: str) -> bool:
    """A cheap test before the answer-label scans: most of a completion's text never says it."""
    return "answer" in text or "Answer" in text or "ANSWER" in text


def extract_answer(text: str, extraction: str = "standard") -> Extraction:
    """The final answer of `text`; `extraction` is the problem's `GradingPolicy.extraction`."""
    if not text or not text.strip():
        return Extraction(None, "no answer: empty completion")
    if extraction == "hashes_first":
        hits = _HASHES.findall(text[-TAIL_CHARS:])
        if hits:
            return _done(hits[-1], "####")
    tail_start = max(0, len(text) - TAIL_CHARS)
    tail = text[tail_start:]
    spans = boxed_spans(text)
    if spans and spans[-1][2] is None:
        return Extraction(None, "no answer: truncated (the last \\boxed{ is never closed)")
    if spans:
        # only a statement written after the last box can overrule it
        after = text[max(spans[-1][1], tail_start):]
        if _mentions_answer(after):
            statement = _last_statement(after)
            if statement is not None and _looks_like_answer(statement[1]):
                found = _done(statement[1], statement[2])
                if found.answer is not None:
                    return found
            hits = [h for h in _FINAL_ANSWER_IS.findall(after) if _looks_like_answer(h)]
            if hits:
                found = _done(hits[-1], "final answer is")
                if found.answer is not None:
                    return found
        parts = _final_statement_boxes(text, spans)
        found = _done(spans[-1][2], "boxed")
        if found.answer is not None and len(parts) > 1:
            cleaned = tuple(c for c in (_clean(p) for p in parts) if c)
            return Extraction(found.answer, found.how, cleaned)
        return found
    mentions = _mentions_answer(tail)
    statement = _last_statement(tail) if mentions else None
    if statement is not None:
        return _done(statement[1], statement[2])
    hits = _HASHES.findall(tail)
    if hits:
        return _done(hits[-1], "####")
    for pattern, how in ((_FINAL_ANSWER_IS, "final answer is"), (_ANSWER_IS, "answer is")):
        hits = pattern.findall(tail) if mentions else None
        if hits:
            return _done(hits[-1], how)
    only = _ONLY_MATH.match(tail) if len(text) <= 2000 else None
    if only:
        return _done(next(g for g in only.groups() if g is not None), "only math")
    return Extraction(None, "no answer: no final answer (no \\boxed{}, 'Answer:' or 'the answer is'; "
                            "truncated?)")


def _done(raw: str, how: str) -> Extraction:
    answer = _clean(raw)
    if not answer:
        return Extraction(None, f"no answer: empty answer after {how}")
    if len(answer) > MAX_ANSWER_CHARS:
        return Extraction(None, f"no answer: the answer after {how} is longer than "
                                f"{MAX_ANSWER_CHARS} characters")
    return Extraction(answer, how)
