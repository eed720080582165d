"""The default LLM workflow end to end with the scripted fake: design, generate, verify, fix, profile."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from akg_agents.config.settings import load_settings
from akg_agents.llm.fake import ScriptedProvider
from akg_agents.llm.meter import MeteredProvider
from akg_agents.records import RunConfig
from akg_agents.store.rundir import RunStore
from akg_agents.tasks.loader import load_task
from akg_agents.workflows.base import RunContext
from akg_agents.workflows.llm_loop import run_llm
from akg_agents.workflows.runner import make_evaluator

ROOT = Path(__file__).resolve().parents[2]
GOOD = '''```python
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

CPP_SOURCE = r"""
#include <cstdint>
extern "C" void relu_k(const float* x, float* y, int64_t n) {
    #pragma omp parallel for simd
    for (int64_t i = 0; i < n; ++i) { float v = x[i]; y[i] = v < 0.0f ? 0.0f : v; }
}
"""
_lib = load_cpp(CPP_SOURCE)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _lib.relu_k(x, y, x.numel() - 1)
        return y
```'''
FIX = "<<<<<<< SEARCH\n        _lib.relu_k(x, y, x.numel() - 1)\n=======\n        _lib.relu_k(x, y, x.numel())\n>>>>>>> REPLACE"


def _run_relu(tmp_path: Path, cache_dir: Path, fake: ScriptedProvider, workflow: str, design: bool) -> RunStore:
    """One LLM loop on the small relu task with a scripted provider; returns the run's store."""
    task = load_task(ROOT / "tests" / "fixtures" / "tasks" / "relu_small.py")
    config = RunConfig("torch", "cpu", "x86_64", "cpp", workflow, "llm", max_step=4, run_times=3, warmup_times=1)
    store = RunStore.create(str(tmp_path), config, task)
    evaluator = make_evaluator(config, load_settings("cpp", {"cache_dir": str(cache_dir)}))
    try:
        asyncio.run(run_llm(RunContext(task, config, store, evaluator), design=design, profile=True,
                            provider=MeteredProvider(fake)))
    finally:
        evaluator.close()
    return store


def test_design_generate_fix_profile(tmp_path: Path, cache_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CONFIG", str(tmp_path / "none.yaml"))
    monkeypatch.setenv("AKG_AGENTS_OPTIMIZE_BELOW_SPEEDUP", "0")  # this test scripts the repair path only
    fake = ScriptedProvider([
        ("# Task: design a kernel", "## Plan\nflat parallel loop, one pass over memory\n## Tunable parameters\n- SCHED = static\n"),
        ("# Task: decide the next step", "DECISION: fix\nREASON: the last element is never written\nSUGGESTION: pass x.numel()"),
        ("# Task: fix the kernel", ["<<<<<<< SEARCH\nnot there\n=======\nx\n>>>>>>> REPLACE", FIX]),
        ("# Task: write the kernel", GOOD),
    ])
    store = _run_relu(tmp_path, cache_dir, fake, "default", design=True)
    statuses = [r.status.value for _, r in store.results.values()]
    assert statuses == ["mismatch", "passed"]
    events = [json.loads(line) for line in (store.root / "events.jsonl").read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert "decision" in kinds and "answer_unusable" in kinds and kinds[-1] == "llm_usage"
    assert [level for level, _ in fake.calls] == ["complex", "standard", "standard", "fast", "fast"]
    prompts = sorted(p.name for p in (store.root / "prompts").iterdir())
    assert prompts[0] == "001_kernel_designer.prompt.md" and len(prompts) == 10
    assert json.loads((store.root / "llm_usage.json").read_text())["total"]["calls"] == 5


def test_a_kernel_slower_than_eager_gets_an_optimization_round(tmp_path: Path, cache_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CONFIG", str(tmp_path / "none.yaml"))
    monkeypatch.setenv("AKG_AGENTS_OPTIMIZE_BELOW_SPEEDUP", "1000")  # every kernel counts as slow here
    correct = GOOD.replace("x.numel() - 1", "x.numel()")
    fake = ScriptedProvider([
        ("slower than eager PyTorch", "DECISION: stop\nREASON: eager is already at the memory limit\nSUGGESTION: none"),
        ("# Task: write the kernel", correct),
    ])
    store = _run_relu(tmp_path, cache_dir, fake, "coder_only", design=False)
    assert [r.status.value for _, r in store.results.values()] == ["passed"]
    events = [json.loads(line) for line in (store.root / "events.jsonl").read_text().splitlines()]
    decisions = [e for e in events if e["event"] == "decision"]
    assert len(decisions) == 1 and decisions[0]["action"] == "stop"
    conductor_prompt = next(p for p in (store.root / "prompts").iterdir() if "conductor.prompt" in p.name).read_text()
    assert "passed verification but is slower than eager" in conductor_prompt and "speedup" in conductor_prompt
