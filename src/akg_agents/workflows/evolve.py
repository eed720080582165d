"""evolve: islands of kernels, elites, periodic migration, tiered inspirations; asynchronous.

With `--model builtin` children are the built-in generator's neighbouring parameter settings;
with an LLM, KernelGen writes them from the parent, its evidence and the inspirations. Policy
knobs are the `search.*` settings (islands, elites, migrate_every, exploit, seed).
"""

from __future__ import annotations

from akg_agents.config.settings import SearchSettings
from akg_agents.workflows.base import RunContext
from akg_agents.workflows.engine import Strategy
from akg_agents.workflows.search_run import run_search
from akg_agents.workflows.strategies import Evolve


def strategy(search: SearchSettings) -> Strategy:
    return Evolve(islands=search.islands, elites=search.elites, migrate_every=search.migrate_every,
                  exploit=search.exploit, random_seed=search.seed)


async def run(ctx: RunContext) -> None:
    await run_search(ctx, strategy, prefix="evo")
