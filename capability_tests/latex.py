"""Small LaTeX text helpers shared by benchmark loaders and graders (no parsing of math here)."""

from __future__ import annotations


def last_boxed(text: str) -> str | None:
    r"""Content of the last `\boxed{...}` or `\fbox{...}` in `text`, nested braces respected.

    Also accepts the brace-less form `\boxed 5`. Returns None when there is none or it is unclosed
    (a truncated completion).
    """
    best = None
    for macro in ("\\boxed", "\\fbox"):
        pos = text.rfind(macro)
        if pos >= 0 and (best is None or pos > best[0]):
            best = (pos, macro)
    if best is None:
        return None
    pos, macro = best
    i = pos + len(macro)
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text):
        return None
    if text[i] != "{":
        # "\boxed 5": the argument runs to the next whitespace or "$".
        end = i
        while end < len(text) and not text[end].isspace() and text[end] != "$":
            end += 1
        return text[i:end] or None
    depth = 0
    for j in range(i, len(text)):
        ch = text[j]
        if ch == "\\" and j + 1 < len(text) and text[j + 1] in "{}":
            continue
        if ch == "{" and (j == 0 or text[j - 1] != "\\"):
            depth += 1
        elif ch == "}" and (j == 0 or text[j - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
    return None
