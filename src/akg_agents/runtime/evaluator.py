"""What workflows evaluate through: the device pool, plus task preparation on every device.

Workflows await `evaluate(...)`; the pool runs one candidate per device at a time, the blocking
work in a thread, so while one device compiles and times a kernel the event loop keeps the
others busy and agents keep talking to the LLM.
"""

from __future__ import annotations

from akg_agents.records import Candidate, EvalResult, Task
from akg_agents.runtime.device_pool import DevicePool
from akg_agents.verify.evaluate import ReferenceInfo
from akg_agents.verify.protocol import RaceOutcome


class Evaluator:
    def __init__(self, pool: DevicePool) -> None:
        self.pool = pool

    @property
    def width(self) -> int:
        return self.pool.size

    async def evaluate(self, task: Task, candidate: Candidate, profile: bool = True) -> EvalResult:
        return await self.pool.evaluate(task, candidate, profile)

    def reference(self, task: Task) -> ReferenceInfo:
        """Validate the task and compute references on every device (each has its own cache key)."""
        infos = [slot.verifier.reference(task) for slot in self.pool.slots]
        return infos[0]

    def quick_eager_ms(self, task: Task) -> float:
        return self.pool.slots[0].verifier.quick_eager_ms(task)

    def fit_problem(self, task: Task) -> str | None:
        return self.pool.slots[0].verifier.fit_problem(task)

    def race(self, task: Task, finalists: list[Candidate]) -> RaceOutcome:
        """Re-time the finalists side by side against eager (on the first device)."""
        return self.pool.slots[0].verifier.race(task, finalists)

    def close(self) -> None:
        self.pool.close()
