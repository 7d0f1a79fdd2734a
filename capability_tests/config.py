"""The run configuration: every command-line option, validated once into a frozen object.

Validation happens before anything heavy starts; a bad value is a usage error that names the
option. Nothing here imports torch or vLLM.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from capability_tests.benchmarks.catalog import STUDY_BENCHMARKS
from capability_tests.engines.base import ServerSettings
from capability_tests.models import EMBEDDED_ALIAS
from capability_tests.selection import DEFAULT_BENCHMARKS
from capability_tests.templates import DEFAULT_TEMPLATE, TEMPLATES

DEFAULT_K = 8
DEFAULT_TEMPERATURE = 0.6
DEFAULT_TOP_P = 0.95
DEFAULT_MAX_TOKENS = 4096
DEFAULT_SEED = 0
DEFAULT_ENGINE = "vllm"
DEFAULT_REPORT_DIR = "reports"
DEFAULT_STORE_NAME = "completions.sqlite"  # inside the report dir; see docs/STORE.md
SAMPLING_MODES = ("seeded", "batched")
DEFAULT_SAMPLING = "seeded"


class ConfigError(ValueError):
    """A bad option value; the message starts with the option's name."""


@dataclass(frozen=True)
class RunConfig:
    """What one capability run does. `model` None means the embedded default model."""

    model: str | None = None
    k: int = DEFAULT_K
    engine: str = DEFAULT_ENGINE
    engine_args: Mapping[str, Any] = field(default_factory=dict)
    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = DEFAULT_TOP_P
    max_tokens: int = DEFAULT_MAX_TOKENS
    seed: int = DEFAULT_SEED
    template: str = DEFAULT_TEMPLATE
    data_dir: Path | None = None
    limit: int | None = None
    benchmarks: tuple[str, ...] = DEFAULT_BENCHMARKS  # selection.py: the study's six and humaneval
    report_dir: Path = Path(DEFAULT_REPORT_DIR)
    store: Path | None = None  # the completion store file; None: no store (--store none)
    sampling: str = DEFAULT_SAMPLING  # "seeded" (per-sample seeds) or "batched" (n=k requests)
    fresh: bool = False  # ignore and replace stored samples
    regrade: bool = False  # grade stored samples only, never start an engine
    batch_invariant: bool = False  # ask the engine for batch-invariant kernels (--batch-invariant)
    # --engine openai: --base-url, --concurrency, --request-timeout, --retries (how, not what)
    server: ServerSettings = field(default_factory=ServerSettings)
    # --data-revision BENCH=REV: the Hub revision to read a benchmark at, over its pinned commit
    data_revisions: Mapping[str, str] = field(default_factory=dict)
    # --shard I/N: (I, N), this machine's slice of the selection (shard_plan.py); None: all of it
    shard: tuple[int, int] | None = None

    def report_run_section(self) -> dict[str, Any]:
        """The `run` section of reports: JSON primitives only."""
        data = asdict(self)
        data["model"] = self.model or EMBEDDED_ALIAS
        data["engine_args"] = dict(self.engine_args)
        data["data_revisions"] = dict(self.data_revisions)
        data["data_dir"] = str(self.data_dir) if self.data_dir else None
        data["benchmarks"] = list(self.benchmarks)
        data["shard"] = None if self.shard is None else list(self.shard)
        for where in ("report_dir", "store", "fresh", "regrade", "server"):  # how, not what
            del data[where]
        return data


# argparse `type=` converters: argparse turns their ValueError/ArgumentTypeError into
# "argument --k: ..." errors that name the option.


def _number(text: str, kind: type, ok, requirement: str):
    """Parse `text` as `kind` and check it; argparse reports the message after the option."""
    try:
        value = kind(text)
    except ValueError:
        expected = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not ok(value):  # also rejects nan, which fails every comparison
        raise argparse.ArgumentTypeError(f"{requirement}, got {text}")
    return value


def positive_int(text: str) -> int:
    return _number(text, int, lambda v: v >= 1, "must be at least 1")


def non_negative_int(text: str) -> int:
    return _number(text, int, lambda v: v >= 0, "must not be negative")


MAX_RUN_SEED = 2**32 - 1  # engines seed numpy with it, which takes 32 bits


def run_seed(text: str) -> int:
    return _number(text, int, lambda v: 0 <= v <= MAX_RUN_SEED,
                   f"must be between 0 and {MAX_RUN_SEED}")


def temperature(text: str) -> float:
    return _number(text, float, lambda v: v >= 0, "must be >= 0")


def probability(text: str) -> float:
    return _number(text, float, lambda v: 0 < v <= 1, "must be in (0, 1]")


def positive_seconds(text: str) -> float:
    return _number(text, float, lambda v: v > 0, "must be more than 0 seconds")


def base_url(text: str) -> str:
    """An OpenAI-compatible server's address, `http(s)://HOST[:PORT][/PATH]` (`/v1` is added
    when missing); a token in it is refused: tokens come from the environment, never argv."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text.strip())
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a URL: {text!r} ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"expected http(s)://HOST[:PORT][/v1], got {text!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(
            "give the bare server address: no user, password, query or fragment in it (a token "
            "goes in the environment variable CAPABILITY_TESTS_API_KEY, never on the command line)")
    return text.strip().rstrip("/")


def template_name(text: str) -> str:
    if text not in TEMPLATES:
        raise argparse.ArgumentTypeError(
            f"unknown template {text!r}; known: {', '.join(sorted(TEMPLATES))}"
        )
    return text


def engine_arg(text: str) -> tuple[str, Any]:
    """`KEY=VALUE`; VALUE is read as JSON when it parses (numbers, true/false), else a string."""
    key, sep, raw = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def benchmark_list(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of benchmark names")
    if names == ("study",):
        return STUDY_BENCHMARKS
    return names


def existing_dir(option: str, value: str | None, base: Path) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base / path
    if not path.is_dir():
        raise ConfigError(f"{option}={value}: no such folder")
    return path.resolve()


def data_revision(text: str) -> tuple[str, str]:
    """argparse `type=` for --data-revision: `BENCH=REV`, REV a commit, branch or tag."""
    name, sep, revision = text.partition("=")
    name, revision = name.strip(), revision.strip()
    if not sep or not name or not revision or any(c.isspace() for c in revision):
        raise argparse.ArgumentTypeError(
            f"expected BENCH=REV (a commit, or a branch such as main), got {text!r}")
    return name, revision


def shard(text: str):
    """argparse `type=` for --shard: `I/N` with 0 <= I < N (`shard_plan.parse_shard`)."""
    from capability_tests.shard_plan import parse_shard

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
