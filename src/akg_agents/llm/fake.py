"""A scripted fake model for tests: answers chosen by markers found in the prompt.

    fake = ScriptedProvider([("Decide the next step", "DECISION: stop\nREASON: enough"),
                             ("Write the kernel", CODE_ANSWER)])

Rules are tried in order; the first whose marker occurs in the last user message (or, failing
that, anywhere in the conversation) answers. A rule's answer may be a list (consumed one per
call, the last one repeating) or a callable of the messages. No match raises LLMError naming
the request, like a replay miss.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from akg_agents.errors import LLMError
from akg_agents.llm.base import Completion, Message, Usage, split_reasoning
from akg_agents.llm.replay import describe

Answer = str | list[str] | Callable[[list[Message]], str]


class ScriptedProvider:
    name = "fake"

    def __init__(self, rules: Sequence[tuple[str, Answer]]) -> None:
        self.rules = [(marker, list(a) if isinstance(a, list) else a) for marker, a in rules]
        self.calls: list[tuple[str, list[Message]]] = []  # (level, messages) per call

    def _pick(self, messages: list[Message]) -> Answer | None:
        last = next((m.content for m in reversed(messages) if m.role == "user"), "")
        everything = "\n".join(m.content for m in messages)
        for haystack in (last, everything):
            for marker, answer in self.rules:
                if marker in haystack:
                    return answer
        return None

    async def complete(self, messages: list[Message], level: str) -> Completion:
        self.calls.append((level, list(messages)))
        answer = self._pick(messages)
        if answer is None:
            raise LLMError(f"fake model has no scripted answer for: '{describe(messages)}'")
        if isinstance(answer, list):
            text = answer.pop(0) if len(answer) > 1 else answer[0]
        elif callable(answer):
            text = answer(messages)
        else:
            text = answer
        body, reasoning = split_reasoning(text)
        usage = Usage(sum(len(m.content) for m in messages) // 4, len(text) // 4)
        return Completion(body, reasoning, usage, "fake")
