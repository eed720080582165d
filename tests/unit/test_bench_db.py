"""Bench streaming and resume: a killed bench loses no task and runs none twice."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from akg_agents.bench import run as bench_run
from akg_agents.bench.db import BenchDB
from akg_agents.bench.metrics import CORRECT, TaskResult
from akg_agents.config.settings import Settings
from akg_agents.errors import ConfigError
from akg_agents.records import RunConfig, Task
from akg_agents.store.rundir import RunStore

CONFIG = RunConfig(framework="torch", backend="cpu", arch="x86_64", dsl="cpp", workflow="default", model="builtin")
TASKS = [Task(name=f"t{i}", source=f"# task {i}\n", path=f"/suite/t{i}.py") for i in range(4)]


def test_results_stream_and_reopen(tmp_path: Path) -> None:
    db = BenchDB.create_or_continue(tmp_path, CONFIG, "suite", TASKS)
    assert [t.name for t, state, _ in db.unfinished()] == ["t0", "t1", "t2", "t3"]
    db.mark_running("t0")
    db.mark_done(TaskResult(name="t0", status=CORRECT, speedup=1.5, wall_s=2.0))
    db.close()
    again = BenchDB.create_or_continue(tmp_path, CONFIG, "suite", TASKS)  # same --output: continues
    assert [t.name for t, _, _ in again.unfinished()] == ["t1", "t2", "t3"]
    assert [r.speedup for r in again.results()] == [1.5]
    assert again.counts()["jsonl_lines"] == 1
    again.close()


def test_other_settings_in_the_same_directory_are_refused(tmp_path: Path) -> None:
    BenchDB.create_or_continue(tmp_path, CONFIG, "suite", TASKS).close()
    with pytest.raises(ConfigError, match="other settings"):
        BenchDB.create_or_continue(tmp_path, replace(CONFIG, max_candidates=9), "suite", TASKS)


def test_jsonl_is_repaired_from_the_database(tmp_path: Path) -> None:
    db = BenchDB.create_or_continue(tmp_path, CONFIG, "suite", TASKS)
    for name in ("t0", "t1"):
        db.mark_running(name)
        db.mark_done(TaskResult(name=name, status=CORRECT, speedup=1.0))
    db.close()
    jsonl = tmp_path / "results.jsonl"
    jsonl.write_text(jsonl.read_text().splitlines()[0] + '\n{"name": "t1", "sta')  # killed mid-append
    reopened = BenchDB.open(tmp_path)
    assert reopened.counts()["jsonl_lines"] == 2 and reopened.counts()["jsonl_distinct"] == 2
    reopened.close()


class FakeRunner:
    """Stands in for workflows.runner: creates real run directories; can be 'killed' on one task."""

    def __init__(self, kill_on: str | None) -> None:
        self.kill_on = kill_on
        self.executed: list[str] = []
        self.resumed: list[str] = []

    def execute(self, task: Task, config: RunConfig, settings: Settings, reporter: Any = None, **_: Any) -> Any:
        store = RunStore.create(settings.log_dir, config, task)
        self.executed.append(task.name)
        if task.name == self.kill_on:
            raise KeyboardInterrupt
        return SimpleNamespace(store=store)

    def resume(self, run_dir: str, settings: Settings, reporter: Any = None, **_: Any) -> Any:
        store = RunStore.open(run_dir)
        self.resumed.append(store.task().name)
        return SimpleNamespace(store=store)


def test_killed_bench_resumes_without_losing_or_repeating_a_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_run, "task_result", lambda root, name, wall_s: TaskResult(name=name, status=CORRECT, speedup=1.0, run_dir=str(root), wall_s=wall_s))
    db = BenchDB.create_or_continue(tmp_path, CONFIG, "suite", TASKS)
    first = FakeRunner(kill_on="t2")
    monkeypatch.setattr(bench_run, "execute", first.execute)
    monkeypatch.setattr(bench_run, "resume", first.resume)
    with pytest.raises(KeyboardInterrupt):
        bench_run.run_bench(db, CONFIG, Settings())
    assert first.executed == ["t0", "t1", "t2"]
    db.close()

    db = BenchDB.open(tmp_path)
    assert [(t.name, state) for t, state, _ in db.unfinished()] == [("t2", "running"), ("t3", "pending")]
    second = FakeRunner(kill_on=None)
    monkeypatch.setattr(bench_run, "execute", second.execute)
    monkeypatch.setattr(bench_run, "resume", second.resume)
    results = bench_run.run_bench(db, CONFIG, Settings())
    assert second.resumed == ["t2"]  # the half-done run directory continues
    assert second.executed == ["t3"]  # finished tasks are not run again
    assert [r.name for r in results] == ["t0", "t1", "t2", "t3"]
    counts = db.counts()
    assert counts["by_state"] == {"done": 4}
    assert counts["tasks_by_attempts"] == {1: 3, 2: 1}
    assert counts["jsonl_lines"] == counts["jsonl_distinct"] == 4
    assert len(list((tmp_path / "runs" / "t2").iterdir())) == 1  # one run directory, resumed in place
    db.close()
