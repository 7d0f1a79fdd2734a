"""Fallback engine: Hugging Face transformers `generate`, for machines without vLLM."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from capability_tests.engines.base import (
    Completion,
    EngineCapabilities,
    EngineError,
    EngineIdentity,
    EngineSettings,
    GenerationRequest,
    RequestFailure,
    SamplingSettings,
    cut_at_stop,
    distribution_version,
    host_device,
)
from capability_tests.engines.classes import LocalEngine
from capability_tests.engines.prompt_tokens import PROMPT_TOKENS, over_long, prompt_token_ids
from capability_tests.seeds import combined_seed

# Arguments that change speed or memory only: runs that differ in these share stored samples.
SPEED_ONLY_ARGS = frozenset({"batch_size", "device", "low_cpu_mem_usage", "device_map"})


def default_device() -> str:
    """cuda when a GPU driver is present and not hidden, else cpu; decided without importing
    torch so that the store key knows the dtype default before the engine starts."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", "unset").strip() in ("", "-1"):
        return "cpu"
    return "cuda" if Path("/dev/nvidiactl").exists() or Path("/dev/kfd").exists() else "cpu"


def engine_arguments(settings: EngineSettings) -> dict[str, Any]:
    """batch_size, device and dtype after the defaults, plus the user's other arguments."""
    args: dict[str, Any] = dict(settings.engine_args)
    args.setdefault("batch_size", 8)
    args.setdefault("device", default_device())
    args.setdefault("dtype", "float32" if args["device"] == "cpu" else "auto")
    return args


