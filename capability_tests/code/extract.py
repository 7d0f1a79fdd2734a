"""The program in a completion: a fenced block, else the raw continuation of the prompt.

Instruct models are asked for a fenced ```python block; base models continue the prompt (the
signature and docstring), and their continuation ends at the first stop sequence, the same cut
the engine makes when it honours the stop sequences (so the program does not depend on whether
it did). Pure string work, bounded by the completion's length; nothing is executed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The stop sequences of Chen et al. (2021): a new top-level statement ends the function.
STOP_SEQUENCES: tuple[str, ...] = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
MAX_PROGRAM_CHARS = 200_000
SHOWN_CHARS = 4_000  # of the extracted code, kept in `Verdict.extracted` (store, samples.jsonl)

_LABEL = re.compile(r"[A-Za-z0-9_+-]*")  # a fence's language label
_CODE_LANGS = {"", "python", "python3", "py", "py3"}


@dataclass(frozen=True)
class Program:
    """`source`: the module the sandbox runs; `code`: the model's part of it (what reports
    show); `how`: where it came from."""

    source: str
    code: str
    how: str


def cut_at_stop(text: str, stops: tuple[str, ...] = STOP_SEQUENCES) -> str:
    """`text` up to the first of `stops` (all of it when none occurs)."""
    cut = len(text)
    for stop in stops:
        at = text.find(stop)
        if 0 <= at < cut:
            cut = at
    return text[:cut]


def fenced_blocks(text: str) -> list[str]:
    """The Python (or unlabelled) fenced blocks, in order; an unclosed last block counts (the
    completion hit --max-tokens inside it)."""
    return [body for label, body in _fences(text) if label.lower() in _CODE_LANGS]


def _fences(text: str):
    """(label, body) of each fenced block, by a scan that visits each character a bounded
    number of times (a backtracking pattern took minutes on "```" and 200k spaces)."""
    at = 0
    while True:
        start = text.find("```", at)
        if start < 0:
            return
        line_end = text.find("\n", start + 3)
        if line_end < 0:
            return
        label = text[start + 3:line_end]
        label = (label[:-1] if label.endswith("\r") else label).strip(" \t")
        if _LABEL.fullmatch(label) is None:  # not an opening fence (``` inside prose)
            at = start + 3
            continue
        close = text.find("```", line_end + 1)
        body_end = len(text) if close < 0 else close
        yield label, text[line_end + 1:body_end]
        if close < 0:
            return
        at = close + 3


def defines(code: str, name: str) -> bool:
    return _definition(code, name) is not None


def _definition(code: str, name: str | None) -> int | None:
    if not name:
        return None
    match = re.search(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(name)}[ \t]*\(", code, re.M)
    return match.start() if match else None


def extract_program(completion: str, prompt: str, entry_point: str | None,
                    mode: str = "function", prelude: str | None = None) -> Program | None:
    """The program to run, or None when the completion holds no code at all.

    Function mode: a fenced block that defines the entry point (else the last block) runs after
    the `prelude` (the imports and helper functions the tests may use: HumanEval's prompt); a
    completion without a block that defines the entry point itself (at the margin) runs after
    the prelude, cut at the first stop sequence after the `def` line; anything else is the
    continuation of `prompt` (what a base model was given), cut at the first stop sequence.
    Stdio mode: the first block, else the whole completion, is the program.
    """
    prelude = prompt if prelude is None else prelude
    text = completion[:MAX_PROGRAM_CHARS]
    blocks = [b for b in fenced_blocks(text) if b.strip()]
    if mode == "stdio":
        code = blocks[0] if blocks else text
        if not code.strip():
            return None
        return Program(code, code, "fenced block" if blocks else "whole completion")
    if blocks:
        chosen = next((b for b in blocks if entry_point and defines(b, entry_point)), blocks[-1])
        return Program(f"{prelude}\n\n{chosen}", chosen, "fenced block")
    found = _definition(text, entry_point)
    if found is not None and not text.startswith((" ", "\t")):
        line_end = text.find("\n", found)
        line_end = len(text) if line_end < 0 else line_end
        code = text[:line_end] + cut_at_stop(text[line_end:])
        return Program(f"{prelude}\n\n{code}", code, "function in the completion")
    body = cut_at_stop(text)
    if not body.strip():
        return None
    return Program(prompt + body, body, "continuation of the prompt")


def shown(code: str) -> str:
    """The extracted code as reports keep it (bounded)."""
    return code if len(code) <= SHOWN_CHARS else code[:SHOWN_CHARS] + "\n# ... (truncated)"
