"""Provenance: what produced a run's numbers, in `summary.json`, `report.md` and JUnit.

The sampling side (`SamplingCoordinator.provenance`: model fingerprint and revision, engine and version,
effective settings, dtype, device, parallel sizes, sampling mode and seed policy) is computed
where samples are drawn: in the serial process, or in each xdist worker, which hands it to the
controller as a JSON string in `workeroutput`. The controller adds what only it knows: harness
version and git commit, package versions, data fingerprints and the grader identity.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Iterable, Mapping

WORKEROUTPUT_KEY = "capability_provenance"
# fields of the sampling side that must agree across workers (else the report lists each value)
_SHARED = ("model", "engine", "dtype", "device", "tensor_parallel_size", "data_parallel_size",
           "batch_invariant", "sampling")


def merge_sampling(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One sampling provenance from several processes (xdist workers): a field all processes
    agree on is kept as is; one they disagree on becomes {"differs": [each distinct value]}.
    Workers whose engine never started (all their samples came from the store) do not vote on
    dtype and device unless no worker started one."""
    parts = [dict(p) for p in parts if p]
    if not parts:
        return {}
    if len(parts) == 1:
        return parts[0]
    started = [p for p in parts if p.get("engine", {}).get("started")] or parts
    out: dict[str, Any] = {}
    for key in _SHARED:
        voters = started if key in ("dtype", "device") else parts
        values = []
        for p in voters:
            value = p.get(key)
            if key == "engine" and isinstance(value, dict):  # started or not: the same engine
                value = {k: v for k, v in value.items() if k != "started"}
            if value not in values:
                values.append(value)
        out[key] = values[0] if len(values) == 1 else {"differs": values}
    if isinstance(out.get("engine"), dict) and "differs" not in out["engine"]:
        out["engine"] = {**out["engine"],
                         "started": any(p.get("engine", {}).get("started") for p in parts)}
    out["samples"] = {
        "generated": sum(p.get("samples", {}).get("generated", 0) for p in parts),
        "from_store": sum(p.get("samples", {}).get("from_store", 0) for p in parts),
    }
    out["processes"] = len(parts)
    return out


