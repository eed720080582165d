"""coder_only: KernelGen -> verify -> Conductor loop -> profile, without the design step."""

from __future__ import annotations

from akg_agents.workflows import builtin_search
from akg_agents.workflows.base import RunContext


async def run(ctx: RunContext) -> None:
    if ctx.config.model == "builtin":
        await builtin_search.run(ctx, profile=True)
        return
    from akg_agents.workflows.llm_loop import run_llm

    await run_llm(ctx, design=False, profile=True)
