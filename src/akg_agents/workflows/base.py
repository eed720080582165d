"""What every workflow gets (RunContext) and the one loop they share: evaluate and record.

Workflows are policies: they decide what to try next. Evaluation, recording and resuming are
the same for all of them and live here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from akg_agents.config.settings import Settings, load_settings
from akg_agents.records import Candidate, EvalResult, RunConfig, Task
from akg_agents.runtime.evaluator import Evaluator
from akg_agents.store.kernel_db import KernelDB
from akg_agents.store.rundir import RunStore


class Reporter(Protocol):
    """Progress sink (the CLI renders it with rich; tests collect it)."""

    def info(self, message: str) -> None: ...

    def run_dir(self, root: Path) -> None:
        """The run directory exists: the task is prepared and the run can be resumed from here."""
        ...

    def candidate_started(self, candidate: Candidate) -> None: ...

    def candidate_done(self, candidate: Candidate, result: EvalResult, resumed: bool) -> None: ...


class SilentReporter:
    def info(self, message: str) -> None:
        return None

    def run_dir(self, root: Path) -> None:
        return None

    def candidate_started(self, candidate: Candidate) -> None:
        return None

    def candidate_done(self, candidate: Candidate, result: EvalResult, resumed: bool) -> None:
        return None


@dataclass
class RunContext:
    task: Task
    config: RunConfig
    store: RunStore
    evaluator: Evaluator
    reporter: Reporter = field(default_factory=SilentReporter)
    kernel_path: str | None = None  # verifier_only: the existing code to check
    # The run's settings tree (saved with the run; a resumed run gets the saved one back). None:
    # read them now (tests that build a context by hand).
    settings: Settings | None = None
    # The fixed-pipeline workflows record what evaluate_one evaluates here (the search workflows
    # write their own rows, with islands and lineage, and leave this None).
    kernel_db: KernelDB | None = None

    def resolved_settings(self) -> Settings:
        if self.settings is None:
            self.settings = load_settings(self.config.dsl)
        return self.settings


async def evaluate_one(ctx: RunContext, candidate: Candidate, profile: bool) -> EvalResult:
    """Evaluate unless this exact code was evaluated before (resume); always recorded once."""
    known = ctx.store.known_result(candidate)
    if known is not None and (known.profile is not None or not profile or not known.ok):
        record_in_kernel_db(ctx, candidate, known)  # killed after the run's record, before the database's
        ctx.reporter.candidate_done(candidate, known, resumed=True)
        return known
    ctx.store.save_candidate(candidate)
    ctx.reporter.candidate_started(candidate)
    result = await ctx.evaluator.evaluate(ctx.task, candidate, profile)
    ctx.store.record(candidate, result)
    record_in_kernel_db(ctx, candidate, result)
    ctx.reporter.candidate_done(candidate, result, resumed=False)
    return result


def record_in_kernel_db(ctx: RunContext, candidate: Candidate, result: EvalResult) -> None:
    """The candidate and its result as a kernel-database row (verdict, timings, parameters,
    normalized-source key, parent), so that a later evolve or adaptive_search run on the same task
    and target starts from it and never evaluates it again. A kernel the database already holds
    (same normalized source, from this run or an earlier one) keeps its first measurement."""
    db = ctx.kernel_db
    if db is None:
        return
    run = str(ctx.store.root.resolve())
    parent = db.by_candidate(run, candidate.parent_id) if candidate.parent_id else None
    entry = db.propose(candidate, run, (parent.key,) if parent else ())
    if entry.state == "pending" and entry.run == run and entry.candidate_id == candidate.id:
        db.record(entry.key, result)


async def evaluate_all(ctx: RunContext, candidates: list[Candidate], profile: bool) -> list[EvalResult]:
    return list(await asyncio.gather(*(evaluate_one(ctx, c, profile) for c in candidates)))
