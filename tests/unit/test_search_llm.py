"""evolve / adaptive_search on the LLM path with the scripted fake model and a fake evaluator:
KernelGen sees the parent's code and evidence and the tiered inspirations; ids, usage, budgets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from search_fakes import FakeEvaluator, context

from akg_agents.llm.fake import ScriptedProvider
from akg_agents.llm.meter import MeteredProvider
from akg_agents.store.kernel_db import KernelDB
from akg_agents.tasks.loader import load_task
from akg_agents.workflows.engine import Budget
from akg_agents.workflows.llm_search import run_llm_search
from akg_agents.workflows.strategies import AdaptiveUCB, Evolve

ROOT = Path(__file__).resolve().parents[2]


def kernel(speed: float, extra: str = "") -> str:
    return f"```python\nimport torch.nn as nn\nSPEED = {speed}\n{extra}\n\nclass ModelNew(nn.Module):\n    pass\n```"


def _search(tmp_path: Path, strategy, answers: list[str], budget: int, max_tokens: int = 0):  # type: ignore[no-untyped-def]
    fake = ScriptedProvider([("# Task: write the kernel", answers)])
    evaluator = FakeEvaluator()
    ctx = context(tmp_path, evaluator, budget, task=load_task(ROOT / "tests" / "fixtures" / "tasks" / "relu_small.py"),
                  model="llm")
    db = KernelDB(tmp_path / "k.sqlite")
    asyncio.run(run_llm_search(ctx, db, strategy, Budget(budget, max_tokens=max_tokens), "evo", MeteredProvider(fake)))
    return ctx, db, fake, evaluator


def test_evolve_shows_kernelgen_the_parent_evidence_and_tiered_inspirations(tmp_path: Path) -> None:
    answers = [kernel(1.0), kernel(0.0, "BROKEN = 1"), kernel(2.0), kernel(1.5), kernel(1.2)]
    ctx, db, fake, evaluator = _search(tmp_path, Evolve(islands=1, exploit=1.0), answers, budget=5)
    assert len(evaluator.calls) == 5
    assert [c.id for c, _ in ctx.store.results.values()] == ["evo-1", "evo-2", "evo-3", "evo-4", "evo-5"]
    prompts = [messages[-1].content for _, messages in fake.calls]
    assert "## Inspirations" not in prompts[0] and "## Previous attempt" not in prompts[0]  # a fresh start
    last = prompts[-1]
    assert "## Previous attempt" in last and "What the verifier found" in last and "speedup" in last
    assert "### good (" in last and "### poor (" in last and "compile_error" in last
    assert "Write a faster one" in last
    best = db.best(1)[0]
    assert best.speedup == 2.0 and best.parents  # derived from an earlier kernel
    usage = json.loads((ctx.store.root / "llm_usage.json").read_text())
    assert usage["total"]["calls"] == 5


def test_a_token_budget_stops_the_llm_search(tmp_path: Path) -> None:
    answers = [kernel(1.0 + i / 10) for i in range(10)]
    _, _, fake, evaluator = _search(tmp_path, AdaptiveUCB(patience=100), answers, budget=10, max_tokens=1)
    assert len(fake.calls) == 1 and len(evaluator.calls) == 1  # the first call spent the whole budget
    events = (Path(next((tmp_path).glob("*/events.jsonl")))).read_text()
    assert "token budget of 1 spent" in events