class TransformersEngine(LocalEngine):
    name = "transformers"
    # batched_seeds: each generate call is seeded from the seeds of the samples it draws
    capabilities = EngineCapabilities(seeded_sampling=True, batched_seeds=True,
                                      local_devices=True, batch_invariance=True, scoring=True)

    @classmethod
    def batch_invariant_problem(cls, settings: EngineSettings) -> str | None:
        """Why --batch-invariant cannot hold here (None: it can)."""
        if settings.seeded:
            return None  # one sample per generate call: nothing else is in its batch
        return ("the transformers engine is batch-invariant only with --sampling seeded (one "
                "sample per generate call); batched calls pad prompts together. Use --sampling "
                "seeded or drop --batch-invariant")

    @classmethod
    def identity(cls, settings: EngineSettings) -> EngineIdentity:
        args = engine_arguments(settings)
        args.pop("revision", None)  # the model fingerprint holds the resolved revision
        args["prompt_tokens"] = PROMPT_TOKENS  # how the rendered prompt becomes token ids
        version = distribution_version("transformers")
        torch_version = distribution_version("torch")
        return EngineIdentity("transformers", f"{version} (torch {torch_version})", args,
                              SPEED_ONLY_ARGS)

    def __init__(self, settings: EngineSettings) -> None:
        problem = self.batch_invariant_problem(settings) if settings.batch_invariant else None
        if problem is not None:
            raise EngineError(f"--batch-invariant: {problem}")
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise EngineError(f"--engine transformers needs torch and transformers ({exc})") from exc
        self._torch = torch
        args = engine_arguments(settings)
        self._batch_size = int(args.pop("batch_size"))
        device = args.pop("device")
        dtype = args.pop("dtype")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise EngineError("--engine transformers: torch sees no CUDA device; pass "
                              "--engine-arg device=cpu")
        self._dtype_asked = dtype
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
        self._seeded = settings.seeded

    def runtime(self) -> dict[str, Any]:
        dtype = getattr(self._model, "dtype", None) if self._model is not None else None
        device = host_device() if str(self._device).startswith("cuda") else {
            **host_device(), "type": "cpu"}
        return {"dtype": str(dtype).removeprefix("torch.") if dtype is not None else
                str(self._dtype_asked), "device": device, "tensor_parallel_size": 1,
                "data_parallel_size": 1,
                # seeded: one sample per generate call, so nothing else is in its batch
                "batch_invariant": self._seeded}

    def chat_prompt(self, messages: Sequence[Mapping[str, str]]) -> str:
        return self._tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True
        )

    def max_model_len(self) -> int | None:
        """The model's context (`max_position_embeddings` of its config), None where unknown."""
        limit = getattr(getattr(self._model, "config", None), "max_position_embeddings", None)
        return limit if isinstance(limit, int) and limit > 0 else None

    def stream(
        self, requests: Sequence[GenerationRequest], sampling: SamplingSettings
    ) -> Iterator[tuple[str, int, Completion | RequestFailure]]:
        """Batched: prompts with the same number of wanted samples go through `generate` in
        batches of `batch_size`, `num_return_sequences` each, each call seeded with a seed
        combined from the seeds of the samples it draws (a top-up of other indices draws other
        samples). Seeded: one `generate` call per sample after `manual_seed(sample seed)` (slow,
        exact). Prompts are `prompt_token_ids` (one BOS, as on vLLM and servers). A prompt that
        cannot fit the model's context, or a `generate` call that raises for one request, yields
        a `RequestFailure` per wanted sample of that request; the others go on."""
        torch = self._torch
        for request in requests:
            if len(request.seeds) != len(request.wanted(sampling.n)):
                raise EngineError(f"{request.key}: a request needs one seed per wanted sample")
        limit = self.max_model_len()
        fitting = []
        for request in requests:
            problem = over_long(prompt_token_ids(self._tokenizer, request.prompt), limit,
                                "max_position_embeddings of the model's config")
            if problem is None:
                fitting.append(request)
                continue
            for index in request.wanted(sampling.n):
                yield request.key, index, RequestFailure(f"{request.key}: {problem}")
        if sampling.seeded:
            for request in fitting:
                for index, seed in zip(request.wanted(sampling.n), request.seeds):
                    torch.manual_seed(seed)
                    try:
                        (completion,) = self._generate([request.prompt], 1, sampling)
                    except Exception as exc:
                        yield request.key, index, _failure(request, exc)
                        continue
                    yield request.key, index, _stopped(completion, request.stop)
            return
        by_n: dict[int, list[GenerationRequest]] = {}
        for request in fitting:
            by_n.setdefault(len(request.wanted(sampling.n)), []).append(request)
        for n, group in by_n.items():
            for start in range(0, len(group), self._batch_size):
                chunk = group[start : start + self._batch_size]
                yield from self._batched(chunk, n, sampling)

    def _batched(self, chunk: list[GenerationRequest], n: int, sampling: SamplingSettings
                 ) -> Iterator[tuple[str, int, Completion | RequestFailure]]:
        """One seeded `generate` call for the chunk; where it raises, each request alone (so
        the one at fault fails by itself)."""
        self._torch.manual_seed(combined_seed(s for r in chunk for s in r.seeds))
        try:
            completions = self._generate([r.prompt for r in chunk], n, sampling)
        except Exception as exc:
            if len(chunk) > 1:
                for request in chunk:
                    yield from self._batched([request], n, sampling)
                return
            for index in chunk[0].wanted(sampling.n):
                yield chunk[0].key, index, _failure(chunk[0], exc)
            return
        for i, request in enumerate(chunk):
            for index, completion in zip(request.wanted(sampling.n),
                                         completions[i * n : (i + 1) * n]):
                yield request.key, index, _stopped(completion, request.stop)

    def _generate(self, prompts: list[str], n: int, sampling: SamplingSettings) -> list[Completion]:
        torch = self._torch
        eos = self._tokenizer.eos_token_id
        enc = self._tokenizer.pad(
            {"input_ids": [prompt_token_ids(self._tokenizer, p) for p in prompts]},
            padding=True, return_tensors="pt",
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

    # -- scoring (capability-tests perplexity) --------------------------------------------------

    def token_ids(self, prompt: str, completion: str) -> tuple[list[int], list[int]]:
        """As `VLLMEngine.token_ids`: the prompt as `stream` feeds it (`prompt_token_ids`), the
        completion alone without special tokens; the split is exact."""
        tokenizer = self._tokenizer
        return (prompt_token_ids(tokenizer, prompt),
                list(tokenizer.encode(completion, add_special_tokens=False)))

    def completion_logprobs(
        self, sequences: Sequence[tuple[Sequence[int], Sequence[int]]]
    ) -> list[list[float]]:
        """One forward pass per sequence (no padding to get wrong); only the logits that predict
        completion tokens are kept (`logits_to_keep`) and turned into float32 log-softmax."""
        torch = self._torch
        out: list[list[float]] = []
        for prompt_ids, completion_ids in sequences:
            if not completion_ids:
                out.append([])
                continue
            ids = torch.tensor([[*prompt_ids, *completion_ids]], device=self._device)
            keep = len(completion_ids) + 1
            with torch.no_grad():
                try:
                    logits = self._model(input_ids=ids, logits_to_keep=keep).logits[0]
                except TypeError:  # a model class without logits_to_keep
                    logits = self._model(input_ids=ids).logits[0, -keep:]
            logprobs = torch.log_softmax(logits[:-1].float(), dim=-1)
            target = torch.tensor(list(completion_ids), device=logprobs.device)
            out.append(logprobs.gather(1, target[:, None])[:, 0].tolist())
        return out

    def close(self) -> None:
        self._model = None


def _failure(request: GenerationRequest, exc: Exception) -> RequestFailure:
    return RequestFailure(f"transformers could not sample {request.key}: "
                          f"{type(exc).__name__}: {exc}")


def _stopped(completion: Completion, stop: Sequence[str]) -> Completion:
    """`generate` runs to EOS or the token limit; the text is cut at the first stop sequence
    afterwards (the same text vLLM returns; only the token count is the generated one)."""
    if not stop:
        return completion
    text, found = cut_at_stop(completion.text, stop)
    return Completion(text, completion.tokens, "stop") if found else completion
