"""KernelGen: writes a whole candidate, or fixes one with SEARCH/REPLACE edits (cheap model)."""

from __future__ import annotations

from dataclasses import dataclass

from akg_agents.agents.context import KernelJob
from akg_agents.agents.parsing import ParseError, apply_edits, extract_module, parse_edits
from akg_agents.agents.prompting import AgentIO


@dataclass(frozen=True)
class Inspiration:
    code: str
    note: str  # e.g. "passed, 1.8x over eager"
    tier: str = ""  # search workflows: good | medium | poor (how it ranks among the kernels tried)


class KernelGen:
    def __init__(self, io: AgentIO, level: str = "standard", fix_level: str = "fast") -> None:
        self.io = io
        self.level = level
        self.fix_level = fix_level

    async def generate(self, job: KernelJob, sketch: str = "", previous: str = "", feedback: str = "",
                       suggestion: str = "", inspirations: list[Inspiration] | None = None) -> str:
        variables = {**job.variables(), "sketch": sketch, "previous": previous, "feedback": feedback,
                     "suggestion": suggestion, "inspirations": inspirations or []}
        code, _ = await self.io.ask("kernel_gen", "kernel_gen.j2", variables, self.level, extract_module)
        return code

    async def fix(self, job: KernelJob, code: str, feedback: str, suggestion: str) -> str:
        """Edits applied to `code`; an edit that does not apply is sent back with the reason."""

        def parse(text: str) -> str:
            fixed = apply_edits(code, parse_edits(text))
            if fixed == code:
                raise ParseError("the edits change nothing")
            extract_module(f"```python\n{fixed}```")  # the result must still parse and define ModelNew
            return fixed

        variables = {**job.variables(), "code": code.strip(), "feedback": feedback, "suggestion": suggestion}
        fixed, _ = await self.io.ask("kernel_fixer", "kernel_fix.j2", variables, self.fix_level, parse)
        return fixed
