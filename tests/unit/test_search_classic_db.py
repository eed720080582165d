"""The fixed-pipeline workflows (default, coder_only, kernelgen_only) record every candidate they
evaluate in the task's kernel database, and a later search on the same task and target starts
from those kernels instead of evaluating them again."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest
from search_fakes import TASK, FakeEvaluator, space, speed

from akg_agents.config.settings import Settings
from akg_agents.records import Candidate, RunConfig, Task
from akg_agents.store.kernel_db import KernelDB, db_path, normalized_digest
from akg_agents.store.rundir import RunStore
from akg_agents.workflows import adaptive_search, builtin_search, get_workflow, lazy_space
from akg_agents.workflows.base import RunContext, evaluate_one


@pytest.fixture(autouse=True)
def fake_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    def generate(task: Task, dsl: str, count: int, threads: int = 0, precision: str = "fp32") -> list[Candidate]:
        return space()[:count]

    def open_space(task: Task, dsl: str, limit: int, threads: int, precision: str = "fp32") -> lazy_space.Space:
        return lazy_space.Space.of(space()[:limit])

    monkeypatch.setattr(builtin_search.isolated, "generate_isolated", generate)
    monkeypatch.setattr(lazy_space, "open_space", open_space)


def new_run(log_dir: Path, workflow: str, budget: int, evaluator: FakeEvaluator, model: str = "builtin") -> RunContext:
    config = RunConfig("torch", "cpu", "x86_64", "cpp", workflow, model, max_candidates=budget)
    store = RunStore.create(str(log_dir), config, TASK)
    return RunContext(TASK, config, store, evaluator, settings=Settings())  # type: ignore[arg-type]


@pytest.mark.parametrize("workflow", ["default", "coder_only", "kernelgen_only"])
def test_a_fixed_pipeline_records_every_candidate_with_its_verdict_and_timings(tmp_path: Path, workflow: str) -> None:
    ctx = new_run(tmp_path, workflow, 5, FakeEvaluator())
    asyncio.run(get_workflow(workflow)(ctx))
    assert ctx.kernel_db is None  # closed and detached when the workflow ends
    db = KernelDB(db_path(tmp_path, TASK, ctx.config))
    rows = db.entries()
    assert [r.params for r in rows] == [c.params for c in space()[:5]]
    assert all(r.state == "done" and r.run == str(ctx.store.root.resolve()) for r in rows)
    assert [r.candidate_id for r in rows] == [c.id for c in space()[:5]]
    for row in rows:
        assert row.key == normalized_digest(row.code)
        result = db.result(row.key)
        assert result is not None and result.status.value == row.status
        if row.params == {"block": 256, "unroll": 0}:  # the fake's compile failure, with its evidence
            assert row.status == "compile_error" and row.speedup is None and "simdlen" in row.evidence
        else:  # (the fake evaluator times every kernel, kernelgen_only's too)
            assert row.passed and math.isclose(row.speedup or 0.0, speed(row.params))
    assert any(r.status == "compile_error" for r in rows)


def test_a_later_search_starts_from_the_default_runs_kernels_and_skips_them(tmp_path: Path) -> None:
    first = new_run(tmp_path, "default", 5, FakeEvaluator())
    asyncio.run(get_workflow("default")(first))
    searched = FakeEvaluator()
    second = new_run(tmp_path, "adaptive_search", 4, searched)
    asyncio.run(adaptive_search.run(second))
    defaults = {c.code for c in space()[:5]}
    assert searched.calls and not defaults & set(searched.calls)  # nothing the default measured is measured again
    db = KernelDB(db_path(tmp_path, TASK, second.config))
    best_default = max((e for e in db.entries() if e.run == str(first.store.root.resolve())), key=lambda e: e.score)
    imported = [c.id for c, _ in second.store.results.values() if c.id.startswith("known-")]
    assert f"known-{best_default.key[:8]}" in imported  # the default's best joins the search's results
    mine = db.entries(run=str(second.store.root.resolve()))
    assert mine[0].parents == (best_default.key,)  # the first child is bred from it
    assert mine[0].generation == best_default.generation + 1


def test_lineage_duplicates_and_a_kill_between_the_two_records(tmp_path: Path) -> None:
    ctx = new_run(tmp_path, "default", 5, FakeEvaluator(), model="fake")
    ctx.kernel_db = db = KernelDB(tmp_path / "k.sqlite")
    first = Candidate(id="llm-1", dsl="cpp", code="SPEED = 1.0\n", agent="kernel_gen")
    fixed = Candidate(id="llm-2", dsl="cpp", code="SPEED = 1.5\n", agent="kernel_fixer", parent_id="llm-1")
    again = Candidate(id="llm-3", dsl="cpp", code="# the same kernel again\nSPEED   =   1.5\n", agent="kernel_gen")
    for candidate in (first, fixed, again):
        asyncio.run(evaluate_one(ctx, candidate, profile=True))
    rows = db.entries()
    assert [r.candidate_id for r in rows] == ["llm-1", "llm-2"]  # llm-3 is llm-2 reformatted: one kernel
    assert rows[1].parents == (rows[0].key,) and rows[1].generation == 1 and rows[1].agent == "kernel_fixer"
    assert rows[1].speedup == pytest.approx(1.5)
    # Killed after the run recorded llm-4 and before the database did: the resumed run fills the row in.
    late = Candidate(id="llm-4", dsl="cpp", code="SPEED = 2.0\n", agent="kernel_gen", parent_id="llm-2")
    ctx.kernel_db = None
    asyncio.run(evaluate_one(ctx, late, profile=True))
    assert db.by_candidate(str(ctx.store.root.resolve()), "llm-4") is None
    ctx.kernel_db = db
    evaluator_calls = len(ctx.evaluator.calls)  # type: ignore[attr-defined]
    asyncio.run(evaluate_one(ctx, late, profile=True))
    assert len(ctx.evaluator.calls) == evaluator_calls  # type: ignore[attr-defined]  # not evaluated again
    row = db.by_candidate(str(ctx.store.root.resolve()), "llm-4")
    assert row is not None and row.state == "done" and row.parents == (rows[1].key,) and row.speedup == pytest.approx(2.0)
