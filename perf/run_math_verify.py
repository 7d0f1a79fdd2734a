"""Run Math-Verify on cases.jsonl ({"gold", "pred"} per line); print {"mv": bool} per line.

Runs under the separate Math-Verify venv: /tmp/mv/bin/python perf/run_math_verify.py FILE
"""
import json
import sys

from math_verify import parse, verify

for line in open(sys.argv[1], encoding="utf-8"):
    case = json.loads(line)
    try:
        gold = parse("$" + case["gold"] + "$")
        pred = parse(case["pred"])
        ok = bool(verify(gold, pred))
    except Exception:  # noqa: BLE001
        ok = False
    print(json.dumps({"mv": ok}), flush=True)
