"""The search workflows' built-in space is made lazily: parameter settings are enumerated up front,
a point's code is generated only when the search picks it (a loop nest's point is a PolyTOPS
schedule, seconds apiece; the whole grid used to be generated before the first evaluation)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from search_fakes import FakeEvaluator

from akg_agents.config.settings import Settings
from akg_agents.records import Candidate, RunConfig, Task
from akg_agents.store.kernel_db import KernelDB, db_path
from akg_agents.store.rundir import RunStore
from akg_agents.tasks import isolated
from akg_agents.workflows import adaptive_search, evolve, lazy_space
from akg_agents.workflows.base import RunContext
from akg_agents.workflows.engine import Budget, Search
from akg_agents.workflows.makers import BuiltinMaker
from akg_agents.workflows.strategies import AdaptiveUCB

MATMUL = Task(name="small_matmul", source="""import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, a, b):
        return torch.matmul(a, b)


def get_inputs():
    return [torch.randn(16, 24), torch.randn(24, 8)]


def get_init_inputs():
    return []
""")


def _count_generated(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Candidates whose code the generator made, through either door (whole space or one point)."""
    made: list[int] = []
    whole = isolated.generate_isolated

    def counted_whole(*args: Any, **kwargs: Any) -> list[Candidate]:
        out = whole(*args, **kwargs)
        made.append(len(out))
        return out

    request = lazy_space._Child.request

    def counted_request(self: Any, message: dict[str, Any]) -> dict[str, Any]:
        reply = request(self, message)
        made.append(len(reply.get("candidates", [])) + ("candidate" in reply))
        return reply

    monkeypatch.setattr(isolated, "generate_isolated", counted_whole)
    monkeypatch.setattr(lazy_space._Child, "request", counted_request)
    return made


@pytest.mark.parametrize("workflow", [adaptive_search, evolve])
def test_a_loop_nest_search_with_budget_4_generates_a_few_candidates_not_the_grid(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workflow: Any) -> None:
    first = isolated.generate_isolated(MATMUL, "cpp", 1, 0)[0]  # the generator's own first (a GEMM, or a loop nest)
    made = _count_generated(monkeypatch)
    config = RunConfig("torch", "cpu", "x86_64", "cpp", workflow.__name__.rsplit(".")[-1], "builtin", max_candidates=4)
    store = RunStore.create(str(tmp_path), config, MATMUL)
    evaluator = FakeEvaluator()
    ctx = RunContext(MATMUL, config, store, evaluator, settings=Settings())  # type: ignore[arg-type]
    asyncio.run(workflow.run(ctx))
    assert len(evaluator.calls) == 4 and len(set(evaluator.calls)) == 4
    # Generated: the four evaluated, and a few more only where another point made a kernel known
    # already (skipped, not evaluated). The whole grid was 84 distinct kernels here.
    assert 4 <= sum(made) <= 8
    events = [json.loads(line) for line in (store.root / "events.jsonl").read_text().splitlines()]
    space_event = next(e for e in events if e["event"] == "search_space")
    assert space_event["size"] >= 480 and space_event["made"] < 8  # the loop-nest grid, enumerated
    rows = KernelDB(db_path(tmp_path, MATMUL, config)).entries()
    assert len(rows) == 4 and rows[0].params == first.params  # the generator's default first
    assert any(r.params.get("generator") == "poly" for r in rows)


def test_a_point_made_alone_is_the_generators_candidate_for_those_parameters() -> None:
    space = lazy_space.open_space(MATMUL, "cpp", 512, 0)
    try:
        known = {i for i in range(len(space)) if space.known(i)}
        assert len(space) >= 480 and len(known) < 8
        eager = isolated.generate_isolated(MATMUL, "cpp", 8, 0)
        assert [space.points[i] for i in range(len(eager))][: len(known)] == [c.params for c in eager][: len(known)]
        for candidate in eager:
            index = space.points.index(candidate.params)
            made = space.candidate(index)
            assert made is not None and made.code == candidate.code
        lazily = [c for c in eager if space.points.index(c.params) not in known]
        assert lazily and space.generated == len(lazily)  # each made once, when asked for
        space.candidate(space.points.index(lazily[-1].params))
        assert space.generated == len(lazily)  # kept
    finally:
        space.close()


def test_with_the_memo_on_a_second_search_on_the_task_makes_nothing_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lazy_space, "OPENED", None)
    monkeypatch.setattr(lazy_space, "MADE", None)
    lazy_space.memo_on()
    first = lazy_space.open_space(MATMUL, "cpp", 512, 0)
    try:
        code = first.candidate(7)
    finally:
        first.close()
    second = lazy_space.open_space(MATMUL, "cpp", 512, 0)
    assert second.child is None and second.candidate(7) == code and second.generated == 0
    assert second.candidate(8) is not None and second.generated == 1 and second.child is not None  # started when needed
    second.close()


def test_a_row_program_space_is_generated_whole(tmp_path: Path) -> None:
    task = Task(name="relu", source=MATMUL.source.replace("torch.matmul(a, b)", "torch.relu(a) + b.sum()")
                .replace("torch.randn(24, 8)", "torch.randn(16, 24)"))
    space = lazy_space.open_space(task, "cpp", 512, 0)
    assert space.child is None and all(space.known(i) for i in range(len(space)))
    assert [c.params for c in isolated.generate_isolated(task, "cpp", 512, 0)] == space.points


class _Generator:
    """A fake tracing child: point 1 is declined, points 2 and 3 make the same kernel."""

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []

    def make(self, params: dict[str, Any]) -> Candidate | str:
        self.asked.append(params)
        if params["p"] == 1:
            return "the scheduler cannot take this one"
        body = "SPEED = 2.0\n" if params["p"] in (2, 3) else f"SPEED = 1.{params['p']}\n"
        return Candidate(id=f"builtin-{params['p']}", dsl="cpp", code=body, agent="builtin", params=params)

    def close(self) -> None:
        pass


def test_declined_points_and_a_second_source_for_a_known_kernel_are_never_evaluated(tmp_path: Path) -> None:
    from search_fakes import context

    first = Candidate(id="builtin-0", dsl="cpp", code="SPEED = 1.0\n", agent="builtin", params={"p": 0})
    generator = _Generator()
    space = lazy_space.Space([{"p": i} for i in range(6)], {0: first}, "fake", child=generator)
    evaluator = FakeEvaluator()
    ctx = context(tmp_path, evaluator, budget=10)
    db = KernelDB(tmp_path / "k.sqlite")
    asyncio.run(Search(ctx, db, AdaptiveUCB(patience=100), BuiltinMaker(space, db), Budget(10), "ucb").run())
    assert len(evaluator.calls) == len(set(evaluator.calls)) == 4  # points 0, 2 (or 3), 4, 5
    assert space.declined == {1: "the scheduler cannot take this one"}
    assert sorted(p["p"] for p in generator.asked) == [1, 2, 3, 4, 5]  # each point made once
    assert {e.params["p"] for e in db.entries()} & {2, 3} and len(db.entries()) == 4
