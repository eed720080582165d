"""Settings -> a ready provider: the configured one, a recorder when llm.replay_file is set, a meter."""

from __future__ import annotations

from pathlib import Path

from akg_agents.config.settings import LLMSettings
from akg_agents.errors import LLMError
from akg_agents.llm.base import ModelMap, Provider
from akg_agents.llm.meter import MeteredProvider

PROVIDERS = ("openai_compat", "anthropic", "exchange", "replay", "fake")


def make_provider(llm: LLMSettings) -> Provider:
    kind = llm.provider
    if not kind:
        raise LLMError("no LLM provider is configured",
                       hint="run `akg_cli config init`, or set AKG_AGENTS_LLM__PROVIDER=openai_compat, "
                            "AKG_AGENTS_LLM__API_KEY and AKG_AGENTS_LLM__MODELS__STANDARD")
    if kind == "openai_compat":
        from akg_agents.llm.openai_compat import OpenAICompatProvider

        return OpenAICompatProvider(llm.base_url, llm.api_key, ModelMap(llm.models), llm.timeout_s)
    if kind == "anthropic":
        from akg_agents.llm.anthropic import AnthropicProvider

        return AnthropicProvider(llm.api_key, ModelMap(llm.models), llm.base_url, llm.timeout_s)
    if kind == "exchange":
        from akg_agents.llm.exchange import ExchangeProvider

        return ExchangeProvider(llm.exchange_dir, llm.timeout_s)
    if kind == "replay":
        from akg_agents.llm.replay import ReplayProvider

        return ReplayProvider(llm.replay_file)
    raise LLMError(f"unknown llm.provider '{kind}'; valid: {', '.join(p for p in PROVIDERS if p != 'fake')}",
                   hint="the scripted fake is for tests and is built in code (akg_agents.llm.fake)")


def provider_problem(llm: LLMSettings) -> LLMError | None:
    """Why the configured provider cannot be used (no provider, no key, no folder ...), or None.
    Checked before a run starts, so a run directory is never left behind by a setup problem;
    nothing is sent to the model."""
    try:
        make_provider(llm)
    except LLMError as problem:
        return problem
    return None


def build_provider(llm: LLMSettings, memo: Path | None = None) -> MeteredProvider:
    """`memo`: the run's memo file (llm/memo.py): answers given before are given again, not bought again."""
    provider = make_provider(llm)
    if llm.replay_file and llm.provider != "replay":
        from akg_agents.llm.replay import RecordingProvider

        provider = RecordingProvider(provider, llm.replay_file)
    if memo is not None:
        from akg_agents.llm.memo import MemoizedProvider

        return MemoizedProvider(provider, memo)
    return MeteredProvider(provider)
