"""evolve and adaptive_search, start to finish: kernel DB, maker (built-in or LLM), strategy, engine.

The kernel database lives beside the run directories (`<log_dir>/kernels/`), one file per task
and target. A new run starts from the best kernels earlier runs found there: they are copied into
this run's results (not evaluated again; the finalists' race re-times them with the rest) and
handed to the strategy as its first parents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from akg_agents.config.settings import SearchSettings
from akg_agents.records import Candidate
from akg_agents.store.kernel_db import Entry, KernelDB, db_path
from akg_agents.workflows.base import RunContext
from akg_agents.workflows.engine import Budget, Maker, Search, Strategy

SPACE_LIMIT = 512  # points of the built-in generator's parameter grid, bounded (made lazily: lazy_space.py)
StrategyFactory = Callable[[SearchSettings], Strategy]


def open_kernel_db(ctx: RunContext) -> KernelDB:
    return KernelDB(db_path(ctx.store.root.parent, ctx.task, ctx.config))


async def run_search(ctx: RunContext, make_strategy: StrategyFactory, prefix: str) -> None:
    search = ctx.resolved_settings().search
    db = open_kernel_db(ctx)
    try:
        ctx.reporter.info(f"kernel database: {db.path} ({len(db.entries(state='done'))} kernel(s) known)")
        _start_from_known(ctx, db, search.known_seeds)
        budget = Budget(ctx.config.max_candidates, search.max_wall_s, search.max_tokens)
        if ctx.config.model == "builtin":
            from akg_agents.workflows import lazy_space
            from akg_agents.workflows.makers import BuiltinMaker

            space = lazy_space.open_space(ctx.task, ctx.config.dsl, SPACE_LIMIT, ctx.config.threads, ctx.config.precision)
            try:
                lazy = sum(not space.known(i) for i in range(len(space)))
                ctx.store.event("search_space", agent="builtin", size=len(space), made=len(space) - lazy,
                                note=space.note)
                ctx.reporter.info(f"built-in search space: {len(space)} point(s)"
                                  + (", each made when the search picks it" if lazy else "") + f"; {space.note}")
                maker: Maker = BuiltinMaker(space, db, search.seed)
                await Search(ctx, db, make_strategy(search), maker, budget, prefix).run()
            finally:
                if space.generated or space.declined:
                    ctx.store.event("search_space_made", generated=space.generated,
                                    declined={str(i): why[:200] for i, why in space.declined.items()})
                space.close()
        else:
            from akg_agents.workflows.llm_search import run_llm_search

            await run_llm_search(ctx, db, make_strategy(search), budget, prefix)
    finally:
        db.close()


def _start_from_known(ctx: RunContext, db: KernelDB, count: int) -> None:
    """The best kernels of earlier runs join this run's results as they were measured there."""
    run_key = str(ctx.store.root.resolve())
    imported = []
    for entry in db.best(count):
        if entry.run == run_key:
            continue
        candidate = _as_candidate(entry, ctx.config.dsl)
        result = db.result(entry.key)
        if result is None or ctx.store.known_result(candidate) is not None:
            continue
        ctx.store.save_candidate(candidate)
        ctx.store.record(candidate, replace(result, candidate_id=candidate.id))
        imported.append(candidate.id)
    if imported:
        ctx.store.event("known_kernels", imported=imported, database=str(db.path))
        ctx.reporter.info(f"starting from {len(imported)} kernel(s) earlier runs found: {', '.join(imported)}")


def _as_candidate(entry: Entry, dsl: str) -> Candidate:
    return Candidate(id=f"known-{entry.key[:8]}", dsl=dsl, code=entry.code, agent=entry.agent, step=entry.generation,
                     params=entry.params, note=f"from the kernel database: {entry.candidate_id} of {entry.run}")


__all__ = ["open_kernel_db", "run_search"]
