"""One tokenization of a rendered prompt for every engine, and the check that it fits the model.

vLLM (a text prompt), a server's completions endpoint and transformers each tokenized the
rendered prompt their own way: vLLM and servers with the tokenizer's special tokens, transformers
without. A chat template that writes the BOS token itself (Llama 3, Gemma) then gave two BOS on
vLLM and servers, and a plain prompt got a BOS on vLLM and none on transformers. Every engine now
sends the ids from `prompt_token_ids` (vLLM as a token prompt, servers as a token-id prompt,
transformers as `input_ids`), so the model sees the same sequence whichever engine runs it.
"""

from __future__ import annotations

from typing import Any, Sequence

# In every local and server engine's identity (so in the store key): samples made before this
# rule (two BOS on vLLM and servers for a BOS-writing template, none on transformers) are not reused.
PROMPT_TOKENS = "special-tokens-unless-bos-written"


def prompt_token_ids(tokenizer: Any, text: str) -> list[int]:
    """The tokenizer's special tokens (a BOS where the model wants one) are added, unless the
    text already starts with the BOS token (a chat template that writes it): never two BOS."""
    bos = getattr(tokenizer, "bos_token", None)
    add = not (isinstance(bos, str) and bos and text.startswith(bos))
    ids = list(tokenizer.encode(text, add_special_tokens=add))
    bos_id = getattr(tokenizer, "bos_token_id", None)
    if add and bos_id is not None and len(ids) > 1 and ids[0] == ids[1] == bos_id:
        ids = ids[1:]  # the text began with BOS written another way (e.g. after a space)
    return ids


def over_long(ids: Sequence[int], limit: int | None, where: str) -> str | None:
    """Why a prompt of these ids cannot be sampled (None: it fits): it must leave the model room
    for at least one new token (vLLM refuses a prompt of `max_model_len` tokens or more)."""
    if limit is None or len(ids) < limit:
        return None
    return (f"the prompt has {len(ids)} tokens and the model's context is {limit} tokens "
            f"({where}): no room to generate; raise the limit or shorten the prompt")
