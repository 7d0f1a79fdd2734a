"""How long a model fingerprint takes: first (every byte read and hashed) and again (cached by
path, size and mtime). Usage: python perf/fingerprint_cost.py [--model SPEC] (default: the
embedded model's GGUF). Figures in docs/PERFORMANCE.md."""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None, help="a --model value (default: embedded)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["CAPABILITY_TESTS_CACHE"] = cache  # a cold hash cache
        from capability_tests.fingerprints import model_identity
        from capability_tests.models import resolve_model

        model = resolve_model(args.model)
        target = model.gguf_file or model.path
        size = sum(f.stat().st_size for f in __import__("pathlib").Path(target).rglob("*")
                   if f.is_file()) if os.path.isdir(target) else os.path.getsize(target)
        for label in ("first", "cached"):
            start = time.perf_counter()
            identity = model_identity(model)
            seconds = time.perf_counter() - start
            rate = f" ({size / 2**20 / seconds:.0f} MiB/s)" if label == "first" else ""
            print(f"{label}: {seconds:.3f} s for {size / 2**20:.0f} MiB{rate} "
                  f"-> {identity.fingerprint}")


if __name__ == "__main__":
    main()
