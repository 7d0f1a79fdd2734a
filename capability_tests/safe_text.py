"""Text that can cross any boundary: valid UTF-8, bounded.

A program under test controls the messages it raises and prints, and a model or a server
controls the completion's text; Python strings may hold lone surrogates ("\\ud800") that no UTF-8
encoder accepts, so SQLite, `json.dumps(ensure_ascii=False)` + a UTF-8 stream or `print` would
raise on them. Everything a sandbox, an engine or a verifier hands to the store, a report or the
`grade` command passes through `safe_text` first: each lone surrogate becomes the six characters
`\\udXXX` (what `backslashreplace` writes), and the result is cut at `limit` characters.
"""

from __future__ import annotations

TRUNCATED = "... (truncated)"


def safe_text(value: object, limit: int | None = None) -> str:
    """`value` as a string that encodes as UTF-8 (lone surrogates escaped), at most `limit`
    characters long (the cut marked)."""
    text = value if isinstance(value, str) else str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - len(TRUNCATED))] + TRUNCATED
    return text


def safe_optional(value: object, limit: int | None = None) -> str | None:
    return None if value is None else safe_text(value, limit)
