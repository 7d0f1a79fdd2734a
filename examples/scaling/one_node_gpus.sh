#!/usr/bin/env bash
# One node with several GPUs (docs/SCALING.md), two ways.
#   examples/scaling/one_node_gpus.sh xdist     # one engine per GPU: pytest -n auto
#   examples/scaling/one_node_gpus.sh server    # one vLLM server, data parallel, one URL
set -euo pipefail

MODEL="${MODEL:-Qwen/Qwen2.5-7B}"
K="${K:-1024}"
GPUS="${GPUS:-$(nvidia-smi --list-gpus | wc -l)}"

case "${1:-xdist}" in
xdist)
    # one xdist worker per GPU (CUDA_VISIBLE_DEVICES set per worker), one store
    capability-tests run --model="$MODEL" --k "$K" --max-tokens 4096 -n auto --unsolved=xfail
    ;;
server)
    vllm serve "$MODEL" --data-parallel-size "$GPUS" --port 8000 &
    server=$!
    trap 'kill "$server"' EXIT
    until curl -sf http://127.0.0.1:8000/v1/models >/dev/null; do sleep 5; done
    capability-tests run --engine openai --base-url http://127.0.0.1:8000/v1 \
        --model="$MODEL" --k "$K" --max-tokens 4096 --concurrency 512 --unsolved=xfail
    ;;
*)
    echo "usage: $0 [xdist|server]" >&2
    exit 2
    ;;
esac
