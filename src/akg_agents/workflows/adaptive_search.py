"""adaptive_search: asynchronous UCB over parents with a convergence stop.

Every verified kernel is an arm (value: its rank among verified kernels; exploration:
c * sqrt(ln N / (n + 1))); a child is spawned the moment a device frees. Stops on --max-candidates,
search.max_wall_s, search.max_tokens, or convergence (no relative improvement above
search.converge_threshold for search.converge_after evaluations).
"""

from __future__ import annotations

from akg_agents.config.settings import SearchSettings
from akg_agents.workflows.base import RunContext
from akg_agents.workflows.engine import Strategy
from akg_agents.workflows.search_run import run_search
from akg_agents.workflows.strategies import AdaptiveUCB


def strategy(search: SearchSettings) -> Strategy:
    return AdaptiveUCB(c=search.ucb_c, patience=search.converge_after, threshold=search.converge_threshold,
                       random_seed=search.seed)


async def run(ctx: RunContext) -> None:
    await run_search(ctx, strategy, prefix="ucb")
