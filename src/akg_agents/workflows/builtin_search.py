"""`default` with the built-in generator: every parameter variant, verified and profiled.

Without an LLM the policy is plain: the generator's default parameters first, then the rest of
its grid up to --max-candidates; the fastest verified candidate wins.
"""

from __future__ import annotations

from akg_agents.records import Candidate, Task
from akg_agents.tasks import isolated
from akg_agents.workflows.base import RunContext, evaluate_all

# Opt-in memo of the generator's answers, for a process that runs several workflows on the same
# task (a benchmark comparing them): None (the default) traces every time. Keyed by the task's
# digest, the DSL, the count, the thread setting and the precision; a declined task is not kept.
SPACE_CACHE: dict[tuple[str, str, int, int, str], list[Candidate]] | None = None
SPACE_CACHE_LIMIT = 32


def builtin_space(task: Task, dsl: str, count: int, threads: int, precision: str = "fp32") -> list[Candidate]:
    """The built-in generator's candidates, traced in a child process (never in the CLI's own),
    for the --precision the task is verified in."""
    key = (task.digest, dsl, count, threads, precision)
    if SPACE_CACHE is not None and key in SPACE_CACHE:
        return list(SPACE_CACHE[key])
    made = isolated.generate_isolated(task, dsl, count, threads, precision=precision)
    if SPACE_CACHE is not None:
        if len(SPACE_CACHE) >= SPACE_CACHE_LIMIT:
            SPACE_CACHE.pop(next(iter(SPACE_CACHE)))
        SPACE_CACHE[key] = list(made)
    return made


async def run(ctx: RunContext, profile: bool = True) -> None:
    candidates = builtin_space(ctx.task, ctx.config.dsl, ctx.config.max_candidates, ctx.config.threads,
                               ctx.config.precision)
    ctx.store.event("generated", agent="builtin", count=len(candidates), note=candidates[0].note)
    ctx.reporter.info(f"built-in generator: {len(candidates)} candidate(s), {candidates[0].note}")
    if len(candidates) < ctx.config.max_candidates:
        ctx.reporter.info(f"note: --max-candidates {ctx.config.max_candidates} asks for more than the built-in "
                          f"generator has for this task: its whole grid is {len(candidates)} candidate(s)")
    await evaluate_all(ctx, candidates, profile)
