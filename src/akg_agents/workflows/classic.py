"""The three fixed-pipeline workflows differ only by two switches: design first? profile?

    default          design -> generate -> verify -> (fix | regenerate | stop) -> profile
    coder_only       the same without the design step
    kernelgen_only   generate and verify, no profiling (correctness first, fastest turnaround)

With `--model builtin` there is no model to design or fix: the built-in generator's variants are
verified (and profiled when the workflow profiles).

Every candidate evaluated is also recorded in the kernel database of the task and target (the one
evolve and adaptive_search use), so a later search starts from these kernels.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from akg_agents.workflows import builtin_search
from akg_agents.workflows.base import RunContext


def pipeline(design: bool, profile: bool) -> Callable[[RunContext], Awaitable[None]]:
    async def run(ctx: RunContext) -> None:
        from akg_agents.workflows.search_run import open_kernel_db

        ctx.kernel_db = open_kernel_db(ctx)
        try:
            if ctx.config.model == "builtin":
                await builtin_search.run(ctx, profile=profile)
                return
            from akg_agents.workflows.llm_loop import run_llm  # the LLM path (agents) is imported lazily

            await run_llm(ctx, design=design, profile=profile)
        finally:
            ctx.kernel_db.close()
            ctx.kernel_db = None

    return run
