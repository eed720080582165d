from __future__ import annotations

import asyncio
import json
from pathlib import Path

from akg_agents.llm.base import Message
from akg_agents.llm.fake import ScriptedProvider
from akg_agents.llm.replay import RecordingProvider, ReplayProvider, request_key


def test_timings_do_not_change_the_key() -> None:
    a = [Message("user", "time: candidate 5.7105 ms, eager 1.0854 ms, speedup 0.19x")]
    b = [Message("user", "time: candidate 0.6011 ms, eager 1.1002 ms, speedup 1.83x")]
    assert request_key(a, "fast") == request_key(b, "fast")
    assert request_key(a, "fast") != request_key([Message("user", "line 46: NOT vectorized")], "fast")


def test_which_candidate_measured_fastest_does_not_change_the_key() -> None:
    """poly_config's prompt names the fastest candidate; a near tie (0.33x, 0.34x) flips under load."""
    def prompt(best: str) -> list[Message]:
        return [Message("user", f"### llm-2\nspeedup 0.34x\n\nBest so far: {best}, speedup 0.34x over eager.")]
    assert request_key(prompt("llm-1"), "standard") == request_key(prompt("llm-2"), "standard")
    # the rest of the prompt still counts
    other = [Message("user", "### llm-3\nspeedup 0.34x\n\nBest so far: llm-1, speedup 0.34x over eager.")]
    assert request_key(other, "standard") != request_key(prompt("llm-1"), "standard")


def test_recordings_store_messages_and_replay_after_a_timing_change(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    recorder = RecordingProvider(ScriptedProvider([("speedup", "DECISION: stop")]), str(path))
    asyncio.run(recorder.complete([Message("user", "speedup 0.43x")], "fast"))
    assert "messages" in json.loads(path.read_text())
    replayed = asyncio.run(ReplayProvider(str(path)).complete([Message("user", "speedup 0.51x")], "fast"))
    assert replayed.text == "DECISION: stop"
