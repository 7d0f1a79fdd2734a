"""Code benchmarks: prompts and stop sequences (`prompts.py`), the program in a completion
(`extract.py`), the time limits fair to this machine (`timing.py`) and the verifier that runs the
program in the sandbox (`verifier.py`, registered as the "code" verifier). See docs/CODE.md."""
