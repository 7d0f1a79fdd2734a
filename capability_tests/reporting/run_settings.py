"""What, besides the model, differs between two recorded runs: one diff used by `compare`,
`--compare` and `--baseline`, and the sampling settings a baseline gate requires to be equal.

The diff is generic: it flattens the `run` section, the top-level `engine`, `seed`, `template`,
`sampling`, `versions` and (when present) `provenance` sections of each run's summary.json into
dotted names and lists every name whose value differs (a name recorded by one run only shows the
other side as None). Left out: the model's identity (any name part starting with `model`, and
provenance `fingerprint`/`revision` names: they are what a comparison compares) and what differs
between any two runs anyway (run id, start and finish times, how many samples came from the
store, how many processes sampled, whether an engine started).
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Iterable, Mapping

# Settings a baseline gate's test assumes equal (docs/REPORTS.md, "CI gates"): they change the
# distribution of every sample, so a drop could be theirs rather than the model's. The seed value is
# not one: a rerun with another seed is exactly what the gate must tolerate. `seed_policy` is
# checked when both runs record it (in `run` or `provenance`).
SAMPLING_SETTINGS = ("k", "temperature", "top_p", "max_tokens", "template", "sampling", "seed_policy")
ALLOW_ALL = "all"

PLAIN_SECTIONS = ("engine", "seed", "template", "sampling")  # copies of `run` keys
DOTTED_SECTIONS = ("versions", "provenance")
_RUN_TIMES = {"run_id", "started_at", "finished_at", "time", "timestamp", "date"}
_MODEL_PARTS = {"fingerprint", "revision", "resolved_revision", "model_fingerprint", "weights_sha256"}
# provenance entries that say how this session went, not how it sampled
_SESSION_PARTS = ("provenance.samples", "provenance.processes", "provenance.engine.started",
                  "provenance.data",  # the data has its own diff: data_differences
                  "provenance.selftest")  # a check that passed (else no run): its time, its cache
# What identifies a benchmark's data (summary.json `data.<benchmark>`), compared by
# data_differences: where it came from, which revision and commit, and its content hashes.
DATA_FIELDS = ("source", "file_sha256", "hub.hub_id", "hub.config", "hub.split", "hub.revision",
               "hub.commit", "hub.rows", "hub.rows_sha256", "problems_sha256")


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    """Leaves under dotted names; an empty mapping has none (`engine_args: {}` sets nothing)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value


def _excluded(name: str) -> bool:
    parts = name.split(".")
    if any(p.startswith("model") or p in _RUN_TIMES or p.endswith("_at") for p in parts):
        return True
    if any(name == s or name.startswith(s + ".") for s in _SESSION_PARTS):
        return True
    return parts[0] == "provenance" and any(p in _MODEL_PARTS for p in parts[1:])


def recorded_settings(document: Mapping[str, Any]) -> dict[str, Any]:
    """A run's settings as dotted names: `run` keys plain (`temperature`), `versions` and
    `provenance` under their section (`versions.vllm`, `provenance.dtype`). The schema-2 top-level
    copies of run settings (`engine`, `seed`, `template`, `sampling.k`, ...) fill plain names only
    where `run` lacks them."""
    out: dict[str, Any] = {}
    run = document.get("run") or {}
    _flatten(run, "", out)
    for section in PLAIN_SECTIONS:
        if section not in document:
            continue
        flat: dict[str, Any] = {}
        _flatten(document[section], "" if section == "sampling" else section, flat)
        for name, value in flat.items():
            out.setdefault(name, value)
    for section in DOTTED_SECTIONS:
        if section in document:
            _flatten(document[section], section, out)
    return {name: value for name, value in out.items() if not _excluded(name)}


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def setting_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every recorded setting (besides the model, times and run ids) whose value differs between
    two summary documents: `[{"setting", "a", "b"}]`, sorted by setting."""
    sa, sb = recorded_settings(a), recorded_settings(b)
    return [
        {"setting": name, "a": sa.get(name), "b": sb.get(name)}
        for name in sorted(set(sa) | set(sb))
        if not _same(sa.get(name), sb.get(name))
    ]


def sampling_setting(document: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    """(recorded?, value) of a sampling setting, from `run`, else `sampling`, else `provenance`."""
    for section in ("run", "sampling", "provenance"):
        values = document.get(section) or {}
        if isinstance(values, Mapping) and name in values:
            return True, values[name]
    return False, None


def sampling_differences(current: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The SAMPLING_SETTINGS recorded by both documents whose values differ."""
    out = []
    for name in SAMPLING_SETTINGS:
        has_a, va = sampling_setting(current, name)
        has_b, vb = sampling_setting(baseline, name)
        if has_a and has_b and not _same(va, vb):
            out.append({"setting": name, "a": va, "b": vb})
    return out


def allowed_settings(text: str) -> frozenset[str]:
    """argparse `type=` for --baseline-allow-different: comma-separated SAMPLING_SETTINGS or `all`."""
    names = {part.strip() for part in text.split(",") if part.strip()}
    if not names:
        raise argparse.ArgumentTypeError("expected setting names separated by commas, or 'all'")
    unknown = sorted(names - set(SAMPLING_SETTINGS) - {ALLOW_ALL})
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown setting(s) {', '.join(unknown)}; choose from {', '.join(SAMPLING_SETTINGS)} or {ALLOW_ALL}"
        )
    return frozenset(SAMPLING_SETTINGS) if ALLOW_ALL in names else frozenset(names)


def difference_text(diffs: Iterable[Mapping[str, Any]], a: str = "a", b: str = "b") -> str:
    """`temperature: 0.6 (a) vs 1.0 (b); engine: ...`, or `none`."""
    parts = [f"{d['setting']}: {d['a']!r} ({a}) vs {d['b']!r} ({b})" for d in diffs]
    return "; ".join(parts) if parts else "none"


def data_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per benchmark both runs recorded, each DATA_FIELDS entry whose value differs:
    `[{"benchmark", "field", "a", "b"}]`. A different revision, row count or rows sha256 means
    the runs measured different data, whatever their settings; a file's path is no difference
    when both runs hashed it (the packaged demo read from two checkouts is the same data)."""
    da, db = a.get("data") or {}, b.get("data") or {}
    out = []
    for name in sorted(set(da) & set(db)):
        fa: dict[str, Any] = {}
        fb: dict[str, Any] = {}
        _flatten(da[name] or {}, "", fa)
        _flatten(db[name] or {}, "", fb)
        for key in DATA_FIELDS:
            if key == "source" and (fa.get("hub.hub_id") or fb.get("hub.hub_id")):
                continue  # a Hub source string repeats id, revision, config and split
            if key == "source" and fa.get("file_sha256") and fb.get("file_sha256"):
                continue  # a file is its content: the path is where a checkout keeps it
            if not _same(fa.get(key), fb.get(key)):
                out.append({"benchmark": name, "field": key.removeprefix("hub."),
                            "a": fa.get(key), "b": fb.get(key)})
    return out


def data_difference_text(diffs: Iterable[Mapping[str, Any]], a: str = "a", b: str = "b") -> str:
    """`olympiadbench: rows 674 (a) vs 675 (b), ...; gsm8k: ...`, or `none`."""
    by_name: dict[str, list[str]] = {}
    for d in diffs:
        by_name.setdefault(d["benchmark"], []).append(f"{d['field']} {d['a']!r} ({a}) vs {d['b']!r} ({b})")
    return "; ".join(f"{name}: {', '.join(parts)}" for name, parts in by_name.items()) or "none"
