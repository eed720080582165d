"""The run's own memory of its LLM exchanges, so a resumed run does not pay for a prompt twice.

    <run>/llm_memo.jsonl   one line per answered request: {key, level, text, reasoning, model, usage}

A resumed run (after a kill, or a deferred run continuing once its bundles were evaluated) walks
the same conversation again: the same task, the same recorded results, hence the same prompts.
Each prompt that was answered before gets the recorded answer back, in the order it was given
(a prompt asked twice gets its two answers in turn); only a prompt never seen goes to the model.
Keys are replay.request_key (timings and paths masked, so a run dir moved to another machine still
matches) with candidate ids masked too: a resumed run numbers its candidates on after the ones it
wrote (llm-3 where the first session said llm-1, for the same code), and the prompts name them. Memo answers are not counted again: the earlier session's llm_usage.json already
counts them. An exchange that was cut off (killed mid-call) was never written, so it is asked again.
"""

from __future__ import annotations

import json
import re
from collections import deque
from pathlib import Path
from typing import Any

from akg_agents.llm.base import Completion, Message, Provider, Usage
from akg_agents.llm.meter import MeteredProvider
from akg_agents.llm.replay import request_key

MEMO_FILE = "llm_memo.jsonl"
_CANDIDATE_ID = re.compile(r"\b(?:llm|evo|ucb|builtin)-\d+\b")  # the workflows' candidate ids


def memo_key(messages: list[Message], level: str) -> str:
    return request_key([Message(m.role, _CANDIDATE_ID.sub("<candidate>", m.content)) for m in messages], level)


class MemoizedProvider(MeteredProvider):
    def __init__(self, inner: Provider, path: Path) -> None:
        super().__init__(inner)
        self.path = path
        self.recalled = 0  # answers served from the memo in this session
        self._answers: dict[str, deque[dict[str, Any]]] = {}
        if path.is_file():
            for line in path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:  # a torn last line of a killed run
                    continue
                self._answers.setdefault(entry["key"], deque()).append(entry)

    async def complete(self, messages: list[Message], level: str, agent: str = "") -> Completion:
        key = memo_key(messages, level)
        known = self._answers.get(key)
        if known:
            entry = known.popleft()
            self.recalled += 1
            return Completion(entry["text"], entry.get("reasoning", ""), Usage(**entry.get("usage", {})),
                              f"memo:{entry.get('model', '')}")  # shown in the run's llm_call events
        completion = await super().complete(messages, level, agent)
        record = {"key": key, "level": level, "agent": agent, "text": completion.text, "reasoning": completion.reasoning,
                  "model": completion.model, "usage": {"prompt_tokens": completion.usage.prompt_tokens,
                                                       "completion_tokens": completion.usage.completion_tokens}}
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        return completion


__all__ = ["MEMO_FILE", "MemoizedProvider"]
