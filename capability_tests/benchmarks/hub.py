"""Rows from the Hugging Face Hub, through the `datasets` client (it caches, resumes and
authenticates; nothing here re-implements that), read at a pinned revision and recorded.

A benchmark's `HubSource` names a commit; `--data-revision BENCH=REV` overrides it. A branch or
tag (`main`) is read only when asked for, with an `UnpinnedDataWarning`. What was read (Hub id,
config, split, revision asked, commit resolved, row count, a sha256 over the rows) travels with
the loaded benchmark into the reports (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterator

from capability_tests.benchmarks.base import BenchmarkError, HubSource

COMMIT = re.compile(r"[0-9a-f]{40}")
_COMMIT_IN_URL = re.compile(r"@([0-9a-f]{40})/")
_SCRIPT = re.compile(r"found (\S+\.py)")


class UnpinnedDataWarning(UserWarning):
    """A benchmark is read at a branch or tag, whose rows can change between runs."""


def is_commit(revision: str | None) -> bool:
    return revision is not None and COMMIT.fullmatch(revision) is not None


def chosen_revision(source: HubSource, benchmark: str, override: str | None = None) -> str:
    """The revision to read: `override` (--data-revision), else the source's pin. A revision that
    is not a commit is allowed when given, with a warning; a source with no pin and no override
    is refused (nothing would say which rows a run measured)."""
    revision = override or source.revision
    if not revision:
        raise BenchmarkError(
            f"benchmark {benchmark!r}: its Hub source {source.repo} names no revision; pass "
            f"--data-revision {benchmark}=<commit> to pin one, or --data-revision {benchmark}=main "
            "to read whatever main holds today (the run then records the commit it resolved to)")
    if not is_commit(revision):
        warnings.warn(UnpinnedDataWarning(
            f"benchmark {benchmark!r}: reading {source.repo} at {revision!r}, not a commit: its "
            "rows can change between runs (the run records the commit it resolved to, where the "
            "Hub says it); name a 40-hex commit with --data-revision to pin it"), stacklevel=2)
    return revision


@dataclass
class HubSplit:
    """One loaded split: its rows (a `datasets.Dataset`) and what the reports record of it."""

    rows: Any = field(repr=False)
    provenance: dict[str, Any]

    def numbered(self) -> Iterator[tuple[str, int, Any]]:
        """(`hub:<repo>@<revision>:<split>:<row>`, row number, row) for every row."""
        prefix = f"hub:{self.provenance['hub_id']}@{self.provenance['revision']}"
        for index, row in enumerate(self.rows):
            yield f"{prefix}:{self.provenance['split']}:{index}", index, row


def rows_sha256(rows) -> str:
    """sha256 over the rows in order, each as one line of JSON with sorted keys (non-ASCII kept,
    anything not JSON as its str()): anyone can recompute it from the same split."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False, default=str).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _commits_seen(builder) -> set[str]:
    """Commits named in the data file URLs the builder resolved (`hf://datasets/<repo>@<sha>/...`),
    also those recorded in the info of a copy prepared earlier (the offline cache)."""
    texts: list[str] = []
    files = getattr(builder.config, "data_files", None) or {}
    for paths in (files.values() if hasattr(files, "values") else [files]):
        texts += [str(p) for p in (paths if isinstance(paths, (list, tuple)) else [paths])]
    checksums = getattr(getattr(builder, "info", None), "download_checksums", None) or {}
    texts += [str(url) for url in checksums]
    return {m.group(1) for text in texts for m in _COMMIT_IN_URL.finditer(text)}


def load_hub_split(source: HubSource, benchmark: str, revision: str | None = None) -> HubSplit:
    """Load `source`'s split at `revision` (default: its pin) and record what was read.

    `source.repo` may also be a local folder laid out like the Hub repository (how the tests run
    it); the revision is then passed on but a folder has no commits to check it against.
    """
    revision = chosen_revision(source, benchmark, revision)
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - datasets is a core dependency
        raise BenchmarkError(
            "loading benchmarks from the Hub needs `datasets`: pip install datasets"
        ) from exc
    try:
        builder = datasets.load_dataset_builder(source.repo, source.config, revision=revision)
        builder.download_and_prepare()
        data = builder.as_dataset(split=source.split)
    except Exception as exc:  # the client raises many types: each cause is named below
        raise BenchmarkError(unreachable_message(exc, source, benchmark, revision)) from None
    local = os.path.isdir(source.repo)
    seen = _commits_seen(builder)
    if is_commit(revision) and seen and revision not in seen:
        raise BenchmarkError(
            f"benchmark {benchmark!r}: asked for {source.repo} at {revision}, but the copy "
            f"`datasets` loaded is of {', '.join(sorted(seen))} (an offline cache of another "
            f"revision?): go online once to fetch the pinned one, or pass "
            f"--data-revision {benchmark}={sorted(seen)[0]} to measure that one knowingly")
    commit = sorted(seen)[0] if len(seen) == 1 else None  # as the client's file URLs name it
    provenance = {
        "hub_id": source.repo,
        "config": getattr(builder.config, "name", None) or source.config,
        "split": source.split,
        "revision": revision,
        "commit": commit,
        "pinned": is_commit(revision),
        "loaded_from": "local folder" if local else ("hub" if seen else "datasets cache"),
        "rows": len(data),
        "rows_sha256": rows_sha256(data),
    }
    return HubSplit(data, provenance)


