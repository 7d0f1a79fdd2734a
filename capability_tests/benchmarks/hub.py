"""Rows from the Hugging Face Hub, through the `datasets` client (it caches, resumes and
authenticates; nothing here re-implements that)."""

from __future__ import annotations

from typing import Any, Iterator

from capability_tests.benchmarks.base import BenchmarkError, HubSource


def read_hub_rows(source: HubSource, benchmark: str) -> Iterator[tuple[str, int, Any]]:
    """Yield (`hub:<repo>:<split>:<row>`, row number, row) for every row of the split.

    `source.repo` may also be a local folder laid out like the Hub repository (how the tests run it).
    """
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - datasets is a core dependency
        raise BenchmarkError(
            "loading benchmarks from the Hub needs `datasets`: pip install datasets"
        ) from exc
    try:
        data = datasets.load_dataset(source.repo, source.config, split=source.split)
    except Exception as exc:  # the client raises many types: network, auth, missing config
        import os

        why = (str(exc).strip().splitlines() or [""])[0]
        offline = [name for name in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
                   if os.environ.get(name, "").lower() in ("1", "true", "yes", "on")]
        hint = (f"{' and '.join(offline)} set and the dataset not in the local cache: "
                if offline else "offline, or not cached? ")
        raise BenchmarkError(
            f"benchmark {benchmark!r}: cannot load {source.repo}"
            f"{'/' + source.config if source.config else ''} split {source.split!r} from the "
            f"Hugging Face Hub ({type(exc).__name__}: {why}); {hint}pass --data-dir=DIR with "
            f"{benchmark}/test.jsonl inside, or load it once online to cache it"
        ) from None
    for index, row in enumerate(data):
        yield f"hub:{source.repo}:{source.split}:{index}", index, row
