"""Makers: the I/O half of a search step, turning a Proposal into a Candidate.

    BuiltinMaker  the built-in generator's parameter space (tunable parameters and template
                  choices; a point's code made when picked, lazy_space.py): a child is the parent with one
                  parameter moved to a neighbouring value (more when every near neighbour is
                  known); ties go toward the good inspiration's parameters, then to a seeded draw.
    LLMMaker      KernelGen, shown the parent's code and its evidence (the verifier's and the
                  profiler's findings) and the tiered inspirations.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from typing import Any

from akg_agents.agents.context import KernelJob
from akg_agents.agents.kernel_gen import Inspiration, KernelGen
from akg_agents.llm.meter import MeteredProvider
from akg_agents.records import Candidate
from akg_agents.store.kernel_db import KernelDB, normalized_digest
from akg_agents.workflows.engine import Proposal
from akg_agents.workflows.lazy_space import Space

FASTER = ("This kernel is correct. Write a faster one: keep what makes it correct, change how it uses "
          "the hardware (memory traffic, vectorization, parallelism, fusion). The inspirations show what "
          "other attempts achieved.")
REPAIR = "This kernel failed. Fix what the evidence shows, keeping the approach where it is sound."


class BuiltinMaker:
    """`space`: the generator's points (workflows/lazy_space.py); a point's code is made only when
    this maker picks it. A list of candidates is a space generated whole."""

    def __init__(self, space: Space | list[Candidate], db: KernelDB, seed: int = 0) -> None:
        self.space = space if isinstance(space, Space) else Space.of(space)
        self.db = db
        self.rng = random.Random(seed)
        self.taken: set[int] = set()  # points proposed by this run (maybe in flight), declined or duplicates
        self.made_digests: set[str] = set()  # normalized sources this maker handed out
        self.values = _ordered_values(self.space.points)

    def tokens_used(self) -> int:
        return 0

    def _unseen(self) -> list[int]:
        """Points not tried yet: not taken here, not in the kernel DB by parameters, nor (where the
        code is made already) by normalized source."""
        unseen = []
        for index, params in enumerate(self.space.points):
            if index in self.taken or self.db.by_params(params) is not None:
                continue
            made = self.space.made.get(index) if self.space.known(index) else None
            if made is not None and self.db.get(normalized_digest(made.code)) is not None:
                continue
            unseen.append(index)
        return unseen

    async def make(self, proposal: Proposal, candidate_id: str, step: int) -> Candidate | None:
        while True:
            unseen = self._unseen()
            if not unseen:
                return None
            index = self._choose(proposal, unseen)
            self.taken.add(index)
            made = self.space.made[index] if self.space.known(index) else await asyncio.to_thread(self.space.candidate, index)
            if made is None:
                continue  # the generator declined this point (its reason is in space.declined)
            digest = normalized_digest(made.code)
            if digest in self.made_digests or self.db.get(digest) is not None:
                continue  # other parameters, the same kernel: evaluated already (or in flight)
            self.made_digests.add(digest)
            parent = proposal.parent
            moved = _changes(parent.params if parent else {}, made.params)
            return replace(made, id=candidate_id, step=step, parent_id=parent.candidate_id if parent else None,
                           note=f"{proposal.note}; {moved or 'the generator default'}")

    def _choose(self, proposal: Proposal, unseen: list[int]) -> int:
        points = self.space.points
        parent = proposal.parent
        if parent is None or not parent.params:
            return unseen[0]  # the generator's own order: its default parameters first
        distances = [self.distance(parent.params, points[i]) for i in unseen]
        nearest = [i for i, d in zip(unseen, distances, strict=True) if d == min(distances)]
        good = next((e for tier, e in proposal.inspirations if tier == "good"), None)
        if good is not None and good.params:
            toward = [self.distance(good.params, points[i]) for i in nearest]
            nearest = [i for i, d in zip(nearest, toward, strict=True) if d == min(toward)]
        return self.rng.choice(nearest)

    def distance(self, a: dict[str, Any], b: dict[str, Any]) -> int:
        """Steps between two parameter settings: a numeric value's position in its sorted list,
        any other value 1 when it differs."""
        total = 0
        for name in set(a) | set(b):
            values = self.values.get(name, [])
            if a.get(name) == b.get(name):
                continue
            if a.get(name) in values and b.get(name) in values and all(isinstance(v, (int, float)) for v in values):
                total += abs(values.index(a.get(name)) - values.index(b.get(name)))
            else:
                total += 1
        return total

def _ordered_values(points: list[dict[str, Any]]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for params in points:
        for name, value in params.items():
            if value not in found.setdefault(name, []):
                found[name].append(value)
    for name, values in found.items():
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            found[name] = sorted(values)
    return found


def _changes(old: dict[str, Any], new: dict[str, Any]) -> str:
    return ", ".join(f"{k} {old.get(k)} -> {v}" for k, v in sorted(new.items()) if old and old.get(k) != v)


class LLMMaker:
    def __init__(self, gen: KernelGen, job: KernelJob, meter: MeteredProvider, dsl: str) -> None:
        self.gen, self.job, self.meter, self.dsl = gen, job, meter, dsl

    def tokens_used(self) -> int:
        return self.meter.total.prompt_tokens + self.meter.total.completion_tokens

    async def make(self, proposal: Proposal, candidate_id: str, step: int) -> Candidate | None:
        parent = proposal.parent
        inspirations = [Inspiration(e.code, e.describe(), tier) for tier, e in proposal.inspirations]
        if parent is None:
            code = await self.gen.generate(self.job, inspirations=inspirations)
        else:
            code = await self.gen.generate(self.job, previous=parent.code, feedback=parent.evidence,
                                           suggestion=FASTER if parent.passed else REPAIR, inspirations=inspirations)
        return Candidate(id=candidate_id, dsl=self.dsl, code=code, agent="kernel_gen",
                         parent_id=parent.candidate_id if parent else None, step=step, note=proposal.note[:200])


__all__ = ["BuiltinMaker", "LLMMaker"]
