"""Search policies behind the engine's seam: evolve (islands) and adaptive_search (UCB).

Both are pure: they see kernel DB entries, keep their own bookkeeping, and answer propose /
observe / should_stop. Random choices come from one seeded generator, so a run is reproducible
given the same results.

    evolve           islands of kernels; each keeps its elites; every `migrate_every` evaluations
                     each island's best joins the next island (a ring); a parent is an elite with
                     probability `exploit`, else any member (exploration); every proposal carries
                     tiered inspirations (good / medium / poor) from the whole database.
    adaptive_search  every verified kernel is an arm; the next parent maximizes
                     value + c * sqrt(ln N / (n + 1)), value = the parent's rank among verified
                     kernels (best 1, worst 0), n = children it already had, N = all children;
                     stops when the best speedup has not improved by more than `threshold`
                     (relative) for `patience` evaluations.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from akg_agents.store.kernel_db import Entry
from akg_agents.workflows.engine import Proposal

TIERS = ("good", "medium", "poor")


def tiered_inspirations(entries: list[Entry], exclude: str | None) -> tuple[tuple[str, Entry], ...]:
    """One kernel per tier: the best verified one, a middle one, and a poor one (the slowest
    verified, or a failure whose evidence says what not to do)."""
    done = [e for e in entries if e.state == "done" and e.key != exclude]
    passed = sorted((e for e in done if e.passed), key=lambda e: -e.score)
    failed = [e for e in done if not e.passed]
    chosen: list[tuple[str, Entry]] = []
    if passed:
        chosen.append(("good", passed[0]))
    if len(passed) >= 3:
        chosen.append(("medium", passed[len(passed) // 2]))
    poor = failed[-1] if failed else (passed[-1] if len(passed) >= 2 else None)
    if poor is not None and all(poor.key != e.key for _, e in chosen):
        chosen.append(("poor", poor))
    return tuple(chosen)


@dataclass
class Convergence:
    """No relative improvement above `threshold` for `patience` evaluations -> converged."""

    threshold: float
    patience: int
    best: float = 0.0
    stale: int = 0

    def add(self, score: float) -> None:
        if score > self.best * (1.0 + self.threshold) and score > 0.0:
            self.best, self.stale = score, 0
        else:
            self.best = max(self.best, score)
            self.stale += 1

    def reason(self) -> str:
        if self.best > 0.0 and self.stale >= self.patience:
            return (f"converged: no improvement above {self.threshold:.0%} in the last {self.stale} evaluations "
                    f"(best {self.best:.3f}x)")
        return ""


@dataclass
class Evolve:
    islands: int = 2
    elites: int = 2
    migrate_every: int = 4
    exploit: float = 0.7
    random_seed: int = 0
    members: list[list[Entry]] = field(default_factory=list)
    known: dict[str, Entry] = field(default_factory=dict)
    turn: int = 0
    observed: int = 0
    migrations: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.random_seed)
        self.members = [[] for _ in range(self.islands)]

    def seed(self, known: list[Entry]) -> None:
        """Known kernels are dealt to the islands best first, so every island starts from a good one."""
        for index, entry in enumerate(sorted(known, key=lambda e: -e.score)):
            self._join(index % self.islands, entry)

    def _join(self, island: int, entry: Entry) -> None:
        self.known[entry.key] = entry
        if all(e.key != entry.key for e in self.members[island]):
            self.members[island].append(entry)

    def elites_of(self, island: int) -> list[Entry]:
        ranked = sorted((e for e in self.members[island] if e.passed), key=lambda e: -e.score)
        return ranked[: self.elites]

    def propose(self) -> Proposal:
        island = self.turn % self.islands
        self.turn += 1
        parent = self._parent(island)
        return Proposal(parent, island, tiered_inspirations(list(self.known.values()), parent.key if parent else None),
                        note=f"evolve: island {island}, parent {parent.candidate_id if parent else 'none (fresh)'}")

    def _parent(self, island: int) -> Entry | None:
        elites = self.elites_of(island)
        pool = self.members[island]
        if elites and self.rng.random() < self.exploit:
            return self.rng.choice(elites)  # exploitation: one of the island's best
        if pool:
            return self.rng.choice(pool)  # exploration: any member, failures included (they get repaired)
        everyone = sorted(self.known.values(), key=lambda e: -e.score)
        return everyone[0] if everyone else None

    def observe(self, entry: Entry, proposal: Proposal, evaluated: bool = True) -> None:
        self._join(proposal.island, entry)
        self.observed += 1
        if self.islands > 1 and self.observed % self.migrate_every == 0:
            self.migrate()

    def migrate(self) -> None:
        """Each island's best joins the next island (a ring)."""
        bests = [self.elites_of(i)[:1] for i in range(self.islands)]
        for island, best in enumerate(bests):
            for entry in best:
                self._join((island + 1) % self.islands, entry)
        self.migrations += 1

    def should_stop(self) -> str:
        return ""


@dataclass
class AdaptiveUCB:
    c: float = 0.7
    patience: int = 6
    threshold: float = 0.02
    random_seed: int = 0
    known: dict[str, Entry] = field(default_factory=dict)
    children: dict[str, int] = field(default_factory=dict)  # parent key -> children proposed
    convergence: Convergence = field(init=False)

    def __post_init__(self) -> None:
        self.convergence = Convergence(self.threshold, self.patience)
        self.rng = random.Random(self.random_seed)

    def seed(self, known: list[Entry]) -> None:
        for entry in known:
            self.known[entry.key] = entry
        self.convergence.best = max((e.score for e in known), default=0.0)

    def scores(self) -> dict[str, float]:
        """UCB score of every verified kernel: rank value + c * sqrt(ln N / (n + 1))."""
        passed = sorted((e for e in self.known.values() if e.passed), key=lambda e: (-e.score, e.key))
        total = sum(self.children.values())
        scores = {}
        for rank, entry in enumerate(passed):
            value = 1.0 - rank / (len(passed) - 1) if len(passed) > 1 else 1.0
            visits = self.children.get(entry.key, 0)
            scores[entry.key] = value + self.c * math.sqrt(math.log(total + 1) / (visits + 1))
        return scores

    def propose(self) -> Proposal:
        scores = self.scores()
        if scores:
            key = max(scores, key=lambda k: (scores[k], -self.children.get(k, 0), k))
            parent: Entry | None = self.known[key]
        else:  # nothing verified yet: repair the latest failure, or start fresh
            failed = [e for e in self.known.values() if not e.passed]
            parent = failed[-1] if failed else None
        if parent is not None:
            self.children[parent.key] = self.children.get(parent.key, 0) + 1
        return Proposal(parent, 0, tiered_inspirations(list(self.known.values()), parent.key if parent else None),
                        note=f"adaptive_search: parent {parent.candidate_id if parent else 'none (fresh)'}")

    def observe(self, entry: Entry, proposal: Proposal, evaluated: bool = True) -> None:
        self.known[entry.key] = entry
        if evaluated:  # a duplicate costs no evaluation and says nothing new about convergence
            self.convergence.add(entry.score)

    def should_stop(self) -> str:
        return self.convergence.reason()


__all__ = ["TIERS", "AdaptiveUCB", "Convergence", "Evolve", "tiered_inspirations"]
