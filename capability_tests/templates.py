"""Prompt templates: how a problem becomes the text the engine continues.

A template either renders a complete prompt string itself (`qwen-boxed`, `abel`, `completion`:
exactly the reference study's strings for math) or asks for the model's own chat template
(`chat`). Code problems (`Problem.verifier == "code"`) get the code prompts of
`capability_tests.code.prompts` under the same names: instruct templates (`qwen-boxed`, `chat`)
ask for one fenced ```python block; base-model templates (`abel`, `completion`) give the
signature and docstring to continue, with stop sequences (`Template.stop_for`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from capability_tests.code import prompts as code_prompts
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
    base_model: bool = False  # gives text to continue: code problems get stop sequences

    def stop_for(self, problem: Problem) -> tuple[str, ...]:
        """Stop sequences for `problem` under this template (part of the store's prompt key)."""
        if self.base_model and code_prompts.is_code(problem):
            return code_prompts.stop_sequences(problem)
        return ()

    def prompt_key(self, problem: Problem, chat_template: str | None = None) -> str:
        """The store's prompt digest of `problem` (docs/STORE.md): the rendered prompt, or the
        chat messages with the model's chat template source (`chat_template`, read from its
        files; unused by rendering templates), the stop sequences and the problem's key. The one
        formula: the sampling path and every reader of recorded runs call it."""
        from capability_tests.store import prompt_digest

        prompt = self.render(problem) if self.render is not None else self.messages(problem)
        return prompt_digest(prompt, None if self.render is not None else chat_template,
                             stop=self.stop_for(problem), problem=problem.key)

    def legacy_prompt_key(self, problem: Problem, chat_template: str | None = None) -> str:
        """The digest runs recorded before the problem's key was part of it (their samples stay
        in the store under it): accepted when reading such a run, never written."""
        from capability_tests.store import prompt_digest

        prompt = self.render(problem) if self.render is not None else self.messages(problem)
        return prompt_digest(prompt, None if self.render is not None else chat_template,
                             stop=self.stop_for(problem))

    def prompt(self, problem: Problem, chat: Callable[[Sequence[Mapping[str, str]]], str]) -> str:
        if self.render is not None:
            return self.render(problem)
        assert self.messages is not None
        return chat(self.messages(problem))


def _user_turn(problem: Problem) -> str:
    if code_prompts.is_code(problem):
        return code_prompts.instruction(problem)
    return f"{problem.question}\n{BOXED_INSTRUCTION}"


def _qwen_boxed(problem: Problem) -> str:
    # The "qwen-boxed" template of the study's math evaluation (Qwen2.5-Math eval harness).
    return (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        f"<|im_start|>user\n{_user_turn(problem)}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def _abel(problem: Problem) -> str:
    if code_prompts.is_code(problem):
        return code_prompts.completion_prompt(problem)
    return f"Question:\n{problem.question}\nAnswer:\nLet's think step by step.\n"


def _chat(problem: Problem) -> Sequence[Mapping[str, str]]:
    return [{"role": "user", "content": _user_turn(problem)}]


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template("qwen-boxed", "the study's ChatML prompt asking for \\boxed{}", render=_qwen_boxed),
        Template("chat", "the model's own chat template, same instruction", messages=_chat),
        Template("abel", "the study's plain 'Question: ... Answer:' prompt (code: the "
                 "signature and docstring to continue)", render=_abel, base_model=True),
        Template("completion", "for base models: code problems continue the signature and "
                 "docstring (stop sequences), math problems get the abel prompt",
                 render=_abel, base_model=True),
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
