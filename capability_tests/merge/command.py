"""`capability-tests merge RUN ... --out DIR`: shard runs (`--shard I/N`) into one run.

Checks that the runs agree, are disjoint and (or which shards are missing) complete; copies
their stores into `DIR/completions.sqlite`; writes one run folder under DIR with the run writer,
from the shards' recorded results and per-sample records: the numbers, CSV, Markdown, plot and
samples one machine would have written (the same results give the same curves and the same
seeded bootstrap intervals). `DIR/merge.json` lists the runs merged so far. The command one
machine would have run, with `--report-dir DIR`, finds every sample in that store and
generates nothing.

Exit status: 0 merged and complete; 1 merged, but shards are missing or incomplete (the run
folder says `"complete": false`); 2 the runs cannot be merged (nothing written).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import itertools
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from capability_tests.merge.runs import (
    MergeError,
    ShardRun,
    check_agree,
    check_disjoint,
    missing,
    read_shard,
)
from capability_tests.merge.stores import CopyCount, copy_samples, merged_store

STORE = "completions.sqlite"  # the merged store: DIR's default store (config.DEFAULT_STORE_NAME)
MANIFEST = "merge.json"
EXIT_INCOMPLETE = 1
EXIT_REFUSED = 2


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "merge",
        help="merge the runs of --shard I/N into one run (stores, reports) equal to one machine's",
        description="Merge shard runs (pytest ... --shard I/N). RUN is a run folder, its "
        "summary.json, or a report dir (its latest run). The runs must agree on the model "
        "fingerprint, engine and settings, sampling, grader identity and data; their problems "
        "must be disjoint. Writes DIR/completions.sqlite and one run folder under DIR. Merging "
        "again with a shard that arrived later copies only that shard's samples.",
    )
    parser.add_argument("runs", nargs="+", metavar="RUN", help="the shard runs")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="the merged report dir: completions.sqlite, summary.json, run folder")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")
    parser.set_defaults(func=run)
    return parser


def _moment(text: str | None) -> _dt.datetime | None:
    if not text:
        return None
    try:
        return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _exit_status(shards: Sequence[ShardRun]) -> int | None:
    """1 when a shard had failing tests, else 0; another status (an error) as the first had it."""
    statuses = [s.run.document.get("exit_status") for s in shards]
    odd = [x for x in statuses if x not in (0, 1, None)]
    if odd:
        return odd[0]
    return 1 if 1 in statuses else (0 if statuses and None not in statuses else None)


def _sources(shards: Sequence[ShardRun]) -> dict[str, dict[str, Any]]:
    """Per benchmark, what `data_fingerprints` needs: source, file hash, reference answers."""
    out: dict[str, dict[str, Any]] = {}
    for shard in shards:
        answers = shard.record.get("answers")
        for name, entry in (shard.run.document.get("data") or {}).items():
            if entry and entry.get("source") is not None and name not in out:
                out[name] = {"source": entry.get("source"), "file_sha256": entry.get("file_sha256"),
                             "answers": {}}
        for key, answer in (answers or {}).items():
            name, pid = key.split("/", 1)
            if name in out:
                out[name]["answers"][pid] = answer
    return out


def _sampling_part(provenance: dict[str, Any]) -> dict[str, Any]:
    leave = ("model_spec", "harness", "packages", "data", "grader", "shard")
    return {k: v for k, v in provenance.items() if k not in leave}


def _provenance(shards: Sequence[ShardRun], run: dict, data: dict) -> dict[str, Any]:
    from capability_tests.reporting.provenance import merge_sampling

    parts = [s.run.document.get("provenance") or {} for s in shards]
    sampling = merge_sampling([_sampling_part(p) for p in parts])
    harnesses = []
    for p in parts:
        if p.get("harness") not in harnesses:
            harnesses.append(p.get("harness"))
    return {"model_spec": run.get("model"), **sampling,
            "harness": harnesses[0] if len(harnesses) == 1 else {"differs": harnesses},
            "packages": dict(parts[0].get("packages") or {}), "data": data,
            "grader": shards[0].grader}


def _samples(shards: Sequence[ShardRun]):
    """The shards' per-sample records in a `SampleSpool` (on disk, one problem in memory)."""
    from capability_tests.reporting.samples import SAMPLES, SampleSpool, read_samples
    from capability_tests.results import SampleRow, encode_samples

    spool = SampleSpool()
    for shard in shards:
        path = shard.run.path / SAMPLES
        if not path.is_file():
            continue
        group: list[dict] = []
        for record in itertools.chain(read_samples(path), [None]):  # one problem in memory
            if group and (record is None or (record["benchmark"], record["problem_id"])
                          != (group[0]["benchmark"], group[0]["problem_id"])):
                first = group[0]
                header = {"benchmark": first["benchmark"], "problem_id": first["problem_id"],
                          "prompt": first.get("prompt"), "grader": first.get("grader"),
                          "store_key": shard.generation}
                spool.add(encode_samples(header, (SampleRow(r["index"], r.get("extracted"), r["outcome"],
                                                            r.get("reason") or "") for r in group)))
                group = []
            if record is not None:
                group.append(record)
    return spool