def harness() -> dict[str, Any]:
    """capability-tests' version, and the git commit when it runs from a checkout."""
    from importlib import metadata

    try:
        version = metadata.version("capability-tests")
    except metadata.PackageNotFoundError:
        version = None
    out: dict[str, Any] = {"version": version, "git_commit": None, "git_dirty": None}
    root = Path(__file__).resolve().parents[2]
    if (root / ".git").exists():
        try:
            commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                                    capture_output=True, text=True, timeout=10)
            if commit.returncode == 0:
                out["git_commit"] = commit.stdout.strip()
                status = subprocess.run(
                    ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                    capture_output=True, text=True, timeout=10)
                if status.returncode == 0:
                    out["git_dirty"] = bool(status.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    return out




def build(sampling: Mapping[str, Any], run: Mapping[str, Any], versions: Mapping[str, Any],
          data: Mapping[str, Any]) -> dict[str, Any]:
    """The `provenance` section of summary.json (JSON primitives only)."""
    out: dict[str, Any] = {"model_spec": run.get("model"), **dict(sampling),
                           "harness": harness(), "packages": dict(versions), "data": dict(data)}
    if run.get("shard"):  # --shard I/N: this run is one slice of a selection (docs/SCALING.md)
        out["shard"] = {"index": run["shard"][0], "count": run["shard"][1]}
    from capability_tests.grading.identity import grader_identity

    out["grader"] = grader_identity()
    return out


def _text(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"differs"}:
        return "differs: " + "; ".join(_text(v) for v in value["differs"])
    if isinstance(value, dict):
        if {"type", "name", "count"} <= set(value):
            return f"{value['count']} x {value['name']} ({value['type']})"
        return json.dumps(value, sort_keys=True)
    return "" if value is None else str(value)


def flat(provenance: Mapping[str, Any]) -> dict[str, str]:
    """The headline fields as strings: report.md's table and JUnit's suite properties."""
    model = provenance.get("model") or {}
    engine = provenance.get("engine") or {}
    sampling = provenance.get("sampling") or {}
    harness_ = provenance.get("harness") or {}
    rows = {
        "model": provenance.get("model_spec"),
        "model_fingerprint": model.get("fingerprint") if isinstance(model, dict) else model,
        "model_revision": (model.get("revision") or ("unpinned" if model.get("pinned") is False
                                                     else None)) if isinstance(model, dict) else None,
        "engine": engine.get("name") if isinstance(engine, dict) and "differs" not in engine
        else engine,
        "engine_version": engine.get("version") if isinstance(engine, dict) else None,
        "dtype": provenance.get("dtype"),
        "device": provenance.get("device") if provenance.get("device") is not None
        else ("not reported by the engine" if isinstance(engine, dict) and engine.get("started")
              else "no engine started (all samples from the store)"),
        "tensor_parallel_size": provenance.get("tensor_parallel_size"),
        "data_parallel_size": provenance.get("data_parallel_size"),
        "batch_invariant": provenance.get("batch_invariant"),
        "sampling": sampling.get("mode") if isinstance(sampling, dict) else sampling,
        "seed_policy": sampling.get("seed_policy") if isinstance(sampling, dict) else None,
        "harness_version": harness_.get("version"),
        "git_commit": (harness_.get("git_commit") or "")
        + (" (dirty)" if harness_.get("git_dirty") else "") or None,
        "grader": provenance.get("grader"),
        **_selftest_rows(provenance.get("selftest")),
        "shard": "{index}/{count}".format(**provenance["shard"]) if provenance.get("shard") else None,
    }
    return {k: _text(v) for k, v in rows.items() if v is not None and _text(v) != ""}


def _selftest_rows(entry: Any) -> dict[str, Any]:
    """The graders' self-test before sampling (capability_tests/selftest/): a summary, the
    sandbox backend it ran under, what it cost and whether a cached pass was used."""
    if not isinstance(entry, dict):
        return {}
    verifiers = ", ".join(f"{k} {v}" for k, v in (entry.get("verifiers") or {}).items())
    state = "passed" if entry.get("passed") else f"FAILED ({len(entry.get('failed') or [])})"
    skipped = len(entry.get("skipped") or [])
    return {
        "selftest": f"{state}: {entry.get('cases')} cases ({verifiers or 'none'})"
                    + (f", {skipped} skipped" if skipped else ""),
        "selftest_backend": entry.get("backend"),
        "selftest_seconds": entry.get("seconds"),
        "selftest_cached": entry.get("cached"),
    }


def data_text(entry: Mapping[str, Any]) -> str:
    """One benchmark's data in a line: `hub:<id>@<revision> config=... split=... commit=...
    rows=N rows_sha256=...` for Hub data, else the file and its sha256."""
    hub = entry.get("hub") or {}
    if hub:
        parts = [f"hub:{hub.get('hub_id')}@{hub.get('revision')}",
                 f"config={hub.get('config') or 'default'}", f"split={hub.get('split')}",
                 f"commit={hub.get('commit') or 'not reported'}",
                 f"rows={hub.get('rows')}", f"rows_sha256={hub.get('rows_sha256')}"]
        if hub.get("pinned") is False:
            parts.append("UNPINNED")
        return " ".join(parts)
    return f"{entry.get('source')} sha256={entry.get('file_sha256') or 'none'}"


def data_markdown(data: Mapping[str, Any] | None) -> list[str]:
    """report.md's table of where each benchmark's rows came from (docs/BENCHMARKS.md)."""
    hub = {name: d["hub"] for name, d in (data or {}).items() if isinstance(d, Mapping) and d.get("hub")}
    if not hub:
        return []
    lines = ["## Data sources", "", "| benchmark | Hub id | config | split | revision | commit | "
             "rows | rows sha256 |", "|---|---|---|---|---|---|---:|---|"]
    for name, h in hub.items():
        revision = f"`{h.get('revision')}`" + ("" if h.get("pinned", True) else " (not pinned)")
        lines.append(f"| {name} | {h.get('hub_id')} | {h.get('config') or 'default'} | "
                     f"{h.get('split')} | {revision} | `{h.get('commit') or 'not reported'}` | "
                     f"{h.get('rows')} | `{(h.get('rows_sha256') or '')[:16]}` |")
    return lines + [""]


def markdown(provenance: Mapping[str, Any] | None) -> str:
    """report.md's provenance section."""
    if not provenance:
        return ""
    lines = ["## Provenance", "", "| what | value |", "|---|---|"]
    lines += [f"| {k} | `{v}` |" for k, v in flat(provenance).items()]
    samples = provenance.get("samples") or {}
    if samples:
        lines.append(f"| samples | {samples.get('generated', 0)} generated, "
                     f"{samples.get('from_store', 0)} from the store |")
    packages = provenance.get("packages") or {}
    if packages:
        listed = ", ".join(f"{k} {v}" for k, v in packages.items() if v)
        lines.append(f"| packages | {listed} |")
    lines += ["", *data_markdown(provenance.get("data"))]
    return "\n".join(lines).rstrip("\n") + "\n\n"


def add_junit_properties(xml, provenance: Mapping[str, Any] | None) -> None:
    """`capability_<field>` suite properties, plus the whole section as `capability_provenance`."""
    if not provenance:
        return
    for key, value in flat(provenance).items():
        xml.add_global_property(f"capability_{key}", value)
    for name, entry in (provenance.get("data") or {}).items():
        if isinstance(entry, Mapping):
            xml.add_global_property(f"capability_data_{name}", data_text(entry))
    xml.add_global_property("capability_provenance",
                            json.dumps(provenance, sort_keys=True, default=str))