def read_hub_rows(source: HubSource, benchmark: str,
                  revision: str | None = None) -> Iterator[tuple[str, int, Any]]:
    """Yield (`hub:<repo>@<revision>:<split>:<row>`, row number, row) for every row of the split."""
    yield from load_hub_split(source, benchmark, revision).numbered()


def _offline_variables() -> list[str]:
    return [name for name in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
            if os.environ.get(name, "").lower() in ("1", "true", "yes", "on")]


def unreachable_cause(exc: BaseException) -> str:
    """Which of the causes `datasets`/`huggingface_hub` report this exception is: `network`,
    `offline`, `gated`, `revision`, `repository`, `script`, `config`, `split`, `data files`, or
    `other`. By type first (the client's exception classes), then by the message the client
    wraps the cause in (it re-raises most as DatasetNotFoundError, ConnectionError, ValueError)."""
    from datasets.exceptions import DataFilesNotFoundError, DatasetNotFoundError
    from huggingface_hub.errors import (
        GatedRepoError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    chain, seen = [], exc
    while seen is not None and len(chain) < 8:  # the client chains the Hub's error as __cause__
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    if any(isinstance(e, GatedRepoError) for e in chain) or (
            isinstance(exc, DatasetNotFoundError) and "gated" in text):
        return "gated"
    if any(isinstance(e, RevisionNotFoundError) for e in chain) or (
            isinstance(exc, DatasetNotFoundError) and text.startswith("Revision ")):
        return "revision"
    if any(isinstance(e, OfflineModeIsEnabled) for e in chain) or "Offline mode is enabled" in text \
            or "(OfflineModeIsEnabled)" in text:
        return "offline"
    if isinstance(exc, RuntimeError) and "scripts are no longer supported" in text:
        return "script"
    if isinstance(exc, ValueError) and text.startswith("BuilderConfig "):
        return "config"
    if isinstance(exc, ValueError) and (text.startswith("Unknown split") or
                                        text.startswith("Bad split")):
        return "split"
    if isinstance(exc, DataFilesNotFoundError) or type(exc).__name__ == "EmptyDatasetError":
        return "data files"
    if any(isinstance(e, RepositoryNotFoundError) for e in chain) or isinstance(
            exc, DatasetNotFoundError):
        return "repository"
    # the Hub client's HTTP errors (httpx or its fork httpx2, by version): matched by class name
    transport = {"TransportError", "TimeoutException", "ConnectionError", "TimeoutError"}
    if any(transport & {c.__name__ for c in type(e).__mro__} for e in chain):
        return "network"
    return "other"


def unreachable_message(exc: BaseException, source: HubSource, benchmark: str,
                        revision: str) -> str:
    """The error for a split that could not be loaded: what was asked, the cause the client
    reported (its own first line), and what to do about that cause."""
    why = (str(exc).strip().splitlines() or [""])[0]
    where = (f"{source.repo}{'/' + source.config if source.config else ''} split "
             f"{source.split!r} at revision {revision}")
    offline_dir = (f"pass --data-dir=DIR with {benchmark}/test.jsonl inside (docs/BENCHMARKS.md, "
                   "\"Offline\")")
    cause = unreachable_cause(exc)
    advice = {
        "network": "the Hugging Face Hub could not be reached (network): check the connection "
                   f"or proxy, or {offline_dir}",
        "offline": f"{' and '.join(_offline_variables()) or 'offline mode'} set and this revision "
                   "is not in the local `datasets` cache: load it once online to cache it, or "
                   f"{offline_dir}",
        "gated": f"the dataset is gated: accept its terms at https://huggingface.co/datasets/"
                 f"{source.repo} and log in (`hf auth login`, or HF_TOKEN), or {offline_dir}",
        "revision": f"the repository has no revision {revision!r}: check --data-revision "
                    f"{benchmark}=REV (a commit of https://huggingface.co/datasets/{source.repo}"
                    "/commits/main)",
        "repository": "no such dataset on the Hub (or it is private and this token cannot see "
                      f"it): check the Hub id, or {offline_dir}",
        "script": "the repository ships a loading script (" + (
            _SCRIPT.search(why).group(1) if _SCRIPT.search(why) else "a .py file") +
            "), which `datasets` 4 and later refuse to run: load the benchmark from a copy "
            f"in plain data files (parquet) instead, or {offline_dir}",
        "config": f"the repository has no config {source.config!r} at this revision (the "
                  "message lists those it has)",
        "split": f"the config has no split {source.split!r} at this revision (the message lists "
                 "those it has)",
        "data files": "no data files matched at this revision (moved or deleted?)",
        "other": f"an unexpected error; {offline_dir}",
    }[cause]
    return (f"benchmark {benchmark!r}: cannot load {where} from the Hugging Face Hub: "
            f"{cause} ({type(exc).__name__}: {why}); {advice}")
