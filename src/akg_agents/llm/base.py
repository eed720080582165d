"""Provider protocol, the records it speaks, model levels and retry with backoff.

A provider turns a list of messages and a level (complex | standard | fast) into a Completion.
Everything that goes wrong in a way the user must fix (no key, bad key, unreachable endpoint,
unusable answer) raises LLMError with one actionable line; transient trouble (rate limits, 5xx,
dropped connections) is retried with exponential backoff first.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from akg_agents.errors import LLMError

LEVELS = ("complex", "standard", "fast")
T = TypeVar("T")


@dataclass(frozen=True)
class Message:
    role: str  # system | user | assistant
    content: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Completion:
    text: str  # the answer, reasoning removed
    reasoning: str = ""  # <think> blocks or a provider's reasoning field
    usage: Usage = field(default_factory=Usage)
    model: str = ""


class Provider(Protocol):
    name: str

    async def complete(self, messages: list[Message], level: str) -> Completion: ...


class ModelMap:
    """Level -> model name, with fallback to the nearest configured level."""

    FALLBACK = {"complex": ("complex", "standard", "fast"), "standard": ("standard", "complex", "fast"),
                "fast": ("fast", "standard", "complex")}

    def __init__(self, models: dict[str, str], required: bool = True) -> None:
        unknown = [k for k in models if k not in LEVELS and k != "default"]
        if unknown:
            raise LLMError(f"llm.models has unknown level(s) {', '.join(unknown)}; use complex, standard, fast")
        self.models = {k: v for k, v in models.items() if v}
        self.required = required

    def resolve(self, level: str) -> str:
        if level not in LEVELS:
            raise LLMError(f"unknown model level '{level}'; use complex, standard or fast")
        for candidate in self.FALLBACK[level]:
            if candidate in self.models:
                return self.models[candidate]
        if "default" in self.models:
            return self.models["default"]
        if self.required:
            raise LLMError(
                f"no model configured for level '{level}'",
                hint="set llm.models.standard in the settings file or AKG_AGENTS_LLM__MODELS__STANDARD=<model>",
            )
        return level


THINK = re.compile(r"<think(?:ing)?>(.*?)</think(?:ing)?>", re.DOTALL | re.IGNORECASE)


def split_reasoning(text: str) -> tuple[str, str]:
    """Separate <think>...</think> blocks (and an unclosed leading one) from the answer."""
    reasoning = [m.group(1).strip() for m in THINK.finditer(text)]
    answer = THINK.sub("", text)
    opened = re.search(r"<think(?:ing)?>", answer, re.IGNORECASE)
    if opened:  # an unclosed think block: everything after it is reasoning
        reasoning.append(answer[opened.end():].strip())
        answer = answer[: opened.start()]
    return answer.strip(), "\n\n".join(r for r in reasoning if r)


class Transient(Exception):
    """Raised by a provider's single attempt when trying again may help."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


async def with_retries(
    attempt: Callable[[], Awaitable[T]], attempts: int, backoff_s: float, what: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run `attempt` until it succeeds; Transient errors are retried with exponential backoff."""
    last = ""
    for number in range(attempts):
        try:
            return await attempt()
        except Transient as exc:
            last = str(exc)
            if number + 1 == attempts:
                break
            delay = exc.retry_after if exc.retry_after is not None else backoff_s * (2**number)
            await sleep(min(delay, 60.0) * (1.0 + 0.1 * random.random()))
    raise LLMError(f"{what}: {last} (gave up after {attempts} attempts)",
                   hint="check the endpoint and your network, or raise the provider's rate limit")


def mask_secret(value: str) -> str:
    if not value:
        return ""
    return "****" + value[-4:] if len(value) > 8 else "****"
