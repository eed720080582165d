"""The LLM layer: one `Provider` protocol, several ways to answer it.

    base.py           Message, Completion, Usage, Provider, ModelMap (levels), retries
    openai_compat.py  any OpenAI-compatible endpoint (OpenAI, DeepSeek, Qwen, vLLM, SGLang, Ollama)
    anthropic.py      Anthropic (optional extra, imported lazily)
    exchange.py       a folder queue: each request as markdown; a person or outside agent answers
    replay.py         strict record/replay cache keyed on the normalized request
    fake.py           scripted answers keyed on markers in the prompt (unit tests)
    meter.py          token and cost accounting per run
    factory.py        settings -> provider (with a recorder and a meter around it)
"""

from akg_agents.llm.base import LEVELS, Completion, Message, ModelMap, Provider, Usage
from akg_agents.llm.factory import build_provider

__all__ = ["LEVELS", "Completion", "Message", "ModelMap", "Provider", "Usage", "build_provider"]
