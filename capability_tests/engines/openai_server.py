"""What an OpenAI-compatible server is and says: its URLs, the token sent to it, what model it
serves (`/v1/models`, `/version`, TGI's `/info`) and the store key's fingerprint of that model.
Asked once per process and URL list; `openai_requests` sends the completions themselves."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlsplit

from capability_tests.engines.base import EngineError, EngineSettings

API_KEY_ENVS = ("CAPABILITY_TESTS_API_KEY", "OPENAI_API_KEY")
DESCRIBE_TIMEOUT_S = 10.0  # /v1/models and /version


def api_base(url: str) -> str:
    """`http://host:8000` or `http://host:8000/v1` -> `http://host:8000/v1`."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else url + "/v1"


def server_root(url: str) -> str:
    return api_base(url)[: -len("/v1")]


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_key() -> str | None:
    for name in API_KEY_ENVS:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def auth_headers() -> dict[str, str]:
    key = api_key()
    return {"Authorization": f"Bearer {key}"} if key else {}


def httpx_module():
    try:
        import httpx
    except ImportError as exc:  # a declared dependency; say how to get it anyway
        raise EngineError(f"--engine openai needs httpx (pip install httpx): {exc}") from exc
    return httpx


def server_message(response) -> str:
    """The server's own error text (OpenAI error JSON, FastAPI `detail`, or the body), short."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error is not None:
            return str(error)[:500]
    return json.dumps(data)[:500]


# -- what the servers say they serve ---------------------------------------------------------------


@dataclass(frozen=True)
class ServedModel:
    """What the servers report about the model they serve (all URLs must agree)."""

    id: str
    root: str | None
    max_model_len: int | None
    server: str | None  # "vllm 0.32.0": owned_by and /version (or TGI's /info)
    model_sha: str | None = None  # TGI's /info reports the Hub commit it loaded

    def facts(self) -> dict[str, Any]:
        return {"id": self.id, "root": self.root, "max_model_len": self.max_model_len,
                "server": self.server, "model_sha": self.model_sha}


_DESCRIBED: dict[tuple[tuple[str, ...], str], ServedModel] = {}
_DESCRIBE_LOCK = threading.Lock()


def _get_json(client, url: str) -> Any:
    response = client.get(url)
    if response.status_code >= 400:
        raise EngineError(f"{url}: HTTP {response.status_code}: {server_message(response)}")
    return response.json()


def _describe_one(client, url: str, model: str) -> ServedModel:
    httpx = httpx_module()
    try:
        listing = _get_json(client, api_base(url) + "/models")
    except httpx.HTTPError as exc:
        raise EngineError(f"--base-url {url}: no OpenAI-compatible server answers "
                          f"({type(exc).__name__}: {exc})") from None
    except ValueError:
        raise EngineError(f"--base-url {url}: {api_base(url)}/models did not return JSON") from None
    entries = [e for e in (listing.get("data") if isinstance(listing, dict) else None) or []
               if isinstance(e, dict) and e.get("id")]
    ids = [str(e["id"]) for e in entries]
    if model:
        chosen = next((e for e in entries if str(e["id"]) == model), None)
        if chosen is None:
            raise EngineError(f"--model {model!r}: the server at {url} serves {ids or 'no model'}; "
                              "pass one of these names (vLLM: --served-model-name)")
    elif len(entries) == 1:
        chosen = entries[0]
    else:
        raise EngineError(f"--engine openai: the server at {url} serves {ids or 'no model'}; name "
                          "the one to test with --model")
    version = sha = None
    owner = chosen.get("owned_by")
    for path, field in (("/version", "version"), ("/info", "version")):
        try:
            data = _get_json(client, server_root(url) + path)
        except (httpx.HTTPError, EngineError, ValueError):
            continue
        if isinstance(data, dict) and data.get(field):
            version = str(data[field])
            sha = data.get("model_sha") if isinstance(data.get("model_sha"), str) else None
            break
    server = " ".join(str(x) for x in (owner, version) if x) or None
    max_len = chosen.get("max_model_len")
    return ServedModel(str(chosen["id"]), str(chosen["root"]) if chosen.get("root") else None,
                       int(max_len) if isinstance(max_len, int) else None, server, sha)


def describe_servers(urls: Sequence[str], model: str) -> ServedModel:
    """Ask every URL what it serves (`/v1/models`, `/version` or `/info`), once per process; all
    must serve the same model under the same name, or samples from two models would mix."""
    if not urls:
        raise EngineError("--engine openai needs --base-url URL (repeatable): the address of an "
                          "OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    cache_key = (tuple(urls), model)
    with _DESCRIBE_LOCK:
        if cache_key in _DESCRIBED:
            return _DESCRIBED[cache_key]
        httpx = httpx_module()
        with httpx.Client(timeout=DESCRIBE_TIMEOUT_S, headers=auth_headers()) as client:
            described = [(url, _describe_one(client, url, model)) for url in urls]
        first_url, first = described[0]
        for url, other in described[1:]:
            if other.facts() != first.facts():
                raise EngineError(
                    f"--base-url: {first_url} and {url} do not serve the same model: "
                    f"{first.facts()} against {other.facts()}")
        _DESCRIBED[cache_key] = first
        return first


def served_model_identity(served: ServedModel, urls: Sequence[str]):
    """The store key's model fingerprint for a served model (`fingerprints.ModelIdentity`).

    - The server loaded a local folder that this process can read, and every URL is on this
      machine (loopback): the folder's whole-content hash, as for `--model=FOLDER` (pinned).
    - The server reports the Hub commit it loaded (TGI's /info `model_sha`): that commit (pinned).
    - Otherwise only names are known (served id, root, max_model_len, server version): the
      fingerprint hashes them and is *unpinned*: new weights behind the same names and version
      would share stored samples. The warning says so.
    """
    from capability_tests.fingerprints import ModelIdentity, folder_fingerprint

    facts = served.facts()
    root = Path(served.root) if served.root else None
    if root is not None and all(is_loopback(u) for u in urls) and root.is_dir():
        digest = folder_fingerprint(root)[:32]
        return ModelIdentity(served.id, "served", f"served:{served.id}:local:{root.name}:{digest}")
    if served.model_sha:
        return ModelIdentity(served.id, "served",
                             f"served:{served.id}:hub:{served.root}@{served.model_sha}",
                             served.model_sha, True)
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]
    return ModelIdentity(
        served.id, "served", f"served:{served.id}:{served.root}:{digest}:unpinned", None, False,
        warning=(
            f"capability-tests: --engine openai: the server reports model {served.id!r} (root "
            f"{served.root!r}, {served.server or 'unknown server'}) but nothing that pins its "
            "weights; its samples are stored and reported as unpinned: other weights served "
            "under the same names would reuse them (use another --store, or --fresh)."),
    )


def tokenizer_source(settings: EngineSettings, served: ServedModel) -> str | None:
    """Where this process reads the model's chat template: `--engine-arg tokenizer=PATH|HUB_ID`,
    else the folder the server loaded when it is on this machine."""
    given = settings.engine_args.get("tokenizer")
    if given:
        return str(given)
    urls = settings.server.base_urls
    if served.root and all(is_loopback(u) for u in urls) and Path(served.root).is_dir():
        return served.root
    return None


