"""Conductor: reads an EvalResult and decides fix | regenerate | stop, with the reason recorded."""

from __future__ import annotations

from akg_agents.agents.context import KernelJob
from akg_agents.agents.parsing import Decision, parse_decision
from akg_agents.agents.prompting import AgentIO
from akg_agents.records import Candidate, EvalResult


class Conductor:
    def __init__(self, io: AgentIO, level: str = "standard") -> None:
        self.io = io
        self.level = level

    async def decide(self, job: KernelJob, candidate: Candidate, result: EvalResult, history: list[str],
                     steps_left: int) -> Decision:
        """For a failed candidate: how to repair it. For a passed one slower than eager: how to speed it up."""
        variables = {**job.variables(), "candidate_id": candidate.id, "code": candidate.code.strip(),
                     "feedback": result.feedback(), "history": history, "steps_left": steps_left,
                     "slow": result.ok}
        decision, _ = await self.io.ask("conductor", "conductor.j2", variables, self.level, parse_decision)
        return decision