def write_merged(shards: Sequence[ShardRun], out: Path, *, plot: bool = True):
    """The merged run folder under `out` (the run writer's files); returns its RunReport."""
    from capability_tests.reporting.bootstrap import BootstrapSettings
    from capability_tests.reporting.curves import compute_curves
    from capability_tests.reporting.run_writer import data_fingerprints, new_run_id, utc_now, write_run_folder

    first = shards[0]
    run = dict(first.run.document.get("run") or {})
    if "shard" in run:
        run["shard"] = None  # what one machine records
    results = sorted((r for s in shards for r in s.run.results),
                     key=lambda r: (r.benchmark, r.problem_id))
    interval = first.run.document.get("confidence_interval") or {}
    settings = BootstrapSettings(**{k: interval[k] for k in ("resamples", "level", "seed")
                                    if k in interval})
    curves = compute_curves(results, settings)
    data = data_fingerprints(run.get("benchmarks") or (), results, _sources(shards))
    gaps = missing(shards)
    started = min((m for m in (_moment(s.run.document.get("started_at")) for s in shards) if m),
                  default=utc_now())
    finished = max((m for m in (_moment(s.run.document.get("finished_at")) for s in shards) if m),
                   default=utc_now())
    samples = _samples(shards)
    try:
        report = write_run_folder(
            out, new_run_id(run, started), run, results, complete=not gaps, started_at=started,
            finished_at=finished, settings=settings, data=data, exit_status=_exit_status(shards),
            curves=curves, plot=plot, samples=samples,
            more={
                "grader": {"identity": first.grader,
                           "regraded": sum(r.regraded for r in results)},
                "store": {"path": str((out / STORE).resolve()), "generation": first.generation},
                # the versions that sampled, not the merging machine's (run_writer's default)
                "versions": dict(first.run.document.get("versions") or {}),
                "merge": {"shards": first.count, "missing": gaps,
                          "runs": [{"shard": s.index, "run_id": s.run.run_id,
                                    "path": str(s.run.path)} for s in shards]},
            },
            provenance=_provenance(shards, run, data),
        )
    finally:
        samples.close()
    _write_explorer(report.path)
    return report


def _write_explorer(run_dir: Path) -> None:
    """The run explorer page (index.html), where this version of the package has it."""
    try:
        from capability_tests.reporting.explorer import write_explorer
    except ImportError:
        return
    try:
        write_explorer(run_dir)
    except Exception as exc:  # a page never costs the merge's numbers
        print(f"explorer page not written: {type(exc).__name__}: {exc}", file=sys.stderr)


def merge(specs: Sequence[str], out: Path, *, plot: bool = True, base: Path | None = None):
    """Check, copy, write. Returns (RunReport, {run_id: CopyCount}, missing reasons)."""
    shards: list[ShardRun] = []
    for spec in specs:
        shard = read_shard(spec, base)
        if all(shard.run.path.resolve() != s.run.path.resolve() for s in shards):
            shards.append(shard)
    shards.sort(key=lambda s: s.index)
    check_agree(shards)
    check_disjoint(shards)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    manifest = _read_manifest(manifest_path)
    if manifest.get("generation") not in (None, shards[0].generation):
        raise MergeError(f"{out} holds a merge of another configuration ({manifest_path}); "
                         "merge into another --out")
    counts: dict[str, CopyCount] = {}
    target = merged_store(out / STORE)
    try:
        for shard in shards:
            counts[shard.run.run_id] = copy_samples(shard, target)
    finally:
        target.close()
    report = write_merged(shards, out, plot=plot)
    merged = dict(manifest.get("runs") or {})
    for shard in shards:
        merged[shard.run.run_id] = {"shard": [shard.index, shard.count], "path": str(shard.run.path),
                                    "samples_copied": counts[shard.run.run_id].copied}
    from capability_tests.reporting.summary import write_atomic

    write_atomic(manifest_path, json.dumps({"generation": shards[0].generation, "runs": merged,
                                            "latest": report.run_id}, indent=1) + "\n")
    return report, counts, missing(shards)


def _read_manifest(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise MergeError(f"{path}: not JSON ({exc}); move it away") from None


def run(args: argparse.Namespace) -> int:
    try:
        report, counts, gaps = merge(args.runs, Path(args.out).expanduser().resolve(),
                                     plot=not args.no_plot)
    except MergeError as exc:
        print(f"capability-tests merge: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    from capability_tests.reporting.summary import terminal_lines

    for line in terminal_lines(report.summaries):
        print(line)
    copied = sum(c.copied for c in counts.values())
    present = sum(c.present for c in counts.values())
    print(f"samples: {copied} copied into {Path(args.out) / STORE}, {present} already there")
    print(f"run folder: {report.path}")
    if gaps:
        print("incomplete: " + "; ".join(gaps), file=sys.stderr)
        return EXIT_INCOMPLETE
    return 0
