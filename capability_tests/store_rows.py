"""What a row of the completion store holds: a stored sample without its text (`StoredSample`),
a sample to write (`NewSample`), a verdict to write back (`VerdictUpdate`), a text with its row
version (`StampedText`), a perplexity score (`Score`, `ScoreRow`), the text encoding (zlib, lone
surrogates kept), short text columns made safe to bind, and the verdict-flag bits of the
`timed_out` column."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import NamedTuple

from capability_tests.safe_text import safe_optional  # no model text may crash a write

# Bits of the samples.timed_out column, the verdict's flags (a plain 0/1 in stores written
# before grader errors existed, which reads the same): the comparison timed out; the verifier
# raised (a `grader_error` verdict, docs/GRADING.md).
TIMED_OUT, GRADER_ERROR = 1, 2


def verdict_flags(timed_out: bool, grader_error: bool = False) -> int:
    return (TIMED_OUT if timed_out else 0) | (GRADER_ERROR if grader_error else 0)
def encode_text(text: str) -> bytes:
    """A text as stored: UTF-8, zlib level 1. Any `str` can be stored: a lone surrogate (a model
    or a decoder can produce one) is kept as its surrogate escape, never an exception that
    would lose the flush."""
    return zlib.compress(str(text).encode("utf-8", errors="surrogatepass"), 1)


def _plain(value: str | None) -> str | None:
    """A short text column (extracted answer, reason) that SQLite can bind: lone surrogates are
    written as their escapes (`\\udc80`) instead of raising UnicodeEncodeError."""
    return safe_optional(value)


def decode_text(blob: bytes) -> str:
    return zlib.decompress(blob).decode("utf-8", errors="surrogatepass")


@dataclass(frozen=True)
class StoredSample:
    """A stored sample without its text (what planning and reports need)."""

    index: int
    seed: int | None
    tokens: int
    finish_reason: str
    correct: bool | None  # None: not graded (grading failed; the next run grades it)
    extracted: str | None
    reason: str | None
    grading: str | None  # grading_digest the verdict was made under
    timed_out: bool = False
    created: float | None = None  # the row's version: a --fresh rewrite gives it another
    grader_error: bool = False  # the verifier raised: a verdict (not correct), not a failure


@dataclass(frozen=True)
class NewSample:
    prompt: str  # prompt_digest
    problem: str  # "benchmark/problem_id", informational
    index: int
    seed: int | None
    text: str
    tokens: int
    finish_reason: str
    correct: bool | None = None
    extracted: str | None = None
    reason: str | None = None
    grading: str | None = None
    timed_out: bool = False
    grader_error: bool = False


class VerdictUpdate(NamedTuple):
    """A new verdict for a stored sample (`CompletionStore.set_verdicts`)."""

    index: int
    correct: bool | None  # None: stored ungraded (a grading failure, graded again next time)
    extracted: str | None
    reason: str | None
    flags: int  # verdict_flags(timed_out, grader_error); a bool is the timed-out flag alone
    grading: str | None  # grading_digest the verdict was made under
    created: float | None = None  # the row's version when its text was read (None: any)


class StampedText(NamedTuple):
    """A stored text with its row's version (`created`), to write a verdict back only to it."""

    index: int
    created: float
    text: str


class Score(NamedTuple):
    """A stored sample's perplexity score under one scoring model."""

    tokens: int
    logprob_sum: float


class ScoreRow(NamedTuple):
    """A score to write: the sample, its row's version when scored, the score."""

    index: int
    created: float
    tokens: int
    logprob_sum: float


# The tables (SCHEMA_VERSION in store.py counts their versions).
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS generations (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS samples (
    generation INTEGER NOT NULL REFERENCES generations(id),
    prompt TEXT NOT NULL,
    idx INTEGER NOT NULL,
    problem TEXT NOT NULL,
    seed INTEGER,
    tokens INTEGER NOT NULL,
    finish_reason TEXT NOT NULL,
    correct INTEGER,
    extracted TEXT,
    reason TEXT,
    timed_out INTEGER NOT NULL DEFAULT 0,
    grading TEXT,
    created REAL NOT NULL,
    text BLOB NOT NULL,
    PRIMARY KEY (generation, prompt, idx)
);
""" + "\n"

# Perplexity scores of stored samples under a scoring model (`capability-tests perplexity`).
# Added tables, not a new schema version: code that does not know them ignores them, and a store
# created before them gets them on the first scoring (CREATE TABLE IF NOT EXISTS).
_SCORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS scorers (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS scores (
    scorer INTEGER NOT NULL REFERENCES scorers(id),
    generation INTEGER NOT NULL,
    prompt TEXT NOT NULL,
    idx INTEGER NOT NULL,
    sample_created REAL NOT NULL,
    tokens INTEGER NOT NULL,
    logprob_sum REAL NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (scorer, generation, prompt, idx)
);
"""
_SCHEMA += _SCORE_SCHEMA
