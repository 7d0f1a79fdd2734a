"""Prompt templates: how a problem becomes the text the engine continues.

A template either renders a complete prompt string itself (`qwen-boxed`, `abel`: exactly the
reference study's strings) or asks for the model's own chat template (`chat`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from capability_tests.problems import Problem

BOXED_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class Template:
    """`render` returns the prompt string, or `messages` returns chat messages for the model's own
    chat template (exactly one of them is set)."""

    name: str
    description: str
    render: Callable[[Problem], str] | None = None
    messages: Callable[[Problem], Sequence[Mapping[str, str]]] | None = None

    def prompt(self, problem: Problem, chat: Callable[[Sequence[Mapping[str, str]]], str]) -> str:
        if self.render is not None:
            return self.render(problem)
        assert self.messages is not None
        return chat(self.messages(problem))


def _qwen_boxed(problem: Problem) -> str:
    # The "qwen-boxed" template of the study's math evaluation (Qwen2.5-Math eval harness).
    return (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        f"<|im_start|>user\n{problem.question}\n{BOXED_INSTRUCTION}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def _abel(problem: Problem) -> str:
    return f"Question:\n{problem.question}\nAnswer:\nLet's think step by step.\n"


def _chat(problem: Problem) -> Sequence[Mapping[str, str]]:
    return [{"role": "user", "content": f"{problem.question}\n{BOXED_INSTRUCTION}"}]


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template("qwen-boxed", "the study's ChatML prompt asking for \\boxed{}", render=_qwen_boxed),
        Template("chat", "the model's own chat template, same instruction", messages=_chat),
        Template("abel", "the study's plain 'Question: ... Answer:' prompt", render=_abel),
    )
}
DEFAULT_TEMPLATE = "qwen-boxed"


def get_template(name: str) -> Template:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise TemplateError(
            f"unknown --template {name!r}; known: {', '.join(sorted(TEMPLATES))}"
        ) from None
