"""Deferred evaluation on the CPU: generate here with --defer, evaluate the bundles "elsewhere"
(evaluate_bundles, as `akg_cli evaluate` does), resume; the same verdicts as a direct run, no
evaluation the workflow did not ask for, no LLM prompt paid twice, and results bound to their job."""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from akg_agents.config.settings import Settings, load_settings
from akg_agents.errors import ConfigError, RunStoreError
from akg_agents.records import Candidate, RunConfig, Status, Task, to_dict
from akg_agents.runtime.deferred import RESULT_FILE, BundleBox, DeferredEvaluator, Job
from akg_agents.runtime.deferred_eval import evaluate_bundles
from akg_agents.runtime.parked import RunParked
from akg_agents.store.rundir import RunStore
from akg_agents.tasks.loader import load_task
from akg_agents.verify.evaluate import VerifySettings
from akg_agents.workflows.runner import RunOutcome, execute, resume

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit"))
from llm_server import ScriptedServer, chat_body  # noqa: E402

TASK = load_task(ROOT / "tests" / "fixtures" / "tasks" / "relu_small.py")
RELU = '''```python
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

CPP_SOURCE = r"""
#include <cstdint>
extern "C" void relu_k(const float* x, float* y, int64_t n) {
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
DECIDE = "DECISION: fix\nREASON: the last element is never written\nSUGGESTION: pass x.numel()"


def _settings(tmp: Path, cache_dir: Path, **extra: object) -> Settings:
    return load_settings("cpp", {"cache_dir": str(cache_dir), "log_dir": str(tmp / "runs"), **extra})


def _config(workflow: str, model: str, defer: str = "") -> RunConfig:
    return RunConfig("torch", "cpu", "x86_64", "cpp", workflow, model, max_candidates=3, run_times=3, warmup_times=1,
                     threads=1, defer_dir=defer)


def _round_trip(config: RunConfig, settings: Settings) -> tuple[RunOutcome, int, int]:
    """Park, evaluate, resume until the run finishes: (outcome, rounds, bundles evaluated)."""
    with pytest.raises(RunParked) as parked:
        execute(TASK, config, settings)
    run_dir, rounds, evaluated = parked.value.runs[0], 1, 0
    assert RunStore.open(run_dir).state() == "parked"
    while True:
        evaluated += len(evaluate_bundles(Path(config.defer_dir), [0], settings.resolved_cache_dir()).evaluated)
        try:
            return resume(str(run_dir), settings), rounds, evaluated
        except RunParked:
            rounds += 1
            assert rounds < 10


def _verdicts(outcome: RunOutcome) -> dict[str, str]:
    return {c.digest: r.status.value for c, r in outcome.store.results.values()}


def test_builtin_round_trip_matches_a_direct_run_and_evaluates_nothing_more(tmp_path: Path, cache_dir: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CONFIG", str(tmp_path / "none.yaml"))
    settings = _settings(tmp_path, cache_dir)
    direct = execute(TASK, _config("default", "builtin"), settings)
    defer = tmp_path / "bundles"
    outcome, rounds, evaluated = _round_trip(_config("default", "builtin", str(defer)), settings)
    assert _verdicts(outcome) == _verdicts(direct) and outcome.store.state() == "finished"
    kinds = [d.name.split("-")[1] for d in BundleBox(defer).bundle_dirs()]
    raced = 1 if (direct.store.root / "race.json").exists() else 0
    # one prepare, one bundle per candidate the direct run evaluated, and its race: nothing more
    assert sorted(kinds) == sorted(["prepare"] + ["candidate"] * len(direct.store.results) + ["race"] * raced)
    assert evaluated == len(kinds) and rounds == 2 + raced
    again = evaluate_bundles(defer, [0], settings.resolved_cache_dir())  # evaluated twice: nothing is evaluated again
    assert again.evaluated == [] and again.already == len(kinds)
    assert resume(str(outcome.store.root), settings).best == outcome.best or outcome.best is None


def test_llm_round_trip_pays_each_prompt_once(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CONFIG", str(tmp_path / "none.yaml"))
    monkeypatch.setenv("AKG_AGENTS_OPTIMIZE_BELOW_SPEEDUP", "0")
    script = [(200, chat_body(RELU)), (200, chat_body(DECIDE)), (200, chat_body(FIX))]
    with ScriptedServer(script) as server:
        llm = {"provider": "openai_compat", "base_url": server.url, "api_key": "k",
               "models": {"complex": "m", "standard": "m", "fast": "m"}}
        settings = _settings(tmp_path, cache_dir, llm=llm)
        outcome, rounds, _ = _round_trip(_config("kernelgen_only", "llm", str(tmp_path / "bundles")), settings)
        asked = len(server.requests)
    statuses = [r.status for _, r in sorted(outcome.store.results.values(), key=lambda cr: cr[0].step)]
    assert statuses == [Status.MISMATCH, Status.PASSED]
    assert asked == 3 and rounds == 3  # generate, decide, fix: each asked once across three resumes
    usage = json.loads((outcome.store.root / "llm_usage.json").read_text())
    assert usage["total"]["calls"] == 3


def _job(task: Task, code: str) -> Job:
    return Job("candidate", task, "cpp", VerifySettings(), (Candidate("c", "cpp", code),), True)


def test_a_result_applies_only_to_its_own_job(tmp_path: Path) -> None:
    box = BundleBox(tmp_path)
    first, second = _job(TASK, "code A"), _job(TASK, "code B")
    other_task = _job(replace(TASK, source=TASK.source + "\n# changed\n"), "code A")
    for job in (first, second, other_task):
        box.write(job)
    result = {"eval_result": {"candidate_id": "c", "status": "passed", "message": "ok"}}
    box.write_result(tmp_path / first.bundle_id, first, result, {})
    assert box.outcome(first) == result and box.outcome(second) is None
    for wrong, what in ((second, "another candidate"), (other_task, "another task")):
        shutil.copy(tmp_path / first.bundle_id / RESULT_FILE, tmp_path / wrong.bundle_id / RESULT_FILE)
        with pytest.raises(RunStoreError, match=what):
            box.outcome(wrong)
    path = tmp_path / first.bundle_id / RESULT_FILE
    data = json.loads(path.read_text())
    data["outcome"]["eval_result"]["status"] = "mismatch"  # an edit after the fact
    path.write_text(json.dumps(data))
    with pytest.raises(RunStoreError, match="changed after it was written"):
        box.outcome(first)


def test_a_changed_bundle_is_refused_by_evaluate(tmp_path: Path, cache_dir: Path) -> None:
    box = BundleBox(tmp_path)
    job = _job(TASK, "code A")
    box.write(job)
    path = tmp_path / job.bundle_id / "bundle.json"
    data = json.loads(path.read_text())
    data["job"]["candidates"] = ["import os  # something else"]
    path.write_text(json.dumps(data))
    summary = evaluate_bundles(tmp_path, [0], str(cache_dir))
    assert summary.evaluated == [] and "changed after it was written" in summary.refused[0]


def test_parking_writes_every_concurrent_evaluation_and_scaling_is_refused(tmp_path: Path) -> None:
    import asyncio

    evaluator = DeferredEvaluator(str(tmp_path), "cpp", VerifySettings(), width=2)
    candidates = [Candidate(f"c{i}", "cpp", f"code {i}") for i in range(3)]

    async def all_three() -> None:
        await asyncio.gather(*(evaluator.evaluate(TASK, c) for c in candidates))

    with pytest.raises(RunParked) as parked:
        asyncio.run(all_three())
    assert len(parked.value.waiting) == 3 and len(BundleBox(tmp_path).bundle_dirs()) == 3
    resumed = DeferredEvaluator(str(tmp_path), "cpp", VerifySettings(), width=2)  # resumed before evaluating
    with pytest.raises(RunParked) as again:
        asyncio.run(resumed.evaluate(TASK, candidates[0]))
    assert again.value.written == [] and "still waiting" in again.value.message()
    assert len(BundleBox(tmp_path).bundle_dirs()) == 3  # nothing written twice
    with pytest.raises(ConfigError, match="needs the device"):
        evaluator.quick_eager_ms(TASK)
    assert to_dict(evaluator.settings)["device"] == "cpu"
