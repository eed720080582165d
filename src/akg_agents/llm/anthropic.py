"""Anthropic's Messages API through the official SDK (optional extra: pip install akg_agents[anthropic])."""

from __future__ import annotations

from typing import Any

from akg_agents.errors import LLMError
from akg_agents.llm.base import Completion, Message, ModelMap, Transient, Usage, split_reasoning, with_retries


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, api_key: str, models: ModelMap, base_url: str = "", timeout_s: float = 300.0,
                 attempts: int = 4, backoff_s: float = 1.0, max_tokens: int = 8192) -> None:
        if not api_key:
            raise LLMError("no API key configured for the anthropic provider",
                           hint="set AKG_AGENTS_LLM__API_KEY (or llm.api_key via `akg_cli config init`)")
        try:
            import anthropic
        except ImportError:
            raise LLMError("the anthropic provider needs the `anthropic` package",
                           hint="pip install 'akg_agents[anthropic]'") from None
        kwargs: dict[str, Any] = {"api_key": api_key, "timeout": timeout_s, "max_retries": 0}
        if base_url:
            kwargs["base_url"] = base_url
        self._client = anthropic.AsyncAnthropic(**kwargs)
        self.models = models
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.max_tokens = max_tokens

    async def complete(self, messages: list[Message], level: str) -> Completion:
        model = self.models.resolve(level)
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        turns = [{"role": m.role, "content": m.content} for m in messages if m.role != "system"]
        return await with_retries(lambda: self._once(model, system, turns), self.attempts, self.backoff_s,
                                  f"Anthropic API (model {model})")

    async def _once(self, model: str, system: str, turns: list[dict[str, str]]) -> Completion:
        import anthropic

        try:
            response = await self._client.messages.create(
                model=model, system=system, messages=turns, max_tokens=self.max_tokens)  # type: ignore[arg-type]
        except anthropic.AuthenticationError:
            raise LLMError("Anthropic rejected the API key (401)", hint="check AKG_AGENTS_LLM__API_KEY") from None
        except anthropic.RateLimitError as exc:
            raise Transient(f"rate limited (429): {str(exc)[:160]}") from None
        except anthropic.APIStatusError as exc:
            if exc.status_code >= 500:
                raise Transient(f"server error {exc.status_code}") from None
            raise LLMError(f"Anthropic answered {exc.status_code}: {str(exc)[:200]}") from None
        except (anthropic.APITimeoutError, anthropic.APIConnectionError) as exc:
            raise Transient(f"cannot reach the Anthropic API ({type(exc).__name__})") from None
        parts = [getattr(block, "text", "") for block in response.content if getattr(block, "type", "") == "text"]
        thinking = [getattr(block, "thinking", "") for block in response.content if getattr(block, "type", "") == "thinking"]
        if not "".join(parts).strip():
            raise Transient("malformed answer (no text)")
        text, reasoning = split_reasoning("".join(parts))
        usage = Usage(response.usage.input_tokens, response.usage.output_tokens)
        return Completion(text, "\n\n".join([*thinking, reasoning]).strip(), usage, response.model)
