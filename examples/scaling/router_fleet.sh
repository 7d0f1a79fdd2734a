#!/usr/bin/env bash
# A fleet of vLLM servers behind one router (docs/SCALING.md): the suite sees one URL.
#   ROUTER_URL=http://router.example:8000/v1 examples/scaling/router_fleet.sh
# The router (vLLM's router, SGLang's router, any OpenAI-compatible load balancer) must send
# every request to a server of the same model, revision and engine settings: the store keys
# samples by what the suite is told (--model, --engine-arg), not by which server answered.
set -euo pipefail

: "${ROUTER_URL:?set ROUTER_URL to the OpenAI-compatible address of the router}"
MODEL="${MODEL:-Qwen/Qwen2.5-7B}"
K="${K:-1024}"
CONCURRENCY="${CONCURRENCY:-1024}"   # requests in flight, for the whole fleet

capability-tests run --engine openai --base-url "$ROUTER_URL" --model="$MODEL" \
    --k "$K" --max-tokens 4096 --concurrency "$CONCURRENCY" --unsolved=xfail
