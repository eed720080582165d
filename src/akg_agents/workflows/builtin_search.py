"""`default` with the built-in generator: every parameter variant, verified and profiled.

Without an LLM the policy is plain: the generator's default parameters first, then the rest of
its grid up to --max-candidates; the fastest verified candidate wins.
"""

from __future__ import annotations

from akg_agents.tasks.isolated import generate_isolated
from akg_agents.workflows.base import RunContext, evaluate_all


async def run(ctx: RunContext, profile: bool = True) -> None:
    # The task's code is traced in a child process, never in the CLI's own.
    candidates = generate_isolated(ctx.task, ctx.config.dsl, ctx.config.max_candidates, ctx.config.threads)
    ctx.store.event("generated", agent="builtin", count=len(candidates), note=candidates[0].note)
    ctx.reporter.info(f"built-in generator: {len(candidates)} candidate(s), {candidates[0].note}")
    if len(candidates) < ctx.config.max_candidates:
        ctx.reporter.info(f"note: --max-candidates {ctx.config.max_candidates} asks for more than the built-in "
                          f"generator has for this task: its whole grid is {len(candidates)} candidate(s)")
    await evaluate_all(ctx, candidates, profile)
