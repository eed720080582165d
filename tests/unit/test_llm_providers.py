"""The LLM layer: openai_compat over real loopback HTTP, replay, exchange, fake, levels, metering."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from akg_agents.config.settings import LLMSettings
from akg_agents.errors import LLMError
from akg_agents.llm.base import Message, ModelMap, split_reasoning
from akg_agents.llm.exchange import ExchangeProvider
from akg_agents.llm.factory import build_provider
from akg_agents.llm.fake import ScriptedProvider
from akg_agents.llm.openai_compat import OpenAICompatProvider
from akg_agents.llm.replay import RecordingProvider, ReplayProvider, request_key

sys.path.insert(0, str(Path(__file__).parent))
from llm_server import ScriptedServer, chat_body, closed_port

MSGS = [Message("system", "be brief"), Message("user", "# Task: say hi")]


def _provider(url: str, key: str = "sk-test-1234") -> OpenAICompatProvider:
    return OpenAICompatProvider(url, key, ModelMap({"standard": "m-std"}), timeout_s=5, attempts=3, backoff_s=0.01)


def test_openai_compat_retries_rate_limit_then_answers() -> None:
    with ScriptedServer([(429, {"error": {"message": "slow down"}}), (200, chat_body("<think>hmm</think>hello"))]) as srv:
        completion = asyncio.run(_provider(srv.url).complete(MSGS, "complex"))
    assert completion.text == "hello" and completion.reasoning == "hmm"
    assert completion.usage.prompt_tokens == 11 and len(srv.requests) == 2
    assert srv.requests[0]["body"]["model"] == "m-std"  # complex falls back to standard
    assert srv.requests[0]["auth"] == "Bearer sk-test-1234"


def test_openai_compat_malformed_answer_is_retried_then_reported() -> None:
    with ScriptedServer([(200, "this is not json"), (200, {"choices": []})]) as srv, \
            pytest.raises(LLMError, match="malformed answer"):
        asyncio.run(_provider(srv.url).complete(MSGS, "standard"))
    assert len(srv.requests) == 3


def test_openai_compat_bad_key_and_unreachable() -> None:
    with ScriptedServer([(401, {"error": {"message": "bad key"}})]) as srv, \
            pytest.raises(LLMError, match="rejected the API key"):
        asyncio.run(_provider(srv.url).complete(MSGS, "standard"))
    with pytest.raises(LLMError, match="cannot connect"):
        asyncio.run(_provider(f"http://127.0.0.1:{closed_port()}/v1").complete(MSGS, "standard"))
    with pytest.raises(LLMError, match="no API key"):
        _provider("http://127.0.0.1:1/v1", key="")


def test_model_levels_fall_back_and_name_the_missing_setting() -> None:
    models = ModelMap({"fast": "small"})
    assert models.resolve("complex") == "small"
    with pytest.raises(LLMError, match="no model configured"):
        ModelMap({}).resolve("standard")


def test_replay_records_then_replays_and_a_miss_names_the_request(tmp_path: Path) -> None:
    fake = ScriptedProvider([("say hi", "hi there")])
    path = tmp_path / "rec.jsonl"
    asyncio.run(RecordingProvider(fake, str(path)).complete(MSGS, "fast"))
    replay = ReplayProvider(str(path))
    assert asyncio.run(replay.complete(MSGS, "fast")).text == "hi there"
    other = [Message("user", "# Task: something new")]
    with pytest.raises(LLMError, match=r"replay miss: request \w+ .*something new"):
        asyncio.run(replay.complete(other, "fast"))
    # keys ignore directories of absolute paths and trailing spaces (logs differ by machine)
    a = [Message("user", "error in /tmp/abc/kernel.cpp:3  ")]
    b = [Message("user", "error in /home/u/.cache/x/kernel.cpp:3")]
    assert request_key(a, "fast") == request_key(b, "fast")


def test_exchange_writes_markdown_and_json_and_reads_the_answer(tmp_path: Path) -> None:
    provider = ExchangeProvider(str(tmp_path), timeout_s=10, poll_s=0.05)

    async def answer_later() -> None:
        while not (tmp_path / "0001_fast.request.md").exists():
            await asyncio.sleep(0.02)
        (tmp_path / "0001_fast.answer.md").write_text("the answer")

    async def both() -> str:
        result, _ = await asyncio.gather(provider.complete(MSGS, "fast"), answer_later())
        return result.text

    assert asyncio.run(both()) == "the answer"
    request = (tmp_path / "0001_fast.request.md").read_text()
    assert "## Message 2: user" in request and "0001_fast.answer.md" in request
    assert json.loads((tmp_path / "0001_fast.request.json").read_text())["messages"][1]["content"] == "# Task: say hi"


def test_exchange_times_out_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LLMError, match="no answer"):
        asyncio.run(ExchangeProvider(str(tmp_path), timeout_s=0.2, poll_s=0.05).complete(MSGS, "fast"))


def test_no_provider_configured_says_what_to_set() -> None:
    with pytest.raises(LLMError, match="no LLM provider is configured") as info:
        build_provider(LLMSettings())
    assert "AKG_AGENTS_LLM__PROVIDER" in info.value.hint


def test_metering_counts_tokens_by_agent() -> None:
    metered = build_provider.__globals__["MeteredProvider"](ScriptedProvider([("hi", "x" * 40)]))
    asyncio.run(metered.complete(MSGS, "fast", agent="kernel_gen"))
    summary = metered.summary()
    assert summary["total"]["calls"] == 1 and summary["by_agent"]["kernel_gen"]["completion_tokens"] == 10


def test_split_reasoning_handles_unclosed_think() -> None:
    assert split_reasoning("<think>a</think>b<think>c") == ("b", "a\n\nc")
