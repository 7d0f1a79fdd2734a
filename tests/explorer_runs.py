"""Run folders for the explorer tests: the suite run with the scripted engine (tests/fake_engine.py)
in a subprocess, texts chosen so that the page must show markup literally, collapse a long text,
mark the extracted answer and group wrong answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fake_engine import FAKE, SUITE

TESTS_DIR = Path(__file__).resolve().parent
HOSTILE = ('<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> '
           'so the answer is \\boxed{<img src=y onerror=window.__pwned=3>}')
LONG = "Let me think step by step.\n" + "We add the numbers once more. " * 120 + "\\boxed{27}"
SCRIPT_A = {
    "demo/add": ["so \\boxed{19}", HOSTILE, "\\boxed{19}", "\\boxed{20}"],
    "demo/sub": [LONG, "\\boxed{26}", "\\boxed{26.0}", "I give up."],
    "demo/mul": ["\\boxed{41}", "\\boxed{42}"],
}
SCRIPT_B = {  # another model: solves mul and div, never add
    "demo/add": ["\\boxed{18}"],
    "demo/sub": ["\\boxed{27}"],
    "demo/mul": ["\\boxed{84}"],
    "demo/div": ["\\boxed{12}", "\\boxed{13}"],
}


def texts_of(script: dict, problem_key: str, n: int) -> list[str]:
    """What the fake engine answered: sample i gets entry i modulo the list's length."""
    texts = script.get(problem_key) or ["I do not know."]
    return [texts[i % len(texts)] for i in range(n)]


def run_suite(folder: Path, script: dict, model: str, k: int = 4) -> Path:
    """Run the demo benchmark with the fake engine in `folder`; return the run folder."""
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update({
        "FAKE_ENGINE_SCRIPT": json.dumps(script),
        "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), env.get("PYTHONPATH", "")]),
        "CAPABILITY_TESTS_CACHE": str(folder / "cache"),
    })
    fake = [a if a != "--model=fake/model" else f"--model={model}" for a in FAKE]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *SUITE, *fake, "--benchmarks=demo", f"--k={k}",
         "--report-dir=reports", "-q"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300,
    )
    summary = folder / "reports" / "summary.json"
    assert summary.is_file(), done.stdout + done.stderr
    run_id = json.loads(summary.read_text())["run_id"]
    return folder / "reports" / run_id
