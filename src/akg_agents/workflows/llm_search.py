"""evolve / adaptive_search on the LLM path: KernelGen makes every child (parent + evidence +
tiered inspirations); usage is written to llm_usage.json like every LLM workflow's."""

from __future__ import annotations

from akg_agents.agents.kernel_gen import KernelGen
from akg_agents.errors import LLMError
from akg_agents.llm.meter import MeteredProvider
from akg_agents.store.kernel_db import KernelDB
from akg_agents.workflows.base import RunContext
from akg_agents.workflows.engine import Budget, Search, Strategy
from akg_agents.workflows.llm_loop import _level, llm_setup, write_usage
from akg_agents.workflows.makers import LLMMaker


async def run_llm_search(ctx: RunContext, db: KernelDB, strategy: Strategy, budget: Budget, prefix: str,
                         provider: MeteredProvider | None = None) -> None:
    setup = llm_setup(ctx, provider)
    levels = ctx.config.agent_models
    gen = KernelGen(setup.io, _level(levels, "kernel_gen", "standard"), _level(levels, "kernel_fixer", "fast"))
    maker = LLMMaker(gen, setup.job, setup.llm, ctx.config.dsl)
    try:
        await Search(ctx, db, strategy, maker, budget, prefix).run()
    except LLMError as problem:  # the run directory and the kernel DB stay intact and resumable
        ctx.store.event("llm_error", message=str(problem), hint=problem.hint)
        raise
    finally:
        write_usage(ctx, setup.llm)


__all__ = ["run_llm_search"]
