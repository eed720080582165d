"""The exchange provider: a folder queue that lets any person or outside agent act as the model.

For every request it writes two files into the exchange folder and waits for a third:

    0003_standard.request.md    the conversation, readable: one section per message
    0003_standard.request.json  the same as JSON (id, level, messages, answer_file)
    0003_standard.answer.md     written by whoever answers; the answer text, as a model would give it

Write the answer to a temporary name and rename it (or write it in one go): the provider reads it
once its size has stayed the same for one poll interval. No answer within `timeout_s` raises
LLMError and the run stops cleanly (everything so far is in the run directory).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from akg_agents.errors import LLMError
from akg_agents.llm.base import Completion, Message, Usage, split_reasoning

INSTRUCTIONS = (
    "You are the language model for akg_agents. Read the conversation below and answer the last "
    "message exactly as a chat model would. Write ONLY your answer (markdown, code in fenced blocks) "
    "to the file `{answer}` in this folder."
)


class ExchangeProvider:
    name = "exchange"

    def __init__(self, folder: str, timeout_s: float = 3600.0, poll_s: float = 0.5) -> None:
        if not folder:
            raise LLMError("the exchange provider needs a folder",
                           hint="set AKG_AGENTS_LLM__EXCHANGE_DIR=/path/to/folder (or llm.exchange_dir)")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self._lock = asyncio.Lock()

    def _next_id(self, level: str) -> str:
        taken = [p.name.split("_", 1)[0] for p in self.folder.glob("*.request.json")]
        number = max((int(t) for t in taken if t.isdigit()), default=0) + 1
        return f"{number:04d}_{level}"

    async def complete(self, messages: list[Message], level: str) -> Completion:
        async with self._lock:  # numbering is sequential even when agents ask concurrently
            request_id = self._next_id(level)
            answer = self.folder / f"{request_id}.answer.md"
            (self.folder / f"{request_id}.request.md").write_text(render_request(request_id, level, messages, answer.name))
            sidecar = {"id": request_id, "level": level, "answer_file": answer.name,
                       "messages": [{"role": m.role, "content": m.content} for m in messages]}
            (self.folder / f"{request_id}.request.json").write_text(json.dumps(sidecar, indent=2))
        text = await self._wait(answer)
        if not text.strip():
            raise LLMError(f"exchange answer {answer} is empty", hint="write the model's answer into the file")
        body, reasoning = split_reasoning(text)
        usage = Usage(sum(len(m.content) for m in messages) // 4, len(text) // 4)  # estimated (~4 chars/token)
        return Completion(body, reasoning, usage, model=f"exchange:{self.folder.name}")

    async def _wait(self, answer: Path) -> str:
        deadline = time.monotonic() + self.timeout_s
        last_size = -1
        while time.monotonic() < deadline:
            if answer.exists():
                size = answer.stat().st_size
                if size == last_size and size > 0:
                    return answer.read_text()
                last_size = size
            await asyncio.sleep(self.poll_s)
        raise LLMError(f"no answer in {answer} after {self.timeout_s:.0f} s",
                       hint="answer the request file in the exchange folder, or raise llm.timeout_s")


def render_request(request_id: str, level: str, messages: list[Message], answer_name: str) -> str:
    parts = [f"# Request {request_id} (level: {level})", "", INSTRUCTIONS.format(answer=answer_name), ""]
    for number, message in enumerate(messages, start=1):
        parts += [f"## Message {number}: {message.role}", "", message.content.rstrip(), ""]
    return "\n".join(parts)
