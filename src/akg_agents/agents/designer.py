"""KernelDesigner: task + op analysis -> an algorithm sketch with tunable parameters."""

from __future__ import annotations

from dataclasses import dataclass, field

from akg_agents.agents.context import KernelJob
from akg_agents.agents.parsing import ParseError, parse_params
from akg_agents.agents.prompting import AgentIO
from akg_agents.llm.base import split_reasoning


@dataclass(frozen=True)
class Design:
    sketch: str
    params: dict[str, str] = field(default_factory=dict)


def _parse(text: str) -> Design:
    answer, _ = split_reasoning(text)
    if len(answer.strip()) < 40:
        raise ParseError("the sketch is empty or too short; write the Plan, Tunable parameters and Risks sections")
    return Design(answer.strip(), parse_params(answer))


class KernelDesigner:
    def __init__(self, io: AgentIO, level: str = "complex") -> None:
        self.io = io
        self.level = level

    async def design(self, job: KernelJob) -> Design:
        design, _ = await self.io.ask("kernel_designer", "designer.j2", job.variables(), self.level, _parse)
        return design
