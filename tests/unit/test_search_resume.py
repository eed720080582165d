"""Resuming: the run's saved settings tree (no secrets) is what a resume uses; LLM candidate ids
continue across resumes instead of overwriting llm-1.py; --max-candidates bounds the LLM loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml
from search_fakes import FakeEvaluator, context

from akg_agents.config.settings import LLMSettings, Settings
from akg_agents.llm.fake import ScriptedProvider
from akg_agents.llm.meter import MeteredProvider
from akg_agents.store.saved_settings import save_settings, saved_settings
from akg_agents.tasks.loader import load_task
from akg_agents.workflows.llm_loop import run_llm

ROOT = Path(__file__).resolve().parents[2]


def test_the_saved_settings_tree_has_the_llm_but_no_key_and_resume_uses_it(tmp_path: Path) -> None:
    made_with = Settings(llm=LLMSettings(provider="exchange", exchange_dir="/x", api_key="sk-secret",
                                         models={"standard": "m1"}), verify_timeout=17.0)
    save_settings(tmp_path, made_with)
    text = (tmp_path / "settings.yaml").read_text()
    assert "sk-secret" not in text and "api_key" not in text
    assert yaml.safe_load(text)["llm"]["provider"] == "exchange"
    today = Settings(llm=LLMSettings(provider="openai_compat", api_key="sk-today"), verify_timeout=60.0)
    resumed = saved_settings(tmp_path, today)
    assert resumed is not None
    assert (resumed.llm.provider, resumed.llm.exchange_dir, resumed.llm.models) == ("exchange", "/x", {"standard": "m1"})
    assert resumed.llm.api_key == "sk-today" and resumed.verify_timeout == 17.0
    assert saved_settings(tmp_path / "elsewhere", today) is None  # a run saved before settings were


def _llm_run(folder: Path, answers: list[str], budget: int) -> FakeEvaluator:
    fake = ScriptedProvider([("# Task: decide the next step", "DECISION: regenerate\nREASON: try again\nSUGGESTION: x"),
                             ("# Task: write the kernel", answers)])
    evaluator = FakeEvaluator()
    task = load_task(ROOT / "tests" / "fixtures" / "tasks" / "relu_small.py")
    ctx = context(folder, evaluator, budget, task=task, model="llm")
    ctx.settings = Settings(optimize_below_speedup=0.0)
    asyncio.run(run_llm(ctx, design=False, profile=True, provider=MeteredProvider(fake)))
    return evaluator


def broken(number: int) -> str:
    return f"```python\nimport torch.nn as nn\nBROKEN = {number}\n\nclass ModelNew(nn.Module):\n    pass\n```"


def test_llm_ids_continue_across_resumes_and_max_candidates_bounds_the_loop(tmp_path: Path) -> None:
    first = _llm_run(tmp_path, [broken(i) for i in range(1, 9)], budget=2)
    assert len(first.calls) == 2  # --max-candidates 2 (max_step is 6)
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    llm_1 = (run / "candidates" / "llm-1.py").read_text()
    _llm_run(run, [broken(i) for i in range(11, 19)], budget=2)
    names = sorted(p.name for p in (run / "candidates").iterdir())
    assert names == ["llm-1.py", "llm-2.py", "llm-3.py", "llm-4.py"]
    assert (run / "candidates" / "llm-1.py").read_text() == llm_1 and "BROKEN = 11" in (run / "candidates" / "llm-3.py").read_text()
