"""Small LaTeX text helpers shared by benchmark loaders and graders (no parsing of math here)."""

from __future__ import annotations

import re


def _closing_brace(text: str, i: int) -> int | None:
    """Index of the `}` that closes the `{` at `i` (escaped braces skipped), None if unclosed."""
    depth = 0
    j = i
    n = len(text)
    while j < n:
        ch = text[j]
        if ch == "\\":
            j += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return None


def last_boxed_span(text: str) -> tuple[str | None, bool]:
    """(content of the last \\boxed/\\fbox, whether the last one is unclosed)."""
    best = -1
    macro_len = 0
    for macro in ("\\boxed", "\\fbox"):
        pos = text.rfind(macro)
        if pos > best:
            best, macro_len = pos, len(macro)
    if best < 0:
        return None, False
    i = best + macro_len
    n = len(text)
    while i < n and text[i] == " ":
        i += 1
    if i >= n:
        return None, True
    if text[i] != "{":
        m = re.match(r"[^\s$]+", text[i:])
        return (m.group() if m else None), m is None
    j = _closing_brace(text, i)
    return (None, True) if j is None else (text[i + 1 : j], False)


def last_boxed(text: str) -> str | None:
    r"""Content of the last `\boxed{...}` or `\fbox{...}` (nested braces respected; also the
    brace-less `\boxed 5`), or None when there is none or it is unclosed."""
    return last_boxed_span(text)[0]


_BOX_MACRO = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])")


def boxed_spans(text: str) -> list[tuple[int, int, str | None]]:
    r"""Every `\boxed{...}`/`\fbox{...}` as (start, end, content), in order; content is None for
    one that is never closed (it runs to the end of the text, so it can only be the last)."""
    spans: list[tuple[int, int, str | None]] = []
    pos = 0
    n = len(text)
    while True:
        m = _BOX_MACRO.search(text, pos)
        if m is None:
            return spans
        i = m.end()
        while i < n and text[i] == " ":
            i += 1
        if i < n and text[i] != "{":
            word = re.match(r"[^\s$]+", text[i:])
            end = i + word.end()
            spans.append((m.start(), end, word.group()))
            pos = end
            continue
        j = _closing_brace(text, i)
        if j is None:
            spans.append((m.start(), n, None))
            return spans
        spans.append((m.start(), j + 1, text[i + 1 : j]))
        pos = j + 1
