"""Search policies (UCB choice, islands, elites, migration, convergence) and the engine (duplicates,
budgets, asynchronous slots), with a fake evaluator whose speed is a function of the parameters."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

from search_fakes import FakeEvaluator, context, search, space, speed

from akg_agents.records import Candidate
from akg_agents.store.kernel_db import Entry, KernelDB
from akg_agents.workflows.engine import Budget, Proposal, Search
from akg_agents.workflows.strategies import AdaptiveUCB, Convergence, Evolve, tiered_inspirations


def entry(key: str, speedup: float | None, status: str = "passed") -> Entry:
    return Entry(key=key, candidate_id=key, run="r", code=f"K = '{key}'\n", state="done",
                 status=status if speedup is not None or status != "passed" else "compile_error",
                 speedup=speedup, candidate_ms=1.0 / speedup if speedup else None)


def test_ucb_picks_the_best_first_then_explores_by_the_formula() -> None:
    ucb = AdaptiveUCB(c=0.7)
    ucb.seed([entry("a", 2.0), entry("b", 1.5), entry("c", 1.0)])
    assert ucb.propose().parent.key == "a"  # ln(1) = 0: the rank value alone
    for _ in range(4):
        assert ucb.propose().parent.key == "a"
    # a had 5 children, b and c none: N = 5.
    scores = ucb.scores()
    assert math.isclose(scores["a"], 1.0 + 0.7 * math.sqrt(math.log(6) / 6))
    assert math.isclose(scores["b"], 0.5 + 0.7 * math.sqrt(math.log(6) / 1))
    assert math.isclose(scores["c"], 0.0 + 0.7 * math.sqrt(math.log(6) / 1))
    assert ucb.propose().parent.key == "b"  # the exploration term now outweighs a's rank


def test_ucb_without_a_verified_kernel_repairs_the_latest_failure_or_starts_fresh() -> None:
    ucb = AdaptiveUCB()
    assert ucb.propose().parent is None
    ucb.observe(entry("bad", None, "mismatch"), Proposal(None))
    assert ucb.propose().parent.key == "bad"


def test_convergence_stops_after_n_evaluations_without_relative_improvement() -> None:
    ucb = AdaptiveUCB(patience=3, threshold=0.05)
    ucb.observe(entry("a", 1.0), Proposal(None))
    ucb.observe(entry("b", 1.04), Proposal(None))  # +4%: below the threshold, stale 1
    ucb.observe(entry("c", 1.2), Proposal(None))  # +15%: progress, stale 0
    ucb.observe(entry("d", 1.0), Proposal(None))
    ucb.observe(entry("d", 1.0), Proposal(None), evaluated=False)  # a duplicate: no evaluation spent
    ucb.observe(entry("e", 1.21), Proposal(None))
    assert ucb.should_stop() == ""
    ucb.observe(entry("f", 0.5), Proposal(None))
    assert "converged" in ucb.should_stop() and "1.210x" in ucb.should_stop()


def test_convergence_never_stops_before_anything_passed() -> None:
    conv = Convergence(0.02, 2)
    for _ in range(5):
        conv.add(0.0)
    assert conv.reason() == ""


def test_evolve_deals_known_kernels_to_islands_and_keeps_elites() -> None:
    evolve = Evolve(islands=2, elites=2, exploit=1.0)
    evolve.seed([entry(k, s) for k, s in (("a", 3.0), ("b", 2.5), ("c", 2.0), ("d", 1.5), ("e", 1.0))])
    assert [e.key for e in evolve.members[0]] == ["a", "c", "e"]
    assert [e.key for e in evolve.elites_of(0)] == ["a", "c"]
    parents = {evolve.propose().parent.key for _ in range(20)}  # exploit=1: only elites, islands in turn
    assert parents <= {"a", "c", "b", "d"} and "e" not in parents


def test_evolve_migrates_each_islands_best_to_the_next_island() -> None:
    evolve = Evolve(islands=3, migrate_every=2)
    evolve.observe(entry("x", 2.0), Proposal(None, island=0))
    assert all(e.key != "x" for e in evolve.members[1])
    evolve.observe(entry("y", 1.0), Proposal(None, island=2))  # second observation: migration
    assert evolve.migrations == 1
    assert any(e.key == "x" for e in evolve.members[1])  # island 0's best -> island 1
    assert any(e.key == "y" for e in evolve.members[0])  # island 2's best -> island 0 (a ring)


def test_tiered_inspirations_good_medium_poor() -> None:
    known = [entry("a", 3.0), entry("b", 2.0), entry("c", 1.0), entry("f", None, "mismatch")]
    tiers = dict(tiered_inspirations(known, exclude="a"))
    assert tiers["good"].key == "b" and tiers["poor"].key == "f" and "medium" not in tiers
    tiers = dict(tiered_inspirations([*known, entry("d", 0.5)], exclude=None))
    assert (tiers["good"].key, tiers["medium"].key, tiers["poor"].key) == ("a", "c", "f")


class ScriptedMaker:
    """Returns the given codes in order (a reformatted copy of an earlier one included)."""

    def __init__(self, codes: list[str]) -> None:
        self.codes = codes

    def tokens_used(self) -> int:
        return 0

    async def make(self, proposal: Proposal, candidate_id: str, step: int) -> Candidate | None:
        if not self.codes:
            return None
        return Candidate(id=candidate_id, dsl="cpp", code=self.codes.pop(0), agent="kernel_gen")


def test_a_duplicate_by_normalized_source_is_not_evaluated(tmp_path: Path) -> None:
    evaluator = FakeEvaluator()
    ctx = context(tmp_path, evaluator, budget=5)
    db = KernelDB(tmp_path / "k.sqlite")
    codes = ["A = 1\n", "# same kernel, reformatted\nA   =   1\n\n", "A = 2\n"]
    asyncio.run(Search(ctx, db, AdaptiveUCB(), ScriptedMaker(codes), Budget(5), "t").run())
    assert evaluator.calls == ["A = 1\n", "A = 2\n"]
    assert len(db.entries()) == 2
    events = (ctx.store.root / "events.jsonl").read_text()
    assert '"event": "duplicate"' in events and '"same_as": "t-1"' in events


def test_builtin_search_never_evaluates_the_same_parameters_twice_and_respects_the_budget(tmp_path: Path) -> None:
    evaluator = FakeEvaluator()
    ctx = context(tmp_path, evaluator, budget=10)
    db = KernelDB(tmp_path / "k.sqlite")
    asyncio.run(search(ctx, db, "ucb", budget=10).run())
    assert len(evaluator.calls) == 10 == len(set(evaluator.calls))
    assert evaluator.calls[0] == space()[0].code  # a fresh search starts from the generator's default
    rows = db.entries()
    assert all(r.parents for r in rows[1:]) and rows[0].parents == ()
    assert max(r.generation for r in rows) >= 2


def test_a_search_stops_when_the_space_is_exhausted(tmp_path: Path) -> None:
    evaluator = FakeEvaluator()
    ctx = context(tmp_path, evaluator, budget=100)
    db = KernelDB(tmp_path / "k.sqlite")
    reason = asyncio.run(search(ctx, db, "evolve", budget=100).run())
    assert "every candidate" in reason and len(evaluator.calls) == len(space())
    best = db.best(1)[0]
    assert best.params == {"block": 4096, "unroll": 4} and math.isclose(best.speedup, speed(best.params))


def test_slots_are_refilled_as_they_free_not_in_rounds(tmp_path: Path) -> None:
    evaluator = FakeEvaluator(width=3, delay_s=0.01)
    ctx = context(tmp_path, evaluator, budget=7)
    db = KernelDB(tmp_path / "k.sqlite")
    asyncio.run(search(ctx, db, "evolve", budget=7).run())
    assert len(evaluator.calls) == 7 and evaluator.most_active == 3


def test_a_new_run_starts_from_the_best_kernels_an_earlier_run_found(tmp_path: Path) -> None:
    db = KernelDB(tmp_path / "k.sqlite")
    asyncio.run(search(context(tmp_path / "one", FakeEvaluator(), 6), db, "ucb", budget=6).run())
    best_before = db.best(1)[0]
    second = FakeEvaluator()
    ctx = context(tmp_path / "two", second, 4)
    from akg_agents.workflows.search_run import _start_from_known

    _start_from_known(ctx, db, 3)
    asyncio.run(search(ctx, db, "ucb", budget=4).run())
    assert best_before.code not in second.calls  # known kernels are not evaluated again
    assert any(c.id == f"known-{best_before.key[:8]}" for c, _ in ctx.store.results.values())
    assert db.best(1)[0].score >= best_before.score
    assert len(second.calls) == 4
