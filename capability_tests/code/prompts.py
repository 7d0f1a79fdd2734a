"""How a code problem becomes a prompt, for instruct models and for base models.

Instruct models (the `qwen-boxed` and `chat` templates) get the task and are asked for one
fenced ```python block; base models (`completion`, `abel`) get text to continue: the function's
signature and docstring (HumanEval style), with the stop sequences that end a function. A code
problem's `meta["mode"]` says how it is tested: "function" (call `entry_point`) or "stdio" (the
program reads standard input).
"""

from __future__ import annotations

from capability_tests.problems import Problem

FENCE_INSTRUCTION = "Put the complete solution in one ```python code block."


def is_code(problem: Problem) -> bool:
    return problem.verifier == "code"


def instruction(problem: Problem) -> str:
    """The user turn for instruct models."""
    meta = problem.meta
    if meta.get("mode") == "stdio":
        return (f"{problem.question.strip()}\n\nWrite a Python program that reads the input from "
                f"standard input and prints the answer to standard output. {FENCE_INSTRUCTION}")
    starter = meta.get("starter") or problem.question
    task = meta.get("task")
    head = (f"{task.strip()}\n\n" if task else "") + (
        "Complete the following Python code. Write the whole function, with its signature"
        + (" and the imports it needs" if not task else "") + ".")
    return f"{head} {FENCE_INSTRUCTION}\n\n```python\n{starter.rstrip()}\n```"


def completion_prompt(problem: Problem) -> str:
    """The text a base model continues: the signature and docstring (the problem's own prompt),
    or the task as a docstring followed by the starter code."""
    meta = problem.meta
    task = meta.get("task")
    if meta.get("mode") == "stdio":
        return (f'"""\n{problem.question.strip()}\n\nRead from standard input, print to standard '
                'output.\n"""\n')
    if task:
        return f'"""\n{task.strip()}\n"""\n{(meta.get("starter") or "").rstrip()}\n'
    return problem.question


def stop_sequences(problem: Problem) -> tuple[str, ...]:
    """Where a base model's continuation ends (function mode only: a stdio program is a whole
    module with top-level statements)."""
    from capability_tests.code.extract import STOP_SEQUENCES

    if problem.meta.get("mode") == "stdio":
        return ()
    return STOP_SEQUENCES
