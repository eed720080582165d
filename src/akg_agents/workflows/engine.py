"""The search engine: a strategy proposes, workers make and evaluate, the strategy observes.

    strategy.propose() -> Proposal (which parent, which inspirations, which island)
    maker.make(proposal) -> Candidate      (the built-in generator's neighbour, or KernelGen's answer)
    kernel DB: a duplicate (same normalized source or same parameters) is observed, never evaluated
    evaluate -> EvalResult -> kernel DB row -> strategy.observe(entry)

Asynchronous, not in rounds: as many candidates are in flight as the evaluator has devices, and the
moment one finishes the next one is proposed. Strategies are pure policy (no I/O, no awaiting);
makers and the evaluator do the I/O. A resumed run first evaluates the candidates its killed
predecessor had proposed but not finished, and counts what it already evaluated against its budget.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Protocol

from akg_agents.records import Candidate
from akg_agents.store.kernel_db import Entry, KernelDB, normalized_digest
from akg_agents.workflows.base import RunContext, evaluate_one

DUPLICATE_STREAK_LIMIT = 20  # proposals in a row that were all duplicates: the search has nothing new


@dataclass(frozen=True)
class Proposal:
    parent: Entry | None  # None: a fresh kernel (no parent yet)
    island: int = 0
    inspirations: tuple[tuple[str, Entry], ...] = ()  # (tier: good | medium | poor, kernel)
    note: str = ""


class Strategy(Protocol):
    """Policy only: what to try next, what was learned, whether to stop."""

    def seed(self, known: list[Entry]) -> None:
        """Kernels already evaluated (earlier runs on this task and target, or this run before a kill)."""
        ...

    def propose(self) -> Proposal | None: ...

    def observe(self, entry: Entry, proposal: Proposal, evaluated: bool = True) -> None:
        """`evaluated` False: the proposal duplicated `entry`, a kernel known already."""
        ...

    def should_stop(self) -> str:
        """A reason to stop, or ''."""
        ...


class Maker(Protocol):
    """Turns a proposal into code (I/O: the built-in generator's space, or an LLM call)."""

    async def make(self, proposal: Proposal, candidate_id: str, step: int) -> Candidate | None:
        """None: nothing new can be made (the space is exhausted)."""
        ...

    def tokens_used(self) -> int: ...


@dataclass
class Budget:
    max_candidates: int
    max_wall_s: float = 0.0  # 0: no limit
    max_tokens: int = 0  # 0: no limit
    started: float = field(default_factory=time.monotonic)

    def reason(self, evaluations: int, tokens: int) -> str:
        if evaluations >= self.max_candidates:
            return f"{self.max_candidates} candidate(s) evaluated (--max-candidates)"
        if self.max_wall_s and time.monotonic() - self.started >= self.max_wall_s:
            return f"wall-clock budget of {self.max_wall_s:g} s spent (search.max_wall_s)"
        if self.max_tokens and tokens >= self.max_tokens:
            return f"token budget of {self.max_tokens} spent (search.max_tokens)"
        return ""


class Search:
    def __init__(self, ctx: RunContext, db: KernelDB, strategy: Strategy, maker: Maker, budget: Budget,
                 prefix: str) -> None:
        self.ctx, self.db, self.strategy, self.maker, self.budget = ctx, db, strategy, maker, budget
        self.prefix = prefix
        self.run_key = str(ctx.store.root.resolve())
        mine = db.entries(run=self.run_key)
        self.evaluations = sum(e.state == "done" for e in mine)  # a resumed run counts what it did
        self.reserved = 0  # candidates in flight (they count against the budget already)
        self.number = _last_number(ctx, prefix, [e.candidate_id for e in mine])
        self.duplicate_streak = 0
        self.exhausted = False
        self.best = max((e.score for e in db.entries(state="done")), default=0.0)

    async def run(self) -> str:
        self.strategy.seed(self.db.entries(state="done"))
        resumed = [e for e in self.db.entries(run=self.run_key, state="pending")]
        width = max(1, self.ctx.evaluator.width)
        running: set[asyncio.Future[None]] = set()
        while True:
            stop = self.stop_reason()
            while not stop and len(running) < width:
                work = self._resumed_work(resumed.pop(0)) if resumed else self._next_work()
                if work is None:
                    break
                self.reserved += 1
                running.add(work)
                stop = self.stop_reason()
            if not running:
                reason = stop or "the strategy has nothing more to propose"
                self.ctx.store.event("search_stop", reason=reason, evaluations=self.evaluations, best=self.best)
                self.ctx.reporter.info(f"search stops: {reason}")
                return reason
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for finished in done:
                finished.result()  # a broken system (LLMError, a dead device) stops the search here

    def stop_reason(self) -> str:
        if self.exhausted:
            return "every candidate of the search space was evaluated"
        if self.duplicate_streak >= DUPLICATE_STREAK_LIMIT:
            return f"{DUPLICATE_STREAK_LIMIT} proposals in a row were duplicates of known kernels"
        return self.budget.reason(self.evaluations + self.reserved, self.maker.tokens_used()) or self.strategy.should_stop()

    def _next_work(self) -> asyncio.Future[None] | None:
        proposal = self.strategy.propose()
        if proposal is None:
            return None
        self.number += 1
        return asyncio.ensure_future(self._child(proposal, f"{self.prefix}-{self.number}", self.number))

    def _resumed_work(self, entry: Entry) -> asyncio.Future[None]:
        parent = self.db.get(entry.parents[0]) if entry.parents else None
        candidate = Candidate(id=entry.candidate_id, dsl=self.ctx.config.dsl, code=entry.code, agent=entry.agent,
                              parent_id=parent.candidate_id if parent else None, step=entry.generation,
                              params=entry.params, note=entry.note)
        self.ctx.store.event("search_resumed_candidate", candidate=entry.candidate_id, key=entry.key)
        return asyncio.ensure_future(self._evaluate(candidate, entry, Proposal(parent, entry.island)))

    async def _child(self, proposal: Proposal, candidate_id: str, step: int) -> None:
        candidate, entry = None, None
        try:
            candidate = await self.maker.make(proposal, candidate_id, step)
            if candidate is None:
                self.exhausted = True
            else:
                entry = self._admit(candidate, proposal)
        finally:
            if entry is None:
                self.reserved -= 1  # nothing to evaluate: the slot is free again
        if candidate is not None and entry is not None:
            await self._evaluate(candidate, entry, proposal)

    def _admit(self, candidate: Candidate, proposal: Proposal) -> Entry | None:
        """The new kernel's row (pending), or None for a duplicate, which is observed instead."""
        known = self.db.get(normalized_digest(candidate.code)) or self.db.by_params(candidate.params)
        if known is not None:
            self.duplicate_streak += 1
            self.ctx.store.event("duplicate", candidate=candidate.id, same_as=known.candidate_id, key=known.key)
            if known.state == "done":
                self.strategy.observe(known, proposal, evaluated=False)
            return None
        self.duplicate_streak = 0
        parents = (proposal.parent.key,) if proposal.parent else ()
        return self.db.propose(candidate, self.run_key, parents, proposal.island)

    async def _evaluate(self, candidate: Candidate, entry: Entry, proposal: Proposal) -> None:
        try:
            result = await evaluate_one(self.ctx, candidate, profile=True)
            done = self.db.record(entry.key, result)
        finally:
            self.reserved -= 1
        self.evaluations += 1
        self.best = max(self.best, done.score)
        self.ctx.store.event("search_result", candidate=candidate.id, key=done.key, parents=list(done.parents),
                             generation=done.generation, island=done.island, status=done.status,
                             speedup=done.speedup, evaluations=self.evaluations, best=round(self.best, 4))
        self.strategy.observe(done, proposal)


def _last_number(ctx: RunContext, prefix: str, recorded: list[str]) -> int:
    """Candidate ids stay unique across resumes: numbering continues after every id this run
    wrote (candidate files) or proposed (kernel DB rows, a kill may come before the file)."""
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)$")
    names = [p.stem for p in (ctx.store.root / "candidates").glob("*.py")] + recorded
    numbers = [int(m.group(1)) for name in names if (m := pattern.match(name))]
    return max(numbers, default=0)


__all__ = ["Budget", "Maker", "Proposal", "Search", "Strategy"]
