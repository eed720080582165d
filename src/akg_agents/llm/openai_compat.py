"""Any OpenAI-compatible chat endpoint through the official `openai` SDK.

OpenAI, DeepSeek, Qwen (DashScope), vLLM, SGLang and Ollama all speak this API; only the base URL,
the key and the model names differ. The SDK's own retries are off: ours (base.with_retries) make
rate limits and transient failures visible and bounded the same way for every provider.
"""

from __future__ import annotations

from typing import Any

from akg_agents.errors import LLMError
from akg_agents.llm.base import Completion, Message, ModelMap, Transient, Usage, split_reasoning, with_retries


class OpenAICompatProvider:
    name = "openai_compat"

    def __init__(self, base_url: str, api_key: str, models: ModelMap, timeout_s: float = 300.0,
                 attempts: int = 4, backoff_s: float = 1.0) -> None:
        if not api_key:
            raise LLMError("no API key configured for the openai_compat provider",
                           hint="set AKG_AGENTS_LLM__API_KEY (or llm.api_key via `akg_cli config init`); "
                                "local servers such as vLLM or Ollama accept any non-empty key")
        self.base_url = base_url or "https://api.openai.com/v1"
        self.models = models
        self.attempts = attempts
        self.backoff_s = backoff_s
        from openai import AsyncOpenAI

        self._client = AsyncOpenAI(base_url=self.base_url, api_key=api_key, timeout=timeout_s, max_retries=0)

    async def complete(self, messages: list[Message], level: str) -> Completion:
        model = self.models.resolve(level)
        payload = [{"role": m.role, "content": m.content} for m in messages]
        return await with_retries(lambda: self._once(model, payload), self.attempts, self.backoff_s,
                                  f"LLM endpoint {self.base_url} (model {model})")

    async def _once(self, model: str, payload: list[dict[str, str]]) -> Completion:
        import openai

        try:
            response = await self._client.chat.completions.create(model=model, messages=payload)  # type: ignore[arg-type]
        except openai.AuthenticationError:
            raise LLMError(f"{self.base_url} rejected the API key (401 Unauthorized)",
                           hint="check AKG_AGENTS_LLM__API_KEY / llm.api_key (`akg_cli config show` prints it masked)") from None
        except openai.PermissionDeniedError as exc:
            raise LLMError(f"{self.base_url} refused the request (403): {_short(exc)}",
                           hint="the key may lack access to this model") from None
        except openai.NotFoundError as exc:
            raise LLMError(f"{self.base_url}: model '{model}' or the endpoint was not found (404): {_short(exc)}",
                           hint="check llm.base_url (it usually ends in /v1) and llm.models") from None
        except openai.RateLimitError as exc:
            raise Transient(f"rate limited (429): {_short(exc)}", _retry_after(exc)) from None
        except openai.APIStatusError as exc:
            if exc.status_code >= 500 or exc.status_code == 408:
                raise Transient(f"server error {exc.status_code}: {_short(exc)}") from None
            raise LLMError(f"{self.base_url} answered {exc.status_code}: {_short(exc)}") from None
        except openai.APITimeoutError:
            raise Transient("request timed out") from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise Transient(f"cannot connect ({type(cause).__name__}: {str(cause)[:120]})") from None
        except openai.APIResponseValidationError as exc:
            raise Transient(f"malformed answer: {_short(exc)}") from None
        except ValueError as exc:  # a body that is not JSON (json.JSONDecodeError)
            raise Transient(f"malformed answer (not JSON: {_short(exc)})") from None
        return _completion(response, model)


def _completion(response: Any, model: str) -> Completion:
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise Transient(f"malformed answer (no choices): {str(response)[:160]}")
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", None)
    if not isinstance(content, str) or not content.strip():
        raise Transient("malformed answer (empty message content)")
    text, reasoning = split_reasoning(content)
    extra = getattr(message, "reasoning_content", None)  # DeepSeek-style reasoning field
    if isinstance(extra, str) and extra:
        reasoning = (extra + "\n\n" + reasoning).strip()
    usage = getattr(response, "usage", None)
    counted = Usage(int(getattr(usage, "prompt_tokens", 0) or 0), int(getattr(usage, "completion_tokens", 0) or 0))
    return Completion(text, reasoning, counted, str(getattr(response, "model", "") or model))


def _short(exc: Exception) -> str:
    return str(exc).replace("\n", " ")[:200]


def _retry_after(exc: Any) -> float | None:
    try:
        value = exc.response.headers.get("retry-after")
        return float(value) if value is not None else None
    except (AttributeError, TypeError, ValueError):
        return None
