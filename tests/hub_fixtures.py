"""Hub-shaped folders for the loader tests: the real `datasets` client reads them.

`write_release_layout` writes LiveCodeBench's parquet release layout (as in the parquet copy
lighteval/code_generation_lite: one config per release, `release_v1` ... `release_latest`, split
`test`) from the two rows of tests/data/hub/livecodebench; `redirect_hub` makes
`datasets.load_dataset_builder` read a Hub id from a local folder while recording what it was
asked for (the revision included).
"""

from __future__ import annotations

import json
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
LCB_ROWS = TESTS_DIR / "data" / "hub" / "livecodebench" / "data" / "test.jsonl"
# which of the two fixture rows each release holds (a later release adds problems)
RELEASES = {"release_v1": 1, "release_v2": 2, "release_v5": 2, "release_latest": 2}


def lcb_rows() -> list[dict]:
    return [json.loads(line) for line in LCB_ROWS.read_text().splitlines() if line.strip()]


def write_release_layout(root: Path, releases: dict[str, int] = RELEASES) -> Path:
    """`root/<release>/test-00000-of-00001.parquet` and a README naming each release a config."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = lcb_rows()
    card = ["---", "configs:"]
    for release, count in releases.items():
        folder = root / release
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows[:count]), folder / "test-00000-of-00001.parquet")
        card += [f"- config_name: {release}", "  data_files:", "  - split: test",
                 f"    path: {release}/test-*.parquet"]
    card += ["---", "", "LiveCodeBench rows in the parquet release layout, for loader tests."]
    (root / "README.md").write_text("\n".join(card) + "\n")
    return root


def redirect_hub(monkeypatch, folders: dict[str, Path]) -> list[dict]:
    """Read each Hub id of `folders` from its local folder; returns the calls (path, name,
    revision as asked) in order."""
    import datasets

    real = datasets.load_dataset_builder
    calls: list[dict] = []

    def builder(path, name=None, *args, **kwargs):
        calls.append({"path": path, "name": name, "revision": kwargs.get("revision")})
        return real(str(folders.get(path, path)), name, *args, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset_builder", builder)
    return calls
