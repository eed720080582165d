"""kernelgen_only: generate and verify, no profiling (correctness first, fastest turnaround)."""

from __future__ import annotations

from akg_agents.workflows import builtin_search
from akg_agents.workflows.base import RunContext


async def run(ctx: RunContext) -> None:
    if ctx.config.model == "builtin":
        await builtin_search.run(ctx, profile=False)
        return
    from akg_agents.workflows.llm_loop import run_llm  # the LLM path (agents) is imported lazily

    await run_llm(ctx, design=False, profile=False)
