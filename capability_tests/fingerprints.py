"""Model identity for the store key and the reports, computed without loading the model.

- Hub id: the commit sha the revision resolves to, through `huggingface_hub` (the Hub API when
  reachable, else the local Hugging Face cache's ref); when neither answers, the samples are
  *unpinned* (the Hub's branch can move under the same key) and `ModelIdentity.warning` says so.
- Local folder: SHA-256 over every file's relative path, size and whole-content SHA-256.
- GGUF file (the embedded model too): the whole file's SHA-256.

Whole-content hashes read every byte once; each file's hash is cached under the user cache dir
(`models.cache_dir()/file-hashes/`), keyed by absolute path, size and mtime, so a rerun reads no
weights again. A changed size or mtime re-reads the file: a copy of a folder is hashed once more
and gives the same fingerprint.

`chat_template_source` reads the model's own chat template (for `--template chat`, whose prompt
key must change when the template changes) from the files, again without loading the model.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from capability_tests.models import ResolvedModel, cache_dir

HUB_TIMEOUT_S = 10.0
_SHA_RE = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class ModelIdentity:
    """`fingerprint` goes into the store key; `revision` is the resolved commit (Hub ids only)."""

    spec: str
    kind: str
    fingerprint: str
    revision: str | None = None
    pinned: bool = True
    warning: str | None = None

    def to_json(self) -> dict:
        return {"spec": self.spec, "kind": self.kind, "fingerprint": self.fingerprint,
                "revision": self.revision, "pinned": self.pinned}


# -- cached per-file facts -------------------------------------------------------------------------


def _stat_cached(path: Path, what: str, compute: Callable[[Path], str]) -> str:
    """`compute(path)`, cached by (absolute path, size, mtime) in the user cache dir."""
    path = path.resolve()
    stat = path.stat()
    stamp = {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "what": what}
    name = hashlib.sha256(f"{what}\0{path}".encode()).hexdigest()[:32]
    folder = cache_dir() / "file-hashes"
    entry = folder / f"{name}.json"
    try:
        cached = json.loads(entry.read_text(encoding="utf-8"))
        if all(cached.get(k) == v for k, v in stamp.items()) and isinstance(cached.get("value"), str):
            return cached["value"]
    except (OSError, ValueError):
        pass
    value = compute(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**stamp, "value": value}), encoding="utf-8")
        os.replace(tmp, entry)
    except OSError:
        pass  # a read-only cache only costs the next run a re-read
    return value


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(8 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """The whole file's SHA-256, cached by path, size and mtime."""
    return _stat_cached(Path(path), "sha256", _sha256_of)


def _model_files(folder: Path) -> list[Path]:
    files = []
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        if any(part.startswith(".") for part in file.relative_to(folder).parts):
            continue  # .git, .cache/huggingface: bookkeeping, not the model
        files.append(file)
    return files


def folder_fingerprint(folder: Path) -> str:
    h = hashlib.sha256()
    for file in _model_files(folder):
        rel = file.relative_to(folder).as_posix()
        h.update(f"{rel}\0{file.stat().st_size}\0{file_sha256(file)}\n".encode())
    return h.hexdigest()


# -- Hub revisions ---------------------------------------------------------------------------------


def _hub_offline() -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except ImportError:
        return True


def _cached_ref(repo: str, revision: str) -> str | None:
    """The commit the local Hugging Face cache has for `revision` (what an offline load uses)."""
    try:
        from huggingface_hub import constants
    except ImportError:
        return None
    ref = Path(constants.HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}" / "refs" / revision
    try:
        sha = ref.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return sha if _SHA_RE.fullmatch(sha) else None


def resolve_hub_revision(repo: str, revision: str | None) -> tuple[str | None, str]:
    """(commit sha or None, how it was found or why not)."""
    wanted = revision or "main"
    if _SHA_RE.fullmatch(wanted):
        return wanted, "given"
    reason = "the Hub is offline (HF_HUB_OFFLINE)"
    if not _hub_offline():
        try:
            from huggingface_hub import HfApi

            info = HfApi().model_info(repo, revision=wanted, timeout=HUB_TIMEOUT_S)
            if info.sha and _SHA_RE.fullmatch(info.sha):
                return info.sha, "hub"
            reason = "the Hub returned no commit"
        except Exception as exc:  # network, auth, unknown repo: say which
            reason = f"the Hub did not answer ({type(exc).__name__}: {str(exc)[:200]})"
    cached = _cached_ref(repo, wanted)
    if cached is not None:
        return cached, "cache"
    return None, reason


# -- the fingerprint -------------------------------------------------------------------------------


def model_identity(model: ResolvedModel, revision: str | None = None) -> ModelIdentity:
    """Identify `model` (a resolved `--model`); `revision` is `--engine-arg revision=` if given."""
    if model.gguf_file is not None:
        path = Path(model.gguf_file)
        return ModelIdentity(model.spec, model.kind, f"gguf:{path.name}:{file_sha256(path)[:32]}")
    folder = Path(model.path)
    if model.kind != "hub" and folder.is_dir():
        return ModelIdentity(model.spec, model.kind,
                             f"local:{folder.name}:{folder_fingerprint(folder)[:32]}")
    sha, how = resolve_hub_revision(model.path, revision)
    if sha is not None:
        return ModelIdentity(model.spec, model.kind, f"hub:{model.path}@{sha}", sha, True)
    wanted = revision or "main"
    return ModelIdentity(
        model.spec, model.kind, f"hub:{model.path}@{wanted}:unpinned", None, False,
        warning=(
            f"capability-tests: --model {model.path}: revision {wanted!r} could not be resolved "
            f"to a commit ({how}); its samples are stored and reported as unpinned, and reuse "
            "them even if the Hub's branch has moved. Pin it with --engine-arg revision=<sha>."
        ),
    )


# -- chat templates --------------------------------------------------------------------------------


def _template_from_folder(folder: Path) -> str | None:
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    for name in ("chat_template.json", "tokenizer_config.json"):
        file = folder / name
        if file.is_file():
            try:
                template = json.loads(file.read_text(encoding="utf-8")).get("chat_template")
            except (OSError, ValueError, AttributeError):
                continue
            if template:
                return template if isinstance(template, str) else json.dumps(template,
                                                                              sort_keys=True)
    return None


def _template_from_gguf(path: Path) -> str:
    try:
        import gguf

        field = gguf.GGUFReader(str(path)).fields.get("tokenizer.chat_template")
    except Exception as exc:  # no gguf package, unreadable file
        return f"<unreadable: {type(exc).__name__}>"
    if field is None:
        return ""
    return bytes(field.parts[field.data[0]]).decode("utf-8", "replace")


def chat_template_source(model: ResolvedModel, revision: str | None = None) -> str | None:
    """The model's own chat template text, read from its files; None when it cannot be read
    without the network (an unpinned or uncached Hub model: its fingerprint then says unpinned)."""
    if model.gguf_file is not None:
        return _stat_cached(Path(model.gguf_file), "gguf-chat-template", _template_from_gguf)
    folder = Path(model.path)
    if model.kind != "hub" and folder.is_dir():
        return _template_from_folder(folder)
    if revision is None:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    for name in ("chat_template.jinja", "tokenizer_config.json"):
        found = try_to_load_from_cache(model.path, name, revision=revision)
        if isinstance(found, str):
            template = _template_from_folder(Path(found).parent)
            if template is not None:
                return template
    return None
