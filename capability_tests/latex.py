"""Small LaTeX text helpers shared by benchmark loaders and graders (no parsing of math here)."""

from __future__ import annotations

import re


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
    depth = 0
    j = i
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
                return text[i + 1 : j], False
        j += 1
    return None, True


def last_boxed(text: str) -> str | None:
    r"""Content of the last `\boxed{...}` or `\fbox{...}` (nested braces respected; also the
    brace-less `\boxed 5`), or None when there is none or it is unclosed."""
    return last_boxed_span(text)[0]
