"""What identifies a stored sample and a stored verdict: the generation key (model, engine,
sampling settings, seed policy), the prompt key and the grading key. Pure functions of their
inputs (no SQLite), shared by the sampling path, the recorded-run readers and the merge."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence


def prompt_digest(prompt: str | Sequence[Mapping[str, str]],
                  chat_template: str | None = None, stop: Sequence[str] = (),
                  problem: str | None = None) -> str:
    """SHA-256 of the exact prompt string, or of chat messages together with the model's chat
    template that will render them (`fingerprints.chat_template_source`; None when unreadable),
    so a changed chat template is another prompt. Stop sequences (base-model code prompts) end
    the text, so they are part of it. `problem` (the problem's key, `benchmark/problem_id`):
    two problems with the same prompt draw their samples with different seeds, so each gets rows
    of its own (`Template.prompt_key` always passes it; without stop and problem the digest is
    the prompt's alone, as stores written before recorded it)."""
    if isinstance(prompt, str):
        text = prompt
    else:
        text = json.dumps({"messages": list(prompt), "chat_template": chat_template},
                          sort_keys=True)
    if stop:
        text += "\0stop=" + json.dumps(list(stop))
    if problem is not None:
        text += "\0problem=" + problem
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def grading_digest(verifier: str, answer: str, meta: Mapping[str, Any], *, benchmark: str = "",
                   grader: str | None = None, policy: Any = None,
                   limits: str | None = None) -> str:
    """What a stored verdict depends on besides the text: `<grader identity>/<16 hex>`, the hex
    over verifier, benchmark, reference answer, meta, the benchmark's grading policy
    (`GradingPolicy`: extraction and tolerances depend on it; `policy.as_key()`) and the
    effective limits on this machine where they depend on the problem (`limits`, from
    `grading.verifiers.verdict_limits`: the code verifier's CPU-time limit scaled from the
    reference solution's time here, its memory and other sandbox limits; None for math, whose
    limits are in the grader identity, which leaves math keys as they were).

    A verdict stored under another digest is regraded from its text (no engine). The grader
    identity (`grading.identity.grader_identity`, default: the running grader's) is kept readable
    in front so a run can say how many verdicts a grader change regraded.
    """
    if grader is None:
        from capability_tests.grading.identity import grader_identity

        grader = grader_identity()
    fields = [verifier, benchmark, answer, dict(meta)]
    if policy is not None:
        fields.append(policy.as_key())
    if limits is not None:
        fields.append({"limits": limits})
    data = json.dumps(fields, sort_keys=True, default=str)
    return f"{grader}/{hashlib.sha256(data.encode()).hexdigest()[:16]}"


def grader_of(grading: str | None) -> str | None:
    """The grader identity a stored `grading` digest was made under (None: unknown or older)."""
    if not grading or "/" not in grading:
        return None
    return grading.split("/", 1)[0]


@dataclass(frozen=True)
class GenerationKey:
    """Everything but the prompt and index that decides what a sample is (see docs/STORE.md).

    `engine_settings`: the settings the engine will actually use after its own defaults, less
    those it declares speed-only (`EngineIdentity.key_settings`), as sorted JSON.
    `seed_policy`: how per-sample seeds are derived (`capability_tests.seeds.SEED_POLICY`);
    samples stored under an older policy are not reused.
    """

    model: str  # fingerprints.ModelIdentity.fingerprint
    engine: str
    engine_version: str | None
    engine_settings: str  # JSON, sorted keys
    mode: str  # "seeded" | "batched"
    temperature: float
    top_p: float
    max_tokens: int
    seed: int
    seed_policy: str

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)
