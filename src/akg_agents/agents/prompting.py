"""Prompt rendering (Jinja2, strict) and the one way agents talk to the model.

`AgentIO.ask` renders the agent's template, sends [system, user], parses the answer, and when the
answer cannot be used sends the reason back in the same conversation (up to `retries` times).
Every prompt and response is written to the run directory's prompts/ folder and logged as an
event, so a run reads as a story.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from jinja2 import Environment, PackageLoader, StrictUndefined

from akg_agents.agents.parsing import ParseError
from akg_agents.errors import LLMError
from akg_agents.llm.base import Completion, Message

T = TypeVar("T")

_ENV = Environment(loader=PackageLoader("akg_agents.agents", "prompts"), undefined=StrictUndefined,
                   keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False)


def render(template: str, **variables: Any) -> str:
    return _ENV.get_template(template).render(**variables)


class Metered(Protocol):
    async def complete(self, messages: list[Message], level: str, agent: str = "") -> Completion: ...


class Sink(Protocol):
    """Where exchanges are written (a RunStore satisfies it)."""

    def save_prompt(self, name: str, text: str) -> Any: ...

    def event(self, kind: str, **data: Any) -> None: ...


class AgentIO:
    def __init__(self, llm: Metered, sink: Sink | None = None, retries: int = 2, start: int = 0) -> None:
        self.llm = llm
        self.sink = sink
        self.retries = retries
        self.count = start  # prompt files already in the run directory (resume)

    async def ask(self, agent: str, template: str, variables: dict[str, Any], level: str,
                  parse: Callable[[str], T]) -> tuple[T, Completion]:
        system = render("system.j2", agent=agent)
        messages = [Message("system", system), Message("user", render(template, **variables))]
        for attempt in range(self.retries + 1):
            completion = await self.llm.complete(messages, level, agent=agent)
            self._save(agent, level, messages, completion)
            try:
                return parse(completion.text), completion
            except ParseError as problem:
                if self.sink is not None:
                    self.sink.event("answer_unusable", agent=agent, reason=str(problem), attempt=attempt + 1)
                if attempt == self.retries:
                    raise LLMError(f"{agent}: the model's answer could not be used after {attempt + 1} tries: {problem}",
                                   hint="see the prompts/ folder of the run directory for the answers") from None
                messages = [*messages, Message("assistant", completion.text),
                            Message("user", render("unusable.j2", reason=str(problem)))]
        raise AssertionError("unreachable")

    def _save(self, agent: str, level: str, messages: list[Message], completion: Completion) -> None:
        self.count += 1
        if self.sink is None:
            return
        name = f"{self.count:03d}_{agent}"
        prompt = "\n\n".join(f"## {m.role}\n\n{m.content}" for m in messages)
        self.sink.save_prompt(f"{name}.prompt.md", prompt)
        answer = completion.text if not completion.reasoning else (
            f"<think>\n{completion.reasoning}\n</think>\n\n{completion.text}")
        self.sink.save_prompt(f"{name}.response.md", answer)
        usage = {"prompt_tokens": completion.usage.prompt_tokens, "completion_tokens": completion.usage.completion_tokens}
        self.sink.event("llm_call", agent=agent, level=level, model=completion.model, file=name, **usage)


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
