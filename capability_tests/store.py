"""The completion store: every sample ever generated, with its verdict, in one SQLite file.

Why SQLite: embedded (stdlib `sqlite3`, nothing to run), one file to copy or delete, WAL mode lets
several xdist workers write at once (each in short transactions, waiting on `busy_timeout`), and
a crash (`kill -9`) mid-run loses at most the samples of the last unflushed batch: committed rows
survive, a half-written transaction is rolled back by SQLite on the next open.

A sample's identity (see `GenerationKey` and `prompt_digest`):
- the model fingerprint (`capability_tests.fingerprints`): the Hub id at its resolved commit, or
  a whole-content hash of a local folder or GGUF file;
- the engine name, installed version and effective settings (less speed-only ones), the sampling
  mode (seeded or batched), temperature, top-p, max tokens, the run seed and the seed policy
  (one row in `generations`);
- a SHA-256 of the exact prompt (the rendered string, or the chat messages together with the
  model's chat template), its stop sequences and the problem's key, and the sample's index.

Texts are zlib-compressed and stored last in their row, so reading verdicts and token counts never
reads the text pages. Importing this module imports neither torch nor vLLM.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from capability_tests.safe_text import safe_optional  # no model text may crash a write

SCHEMA_VERSION = 1
# Bits of the samples.timed_out column, the verdict's flags (a plain 0/1 in stores written
# before grader errors existed, which reads the same): the comparison timed out; the verifier
# raised (a `grader_error` verdict, docs/GRADING.md).
TIMED_OUT, GRADER_ERROR = 1, 2


def verdict_flags(timed_out: bool, grader_error: bool = False) -> int:
    return (TIMED_OUT if timed_out else 0) | (GRADER_ERROR if grader_error else 0)
APPLICATION_ID = 0x43545331  # "CTS1": marks a file as ours (PRAGMA application_id)
BUSY_TIMEOUT_MS = 60_000


def _is_busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


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


class StoreError(Exception):
    """The store cannot be used; the message names the file and says what to do."""


def prompt_digest(prompt: str | Sequence[Mapping[str, str]],
                  chat_template: str | None = None, stop: Sequence[str] = (),
                  problem: str | None = None) -> str:
    """SHA-256 of the exact prompt string, or of chat messages together with the model's chat
    template that will render them (`fingerprints.chat_template_source`; None when unreadable),
    so a changed chat template is another prompt. Stop sequences (base-model code prompts) end
    the text, so they are part of it. `problem` (the problem's key, `benchmark/problem_id`):
    two problems with the same prompt draw their samples with different seeds, so each gets rows
    of its own (`Template.prompt_key` always passes it; without stop and problem the digest is
    the prompt's alone, as stores written before recorded it)."""
    if isinstance(prompt, str):
        text = prompt
    else:
        text = json.dumps({"messages": list(prompt), "chat_template": chat_template},
                          sort_keys=True)
    if stop:
        text += "\0stop=" + json.dumps(list(stop))
    if problem is not None:
        text += "\0problem=" + problem
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def grading_digest(verifier: str, answer: str, meta: Mapping[str, Any], *, benchmark: str = "",
                   grader: str | None = None, policy: Any = None) -> str:
    """What a stored verdict depends on besides the text: `<grader identity>/<16 hex>`, the hex
    over verifier, benchmark, reference answer, meta and the benchmark's grading policy
    (`GradingPolicy`: extraction and tolerances depend on it; `policy.as_key()`).

    A verdict stored under another digest is regraded from its text (no engine). The grader
    identity (`grading.identity.grader_identity`, default: the running grader's) is kept readable
    in front so a run can say how many verdicts a grader change regraded.
    """
    if grader is None:
        from capability_tests.grading.identity import grader_identity

        grader = grader_identity()
    fields = [verifier, benchmark, answer, dict(meta)]
    if policy is not None:
        fields.append(policy.as_key())
    data = json.dumps(fields, sort_keys=True, default=str)
    return f"{grader}/{hashlib.sha256(data.encode()).hexdigest()[:16]}"


def grader_of(grading: str | None) -> str | None:
    """The grader identity a stored `grading` digest was made under (None: unknown or older)."""
    if not grading or "/" not in grading:
        return None
    return grading.split("/", 1)[0]


@dataclass(frozen=True)
class GenerationKey:
    """Everything but the prompt and index that decides what a sample is (see docs/STORE.md).

    `engine_settings`: the settings the engine will actually use after its own defaults, less
    those it declares speed-only (`EngineIdentity.key_settings`), as sorted JSON.
    `seed_policy`: how per-sample seeds are derived (`capability_tests.seeds.SEED_POLICY`);
    samples stored under an older policy are not reused.
    """

    model: str  # fingerprints.ModelIdentity.fingerprint
    engine: str
    engine_version: str | None
    engine_settings: str  # JSON, sorted keys
    mode: str  # "seeded" | "batched"
    temperature: float
    top_p: float
    max_tokens: int
    seed: int
    seed_policy: str

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


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


class CompletionStore:
    """One connection to the store file; open one per process (xdist workers each open their own)."""

    def __init__(self, path: str | os.PathLike[str], *, max_page_count: int | None = None) -> None:
        self.path = Path(path)
        self._generations: dict[str, int] = {}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"completion store {self.path}: cannot create its folder ({exc})") from exc
        existed = self.path.exists() and self.path.stat().st_size > 0
        try:
            self._db = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000,
                                       isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"completion store {self.path}: cannot open ({exc})") from exc
        try:
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._open_retrying(existed)
            if max_page_count is not None:  # tests: emulate a full disk
                self._db.execute(f"PRAGMA max_page_count = {int(max_page_count)}")
        except StoreError:
            self._db.close()
            raise
        except sqlite3.OperationalError as exc:
            self._db.close()
            if _is_busy(exc):
                raise StoreError(
                    f"completion store {self.path} stayed locked by another process for "
                    f"{BUSY_TIMEOUT_MS // 1000} s ({exc})"
                ) from exc
            raise StoreError(
                f"completion store {self.path} is not a readable SQLite database ({exc}); move it "
                "away or pass another --store (nothing was written to it)"
            ) from exc
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(
                f"completion store {self.path} is not a readable SQLite database ({exc}); move it "
                "away or pass another --store (nothing was written to it)"
            ) from exc

    # -- opening --------------------------------------------------------------------------------

    def _open_retrying(self, existed: bool) -> None:
        """Workers that open a new store at the same moment contend for the schema and the
        journal-mode switch, where SQLite answers "locked" at once instead of waiting: retry."""
        import random

        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                self._check_or_create(existed)
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                time.sleep(0.02 + random.random() * 0.05)
                existed = True  # someone else is creating it

    def _check_or_create(self, existed: bool) -> None:
        db = self._db
        db.execute("BEGIN")  # one snapshot: another worker may be creating the schema right now
        try:
            app_id = db.execute("PRAGMA application_id").fetchone()[0]  # corrupt file -> error
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            db.execute("COMMIT")
        if existed and (app_id != APPLICATION_ID or "meta" not in tables):
            if app_id == 0 and not tables:
                pass  # an empty SQLite file (e.g. created by `touch`+sqlite): make it ours
            else:
                raise StoreError(
                    f"completion store {self.path} is a SQLite file of another application "
                    f"(application_id {app_id:#x}, tables {sorted(tables)}); pass another --store "
                    "(nothing was written to it)"
                )
        if "meta" in tables:
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = int(row[0]) if row else None
            if version != SCHEMA_VERSION:
                raise StoreError(
                    f"completion store {self.path} has schema version {version}, this "
                    f"capability-tests reads version {SCHEMA_VERSION}; use the version that wrote "
                    "it, or pass another --store (nothing was written to it)"
                )
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            return
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        with self._write():
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "meta" not in tables:  # another worker may have created it meanwhile
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                db.execute("INSERT INTO meta VALUES ('created', ?)", (str(time.time()),))

    class _Tx:
        def __init__(self, store: CompletionStore) -> None:
            self.store = store

        def __enter__(self):
            self.store._db.execute("BEGIN IMMEDIATE")
            return self.store._db

        def __exit__(self, exc_type, exc, tb):
            db = self.store._db
            if exc_type is None:
                try:
                    db.execute("COMMIT")
                    return False
                except sqlite3.Error:
                    db.execute("ROLLBACK")
                    raise
            if db.in_transaction:
                db.execute("ROLLBACK")
            return False

    def _write(self) -> CompletionStore._Tx:
        return CompletionStore._Tx(self)

    def _error(self, action: str, exc: sqlite3.Error) -> StoreError:
        full = "full" in str(exc).lower()
        hint = (
            "free disk space or pass another --store; samples stored before are intact"
            if full else "samples stored before are intact"
        )
        return StoreError(f"completion store {self.path}: {action} failed ({exc}); {hint}")

    # -- generations -----------------------------------------------------------------------------

    def generation_id(self, key: GenerationKey) -> int:
        text = key.as_json()
        if text in self._generations:
            return self._generations[text]
        try:
            row = self._db.execute("SELECT id FROM generations WHERE key=?", (text,)).fetchone()
            if row is None:
                with self._write() as db:
                    db.execute("INSERT OR IGNORE INTO generations (key, created) VALUES (?, ?)",
                               (text, time.time()))
                row = self._db.execute("SELECT id FROM generations WHERE key=?", (text,)).fetchone()
        except sqlite3.Error as exc:
            raise self._error("recording the sampling parameters", exc) from exc
        self._generations[text] = row[0]
        return row[0]

    def find_generation(self, key_json: str) -> int | None:
        """The id of a recorded generation key (its JSON, as run folders record it), or None."""
        try:
            row = self._db.execute("SELECT id FROM generations WHERE key=?", (key_json,)).fetchone()
        except sqlite3.Error as exc:
            raise self._error("reading", exc) from exc
        return None if row is None else row[0]

    # -- reading ---------------------------------------------------------------------------------

    def stored(self, generation: int, prompt: str) -> dict[int, StoredSample]:
        """The stored samples of one prompt, by index, without their texts."""
        try:
            rows = self._db.execute(
                "SELECT idx, seed, tokens, finish_reason, correct, extracted, reason, grading, "
                "timed_out, created FROM samples WHERE generation=? AND prompt=?",
                (generation, prompt),
            ).fetchall()
        except sqlite3.Error as exc:
            raise self._error("reading", exc) from exc
        return {
            r[0]: StoredSample(r[0], r[1], r[2], r[3], None if r[4] is None else bool(r[4]),
                               r[5], r[6], r[7], bool(r[8] & TIMED_OUT), r[9],
                               bool(r[8] & GRADER_ERROR))
            for r in rows
        }

    def texts(self, generation: int, prompt: str, indices: Iterable[int]) -> Iterator[tuple[int, str]]:
        """(index, text) for the given stored samples, one at a time (no list of texts is built)."""
        for index in indices:
            try:
                row = self._db.execute(
                    "SELECT text FROM samples WHERE generation=? AND prompt=? AND idx=?",
                    (generation, prompt, index),
                ).fetchone()
            except sqlite3.Error as exc:
                raise self._error("reading", exc) from exc
            if row is not None:
                try:
                    yield index, decode_text(row[0])
                except (zlib.error, UnicodeDecodeError) as exc:
                    raise StoreError(
                        f"completion store {self.path}: sample {index} of prompt {prompt[:12]} is "
                        f"damaged ({exc}); run with --fresh to regenerate it"
                    ) from exc

    # -- writing ---------------------------------------------------------------------------------

    def add(self, generation: int, samples: Sequence[NewSample], *, replace: bool = False) -> None:
        """Write samples in one short transaction. Existing rows are kept (another worker got there
        first) unless `replace`."""
        if not samples:
            return
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        now = time.time()
        try:
            rows = [
                (generation, s.prompt, s.index, _plain(s.problem), s.seed, s.tokens,
                 _plain(s.finish_reason), None if s.correct is None else int(s.correct),
                 _plain(s.extracted), _plain(s.reason),
                 verdict_flags(s.timed_out, s.grader_error), s.grading, now, encode_text(s.text))
                for s in samples
            ]
        except (ValueError, TypeError, OverflowError) as exc:  # a value no column can hold
            raise StoreError(f"completion store {self.path}: cannot write a sample of "
                             f"{samples[0].problem} ({type(exc).__name__}: {exc})") from exc
        try:
            with self._write() as db:
                db.executemany(
                    f"{verb} INTO samples (generation, prompt, idx, problem, seed, tokens, "
                    "finish_reason, correct, extracted, reason, timed_out, grading, created, text) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        except sqlite3.Error as exc:
            raise self._error(f"writing {len(rows)} samples", exc) from exc

    def set_verdicts(self, generation: int, prompt: str,
                     verdicts: Sequence[tuple]) -> None:
        """(index, correct, extracted, reason, flags, grading[, created]) for stored samples
        (flags: `verdict_flags`; a bool is the timed-out flag alone);
        correct None stores the sample ungraded (a grading failure, graded again next time).
        With `created` (the row's version when its text was read) the verdict is written only if
        the row still holds that text: a `--fresh` run that replaced it meanwhile keeps its own."""
        plain, versioned = [], []
        for v in verdicts:
            i, c, e, r, t, g = v[:6]
            row = (None if c is None else int(c), _plain(e), _plain(r), int(t), g, generation,
                   prompt, i)
            (versioned if len(v) > 6 and v[6] is not None else plain).append(
                row + ((v[6],) if len(v) > 6 and v[6] is not None else ()))
        update = ("UPDATE samples SET correct=?, extracted=?, reason=?, timed_out=?, grading=? "
                  "WHERE generation=? AND prompt=? AND idx=?")
        try:
            with self._write() as db:
                if plain:
                    db.executemany(update, plain)
                if versioned:
                    db.executemany(update + " AND created=?", versioned)
        except sqlite3.Error as exc:
            raise self._error("writing verdicts", exc) from exc

    def discard(self, generation: int, prompts: Sequence[str]) -> None:
        """Forget the stored samples of these prompts (`--fresh`)."""
        try:
            with self._write() as db:
                db.executemany("DELETE FROM samples WHERE generation=? AND prompt=?",
                               [(generation, p) for p in prompts])
        except sqlite3.Error as exc:
            raise self._error("discarding samples for --fresh", exc) from exc

    # -- perplexity scores ---------------------------------------------------------------------

    def scorer_id(self, key_json: str) -> int:
        """The id of a scoring model's key (JSON: model fingerprint, engine, version, settings),
        created with the score tables when needed."""
        try:
            row = None
            if self._has_table("scorers"):
                row = self._db.execute("SELECT id FROM scorers WHERE key=?", (key_json,)).fetchone()
            if row is None:
                with self._write() as db:
                    for statement in _SCORE_SCHEMA.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute("INSERT OR IGNORE INTO scorers (key, created) VALUES (?, ?)",
                               (key_json, time.time()))
                row = self._db.execute("SELECT id FROM scorers WHERE key=?", (key_json,)).fetchone()
        except sqlite3.Error as exc:
            raise self._error("recording the scoring model", exc) from exc
        return row[0]

    def _has_table(self, name: str) -> bool:
        return self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                                (name,)).fetchone() is not None

    def scores(self, scorer: int, generation: int, prompt: str) -> dict[int, tuple[int, float]]:
        """index -> (token count, sum of log-probabilities) of the stored samples of one prompt
        scored by `scorer`; a score of a sample regenerated since (`--fresh`: another `created`)
        is not returned."""
        try:
            rows = self._db.execute(
                "SELECT s.idx, s.tokens, s.logprob_sum FROM scores s JOIN samples t ON "
                "t.generation=s.generation AND t.prompt=s.prompt AND t.idx=s.idx "
                "AND t.created=s.sample_created "
                "WHERE s.scorer=? AND s.generation=? AND s.prompt=?",
                (scorer, generation, prompt),
            ).fetchall()
        except sqlite3.Error as exc:
            raise self._error("reading scores", exc) from exc
        return {r[0]: (r[1], r[2]) for r in rows}

    def stamped_texts(self, generation: int, prompt: str,
                      indices: Iterable[int]) -> Iterator[tuple[int, float, str]]:
        """(index, the row's `created`, text) for the given stored samples, one at a time."""
        for index in indices:
            try:
                row = self._db.execute(
                    "SELECT created, text FROM samples WHERE generation=? AND prompt=? AND idx=?",
                    (generation, prompt, index),
                ).fetchone()
            except sqlite3.Error as exc:
                raise self._error("reading", exc) from exc
            if row is not None:
                try:
                    yield index, row[0], decode_text(row[1])
                except (zlib.error, UnicodeDecodeError) as exc:
                    raise StoreError(
                        f"completion store {self.path}: sample {index} of prompt {prompt[:12]} is "
                        f"damaged ({exc}); run with --fresh to regenerate it"
                    ) from exc

    def add_scores(self, scorer: int, generation: int, prompt: str,
                   rows: Sequence[tuple[int, float, int, float]]) -> None:
        """(index, the sample's `created`, token count, sum of log-probabilities), one
        transaction."""
        if not rows:
            return
        now = time.time()
        try:
            with self._write() as db:
                db.executemany(
                    "INSERT OR REPLACE INTO scores (scorer, generation, prompt, idx, "
                    "sample_created, tokens, logprob_sum, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(scorer, generation, prompt, i, c, t, lp, now) for i, c, t, lp in rows],
                )
        except sqlite3.Error as exc:
            raise self._error(f"writing {len(rows)} scores", exc) from exc

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM samples").fetchone()[0]

    def close(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            self._db = None
            db.close()
