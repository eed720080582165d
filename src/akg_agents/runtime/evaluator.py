"""Async evaluation over a pool of verifiers (one per device): one candidate per device at a time.

Workflows await `evaluate(...)`; the blocking work (a sandboxed subprocess) runs in a thread, so
while one device compiles and times a kernel, the event loop keeps others busy and agents can
keep talking to the LLM.
"""

from __future__ import annotations

import asyncio

from akg_agents.records import Candidate, EvalResult, Task
from akg_agents.verify.evaluate import ReferenceInfo, Verifier


class Evaluator:
    def __init__(self, verifiers: list[Verifier]) -> None:
        if not verifiers:
            raise ValueError("an Evaluator needs at least one verifier")
        self._verifiers = verifiers
        self._free: asyncio.Queue[Verifier] | None = None

    @property
    def width(self) -> int:
        return len(self._verifiers)

    def _queue(self) -> asyncio.Queue[Verifier]:
        if self._free is None:  # created lazily: it must belong to the running event loop
            self._free = asyncio.Queue()
            for verifier in self._verifiers:
                self._free.put_nowait(verifier)
        return self._free

    async def evaluate(self, task: Task, candidate: Candidate, profile: bool = True) -> EvalResult:
        queue = self._queue()
        verifier = await queue.get()
        try:
            return await asyncio.to_thread(verifier.evaluate, task, candidate, profile)
        finally:
            queue.put_nowait(verifier)

    def reference(self, task: Task) -> ReferenceInfo:
        """Validate the task and compute references on every device (each has its own cache key)."""
        info = self._verifiers[0].reference(task)
        for verifier in self._verifiers[1:]:
            verifier.reference(task)
        return info

    def close(self) -> None:
        for verifier in self._verifiers:
            verifier.close()
