"""Token and cost accounting: a provider wrapper that counts every call, by agent and level."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from akg_agents.llm.base import Completion, Message, Provider

USAGE_FILE = "llm_usage.json"  # in a run directory: every call of the run, across resumes
TASK_USAGE_SUFFIX = ".llm_usage.json"  # beside a task a model wrote (`--request`): what writing it cost

# USD per million tokens (prompt, completion) by model-name prefix; unknown models cost 0 and are
# reported as unpriced rather than guessed.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.6), "gpt-4o": (2.5, 10.0), "gpt-4.1-mini": (0.4, 1.6), "gpt-4.1": (2.0, 8.0),
    "o3-mini": (1.1, 4.4), "deepseek-chat": (0.27, 1.1), "deepseek-reasoner": (0.55, 2.19),
    "claude-3-5-haiku": (0.8, 4.0), "claude-sonnet-4": (3.0, 15.0), "claude-3-7-sonnet": (3.0, 15.0),
    "claude-opus-4": (15.0, 75.0),
}


def price_of(model: str) -> tuple[float, float] | None:
    best = max((p for p in PRICES if model.startswith(p)), key=len, default=None)
    return PRICES[best] if best else None


@dataclass
class Tally:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    unpriced: set[str] = field(default_factory=set)

    def add(self, completion: Completion, seconds: float) -> None:
        self.calls += 1
        self.prompt_tokens += completion.usage.prompt_tokens
        self.completion_tokens += completion.usage.completion_tokens
        self.seconds += seconds
        price = price_of(completion.model)
        if price is None:
            self.unpriced.add(completion.model or "?")
        else:
            self.cost_usd += (completion.usage.prompt_tokens * price[0] + completion.usage.completion_tokens * price[1]) / 1e6

    def add_recorded(self, recorded: dict[str, Any]) -> None:
        """Calls counted elsewhere (an `as_dict()` written earlier) join this tally."""
        self.calls += int(recorded.get("calls", 0))
        self.prompt_tokens += int(recorded.get("prompt_tokens", 0))
        self.completion_tokens += int(recorded.get("completion_tokens", 0))
        self.cost_usd += float(recorded.get("cost_usd", 0.0))
        self.seconds += float(recorded.get("seconds", 0.0))
        self.unpriced.update(str(m) for m in recorded.get("unpriced_models", []))

    def as_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "cost_usd": round(self.cost_usd, 6), "seconds": round(self.seconds, 2), "unpriced_models": sorted(self.unpriced)}


class MeteredProvider:
    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.name = inner.name
        self.total = Tally()
        self.by_agent: dict[str, Tally] = {}

    async def complete(self, messages: list[Message], level: str, agent: str = "") -> Completion:
        started = time.perf_counter()
        completion = await self.inner.complete(messages, level)
        took = time.perf_counter() - started
        self.total.add(completion, took)
        self.by_agent.setdefault(agent or "?", Tally()).add(completion, took)
        return completion

    def add_recorded(self, summary: dict[str, Any]) -> None:
        """Count calls made before this meter existed: the TaskConstructor's for a `--request` run,
        an earlier session's when a run is resumed (a `summary()` written to llm_usage.json)."""
        self.total.add_recorded(summary.get("total", {}))
        for agent, tally in summary.get("by_agent", {}).items():
            self.by_agent.setdefault(agent, Tally()).add_recorded(tally)

    def summary(self) -> dict[str, Any]:
        return {"total": self.total.as_dict(), "by_agent": {k: v.as_dict() for k, v in sorted(self.by_agent.items())}}

    def line(self) -> str:
        t = self.total
        cost = f", ${t.cost_usd:.4f}" if not t.unpriced else (f", ${t.cost_usd:.4f} + unpriced" if t.cost_usd else "")
        return f"LLM: {t.calls} call(s), {t.prompt_tokens} prompt + {t.completion_tokens} completion tokens{cost}"
