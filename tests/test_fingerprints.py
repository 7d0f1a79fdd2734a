"""Model fingerprints (capability_tests.fingerprints): whole-content hashes cached by path, size
and mtime; Hub ids resolved to a commit (through a monkeypatched client here: this machine is
offline) or reported unpinned (the real offline path); chat templates read from model files."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest

from capability_tests import fingerprints
from capability_tests.fingerprints import (
    chat_template_source,
    file_sha256,
    model_identity,
    resolve_hub_revision,
)
from capability_tests.models import ResolvedModel

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CAPABILITY_TESTS_CACHE", str(tmp_path / "cache"))


def local_model(folder, template="{{ messages }}"):
    folder.mkdir()
    (folder / "config.json").write_text('{"a": 1}')
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": template}))
    (folder / "model.safetensors").write_bytes(b"\0" * (6 << 20))
    return ResolvedModel(str(folder), str(folder), "local")


def test_a_change_in_the_middle_of_the_weights_changes_the_fingerprint(tmp_path):
    """Same size, same first and last MiB (all the old fingerprint read): still another model."""
    model = local_model(tmp_path / "m")
    first = model_identity(model).fingerprint
    weights = tmp_path / "m" / "model.safetensors"
    with open(weights, "r+b") as handle:
        handle.seek(3 << 20)
        handle.write(b"\1")
    os.utime(weights, ns=(1, 1))
    assert model_identity(model).fingerprint != first


def test_a_copied_folder_is_the_same_model(tmp_path):
    import shutil

    a = local_model(tmp_path / "m")
    shutil.copytree(tmp_path / "m", tmp_path / "copy" / "m")
    b = ResolvedModel("copy", str(tmp_path / "copy" / "m"), "local")
    assert model_identity(a).fingerprint == model_identity(b).fingerprint


def test_a_rerun_reads_no_weights_until_size_or_mtime_change(tmp_path, monkeypatch):
    model = local_model(tmp_path / "m")
    first = model_identity(model).fingerprint
    read = []
    real = fingerprints._sha256_of
    monkeypatch.setattr(fingerprints, "_sha256_of", lambda path: read.append(path.name) or real(path))
    assert model_identity(model).fingerprint == first and read == []
    os.utime(tmp_path / "m" / "model.safetensors", ns=(5, 5))
    assert model_identity(model).fingerprint == first and read == ["model.safetensors"]


@pytest.mark.slow
def test_the_embedded_gguf_is_hashed_whole(tmp_path):
    from capability_tests.models import resolve_model

    model = resolve_model(None)
    identity = model_identity(model)
    assert identity.fingerprint == f"gguf:{model.gguf_file.name}:{file_sha256(model.gguf_file)[:32]}"
    import hashlib

    assert file_sha256(model.gguf_file) == hashlib.sha256(model.gguf_file.read_bytes()).hexdigest()
    assert "<|im_start|>" in chat_template_source(model)


def test_a_hub_id_resolves_to_its_commit_when_the_hub_answers(monkeypatch):
    import huggingface_hub
    import huggingface_hub.constants  # a lazy submodule: not an attribute until imported

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    asked = []

    def model_info(self, repo, revision=None, timeout=None):
        asked.append((repo, revision))
        return SimpleNamespace(sha=SHA)

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
    identity = model_identity(ResolvedModel("org/m", "org/m", "hub"))
    assert identity.fingerprint == f"hub:org/m@{SHA}" and identity.revision == SHA
    assert identity.pinned and identity.warning is None and asked == [("org/m", "main")]
    identity = model_identity(ResolvedModel("org/m", "org/m", "hub"), "v1.0")
    assert identity.revision == SHA and asked[-1] == ("org/m", "v1.0")


def test_an_offline_hub_id_is_unpinned_and_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    identity = model_identity(ResolvedModel("org/m", "org/m", "hub"))
    assert identity.fingerprint == "hub:org/m@main:unpinned" and not identity.pinned
    assert "unpinned" in identity.warning and "--engine-arg revision=" in identity.warning
    # what an offline load would use: the local Hugging Face cache's ref
    ref = tmp_path / "hf" / "models--org--m" / "refs"
    ref.mkdir(parents=True)
    (ref / "main").write_text(SHA)
    assert resolve_hub_revision("org/m", None) == (SHA, "cache")
    assert model_identity(ResolvedModel("org/m", "org/m", "hub")).fingerprint == f"hub:org/m@{SHA}"
    assert resolve_hub_revision("org/m", SHA) == (SHA, "given")


def test_chat_template_is_read_from_the_model_files(tmp_path):
    model = local_model(tmp_path / "m", template="A {{ messages }}")
    assert chat_template_source(model) == "A {{ messages }}"
    (tmp_path / "m" / "chat_template.jinja").write_text("B")
    assert chat_template_source(model) == "B"
    assert chat_template_source(ResolvedModel("org/m", "org/m", "hub")) is None
