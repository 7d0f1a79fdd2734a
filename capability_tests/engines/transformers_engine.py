"""Fallback engine: Hugging Face transformers `generate`, for machines without vLLM."""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

from capability_tests.engines.base import (
    Completion,
    EngineError,
    EngineSettings,
    GenerationRequest,
    SamplingSettings,
)


class TransformersEngine:
    name = "transformers"
    seeded_sampling = True

    def __init__(self, settings: EngineSettings) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise EngineError(f"--engine transformers needs torch and transformers ({exc})") from exc
        self._torch = torch
        args: dict[str, Any] = dict(settings.engine_args)
        self._batch_size = int(args.pop("batch_size", 8))
        device = args.pop("device", "cuda" if torch.cuda.is_available() else "cpu")
        dtype = args.pop("dtype", "float32" if device == "cpu" else "auto")
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(settings.model, padding_side="left")
            self._model = AutoModelForCausalLM.from_pretrained(
                settings.model, dtype=dtype, **args
            ).to(device)
        except Exception as exc:
            raise EngineError(
                f"transformers could not load {settings.model!r}: {type(exc).__name__}: {exc}"
            ) from exc
        self._model.eval()
        if self._tokenizer.pad_token is None:
            self._tokenizer.pad_token = self._tokenizer.eos_token
        self._device = device
        self._seed = settings.seed

    def chat_prompt(self, messages: Sequence[Mapping[str, str]]) -> str:
        return self._tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True
        )

    def stream(
        self, requests: Sequence[GenerationRequest], sampling: SamplingSettings
    ) -> Iterator[tuple[str, int, Completion]]:
        """Batched: prompts with the same number of wanted samples go through `generate` in
        batches of `batch_size`, `num_return_sequences` each, under one `manual_seed(--seed)`.
        Seeded: one `generate` call per sample after `manual_seed(sample seed)` (slow, exact)."""
        torch = self._torch
        if sampling.seeded:
            for request in requests:
                indices = request.wanted(sampling.n)
                if len(request.seeds) != len(indices):
                    raise EngineError(f"{request.key}: seeded sampling needs one seed per sample")
                for index, seed in zip(indices, request.seeds):
                    torch.manual_seed(seed)
                    (completion,) = self._generate([request.prompt], 1, sampling)
                    yield request.key, index, completion
            return
        torch.manual_seed(self._seed)
        by_n: dict[int, list[GenerationRequest]] = {}
        for request in requests:
            by_n.setdefault(len(request.wanted(sampling.n)), []).append(request)
        for n, group in by_n.items():
            for start in range(0, len(group), self._batch_size):
                chunk = group[start : start + self._batch_size]
                completions = self._generate([r.prompt for r in chunk], n, sampling)
                for i, request in enumerate(chunk):
                    for index, completion in zip(request.wanted(sampling.n),
                                                 completions[i * n : (i + 1) * n]):
                        yield request.key, index, completion

    def _generate(self, prompts: list[str], n: int, sampling: SamplingSettings) -> list[Completion]:
        torch = self._torch
        eos = self._tokenizer.eos_token_id
        enc = self._tokenizer(
            prompts, return_tensors="pt", padding=True, add_special_tokens=False,
        ).to(self._device)
        with torch.no_grad():
            out = self._model.generate(
                **enc,
                do_sample=sampling.temperature > 0,
                temperature=sampling.temperature if sampling.temperature > 0 else None,
                top_p=sampling.top_p if sampling.temperature > 0 else None,
                max_new_tokens=sampling.max_tokens,
                num_return_sequences=n,
                pad_token_id=self._tokenizer.pad_token_id,
            )
        completions = []
        for row in out[:, enc["input_ids"].shape[1] :]:
            ids = row.tolist()
            ended = eos in ids
            if ended:
                ids = ids[: ids.index(eos)]
            while ids and ids[-1] == self._tokenizer.pad_token_id:
                ids.pop()
            completions.append(
                Completion(
                    text=self._tokenizer.decode(ids, skip_special_tokens=True),
                    tokens=len(ids),
                    finish_reason="stop" if ended else "length",
                )
            )
        return completions

    def close(self) -> None:
        self._model = None
