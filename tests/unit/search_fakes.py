"""Fakes for the search tests: a parameter space, an evaluator whose 'speed' is a pure function of
the parameters (no timing steers a test), and a run context on a real run directory and kernel DB.

Also runnable as a script (the kill -9 test's child): `python search_fakes.py LOG_DIR DB BUDGET DELAY`.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from akg_agents.config.settings import Settings
from akg_agents.records import Candidate, EvalResult, ProfileResult, RunConfig, Status, Task, Timing
from akg_agents.store.kernel_db import KernelDB
from akg_agents.store.rundir import RunStore
from akg_agents.workflows.base import RunContext
from akg_agents.workflows.engine import Budget, Search
from akg_agents.workflows.makers import BuiltinMaker
from akg_agents.workflows.strategies import AdaptiveUCB, Evolve

TASK = Task(name="fake", source="import torch\n")
BLOCKS = (256, 1024, 4096, 16384)
UNROLLS = (0, 1, 2, 4)


def speed(params: dict[str, float]) -> float:
    """Best at block 4096, unroll 4; unroll 0 with block 256 does not compile (a failure to learn from).
    Code without parameters (an LLM's) runs at 1x."""
    if "block" not in params:
        return float(params.get("speed", 1.0))
    return 1.0 + 0.5 * BLOCKS.index(params["block"]) - 0.6 * (params["block"] == 16384) + 0.25 * UNROLLS.index(params["unroll"])


def space() -> list[Candidate]:
    """The generator's order: its default (4096, 2) first."""
    points = [(4096, 2)] + [(b, u) for b in BLOCKS for u in UNROLLS if (b, u) != (4096, 2)]
    return [Candidate(id=f"builtin-{i}", dsl="cpp", code=f"BLOCK = {b}\nUNROLL = {u}\n", params={"block": b, "unroll": u})
            for i, (b, u) in enumerate(points)]


class FakeEvaluator:
    def __init__(self, width: int = 1, delay_s: float = 0.0) -> None:
        self.width = width
        self.delay_s = delay_s
        self.calls: list[str] = []  # codes evaluated, in order
        self.active = 0
        self.most_active = 0

    async def evaluate(self, task: Task, candidate: Candidate, profile: bool = True) -> EvalResult:
        self.calls.append(candidate.code)
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.active -= 1
        params = candidate.params or _declared(candidate.code)
        if (params.get("block") == 256 and params.get("unroll") == 0) or "BROKEN" in candidate.code:
            return EvalResult(candidate.id, Status.COMPILE_ERROR, "error: simdlen(0) is not valid", log_tail="g++: error")
        eager = Timing(1.0, 0.01, 3)
        return EvalResult(candidate.id, Status.PASSED, "passed", profile=ProfileResult(Timing(1.0 / speed(params), 0.01, 3), eager))


def _declared(code: str) -> dict[str, float]:
    """An LLM's fake kernel says how fast it is: a line `SPEED = 1.5`."""
    for line in code.splitlines():
        if line.startswith("SPEED = "):
            return {"speed": float(line.split("=")[1])}
    return {}


def context(folder: Path, evaluator: FakeEvaluator, budget: int = 8, task: Task = TASK, model: str = "builtin") -> RunContext:
    """A new run in log dir `folder`, or the run directory `folder` reopened (resume)."""
    config = RunConfig("torch", "cpu", "x86_64", "cpp", "adaptive_search", model, max_candidates=budget)
    store = RunStore.open(folder) if (folder / "config.yaml").exists() else RunStore.create(str(folder), config, task)
    return RunContext(task, config, store, evaluator, settings=Settings())  # type: ignore[arg-type]


def search(ctx: RunContext, db: KernelDB, strategy: str = "ucb", budget: int = 8, seed: int = 0) -> Search:
    chosen = AdaptiveUCB(c=0.7, patience=100, threshold=0.02) if strategy == "ucb" else Evolve(islands=2, migrate_every=2)
    return Search(ctx, db, chosen, BuiltinMaker(space(), db, seed), Budget(budget), prefix=strategy)


def _child(log_dir: str, db_file: str, budget: int, delay_s: float) -> None:
    """The kill -9 test's child: a search slow enough to be killed mid-way; prints its run dir."""
    ctx = context(Path(log_dir), FakeEvaluator(1, delay_s), budget)
    print(ctx.store.root, flush=True)
    db = KernelDB(Path(db_file))
    asyncio.run(search(ctx, db, "ucb", budget).run())


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
