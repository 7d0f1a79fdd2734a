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

import os
import sqlite3
import time
import zlib
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from capability_tests.store_keys import (  # noqa: F401 (the store's public names)
    GenerationKey,
    grader_of,
    grading_digest,
    prompt_digest,
)
from capability_tests.store_rows import (  # noqa: F401 (the store's public names)
    _SCHEMA,
    _SCORE_SCHEMA,
    GRADER_ERROR,
    TIMED_OUT,
    NewSample,
    Score,
    ScoreRow,
    StampedText,
    StoredSample,
    VerdictUpdate,
    _plain,
    decode_text,
    encode_text,
    verdict_flags,
)

SCHEMA_VERSION = 1


APPLICATION_ID = 0x43545331  # "CTS1": marks a file as ours (PRAGMA application_id)
BUSY_TIMEOUT_MS = 60_000


def _is_busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class StoreError(Exception):
    """The store cannot be used; the message names the file and says what to do."""




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
                     verdicts: Sequence[VerdictUpdate]) -> None:
        """A `VerdictUpdate` (or a tuple in its order, `created` optional) per stored sample.
        With `created` (the row's version when its text was read) the verdict is written only if
        the row still holds that text: a `--fresh` run that replaced it meanwhile keeps its own."""
        plain, versioned = [], []
        for v in verdicts:
            i, c, e, r, t, g = v[:6]
            created = v[6] if len(v) > 6 else None
            row = (None if c is None else int(c), _plain(e), _plain(r), int(t), g, generation,
                   prompt, i)
            if created is None:
                plain.append(row)
            else:
                versioned.append(row + (created,))
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

    def scores(self, scorer: int, generation: int, prompt: str) -> dict[int, Score]:
        """index -> `Score` (token count, sum of log-probabilities) of the stored samples of one
        prompt scored by `scorer`; a score of a sample regenerated since (`--fresh`: another `created`)
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
        return {r[0]: Score(r[1], r[2]) for r in rows}

    def stamped_texts(self, generation: int, prompt: str,
                      indices: Iterable[int]) -> Iterator[StampedText]:
        """The given stored samples' texts with their rows' `created`, one at a time."""
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
                    yield StampedText(index, row[0], decode_text(row[1]))
                except (zlib.error, UnicodeDecodeError) as exc:
                    raise StoreError(
                        f"completion store {self.path}: sample {index} of prompt {prompt[:12]} is "
                        f"damaged ({exc}); run with --fresh to regenerate it"
                    ) from exc

    def add_scores(self, scorer: int, generation: int, prompt: str,
                   rows: Sequence[ScoreRow]) -> None:
        """Scores (a `ScoreRow`, or a tuple in its order) in one transaction."""
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
