"""Strict record/replay: answers keyed on the normalized request, stored as JSON lines.

Recording wraps any provider and appends {key, level, request, text, reasoning, usage} per call.
Replaying answers only from the file: a request it has not seen raises LLMError naming the
request (its key and first lines), never a silent live call. Normalization keeps keys stable
across machines and runs: absolute paths lose their directories, measured timings ("0.4321 ms",
"2.31x") become "<t>" (the Conductor reads timings, and no two runs measure the same), so does
the name of the fastest candidate where a prompt states it (a near tie flips under load), and
whitespace at line ends is dropped. Entries store their normalized messages, so keys are
recomputed on load and survive changes to this normalization.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from akg_agents.errors import LLMError
from akg_agents.llm.base import Completion, Message, Provider, Usage

_PATH = re.compile(r"(?<![\w.])/(?:[\w.+-]+/)+")  # the directories of an absolute path
_ADDR = re.compile(r"0x[0-9a-fA-F]{6,}")
_TIMING = re.compile(r"\d+\.\d+(?=\s?ms\b)|\d+\.\d+(?=x\b)")
# g++'s per-loop vectorization verdicts depend on the host CPU (-march=native): like timings,
# they are masked so a recording replays on any machine.
_VECTORIZATION = re.compile(r"(g\+\+ vectorization report[^:\n]*:).*")
# which candidate is fastest is itself a measurement ("Best so far: llm-1, speedup 0.33x" in the
# poly_config prompt): under load a near tie flips, so the name is masked like the timings
_BEST = re.compile(r"(Best so far: )[\w.-]+")


def normalize(text: str) -> str:
    text = _PATH.sub("<dir>/", text)
    text = _ADDR.sub("0x<addr>", text)
    text = _TIMING.sub("<t>", text)
    text = _VECTORIZATION.sub(r"\1 <report>", text)
    text = _BEST.sub(r"\1<best>", text)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def normalized(messages: list[Message]) -> list[list[str]]:
    return [[m.role, normalize(m.content)] for m in messages]


def _key_of(pairs: list[list[str]], level: str) -> str:
    canonical = json.dumps([level, [[role, normalize(content)] for role, content in pairs]])
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def request_key(messages: list[Message], level: str) -> str:
    return _key_of(normalized(messages), level)


def describe(messages: list[Message]) -> str:
    last = next((m.content for m in reversed(messages) if m.role == "user"), "")
    first = " / ".join(line.strip() for line in last.strip().splitlines()[:2])
    return first[:160]


def load_entries(path: Path) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return entries
    for line in path.read_text().splitlines():
        if line.strip():
            entry = json.loads(line)
            if "messages" in entry:  # recompute: the normalization may have changed since recording
                entry["key"] = _key_of(entry["messages"], entry["level"])
            entries.setdefault(entry["key"], entry)  # the first recording of a request wins
    return entries


class ReplayProvider:
    name = "replay"

    def __init__(self, path: str) -> None:
        if not path:
            raise LLMError("the replay provider needs a recording", hint="set AKG_AGENTS_LLM__REPLAY_FILE=file.jsonl")
        self.path = Path(path)
        if not self.path.exists():
            raise LLMError(f"replay file {self.path} does not exist")
        self.entries = load_entries(self.path)

    async def complete(self, messages: list[Message], level: str) -> Completion:
        key = request_key(messages, level)
        entry = self.entries.get(key)
        if entry is None:
            raise LLMError(
                f"replay miss: request {key} (level {level}) is not in {self.path.name}: '{describe(messages)}'",
                hint="the prompt changed since the recording; record again with a live provider and llm.replay_file set",
            )
        usage = Usage(**entry.get("usage", {}))
        return Completion(entry["text"], entry.get("reasoning", ""), usage, entry.get("model", "replay"))


class RecordingProvider:
    """Any provider, with every exchange appended to a replay file."""

    def __init__(self, inner: Provider, path: str) -> None:
        self.inner = inner
        self.name = f"{inner.name}+record"
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    async def complete(self, messages: list[Message], level: str) -> Completion:
        completion = await self.inner.complete(messages, level)
        entry = {
            "key": request_key(messages, level), "level": level, "request": describe(messages),
            "messages": normalized(messages),
            "text": completion.text, "reasoning": completion.reasoning, "model": completion.model,
            "usage": {"prompt_tokens": completion.usage.prompt_tokens,
                      "completion_tokens": completion.usage.completion_tokens},
        }
        with open(self.path, "a") as handle:
            handle.write(json.dumps(entry) + "\n")
        return completion
