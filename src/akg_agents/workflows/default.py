"""default: design -> generate -> verify -> (fix | regenerate | stop) -> profile.

With `--model builtin` the design and fix steps have no model to ask: the built-in generator's
variants are verified and profiled instead.
"""

from __future__ import annotations

from akg_agents.workflows import builtin_search
from akg_agents.workflows.base import RunContext


async def run(ctx: RunContext) -> None:
    if ctx.config.model == "builtin":
        await builtin_search.run(ctx, profile=True)
        return
    from akg_agents.workflows.llm_loop import run_llm

    await run_llm(ctx, design=True, profile=True)
